"""The pipeline's working DuckDB warehouse: loading parsed activities, reading frames back
for transforms, writing transform outputs, data tests and publishing.

The pipeline is the only writer of the working file (DuckDB allows one read-write
process and no readers meanwhile, FACTS.md); analysts read a published copy
(:mod:`warehouse.publish`).

Loading rules (also in docs/warehouse.md):

- activity identity: FIT files carrying ``serial_number`` and ``time_created`` ->
  hash of ("fit", athlete, serial, time_created); otherwise hash of (athlete, start to the
  second). Deterministic, so re-loading never creates a second row.
- file identity: sha256 of the decoded bytes. An input whose sha256 is already logged for
  the athlete as loaded/duplicate/skipped/replaced is a no-op (only ``seen_at`` moves).
- a corrected file (same activity identity, other sha256) replaces its activity.
- the same activity recorded twice (same athlete, starts within ``DUPLICATE_START_S``,
  overlapping in time; typically FIT + GPX export) is stored once: the richer file
  (fit > tcx > gpx, then more measured sample columns, then more samples) wins, the other
  is logged ``duplicate`` pointing at the kept activity.
- samples go through Arrow, never row by row. Inputs are written in batches, one
  transaction per batch (activities, their samples and their log rows together), so a
  crash never leaves half an activity.

Performance: the athlete's ``ingest_log`` rows and activity index are read once per
:meth:`Warehouse.load` and all decisions are made in memory; each batch is then written
with a handful of set-based statements (row-by-row UPDATEs inside one DuckDB transaction
make every later scan slower, which turned loading quadratic).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC as _UTC
from datetime import date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
import polars as pl
import pyarrow as pa

from ingest.errors import GaitwatchError, ImplausibleTimeError
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.schema import (
    EXTRA_SCHEMA,
    LAP_SCHEMA,
    SAMPLE_SCHEMA,
    SESSION_SCHEMA,
    UTC_TS,
    ActivityMeta,
    ParsedActivity,
    conform,
)
from transforms.schema import (
    ACTIVITY_GAIT_SCHEMA,
    ACTIVITY_INPUT_SCHEMA,
    CHART_BINS_SCHEMA,
    WEEKLY_RISK_SCHEMA,
)
from warehouse import datatests
from warehouse.instances import registered
from warehouse.migrate import (
    StageState,
    WarehouseLockedError,
    connect,
    fetch_one,
    migrate,
    read_stage_state,
    wal_path,
    write_stage_state,
)

# Two recordings of one athlete whose starts differ by at most this much and whose time
# spans overlap are the same activity (a FIT file and its GPX export start within seconds;
# a device that starts recording late rarely lags more than a minute or two).
DUPLICATE_START_S = 120.0
# Preference between copies of one activity: FIT carries running dynamics, TCX at most
# cadence/HR/power, GPX the least.
FORMAT_RANK = {"fit": 3, "tcx": 2, "gpx": 1}
# A transaction covers a batch of inputs until this many samples or inputs: large enough
# to amortise statements, small enough to bound memory and the work lost on a crash.
BATCH_SAMPLES = 1_000_000
BATCH_INPUTS = 500

_ATHLETE_ID = re.compile(r"^[a-z0-9_-]{1,64}$")
KNOWN_STATUSES = ("loaded", "duplicate", "skipped", "replaced")
_MEASURED_COLUMNS = [c for c in SAMPLE_SCHEMA if c not in ("ts", "session_index", "sport")]
_DYNAMICS_COLUMNS = ("stance_time_ms", "vertical_oscillation_mm", "step_length_m")
ATHLETE_SCHEMA: dict[str, pl.DataType] = {
    "athlete_id": pl.String(),
    "name": pl.String(),
    "timezone": pl.String(),
    "height_m": pl.Float64(),
    "max_hr_bpm": pl.Float64(),
}
_ACTIVITY_ROW_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "athlete_id": pl.String(),
    "sport": pl.String(),
    "sub_sport": pl.String(),
    "started_at": UTC_TS,
    "ended_at": UTC_TS,
    "local_offset_s": pl.Int32(),
    "duration_s": pl.Float64(),
    "elapsed_s": pl.Float64(),
    "distance_m": pl.Float64(),
    "avg_heart_rate_bpm": pl.Float64(),
    "format": pl.String(),
    "device": pl.String(),
    "manufacturer": pl.String(),
    "product": pl.String(),
    "serial_number": pl.Int64(),
    "time_created": UTC_TS,
    "name": pl.String(),
    "cadence_source": pl.String(),
    "n_samples": pl.Int64(),
    "n_sessions": pl.Int32(),
    "n_laps": pl.Int32(),
    "n_extras": pl.Int64(),
    "n_data_columns": pl.Int32(),
    "has_gps": pl.Boolean(),
    "has_running_dynamics": pl.Boolean(),
    "has_gct_balance": pl.Boolean(),
    "source_file": pl.String(),
    "sha256": pl.String(),
    "warnings": pl.List(pl.String()),
    "loaded_at": UTC_TS,
}
_LOG_SCHEMA: dict[str, pl.DataType] = {
    "athlete_id": pl.String(),
    "source_file": pl.String(),
    "sha256": pl.String(),
    "part": pl.Int32(),
    "size_bytes": pl.Int64(),
    "status": pl.String(),
    "reason": pl.String(),
    "error_type": pl.String(),
    "activity_id": pl.String(),
    "first_seen_at": UTC_TS,
    "seen_at": UTC_TS,
    "status_changed_at": UTC_TS,
}
_DATA_TABLES = (
    "samples", "sample_extras", "sessions", "laps", "activity_gait", "activity_chart_bins", "activities",
)


class ReadResultLike(Protocol):
    """What :meth:`Warehouse.load` needs from ``ingest.reader.ReadResult``."""

    source_file: str
    sha256: str | None
    size_bytes: int
    activities: list[ParsedActivity]
    error: Any  # ingest.errors.IngestError | None


class LoadError(GaitwatchError):
    """An activity was read but cannot be stored (it contradicts itself)."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


@dataclass
class InputOutcome:
    """What one :meth:`Warehouse.load` call did with one input (one ReadResult), in the
    same counters as :class:`LoadSummary`, so a caller loading many files in one call
    still reports each file exactly."""

    source_file: str
    unchanged: int = 0
    loaded: int = 0
    replaced: int = 0
    duplicates: int = 0
    skipped: int = 0
    rejected: int = 0
    samples: int = 0


_OUTCOME_COUNTERS = ("unchanged", "loaded", "replaced", "duplicates", "skipped", "rejected",
                     "samples")


