"""Thin adapters between the flows and the layers (ingest, transforms, warehouse,
reports). No business logic lives here: each function opens what it needs, calls the
layer's function, closes, and returns a small summary (never a frame) so Prefect results
stay tiny.

The one seam for decoding many files is :func:`decode_files`; it goes through
:func:`flows.parallel.decode_paths`, which decodes in worker processes when asked.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Any

from flows.config import Config
from flows.inbox import FileState, InboxFile, dispose, is_temporary, scan_inbox, sha256_file
from ingest.errors import GaitwatchError, IngestError
from ingest.limits import Limits

# ------------------------------------------------------------------ results (small)


class DataTestsFailed(GaitwatchError):
    """A data test failed after loading: nothing was published (CLI exit code 3)."""

    def __init__(self, failures: Sequence[str]) -> None:
        self.failures = list(failures)
        super().__init__(f"{len(self.failures)} data test(s) failed: " + "; ".join(self.failures))


@dataclass
class FileOutcome:
    """What happened to one input file (a dropped file; an archive counts as one)."""

    rel: str  # name as dropped, relative to the inbox (or to the given path's folder)
    athlete_id: str
    status: str  # loaded | duplicate | skipped | rejected | changed
    reason: str = ""  # for rejected/skipped/changed: one line a runner can read
    activities: int = 0  # activities newly loaded from it
    members: int = 1  # leaf inputs read from it (archive members, or 1)
    members_rejected: int = 0


@dataclass
class NewFiles:
    ready: list[InboxFile] = field(default_factory=list)
    unchanged: int = 0
    unsettled: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    unchanged: int = 0  # skipped cheaply: same path, size and mtime as a file already done
    unsettled: list[str] = field(default_factory=list)  # still being copied, left for next run
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) never read

    @property
    def rejected(self) -> list[FileOutcome]:
        bad = [o for o in self.outcomes if o.status == "rejected" or o.members_rejected]
        bad += [FileOutcome(rel, "", "rejected", reason) for rel, reason in self.invalid]
        return bad

    ORDER = ("loaded", "duplicate", "unchanged", "skipped", "rejected", "changed", "still copying")

    def counts(self) -> dict[str, int]:
        c = outcome_counts(self.outcomes)
        c["unchanged"] = c.get("unchanged", 0) + self.unchanged
        c["still copying"] = len(self.unsettled)
        c["rejected"] = c.get("rejected", 0) + len(self.invalid)
        return {k: c[k] for k in self.ORDER if c.get(k)}

    def one_line(self) -> str:
        counts = self.counts()
        return ", ".join(f"{v} {k}" for k, v in counts.items()) or "nothing new"


@dataclass
class MetricsSummary:
    activities: int = 0  # activities whose gait metrics were (re)computed
    weeks: int = 0  # athlete-weeks of weekly risk written
    athletes: int = 0

    def one_line(self) -> str:
        return f"{self.activities} activities, {self.weeks} athlete-weeks, {self.athletes} athletes"


@dataclass
class RunReport:
    ingest: IngestReport
    metrics: MetricsSummary
    reports: list[Path]
    published: Path | None

    def one_line(self) -> str:
        return (
            f"ingest: {self.ingest.one_line()}; metrics: {self.metrics.one_line()}; "
            f"{len(self.reports)} report files; published {self.published}"
        )


def outcome_counts(outcomes: Iterable[FileOutcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return counts


# ------------------------------------------------------------------ progress


class Progress:
    """Optional progress callbacks (the CLI's rich bar). Module-level because tasks run
    in worker threads of the same process; flows never depend on it."""

    start: Callable[[str, int], None] | None = None
    advance: Callable[[str, int, str], None] | None = None
    done: Callable[[str], None] | None = None


def progress_start(stage: str, total: int) -> None:
    if Progress.start:
        Progress.start(stage, total)


def progress_advance(stage: str, n: int = 1, what: str = "") -> None:
    if Progress.advance:
        Progress.advance(stage, n, what)


def progress_done(stage: str) -> None:
    if Progress.done:
        Progress.done(stage)


# ------------------------------------------------------------------ errors


def is_transient_io_error(exc: BaseException) -> bool:
    """A database file busy in another process (DuckDB lock) or a flaky filesystem:
    worth a retry. Anything else (bad data, bugs) is not."""
    from warehouse.migrate import WarehouseLockedError

    if isinstance(exc, WarehouseLockedError):
        return True
    text = str(exc)
    if "Could not set lock" in text or "Conflicting lock" in text:
        return True
    return isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError)


# ------------------------------------------------------------------ ingest


def batches(files: Sequence[InboxFile], size: int) -> Iterator[tuple[str, list[InboxFile]]]:
    """Files grouped by (athlete, root), in chunks of ``size``: one Prefect task each."""
    ordered = sorted(files, key=lambda f: (f.athlete_id, str(f.root), f.rel))
    for (athlete, _root), group in groupby(ordered, key=lambda f: (f.athlete_id, str(f.root))):
        chunk: list[InboxFile] = []
        for f in group:
            chunk.append(f)
            if len(chunk) >= size:
                yield athlete, chunk
                chunk = []
        if chunk:
            yield athlete, chunk


def batch_label(batch: Sequence[InboxFile]) -> str:
    if len(batch) == 1:
        return batch[0].rel
    return f"{len(batch)} files ({batch[0].rel} .. {batch[-1].rel})"


def decode_files(
    paths: Sequence[Path],
    athlete_ids: Sequence[str],
    limits: Limits,
    name_root: Path | None,
    workers: int = 1,
) -> Iterator[Any]:
    """Decode input files; yields :class:`flows.parallel.DecodedFile` in input order.

    The single seam for decoding: ``workers`` = 1 decodes in this process, more (or 0 =
    one per CPU) in worker processes.
    """
    from flows.parallel import decode_paths

    yield from decode_paths(
        paths, athlete_ids, workers=workers or None, limits=limits, name_root=name_root
    )


def _crash_hook() -> Callable[[], None]:
    """Test hook for the restart test: ``GAITWATCH_CRASH_AFTER_FILES=N`` kills this
    process with SIGKILL right after the N-th file has been loaded (a real crash: no
    cleanup, no flush beyond what the warehouse already committed)."""
    limit = int(os.environ.get("GAITWATCH_CRASH_AFTER_FILES", "0") or 0)
    count = 0
    lock = threading.Lock()

    def after_file() -> None:
        nonlocal count
        if not limit:
            return
        with lock:
            count += 1
            if count >= limit:
                os.kill(os.getpid(), signal.SIGKILL)

    return after_file


_after_file = _crash_hook()


def scan_new_files(cfg: Config) -> NewFiles:
    """Inbox files that are ready and not already done with the same size and mtime."""
    scan = scan_inbox(cfg)
    out = NewFiles(unsettled=scan.unsettled, invalid=scan.invalid)
    if not scan.ready:
        return out
    seen = _seen_files(cfg)
    for f in scan.ready:
        prev = seen.get(f.rel)
        if prev is not None and prev[0] == f.size and prev[1] == f.mtime_ns:
            out.unchanged += 1
        else:
            out.ready.append(f)
    return out


def explicit_files(
    cfg: Config, paths: Sequence[Path], athlete: str | None
) -> tuple[list[InboxFile], list[tuple[str, str]]]:
    """Files named on the command line (folders expanded, hidden/temporary names skipped)."""
    from ingest.safety import normalize_athlete_id

    athlete_id = normalize_athlete_id(athlete) if athlete else cfg.default_athlete
    files: list[InboxFile] = []
    missing: list[tuple[str, str]] = []
    for given in paths:
        p = Path(given).expanduser().resolve()
        root = p.parent
        if p.is_dir():
            candidates = sorted(
                q
                for q in p.rglob("*")
                if q.is_file() and not any(is_temporary(part) for part in q.relative_to(p).parts)
            )
        elif p.is_file():
            candidates = [p]
        else:
            missing.append((str(given), "no such file or folder"))
            continue
        for q in candidates:
            st = q.stat()
            rel = q.relative_to(root).as_posix()
            files.append(InboxFile(q, rel, athlete_id, st.st_size, st.st_mtime_ns, root))
    return files, missing


def ingest_files(cfg: Config, files: Sequence[InboxFile], workers: int = 1) -> list[FileOutcome]:
    """Decode and load one batch of one athlete; every file gets an outcome.

    A file that changed since it was discovered (still being copied) is not loaded and is
    left for the next run (status ``changed``). Positions inside the athlete's privacy
    zones are masked before anything is written, so they never reach the working
    database, the published copy or a report.
    """
    if not files:
        return []
    from warehouse.store import Warehouse

    outcomes: list[FileOutcome] = []
    ready = [f for f in files if f.still_same()]
    outcomes.extend(_changed(f) for f in files if f not in ready)
    if not ready:
        return outcomes
    by_path = {str(f.path): f for f in ready}
    done: list[tuple[InboxFile, str]] = []
    state = FileState(cfg.database)
    with Warehouse.open(cfg.database) as wh:
        _sync_athletes(cfg, wh)
        decoded = decode_files(
            [f.path for f in ready],
            [f.athlete_id for f in ready],
            cfg.limits,
            ready[0].root,
            workers,
        )
        for item in decoded:
            f = by_path[str(item.path)]
            if not f.still_same():  # third look: it changed while we read it
                outcomes.append(_changed(f))
                progress_advance("ingest", 1, f.rel)
                continue
            results = _masked(cfg, f, list(item.results))
            summary = wh.load(results, f.athlete_id, check=False)
            outcome = _outcome(wh, f, results, summary)
            if f.root == cfg.inbox:  # files named on the command line stay untouched
                # Recorded per file, right after its commit: a crash loses at most the
                # cheap skip of files already loaded (they are then re-read, and the
                # warehouse recognises their sha256: nothing is duplicated).
                state.record([(f, sha256_file(f.path))])
                done.append((f, "rejected" if outcome.status == "rejected" else "processed"))
            outcomes.append(outcome)
            progress_advance("ingest", 1, f.rel)
            _after_file()
    dispose(cfg, done)
    return outcomes


def _masked(cfg: Config, f: InboxFile, results: list[Any]) -> list[Any]:
    """Apply the athlete's privacy zones to every activity's samples (transforms.privacy);
    a file that yielded nothing at all is logged as skipped rather than forgotten."""
    if not results:
        from ingest.errors import NotAnActivityError
        from ingest.reader import ReadResult

        err = NotAnActivityError(f.rel, "no activity file inside")
        return [ReadResult(source_file=f.rel, sha256=None, size_bytes=f.size, error=err)]
    athlete = cfg.athlete(f.athlete_id)
    if athlete is None or not athlete.privacy_zones:
        return results
    from transforms.privacy import PrivacyZone, mask_privacy_zones

    zones = [PrivacyZone(z.lat_deg, z.lon_deg, z.radius_m) for z in athlete.privacy_zones]
    for r in results:
        for act in r.activities:
            act.samples = mask_privacy_zones(act.samples, zones)
    return results


def _changed(f: InboxFile) -> FileOutcome:
    return FileOutcome(f.rel, f.athlete_id, "changed", "still being written; left for the next run")


def _outcome(wh: Any, f: InboxFile, results: Sequence[Any], s: Any) -> FileOutcome:
    """One file's outcome from the warehouse's LoadSummary of its leaf inputs."""
    errors: list[IngestError] = [r.error for r in results if r.error is not None]
    members = len(results)
    new = int(s.loaded) + int(s.replaced)
    rejected = int(s.rejected)
    reason = ""
    if rejected:
        reason = _rejection_reason(wh, f, errors)
        if members > 1 or new or s.duplicates or s.skipped or s.unchanged:
            reason = f"{rejected} of {members} inside rejected, e.g. {reason}"
    if new:
        status = "loaded"
    elif s.duplicates:
        status, reason = "duplicate", reason or "same activity already loaded"
    elif s.unchanged:
        status, reason = "unchanged", reason or "already loaded with the same content"
    elif rejected:
        status = "rejected"
    else:
        status = "skipped"
        skipped = [e for e in errors if e.status == "skipped"]
        reason = _why(skipped[0], f) if skipped else "no activity in it"
    partial = rejected if status != "rejected" else 0
    return FileOutcome(f.rel, f.athlete_id, status, reason, new, members, partial)


def _why(e: IngestError, f: InboxFile) -> str:
    """The error's line without the file's own name in front (the caller prints it)."""
    text = e.one_line()
    return text[len(f.rel) + 2 :] if text.startswith(f.rel + ": ") else text


def _rejection_reason(wh: Any, f: InboxFile, errors: Sequence[IngestError]) -> str:
    bad = [e for e in errors if e.status == "rejected"]
    if bad:
        return _why(bad[0], f)
    # Rejected by the warehouse itself (e.g. samples outside the activity's time window):
    # the reason is only in ingest_log.
    row = wh.con.execute(
        "SELECT reason FROM ingest_log WHERE athlete_id = ? AND status = 'rejected' "
        "AND (source_file = ? OR starts_with(source_file, ?)) ORDER BY seen_at DESC LIMIT 1",
        [f.athlete_id, f.rel, f.rel + "/"],
    ).fetchall()
    return str(row[0][0]) if row and row[0][0] else "rejected by the warehouse"


def _seen_files(cfg: Config) -> dict[str, tuple[int, int]]:
    """rel -> (size, mtime_ns) of files done before whose name ingest_log still knows
    (an archive is known when a member of it is logged)."""
    state = FileState(cfg.database)
    entries = state.load()
    if not entries or not cfg.database.exists():
        return {}
    from warehouse.store import Warehouse

    with Warehouse.open(cfg.database) as wh:
        logged = wh.ingest_log_frame()["source_file"].unique().to_list()
    known: set[str] = set()
    for name in logged:
        parts = name.split("/")
        known.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    seen = {rel: (size, mtime) for rel, (size, mtime, _sha) in entries.items() if rel in known}
    if state.lines() > 2 * len(entries) + 100:
        state.compact()
    return seen


def _sync_athletes(cfg: Config, wh: Any) -> None:
    """The configured athletes (name, time zone, height, max HR) into the warehouse."""
    if cfg.athletes:
        wh.upsert_athletes(athletes_frame(cfg))


# ------------------------------------------------------------------ metrics, reports


def athletes_frame(cfg: Config) -> Any:
    """The configured athletes as the transforms' ``athletes`` frame."""
    import polars as pl

    return pl.DataFrame(
        {
            "athlete_id": [a.athlete_id for a in cfg.athletes],
            "name": [a.name for a in cfg.athletes],
            "timezone": [a.timezone for a in cfg.athletes],
            "height_m": [a.height_m for a in cfg.athletes],
            "max_hr_bpm": [a.max_hr_bpm for a in cfg.athletes],
        },
        schema={
            "athlete_id": pl.String,
            "name": pl.String,
            "timezone": pl.String,
            "height_m": pl.Float64,
            "max_hr_bpm": pl.Float64,
        },
    )


GAIT_CHUNK = 50  # activities whose samples are read and analysed together (bounded memory)


def _metrics_state_path(cfg: Config) -> Path:
    return cfg.database.with_name(cfg.database.name + ".metrics.json")


def _metrics_fingerprint(cfg: Config) -> str:
    """What the metrics depend on besides the data: thresholds and athletes' settings.
    When it changes, everything is recomputed."""
    payload = {
        "thresholds": {k: cfg.thresholds[k] for k in sorted(cfg.thresholds)},
        "athletes": [
            [a.athlete_id, a.timezone, a.height_m, a.max_hr_bpm] for a in cfg.athletes
        ],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def compute_metrics(cfg: Config, full: bool = False) -> MetricsSummary:
    """Incremental metrics: ``activity_gait`` for running activities that have none (all of
    them when ``full`` or when thresholds/athletes changed), then ``weekly_risk`` from the
    first week touched by activities loaded since the last run.

    The "since the last run" watermark is the largest ``activities.loaded_at`` seen,
    kept next to the database; it is written last, so a crash only repeats work.
    """
    import polars as pl

    from transforms.gait import activity_gait
    from transforms.risk import weekly_risk, weeks_to_recompute
    from transforms.thresholds import load_thresholds
    from warehouse.store import Warehouse

    th = load_thresholds(dict(cfg.thresholds))
    state_path = _metrics_state_path(cfg)
    state: dict[str, Any] = {}
    if state_path.exists():
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
    fingerprint = _metrics_fingerprint(cfg)
    full = full or state.get("fingerprint") != fingerprint
    out = MetricsSummary()
    with Warehouse.open(cfg.database) as wh:
        _sync_athletes(cfg, wh)
        activities = wh.activities_frame()
        if activities.height == 0:
            return out
        athletes = wh.athletes_frame()
        if full:
            running = activities.filter(pl.col("sport") == "running")["activity_id"].to_list()
            todo = sorted(set(running) | set(wh.activities_needing_gait()))
            order = activities.filter(pl.col("activity_id").is_in(todo)).sort("started_at")
            todo = order["activity_id"].to_list()
        else:
            todo = wh.activities_needing_gait()
        progress_start("metrics", len(todo))
        ref = wh.activity_gait_frame()
        for i in range(0, len(todo), GAIT_CHUNK):
            chunk = todo[i : i + GAIT_CHUNK]
            samples = wh.samples_frame(chunk)
            gait = activity_gait(samples, th, sprint_ref=ref, athletes=athletes)
            if gait.height:
                wh.write_activity_gait(gait)
                ref = pl.concat([ref.filter(~pl.col("activity_id").is_in(chunk)), gait])
            out.activities += gait.height
            progress_advance("metrics", len(chunk), f"{i + len(chunk)} activities")
        progress_done("metrics")

        watermark = state.get("watermark")
        max_loaded: Any = activities["loaded_at"].max()
        gait_all = wh.activity_gait_frame()
        base = activities.select(list(_activity_input_columns()))
        ids = sorted(base["athlete_id"].unique().to_list())
        out.athletes = len(ids)
        since: dict[str, Any] = {}
        if full or watermark is None:
            since = dict.fromkeys(ids)
        else:
            mark = datetime.fromisoformat(watermark)
            fresh = activities.filter(pl.col("loaded_at") > pl.lit(mark))
            fresh = fresh.group_by("athlete_id").agg(pl.col("started_at").min())
            for athlete_id, started in fresh.iter_rows():
                weeks = weeks_to_recompute(base, athletes, started, [athlete_id])
                since[athlete_id] = weeks["week_start"].min() if weeks.height else None
        for athlete_id in ids:
            if athlete_id not in since:
                continue
            start = since[athlete_id]
            risk = weekly_risk(
                base.filter(pl.col("athlete_id") == athlete_id),
                gait_all.filter(pl.col("athlete_id") == athlete_id),
                athletes,
                th,
                from_week=start,
            )
            out.weeks += wh.write_weekly_risk(athlete_id, risk, from_week_start=start)
    new_state = {
        "fingerprint": fingerprint,
        "watermark": max_loaded.isoformat() if max_loaded is not None else None,
    }
    tmp = state_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(new_state), encoding="utf-8")
    os.replace(tmp, state_path)
    return out


def _activity_input_columns() -> Iterable[str]:
    from transforms.schema import ACTIVITY_INPUT_SCHEMA

    return ACTIVITY_INPUT_SCHEMA.keys()


def write_reports(
    cfg: Config, athletes: list[str] | None = None, weeks: list[str] | None = None
) -> list[Path]:
    """HTML + Markdown weekly reports (reports.render), from the working database."""
    from reports.render import render_reports
    from transforms.thresholds import load_thresholds

    if not cfg.database.exists():
        return []
    th = load_thresholds(dict(cfg.thresholds))
    return render_reports(cfg.database, cfg.reports_dir, athletes=athletes, weeks=weeks, thresholds=th)


def summary_markdown(
    cfg: Config, athletes: list[str] | None = None, weeks: list[str] | None = None
) -> str:
    """The summary table for a Prefect markdown artifact (reports.render): the given
    weeks, else each athlete's latest week."""
    import duckdb

    try:
        from reports.render import summary_markdown as render_summary
    except ImportError:
        return ""
    if not cfg.database.exists():
        return ""
    with duckdb.connect(str(cfg.database), read_only=True) as con:
        if weeks is None:
            latest = con.execute(
                "SELECT DISTINCT max(iso_week) FROM weekly_risk GROUP BY athlete_id"
            ).fetchall()
            weeks = sorted(w for (w,) in latest if w)
        return render_summary(con, athletes=athletes, weeks=weeks)


def run_data_tests(cfg: Config) -> list[str]:
    """Every failing data test as one line (empty: all passed)."""
    from warehouse.store import Warehouse

    with Warehouse.open(cfg.database) as wh:
        results = wh.run_data_tests(raise_on_failure=False)
    return [
        f"{r.name}: {r.failures} row(s), e.g. {r.examples[:2]}" for r in results if not r.passed
    ]


def publish(cfg: Config) -> Path:
    """Copy the working database to the analysts' file (warehouse.publish), stripping
    coordinates when configured."""
    from warehouse.store import Warehouse

    with Warehouse.open(cfg.database) as wh:
        return wh.publish(cfg.published_database, strip_coordinates=cfg.strip_coordinates)


@dataclass
class Status:
    totals_columns: list[str]
    totals_rows: list[tuple[Any, ...]]
    files: list[dict[str, str]]


def ingest_status(cfg: Config, athlete: str | None = None) -> Status:
    """What ingest_log says: per athlete counts by status, and every input with its
    latest status and reason."""
    import polars as pl

    from warehouse.store import Warehouse

    with Warehouse.open(cfg.database) as wh:
        log = wh.ingest_log_frame(athlete)
        acts = wh.activities_frame(athlete)
    statuses = ["loaded", "duplicate", "skipped", "rejected", "replaced"]
    rows: list[tuple[Any, ...]] = []
    for athlete_id in sorted(set(log["athlete_id"].to_list())):
        mine = log.filter(pl.col("athlete_id") == athlete_id)
        counts = [mine.filter(pl.col("status") == st).height for st in statuses]
        a = acts.filter(pl.col("athlete_id") == athlete_id)
        km = (a["distance_m"].sum() or 0) / 1000 if a.height else 0.0
        first: Any = a["started_at"].min() if a.height else None
        last: Any = a["started_at"].max() if a.height else None
        span = f"{first:%Y-%m-%d} .. {last:%Y-%m-%d}" if first and last else "-"
        rows.append((athlete_id, a.height, f"{km:.1f}", span, *counts))
    files = [
        {
            "file": r["source_file"],
            "athlete": r["athlete_id"],
            "status": r["status"],
            "reason": r["reason"] or "",
            "when": f"{r['seen_at']:%Y-%m-%d %H:%M}",
        }
        for r in log.sort("seen_at").iter_rows(named=True)
    ]
    return Status(
        ["athlete", "activities", "km", "first .. last", *[f"{s} inputs" for s in statuses]],
        rows,
        files,
    )