@dataclass
class LoadSummary:
    """What one :meth:`Warehouse.load` call did."""

    athlete_id: str
    inputs: int = 0  # ReadResults seen
    unchanged: int = 0  # inputs already ingested with the same bytes: nothing done
    loaded: int = 0  # activities newly stored (including richer copies replacing poorer ones)
    replaced: int = 0  # activities replaced by a corrected file (same activity identity)
    duplicates: int = 0  # activities not stored, or removed, because a richer copy is kept
    skipped: int = 0  # inputs / activities readable but not loaded (not an activity)
    rejected: int = 0  # inputs / activities refused with an error
    samples: int = 0  # sample rows written
    changed_activity_ids: list[str] = field(default_factory=list)  # stored or re-stored
    removed_activity_ids: list[str] = field(default_factory=list)  # deleted (richer copy kept)
    earliest_change: datetime | None = None  # earliest start among changed/removed activities
    seconds: float = 0.0
    per_input: list[InputOutcome] = field(default_factory=list)  # one per input, in order

    @property
    def changed(self) -> bool:
        return bool(self.changed_activity_ids or self.removed_activity_ids)

    def touch(self, started_at: datetime) -> None:
        if self.earliest_change is None or started_at < self.earliest_change:
            self.earliest_change = started_at


@dataclass(frozen=True)
class InboxFileRow:
    """One ``inbox_files`` row: a dropped file a run has finished with."""

    path: str
    size_bytes: int
    mtime_ns: int
    sha256: str | None
    outcome: str
    reason: str
    athlete_id: str


@dataclass
class _Prepared:
    """One activity ready to be written."""

    row: dict[str, Any]  # activities row
    samples: pl.DataFrame  # activity_id + SAMPLE_SCHEMA
    sessions: pl.DataFrame
    laps: pl.DataFrame
    extras: pl.DataFrame

    @property
    def activity_id(self) -> str:
        return str(self.row["activity_id"])


@dataclass
class _Stored:
    """Index entry of an activity of the athlete (stored, or pending in this batch)."""

    activity_id: str
    sha256: str
    source_file: str
    fmt: str
    n_data_columns: int
    n_samples: int
    started_at: datetime
    ended_at: datetime

    def rank(self) -> tuple[Any, ...]:
        # A total order, so which copy is kept does not depend on arrival order; on an
        # exact tie the smaller id wins (_Reversed).
        return (FORMAT_RANK.get(self.fmt, 0), self.n_data_columns, self.n_samples,
                _Reversed(self.activity_id))


@dataclass(frozen=True)
class _Reversed:
    value: str

    def __lt__(self, other: _Reversed) -> bool:
        return self.value > other.value

    def __gt__(self, other: _Reversed) -> bool:
        return self.value < other.value


def _hash_id(*parts: object) -> str:
    text = "|".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _utc_second(ts: datetime) -> str:
    return ts.astimezone(_UTC).replace(microsecond=0).isoformat()


def activity_identity(meta: ActivityMeta, athlete_id: str) -> str:
    """Deterministic activity id (see module docstring).

    The athlete is part of the FIT key too, so the same file loaded for two athletes
    (a coach testing a file) gives two activities instead of one overwriting the other.
    """
    if meta.format == "fit" and meta.serial_number is not None and meta.time_created is not None:
        return _hash_id("fit", athlete_id, meta.serial_number, _utc_second(meta.time_created))
    return _hash_id("start", athlete_id, _utc_second(meta.started_at))


def _when(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None


def _conformed(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    if list(df.schema.items()) == list(schema.items()):
        return df  # readers already return exact frames: skip the select
    return conform(df, schema)


def _some(s: pl.Series) -> bool:
    return s.null_count() < s.len()


def prepare_activity(
    act: ParsedActivity, athlete_id: str, activity_id: str, loaded_at: datetime
) -> _Prepared:
    """Build the ``activities`` row and the frames of one parsed activity.

    Raises :class:`LoadError` (with a readable reason) when the activity contradicts
    itself in a way the data tests would refuse: no samples, samples outside the
    activity's time window, timer time longer than elapsed time.
    """
    meta = act.meta
    samples = _conformed(act.samples, SAMPLE_SCHEMA)
    sessions = _conformed(act.sessions, SESSION_SCHEMA)
    laps = _conformed(act.laps, LAP_SCHEMA)
    extras = _conformed(act.extras, EXTRA_SCHEMA)
    n = samples.height
    if n == 0:
        raise LoadError(meta.source_file, "activity has no samples (summary only); not loaded")
    if samples["ts"].null_count():
        raise LoadError(meta.source_file, "samples without a timestamp; not loaded")
    started_at = meta.started_at.astimezone(_UTC)
    first_ts: datetime = samples["ts"].min()  # type: ignore[assignment]
    last_ts: datetime = samples["ts"].max()  # type: ignore[assignment]

    ended_at: datetime = last_ts
    if sessions.height:
        ends = sessions.select(
            (pl.col("started_at") + pl.duration(seconds=pl.col("total_elapsed_s"))).max()
        ).item()
        if ends is not None:
            ended_at = ends
    ended_at = max(ended_at, started_at)

    elapsed_s = (
        float(sessions["total_elapsed_s"].sum())
        if _some(sessions["total_elapsed_s"])
        else (last_ts - min(first_ts, started_at)).total_seconds()
    )
    duration_s = float(sessions["total_timer_s"].sum()) if _some(sessions["total_timer_s"]) else elapsed_s
    distance_m: float | None
    if _some(sessions["total_distance_m"]):
        distance_m = float(sessions["total_distance_m"].sum())
    else:
        mx = samples["distance_m"].max()
        distance_m = None if mx is None else float(mx)  # type: ignore[arg-type]
    avg_hr: float | None
    hr = sessions.filter(pl.col("avg_heart_rate_bpm").is_not_null())
    if hr.height and hr["total_timer_s"].null_count() == 0 and float(hr["total_timer_s"].sum()) > 0:
        # timer-weighted mean over sessions: a multisport file's sessions differ in length
        weighted = float((hr["avg_heart_rate_bpm"] * hr["total_timer_s"]).sum())
        avg_hr = weighted / float(hr["total_timer_s"].sum())
    elif hr.height:
        avg_hr = float(hr["avg_heart_rate_bpm"].mean())  # type: ignore[arg-type]
    else:
        m = samples["heart_rate_bpm"].mean()
        avg_hr = None if m is None else float(m)  # type: ignore[arg-type]

    tol = timedelta(seconds=datatests.TIME_WINDOW_TOLERANCE_S)
    # records after the last session's end (long ski days, fenix 7 Pro: 44 min) are kept
    # and the activity ends at its last sample; later than one more activity length is
    # a clock jump the reader did not repair
    trailing = max(tol, timedelta(seconds=elapsed_s))
    if first_ts < started_at - tol or last_ts > ended_at + trailing:
        raise LoadError(
            meta.source_file,
            f"sample times {first_ts:%Y-%m-%d %H:%M:%S} .. {last_ts:%Y-%m-%d %H:%M:%S} UTC fall "
            f"outside the activity {started_at:%Y-%m-%d %H:%M:%S} .. {ended_at:%Y-%m-%d %H:%M:%S} "
            "(device clock jump?); not loaded",
        )
    ended_at = max(ended_at, last_ts)
    if duration_s > elapsed_s + datatests.DURATION_TOLERANCE_S:
        raise LoadError(
            meta.source_file,
            f"timer time {duration_s:.0f} s exceeds elapsed time {elapsed_s:.0f} s; not loaded",
        )

    nulls = samples.null_count().row(0, named=True)
    row = {
        "activity_id": activity_id,
        "athlete_id": athlete_id,
        "sport": meta.sport or "generic",
        "sub_sport": meta.sub_sport,
        "started_at": started_at,
        "ended_at": ended_at,
        "local_offset_s": meta.local_offset_s,
        "duration_s": duration_s,
        "elapsed_s": elapsed_s,
        "distance_m": distance_m,
        "avg_heart_rate_bpm": avg_hr,
        "format": meta.format,
        "device": meta.device,
        "manufacturer": meta.manufacturer,
        "product": meta.product,
        "serial_number": meta.serial_number,
        "time_created": meta.time_created,
        "name": meta.name,
        "cadence_source": meta.cadence_source,
        "n_samples": n,
        "n_sessions": sessions.height,
        "n_laps": laps.height,
        "n_extras": extras.height,
        "n_data_columns": sum(1 for c in _MEASURED_COLUMNS if nulls[c] < n),
        "has_gps": nulls["lat_deg"] < n,
        "has_running_dynamics": any(nulls[c] < n for c in _DYNAMICS_COLUMNS),
        "has_gct_balance": nulls["gct_balance_left_pct"] < n,
        "source_file": meta.source_file,
        "sha256": meta.sha256,
        "warnings": list(meta.warnings),
        "loaded_at": loaded_at,
    }
    aid = pl.lit(activity_id, dtype=pl.String()).alias("activity_id")
    return _Prepared(
        row=row,
        samples=samples.select(aid, pl.all()),
        sessions=sessions.select(aid, pl.all()),
        laps=laps.select(aid, pl.all()),
        extras=extras.select(aid, pl.all()),
    )


def _batches(results: Iterable[ReadResultLike]) -> Iterator[list[ReadResultLike]]:
    batch: list[ReadResultLike] = []
    n_samples = 0
    for r in results:
        batch.append(r)
        n_samples += sum(a.samples.height for a in r.activities)
        if n_samples >= BATCH_SAMPLES or len(batch) >= BATCH_INPUTS:
            yield batch
            batch, n_samples = [], 0
    if batch:
        yield batch


_LogKey = tuple[str, str | None, int]  # (source_file, sha256, part) within one athlete


def _implausible_start(started_at: datetime | None, now: datetime, limits: Limits) -> str | None:
    """Why an activity's start is no time a clock can plausibly have set (None: it is):
    see :class:`ingest.limits.Limits`."""
    if started_at is None:
        return None
    t = (started_at if started_at.tzinfo else started_at.replace(tzinfo=_UTC)).astimezone(_UTC)
    when = f"recorded at {t:%Y-%m-%d %H:%M} UTC"
    broken = limits.start_bound_broken(t, now)
    if broken == "earliest_start_year":
        return (f"{when}, before {limits.earliest_start_year} (earliest_start_year): the "
                "watch's clock was not set; not analysed")
    if broken == "max_start_ahead_h":
        return (f"{when}, later than {limits.max_start_ahead_h:g} h after loading "
                "(max_start_ahead_h): the watch's clock was set wrong; not analysed")
    return None


class _AthleteState:
    """The athlete's ingest_log rows and activity index, in memory for one load() call,
    plus the writes pending for the current batch."""

    def __init__(self, con: duckdb.DuckDBPyConnection, athlete_id: str) -> None:
        self.athlete_id = athlete_id
        cols = list(_LOG_SCHEMA)
        self.log: dict[_LogKey, dict[str, Any]] = {}
        for values in con.execute(
            f"SELECT {', '.join(cols)} FROM ingest_log WHERE athlete_id = ?",  # noqa: S608
            [athlete_id],
        ).fetchall():
            row = dict(zip(cols, values, strict=True))
            self.log[(row["source_file"], row["sha256"], row["part"])] = row
        self.acts: dict[str, _Stored] = {}
        for values in con.execute(
            "SELECT activity_id, sha256, source_file, format, n_data_columns, n_samples, "
            "started_at, ended_at FROM activities WHERE athlete_id = ?",
            [athlete_id],
        ).fetchall():
            self.acts[values[0]] = _Stored(*values)
        self.starts: list[tuple[datetime, str]] = sorted(
            (a.started_at, a.activity_id) for a in self.acts.values()
        )
        self.by_sha: dict[str | None, set[_LogKey]] = {}
        for key in self.log:
            self.by_sha.setdefault(key[1], set()).add(key)
        self.dirty: set[_LogKey] = set()
        self.pending: dict[str, _Prepared] = {}
        self.deletes: set[str] = set()
        self.in_db: set[_LogKey] = set(self.log)  # log keys already stored (need DELETE)
        self.token = self.current_token(con, athlete_id)

    @staticmethod
    def current_token(con: duckdb.DuckDBPyConnection, athlete_id: str) -> tuple[Any, ...]:
        """Cheap fingerprint of the athlete's rows: a cached state is reused by the next
        load() only while the database still matches it (nobody wrote behind our back)."""
        row = fetch_one(
            con,
            "SELECT (SELECT count(*) FROM ingest_log WHERE athlete_id = $1), "
            "(SELECT max(seen_at) FROM ingest_log WHERE athlete_id = $1), "
            "(SELECT count(*) FROM activities WHERE athlete_id = $1)",
            [athlete_id],
        )
        return tuple(row or ())

    def expected_token(self) -> tuple[Any, ...]:
        """What :meth:`current_token` returns once this state is committed."""
        last = max((r["seen_at"] for r in self.log.values()), default=None)
        return (len(self.log), last, len(self.acts))

    # log rows ------------------------------------------------------------------------
    def known(self, sha256: str) -> list[dict[str, Any]]:
        rows = [self.log[k] for k in self.by_sha.get(sha256, ())]
        rows = [r for r in rows if r["status"] in KNOWN_STATUSES]
        return sorted(rows, key=lambda r: (r["first_seen_at"], r["source_file"], r["part"]))

    def put_log(self, key: _LogKey, now: datetime, size_bytes: int | None, status: str,
                reason: str | None, error_type: str | None, activity_id: str | None) -> None:
        row = self.log.get(key)
        if row is None:
            row = {"athlete_id": self.athlete_id, "source_file": key[0], "sha256": key[1],
                   "part": key[2], "first_seen_at": now, "status_changed_at": now}
            self.log[key] = row
            self.by_sha.setdefault(key[1], set()).add(key)
        elif (row["status"], row["reason"], row["activity_id"]) != (status, reason, activity_id):
            row["status_changed_at"] = now
        row.update(size_bytes=size_bytes, status=status, reason=reason, error_type=error_type,
                   activity_id=activity_id, seen_at=now)
        self.dirty.add(key)

    def seen(self, key: _LogKey, now: datetime) -> None:
        self.log[key]["seen_at"] = now
        self.dirty.add(key)

    def repoint(self, old_id: str, new_id: str, now: datetime, loaded_to: str | None,
                reason: str) -> None:
        """Log rows of ``old_id`` now refer to ``new_id``; its ``loaded`` row becomes
        ``loaded_to`` (duplicate / replaced) with ``reason``."""
        for key, row in self.log.items():
            if row["activity_id"] != old_id:
                continue
            row["activity_id"] = new_id
            row["status_changed_at"] = now
            if row["status"] == "loaded" and loaded_to is not None:
                row["status"] = loaded_to
                row["reason"] = reason
            self.dirty.add(key)

    # activity index --------------------------------------------------------------------
    def overlapping(self, started_at: datetime, ended_at: datetime) -> list[_Stored]:
        window = timedelta(seconds=DUPLICATE_START_S)
        lo = bisect.bisect_left(self.starts, (started_at - window, ""))
        out = []
        for start, aid in self.starts[lo:]:
            if start > started_at + window:
                break
            a = self.acts[aid]
            if a.started_at <= ended_at and a.ended_at >= started_at:
                out.append(a)
        return out

    def add(self, prep: _Prepared) -> None:
        r = prep.row
        stored = _Stored(r["activity_id"], r["sha256"], r["source_file"], r["format"],
                         r["n_data_columns"], r["n_samples"], r["started_at"], r["ended_at"])
        self.acts[stored.activity_id] = stored
        bisect.insort(self.starts, (stored.started_at, stored.activity_id))
        self.pending[stored.activity_id] = prep

    def remove(self, activity_id: str) -> None:
        a = self.acts.pop(activity_id)
        self.starts.remove((a.started_at, activity_id))
        # Dropped from this batch's inserts if pending; deleted at flush in any case, as an
        # older version may be stored under the same id.
        self.pending.pop(activity_id, None)
        self.deletes.add(activity_id)

    def clear_batch(self) -> None:
        self.in_db |= self.dirty
        self.dirty.clear()
        self.pending.clear()
        self.deletes.clear()


class Warehouse:
    """The working warehouse (read-write). Use :meth:`open`; close it (or use ``with``)
    before another process opens the file."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.con = con
        self.path = path
        # athlete -> in-memory state, reused by the next load() of that athlete while the
        # database still matches it (callers often load one file per call).
        self._states: dict[str, _AthleteState] = {}
        self._in_transaction = False

    def _state(self, athlete_id: str) -> _AthleteState:
        state = self._states.pop(athlete_id, None)
        if state is None or state.token != _AthleteState.current_token(self.con, athlete_id):
            state = _AthleteState(self.con, athlete_id)
        return state

    # -- lifecycle -----------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str) -> Warehouse:
        """Open (creating if needed, in v1.5.0 storage, mode 0600) and migrate."""
        path = Path(path)
        con = connect(path)
        try:
            migrate(con)
            wh = cls(con, path)
            wh._import_side_files()
        except BaseException:
            con.close()
            raise
        return wh

    @classmethod
    @contextmanager
    def held(cls, path: Path | str) -> Iterator[Warehouse | None]:
        """Keep the warehouse open for a whole run (one flow run), migrated once.

        DuckDB shares one database instance between a process's connections to a file and
        checkpoints (writes the WAL into the file) only when the last of them closes. Each
        pipeline step opens and closes its own connection; without a holder every close is
        a checkpoint: 0.1-0.2 s per step on a 250 MB warehouse, more than a nightly run's
        work (docs/performance.md). Held, a run checkpoints when the holder closes; every
        commit is durable in the WAL meanwhile. Read-only opens in this process join the
        held instance (:func:`warehouse.migrate.connect`). Nesting is allowed.

        Yields None, holding nothing, when another process has the file at the start:
        each step then opens it itself (and the flow's tasks retry while it is busy)."""
        try:
            wh = cls.open(path)
        except WarehouseLockedError:
            yield None
            return
        with wh, registered(path):
            yield wh

    def _import_side_files(self) -> None:
        """Before migration 004 the pipeline kept its state in files beside the database
        (``<db>.files.jsonl``, ``<db>.metrics.json``, ``<db>.datatests.json``): imported
        once into ``inbox_files`` / ``pipeline_state``, then removed."""
        side = {k: self.path.with_name(f"{self.path.name}.{k}")
                for k in ("files.jsonl", "metrics.json", "datatests.json")}
        present = {k: p for k, p in side.items() if p.exists()}
        if not present:
            return
        rows: dict[str, InboxFileRow] = {}
        if "files.jsonl" in present:
            for line in present["files.jsonl"].read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                    rows[rec["rel"]] = InboxFileRow(
                        str(rec["rel"]), int(rec["size"]), int(rec["mtime_ns"]),
                        str(rec["sha256"]), "imported", "state imported from files.jsonl", "",
                    )
                except (ValueError, KeyError, TypeError):
                    continue  # a torn line from a crash: that file is simply read again
            # As before: an entry only counts while ingest_log still knows the file.
            logged = {r[0] for r in self.con.execute(
                "SELECT DISTINCT source_file FROM ingest_log").fetchall()}
            known = {"/".join(n.split("/")[:i]) for n in logged
                     for i in range(1, n.count("/") + 2)}
            rows = {k: v for k, v in rows.items() if k in known}
        with self.transaction():
            self.record_inbox_files(list(rows.values()))
            for key, name in (("metrics.json", "metrics"), ("datatests.json", "datatests")):
                if key in present:
                    try:
                        doc = json.loads(present[key].read_text(encoding="utf-8"))
                        self.save_stage_state(StageState(
                            name, doc.get("fingerprint"), _when(doc.get("watermark")),
                            _when(doc.get("full_at")),
                        ))
                    except (OSError, ValueError, AttributeError):
                        pass  # unreadable: the stage just runs in full once
        for p in present.values():
            p.unlink(missing_ok=True)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction: committed (and the WAL re-protected) or rolled back.

        Nested use joins the outer transaction, so a caller can put several writes (e.g.
        weekly risk and the metrics watermark) into one commit."""
        if self._in_transaction:
            yield
            return
        self.con.execute("BEGIN")
        self._in_transaction = True
        try:
            yield
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self._in_transaction = False
        self._protect_wal()

    _transaction = transaction

    def _protect_wal(self) -> None:
        """DuckDB creates the write-ahead log with the process umask (often 0644) and it holds
        the latest rows, positions included: make it owner-only like the database (issue 8).
        A short window remains; keep the working folder itself owner-only (0700)."""
        wal = wal_path(self.path)
        try:
            if stat.S_IMODE(wal.stat().st_mode) & 0o077:
                os.chmod(wal, 0o600)
        except OSError:
            pass  # no WAL (nothing written since the last checkpoint): nothing to protect

    def checkpoint(self) -> None:
        """Write everything to the main file (WAL emptied): the file alone is then complete."""
        self.con.execute("CHECKPOINT")

    # -- small helpers -------------------------------------------------------------------

    def _insert_arrow(self, table: str, data: pa.Table) -> None:
        if data.num_rows == 0:
            return
        name = f"_gw_in_{table}"
        self.con.register(name, data)
        try:
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")  # noqa: S608
        finally:
            self.con.unregister(name)

    def _frame(
        self, sql: str, params: Sequence[Any] | None = None, con: duckdb.DuckDBPyConnection | None = None
    ) -> pl.DataFrame:
        rel = (con or self.con).sql(sql, params=list(params) if params is not None else None)
        out = pl.from_arrow(rel.to_arrow_table())
        assert isinstance(out, pl.DataFrame)
        return out

    # -- loading -------------------------------------------------------------------------

    def load(
        self,
        results: Iterable[ReadResultLike],
        athlete_id: str,
        check: bool = True,
        finish: Callable[[LoadSummary], None] | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> LoadSummary:
        """Store every input of ``results`` for ``athlete_id`` and log each in ``ingest_log``.

        Inputs are consumed lazily and written in batches, each batch one transaction.
        ``finish`` runs inside the last batch's transaction, with the complete summary,
        so what it writes (the inbox file state) commits together with the last rows.
        With ``check`` the data tests run afterwards and raise
        :class:`warehouse.datatests.DataTestError` if the warehouse is inconsistent.
        An activity recorded outside the times ``limits`` call plausible (a clock never
        set, or set years ahead) is logged as skipped, with the time, not stored.
        """
        if not _ATHLETE_ID.match(athlete_id):
            raise ValueError(f"athlete_id {athlete_id!r} is not a slug [a-z0-9_-]{{1,64}}")
        t0 = time.perf_counter()
        summary = LoadSummary(athlete_id=athlete_id)
        state = self._state(athlete_id)
        batches = _batches(results)
        batch = next(batches, None)
        if batch is None and finish is not None:
            with self.transaction():
                finish(summary)
        while batch is not None:
            # One batch of look-ahead only when ``finish`` must know which batch is last.
            following = next(batches, None) if finish is not None else None
            last = following is None
            now = datetime.now(_UTC)
            for r in batch:
                summary.inputs += 1
                before = [getattr(summary, c) for c in _OUTCOME_COUNTERS]
                self._decide(r, state, now, summary, limits)
                summary.per_input.append(InputOutcome(r.source_file, *(
                    getattr(summary, c) - b for c, b in zip(_OUTCOME_COUNTERS, before, strict=True)
                )))
            dirty = bool(state.dirty or state.pending or state.deletes)
            if dirty or (last and finish is not None):
                try:
                    with self.transaction():
                        if dirty:
                            self.con.execute(
                                "INSERT INTO athletes (athlete_id, updated_at) SELECT ?, ? "
                                "WHERE NOT EXISTS (SELECT 1 FROM athletes WHERE athlete_id = ?)",
                                [athlete_id, now, athlete_id],
                            )
                            self._flush(state)
                        if last and finish is not None:
                            finish(summary)
                except BaseException:
                    self._states.pop(athlete_id, None)
                    raise  # the state is dropped with this call: the next load() re-reads
                state.clear_batch()
            batch = following if finish is not None else next(batches, None)
        state.token = state.expected_token()
        self._states[athlete_id] = state
        summary.seconds = time.perf_counter() - t0
        if check:
            datatests.run(self.con, raise_on_failure=True)
        return summary

    def _flush(self, state: _AthleteState) -> None:
        """Write one batch's decisions with set-based statements (inside the transaction)."""
        if state.deletes:
            self.con.register("_gw_del", pa.table({"activity_id": sorted(state.deletes)}))
            try:
                for table in _DATA_TABLES:
                    self.con.execute(
                        f"DELETE FROM {table} WHERE activity_id IN (SELECT activity_id FROM _gw_del)"  # noqa: S608
                    )
                # An export list's entry linked to an activity gone for good (a summary-only
                # entry replaced by its recording) is unlinked in the same transaction, never
                # left pointing at nothing; warehouse.summaries.reconcile links it anew.
                self.con.execute(
                    "UPDATE export_activities SET activity_id = NULL WHERE activity_id IN "
                    "(SELECT activity_id FROM _gw_del) AND NOT list_contains(?, activity_id)",
                    [sorted(state.pending)],
                )
            finally:
                self.con.unregister("_gw_del")
        if state.pending:
            preps = list(state.pending.values())
            rows = pl.DataFrame([p.row for p in preps], schema=_ACTIVITY_ROW_SCHEMA)
            self._insert_arrow("activities", rows.to_arrow())
            for table, attr in (("sessions", "sessions"), ("laps", "laps")):
                frames = [getattr(p, attr) for p in preps if getattr(p, attr).height]
                if frames:
                    self._insert_arrow(table, pl.concat(frames, rechunk=False).to_arrow())
            self._insert_arrow("samples", pl.concat([p.samples for p in preps], rechunk=False).to_arrow())
            extras = [p.extras for p in preps if p.extras.height]
            if extras:
                self._insert_arrow("sample_extras", pl.concat(extras, rechunk=False).to_arrow())
        if state.dirty:
            log = pl.DataFrame([state.log[k] for k in sorted(state.dirty, key=str)],
                               schema=_LOG_SCHEMA)
            self.con.register("_gw_log", log.to_arrow())
            try:
                if state.dirty & state.in_db:  # rows to update: delete, then insert anew
                    self.con.execute(
                        "DELETE FROM ingest_log AS l WHERE EXISTS (SELECT 1 FROM _gw_log AS n "
                        "WHERE n.athlete_id = l.athlete_id AND n.source_file = l.source_file "
                        "AND n.sha256 IS NOT DISTINCT FROM l.sha256 AND n.part = l.part)"
                    )
                self.con.execute("INSERT INTO ingest_log BY NAME SELECT * FROM _gw_log")
            finally:
                self.con.unregister("_gw_log")

    def _decide(
        self, r: ReadResultLike, state: _AthleteState, now: datetime, summary: LoadSummary,
        limits: Limits,
    ) -> None:
        """Decide what becomes of one input, updating ``state`` (no SQL)."""
        size = r.size_bytes
        if r.sha256 is not None:
            known = state.known(r.sha256)
            same_name = [k for k in known if k["source_file"] == r.source_file]
            if same_name:
                for k in same_name:
                    state.seen((k["source_file"], k["sha256"], k["part"]), now)
                summary.unchanged += 1
                return
            if known:
                # The same bytes under another name (copied, re-zipped): log, store nothing.
                first = known[0]
                status = "skipped" if first["status"] == "skipped" else "duplicate"
                why = f"identical bytes already ingested as {first['source_file']}"
                if status == "skipped" and first["reason"]:
                    why += f" ({first['reason']})"
                state.put_log((r.source_file, r.sha256, 0), now, size, status, why, None,
                              first["activity_id"])
                summary.skipped += status == "skipped"
                summary.duplicates += status == "duplicate"
                return
        if r.error is not None:
            status = getattr(r.error, "status", "rejected")
            reason = r.error.one_line() if hasattr(r.error, "one_line") else str(r.error)
            state.put_log((r.source_file, r.sha256, 0), now, size, status, reason,
                          type(r.error).__name__, None)
            summary.skipped += status == "skipped"
            summary.rejected += status != "skipped"
            return
        if not r.activities:
            state.put_log((r.source_file, r.sha256, 0), now, size, "skipped",
                          "no activity in this file", None, None)
            summary.skipped += 1
            return
        used: set[str] = set()
        for part, act in enumerate(r.activities):
            activity_id = activity_identity(act.meta, state.athlete_id)
            if activity_id in used:
                # Chained FIT parts sharing one file_id: tell them apart by start and part.
                activity_id = _hash_id("start", state.athlete_id,
                                       _utc_second(act.meta.started_at), part)
            used.add(activity_id)
            self._decide_activity(act, (r.source_file, r.sha256, part), size, activity_id,
                                  state, now, summary, limits)

    def _decide_activity(
        self,
        act: ParsedActivity,
        key: _LogKey,
        size: int,
        activity_id: str,
        state: _AthleteState,
        now: datetime,
        summary: LoadSummary,
        limits: Limits,
    ) -> None:
        why_not = _implausible_start(act.meta.started_at, now, limits)
        if why_not is not None:
            state.put_log(key, now, size, "skipped", why_not, ImplausibleTimeError.__name__, None)
            summary.skipped += 1
            return
        try:
            prep = prepare_activity(act, state.athlete_id, activity_id, now)
        except LoadError as e:
            state.put_log(key, now, size, "rejected", e.reason, "LoadError", None)
            summary.rejected += 1
            return
        except Exception as e:  # noqa: BLE001 - one odd activity must not stop the others
            why = f"could not be stored: {type(e).__name__}: {' '.join(str(e).split())}"
            state.put_log(key, now, size, "rejected", why[:500], "LoadError", None)
            summary.rejected += 1
            return
        new_file = act.meta.source_file
        old = state.acts.get(activity_id)
        if old is not None:
            if old.sha256 == act.meta.sha256:
                # Same content already stored (its log row was lost or named differently).
                state.put_log(key, now, size, "loaded", None, None, activity_id)
                return
            # A corrected file: same activity identity, new bytes. Replace it.
            state.remove(activity_id)
            state.repoint(activity_id, activity_id, now, "replaced",
                          f"superseded by a newer version: {new_file}")
            state.add(prep)
            state.put_log(key, now, size, "loaded", f"replaced previous version {old.source_file}",
                          None, activity_id)
            summary.replaced += 1
            summary.samples += prep.samples.height
            summary.changed_activity_ids.append(activity_id)
            summary.touch(old.started_at)
            summary.touch(prep.row["started_at"])
            return
        new = _Stored(activity_id, act.meta.sha256, new_file, act.meta.format,
                      prep.row["n_data_columns"], prep.samples.height,
                      prep.row["started_at"], prep.row["ended_at"])
        copies = state.overlapping(new.started_at, new.ended_at)
        if copies:
            best = max(copies, key=_Stored.rank)
            if best.rank() > new.rank():
                state.put_log(key, now, size, "duplicate",
                              f"same activity as {best.source_file} ({best.fmt}), which is kept",
                              None, best.activity_id)
                summary.duplicates += 1
                return
            for c in copies:
                # The new file is richer: it replaces the poorer copy (same transaction).
                state.remove(c.activity_id)
                state.repoint(c.activity_id, activity_id, now, "duplicate",
                              f"same activity as {new_file} ({new.fmt}), richer, which replaced it")
                summary.removed_activity_ids.append(c.activity_id)
                if c.activity_id in summary.changed_activity_ids:
                    summary.changed_activity_ids.remove(c.activity_id)
                summary.duplicates += 1
                summary.touch(c.started_at)
        state.add(prep)
        reason = ("replaced poorer copy " + ", ".join(c.source_file for c in copies)) if copies else None
        state.put_log(key, now, size, "loaded", reason, None, activity_id)
        summary.loaded += 1
        summary.samples += prep.samples.height
        summary.changed_activity_ids.append(activity_id)
        summary.touch(new.started_at)

    # -- reading helpers for transforms ----------------------------------------------------

    def known_sha256(self, athlete_id: str | None = None) -> set[str]:
        """sha256 of inputs that need not be read again (loaded, duplicate, skipped, replaced)."""
        sql = (
            "SELECT DISTINCT sha256 FROM ingest_log WHERE sha256 IS NOT NULL "
            "AND status IN ('loaded','duplicate','skipped','replaced')"
        )
        params: list[Any] = []
        if athlete_id is not None:
            sql += " AND athlete_id = ?"
            params.append(athlete_id)
        return {r[0] for r in self.con.execute(sql, params).fetchall()}

    def activities_frame(self, athlete_id: str | None = None) -> pl.DataFrame:
        """One row per activity: ACTIVITY_INPUT_SCHEMA's columns first (exact dtypes),
        then the other ``activities`` columns. Ordered by athlete, start."""
        where, params = ("WHERE athlete_id = ?", [athlete_id]) if athlete_id else ("", [])
        df = self._frame(
            f"SELECT * FROM activities {where} ORDER BY athlete_id, started_at, activity_id",  # noqa: S608
            params,
        )
        first = [pl.col(c).cast(t) for c, t in ACTIVITY_INPUT_SCHEMA.items()]
        rest = [c for c in df.columns if c not in ACTIVITY_INPUT_SCHEMA]
        return df.select(*first, *rest)

    def samples_frame(
        self, activity_ids: Iterable[str], con: duckdb.DuckDBPyConnection | None = None
    ) -> pl.DataFrame:
        """``activity_id``, ``athlete_id`` + SAMPLE_SCHEMA for those activities, ordered by
        activity and time. Sorted by polars, not DuckDB: under the flow's 100 MB memory
        limit DuckDB's ORDER BY of a chunk spilled and took three times the query
        (docs/performance.md, fifth pass). ``con``: a cursor of this warehouse (another
        thread's), else its connection."""
        con = con or self.con
        ids = pa.table({"activity_id": pa.array(sorted(set(activity_ids)), pa.string())})
        con.register("_gw_ids", ids)
        try:
            cols = ", ".join(f"s.{c}" for c in SAMPLE_SCHEMA)
            df = self._frame(
                f"SELECT s.activity_id, a.athlete_id, {cols} FROM samples AS s "  # noqa: S608
                "JOIN _gw_ids USING (activity_id) JOIN activities AS a USING (activity_id)",
                con=con,
            )
        finally:
            con.unregister("_gw_ids")
        schema = {"activity_id": pl.String(), "athlete_id": pl.String(), **SAMPLE_SCHEMA}
        df = df.select([pl.col(c).cast(t) for c, t in schema.items()])
        return df.sort(["activity_id", "ts"], maintain_order=True)

    def sessions_frame(self, activity_ids: Iterable[str] | None = None) -> pl.DataFrame:
        """``activity_id`` + SESSION_SCHEMA, all activities when ``activity_ids`` is None."""
        df = self._frame("SELECT * FROM sessions ORDER BY activity_id, session_index")
        if activity_ids is not None:
            df = df.filter(pl.col("activity_id").is_in(list(activity_ids)))
        return df

    def activities_needing_gait(self, athlete_id: str | None = None, every: bool = False) -> list[str]:
        """Running activities (activity sport running, or a running session) that have no
        ``activity_gait`` row, or a gait row but no chart bins (a warehouse from before
        migration 011); ``every``: all of them (a full recompute). Replacing an activity
        deletes both, so a re-loaded activity is listed again. Ordered by start."""
        sql = (
            "SELECT a.activity_id FROM activities AS a "
            "WHERE (a.sport = 'running' OR EXISTS (SELECT 1 FROM sessions AS s "
            "  WHERE s.activity_id = a.activity_id AND s.sport = 'running')) "
            " AND NOT a.summary_only"  # no samples to analyse (migration 005)
        )
        if not every:
            sql += (
                " AND (NOT EXISTS (SELECT 1 FROM activity_gait AS g WHERE g.activity_id = a.activity_id)"
                "  OR NOT EXISTS (SELECT 1 FROM activity_chart_bins AS b"
                "    WHERE b.activity_id = a.activity_id AND b.kind = 'total'))"
            )
        params: list[Any] = []
        if athlete_id is not None:
            sql += " AND a.athlete_id = ?"
            params.append(athlete_id)
        sql += " ORDER BY a.started_at, a.activity_id"
        return [r[0] for r in self.con.execute(sql, params).fetchall()]

    def athletes_frame(self) -> pl.DataFrame:
        """athlete_id, name, timezone (IANA), height_m, max_hr_bpm."""
        df = self._frame(
            f"SELECT {', '.join(ATHLETE_SCHEMA)} FROM athletes ORDER BY athlete_id"  # noqa: S608
        )
        return df.select([pl.col(c).cast(t) for c, t in ATHLETE_SCHEMA.items()])

    def ingest_log_frame(self, athlete_id: str | None = None) -> pl.DataFrame:
        where, params = ("WHERE athlete_id = ?", [athlete_id]) if athlete_id else ("", [])
        return self._frame(
            f"SELECT * FROM ingest_log {where} ORDER BY athlete_id, source_file, part, first_seen_at",  # noqa: S608
            params,
        )

    def activity_gait_frame(self, athlete_id: str | None = None) -> pl.DataFrame:
        where, params = ("WHERE athlete_id = ?", [athlete_id]) if athlete_id else ("", [])
        df = self._frame(
            f"SELECT * FROM activity_gait {where} ORDER BY athlete_id, started_at",  # noqa: S608
            params,
        )
        return df.select([pl.col(c).cast(t) for c, t in ACTIVITY_GAIT_SCHEMA.items()])

    def weekly_risk_frame(self, athlete_id: str | None = None) -> pl.DataFrame:
        where, params = ("WHERE athlete_id = ?", [athlete_id]) if athlete_id else ("", [])
        df = self._frame(
            f"SELECT * FROM weekly_risk {where} ORDER BY athlete_id, week_start",  # noqa: S608
            params,
        )
        return df.select([pl.col(c).cast(t) for c, t in WEEKLY_RISK_SCHEMA.items()])

    # -- writers for transform outputs -------------------------------------------------------

    @staticmethod
    def _strict(df: pl.DataFrame, schema: dict[str, pl.DataType], what: str) -> pl.DataFrame:
        missing = [c for c in schema if c not in df.columns]
        if missing:
            raise ValueError(f"{what} frame lacks column(s) {missing}")
        return df.select([pl.col(c).cast(t, strict=True) for c, t in schema.items()])

    def write_activity_gait(self, df: pl.DataFrame, bins: pl.DataFrame | None = None) -> int:
        """Replace the ``activity_gait`` rows of the activities in ``df`` and, when
        ``bins`` (CHART_BINS_SCHEMA, transforms.chartbins) is given, their
        ``activity_chart_bins`` rows (one transaction). Returns the gait rows written."""
        df = self._strict(df, ACTIVITY_GAIT_SCHEMA, "activity_gait")
        if df["activity_id"].null_count() or df["activity_id"].is_duplicated().any():
            raise ValueError("activity_gait: activity_id must be unique and not null")
        if bins is not None:
            bins = self._strict(bins, CHART_BINS_SCHEMA, "activity_chart_bins")
            if not bins["activity_id"].is_in(df["activity_id"].implode()).all():
                raise ValueError("activity_chart_bins: rows of activities without a gait row")
        with self._transaction():
            ids = pa.table({"activity_id": df["activity_id"].to_arrow()})
            self.con.register("_gw_ids", ids)
            try:
                unknown = fetch_one(
                    self.con,
                    "SELECT count(*) FROM _gw_ids WHERE activity_id NOT IN "
                    "(SELECT activity_id FROM activities)",
                )
                if unknown and unknown[0]:
                    raise ValueError(f"activity_gait: {unknown[0]} activity_id(s) not in activities")
                self.con.execute(
                    "DELETE FROM activity_gait WHERE activity_id IN (SELECT activity_id FROM _gw_ids)"
                )
                if bins is not None:
                    self.con.execute(
                        "DELETE FROM activity_chart_bins WHERE activity_id IN "
                        "(SELECT activity_id FROM _gw_ids)"
                    )
            finally:
                self.con.unregister("_gw_ids")
            self._insert_arrow("activity_gait", df.to_arrow())
            if bins is not None and bins.height:
                self._insert_arrow("activity_chart_bins", bins.to_arrow())
        return df.height

    def write_weekly_risk(
        self, athlete_id: str, df: pl.DataFrame, from_week_start: date | None = None
    ) -> int:
        """Replace ``athlete_id``'s ``weekly_risk`` rows from ``from_week_start`` on (all
        rows when None) with ``df`` (one transaction). Returns the number of rows written."""
        df = self._strict(df, WEEKLY_RISK_SCHEMA, "weekly_risk")
        if df.height and (df["athlete_id"] != athlete_id).any():
            raise ValueError(f"weekly_risk: rows for another athlete than {athlete_id!r}")
        if from_week_start is not None and df.height and df["week_start"].min() < from_week_start:  # type: ignore[operator]
            raise ValueError("weekly_risk: rows before from_week_start")
        if df["week_start"].is_duplicated().any():
            raise ValueError("weekly_risk: week_start must be unique per athlete")
        with self._transaction():
            if from_week_start is None:
                self.con.execute("DELETE FROM weekly_risk WHERE athlete_id = ?", [athlete_id])
            else:
                self.con.execute(
                    "DELETE FROM weekly_risk WHERE athlete_id = ? AND week_start >= ?",
                    [athlete_id, from_week_start],
                )
            self._insert_arrow("weekly_risk", df.to_arrow())
        return df.height

    def upsert_athletes(self, df: pl.DataFrame) -> int:
        """Insert or update athletes (athlete_id, name, timezone, height_m, max_hr_bpm;
        missing columns are left unchanged for existing athletes / null for new ones)."""
        if "athlete_id" not in df.columns:
            raise ValueError("athletes frame needs athlete_id")
        if df["athlete_id"].null_count() or df["athlete_id"].is_duplicated().any():
            raise ValueError("athletes: athlete_id must be unique and not null")
        bad = [a for a in df["athlete_id"].to_list() if not _ATHLETE_ID.match(a)]
        if bad:
            raise ValueError(f"athletes: invalid athlete_id(s) {bad}")
        if "timezone" in df.columns:
            for tz in df["timezone"].drop_nulls().to_list():
                try:
                    ZoneInfo(tz)
                except (ZoneInfoNotFoundError, ValueError) as e:
                    # the analyst views convert with it: a bad zone would break them
                    raise ValueError(f"athletes: unknown time zone {tz!r}") from e
        given = [c for c in ATHLETE_SCHEMA if c in df.columns]
        data = df.select([pl.col(c).cast(ATHLETE_SCHEMA[c]) for c in given])
        now = datetime.now(_UTC)
        with self._transaction():
            self.con.register("_gw_athletes", data.to_arrow())
            try:
                sets = ", ".join(f"{c} = n.{c}" for c in given if c != "athlete_id")
                if sets:
                    self.con.execute(
                        f"UPDATE athletes SET {sets}, updated_at = ? FROM _gw_athletes AS n "  # noqa: S608
                        "WHERE athletes.athlete_id = n.athlete_id",
                        [now],
                    )
                cols = ", ".join(given)
                self.con.execute(
                    f"INSERT INTO athletes ({cols}, updated_at) SELECT {cols}, ? "  # noqa: S608
                    "FROM _gw_athletes WHERE athlete_id NOT IN (SELECT athlete_id FROM athletes)",
                    [now],
                )
            finally:
                self.con.unregister("_gw_athletes")
        return data.height

    # -- pipeline state (migration 004) ------------------------------------------------

    def inbox_files(self) -> dict[str, tuple[int, int]]:
        """path -> (size_bytes, mtime_ns) of inbox files a run has finished with."""
        rows = self.con.execute("SELECT path, size_bytes, mtime_ns FROM inbox_files").fetchall()
        return {str(p): (int(size), int(mtime)) for p, size, mtime in rows}

    def record_inbox_files(self, rows: Sequence[InboxFileRow]) -> None:
        """Upsert the inbox file state (joins the caller's transaction, e.g. a load's)."""
        if not rows:
            return
        now = datetime.now(_UTC)
        data = pa.table(
            {
                "path": pa.array([r.path for r in rows], pa.string()),
                "size_bytes": pa.array([r.size_bytes for r in rows], pa.int64()),
                "mtime_ns": pa.array([r.mtime_ns for r in rows], pa.int64()),
                "sha256": pa.array([r.sha256 for r in rows], pa.string()),
                "outcome": pa.array([r.outcome for r in rows], pa.string()),
                "reason": pa.array([r.reason or None for r in rows], pa.string()),
                "athlete_id": pa.array([r.athlete_id for r in rows], pa.string()),
                "processed_at": pa.array([now] * len(rows), pa.timestamp("us", tz="UTC")),
            }
        )
        with self.transaction():
            self.con.register("_gw_files", data)
            try:
                self.con.execute(
                    "DELETE FROM inbox_files WHERE path IN (SELECT path FROM _gw_files)"
                )
                self.con.execute("INSERT INTO inbox_files BY NAME SELECT * FROM _gw_files")
            finally:
                self.con.unregister("_gw_files")

    def stage_state(self, name: str) -> StageState:
        """The saved state of an incremental stage (``metrics``, ``datatests``)."""
        return read_stage_state(self.con, name)

    def save_stage_state(self, state: StageState) -> None:
        """Write a stage's state (joins the caller's transaction)."""
        with self.transaction():
            write_stage_state(self.con, state)

    def write_thresholds_in_use(self, rows: dict[str, tuple[float, str | None]]) -> int:
        """Make ``thresholds_in_use`` (migration 010) hold exactly ``rows`` (name -> value,
        unit), writing only the names whose value or unit changed and deleting names no
        longer given; ``set_at`` moves for changed rows only. Nothing is written when
        nothing changed (publish and the gate's fingerprint see an unchanged file). Joins
        the caller's transaction (the metrics stage's). Returns the rows written or
        deleted."""
        stored = {
            str(n): (float(v), u)
            for n, v, u in self.con.execute(
                "SELECT name, value, unit FROM thresholds_in_use").fetchall()
        }
        changed = {n: r for n, r in rows.items() if stored.get(n) != (float(r[0]), r[1])}
        gone = sorted(set(stored) - set(rows))
        if not changed and not gone:
            return 0
        now = datetime.now(_UTC)
        with self.transaction():
            self.con.execute("DELETE FROM thresholds_in_use WHERE list_contains(?, name)",
                             [[*gone, *changed]])
            # through Arrow: executemany costs about 1 ms per row (FACTS.md)
            self._insert_arrow("thresholds_in_use", pa.table({
                "name": pa.array(list(changed), pa.string()),
                "value": pa.array([float(v) for v, _u in changed.values()], pa.float64()),
                "unit": pa.array([u for _v, u in changed.values()], pa.string()),
                "set_at": pa.array([now] * len(changed), pa.timestamp("us", tz="UTC")),
            }))
        return len(changed) + len(gone)

    # -- checks and publishing ---------------------------------------------------------------

    def run_data_tests(
        self, raise_on_failure: bool = True, activity_ids: Sequence[str] | None = None
    ) -> list[datatests.TestResult]:
        """The data tests; with ``activity_ids`` the per-activity sample tests check only
        those activities (see :func:`warehouse.datatests.run`)."""
        return datatests.run(self.con, raise_on_failure=raise_on_failure, activity_ids=activity_ids)
