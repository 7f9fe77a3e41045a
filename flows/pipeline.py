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
from datetime import datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

from flows.config import Config
from flows.inbox import FileState, InboxFile, dispose, is_temporary, scan_inbox, sha256_file
from ingest.errors import GaitwatchError, IngestError
from ingest.exports import list_kind
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
    """Files grouped by (athlete, root), in chunks of ``size``: one Prefect task each.

    The whole run's file list is also announced to :data:`_AHEAD`, so that the
    :func:`ingest_files` calls for these batches share one decode stream: the workers
    decode the next batches while this process loads the current one (docs/performance.md,
    P6). A caller that ingests batches in another order just decodes them itself.
    """
    ordered = sorted(files, key=lambda f: (f.athlete_id, str(f.root), f.rel))
    out: list[tuple[str, list[InboxFile]]] = []
    for (athlete, _root), group in groupby(ordered, key=lambda f: (f.athlete_id, str(f.root))):
        chunk: list[InboxFile] = []
        for f in group:
            chunk.append(f)
            if len(chunk) >= size:
                out.append((athlete, chunk))
                chunk = []
        if chunk:
            out.append((athlete, chunk))
    _AHEAD.expect([f for _athlete, chunk in out for f in chunk])
    yield from out


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


def _crash_hook() -> tuple[Callable[[], None], Callable[[], int | None]]:
    """Test hook for the restart test: ``GAITWATCH_CRASH_AFTER_FILES=N`` kills this
    process with SIGKILL right after the N-th file has been loaded (a real crash: no
    cleanup, no flush beyond what the warehouse already committed). The second function
    tells the loader how many files remain before the crash, so that a load group ends
    exactly at the N-th file."""
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

    def budget() -> int | None:
        return max(1, limit - count) if limit else None

    return after_file, budget


_after_file, _crash_budget = _crash_hook()


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


class _DecodeAhead:
    """One decode stream for a whole run, shared by its :func:`ingest_files` calls.

    :func:`batches` announces the run's files in the order it hands them out; the first
    ``ingest_files`` call starts :func:`decode_files` over all of them (per name root),
    and each later call takes its own files from the same stream. The stream keeps at
    most ``2 x workers`` chunks decoded ahead (flows.parallel), so memory stays bounded.
    Anything unexpected (another order, a retried batch, other limits) drops the stream
    and the call decodes its own files: only the overlap is lost, never a file.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plan: list[InboxFile] = []
        self._pos = 0  # index in _plan of the next file the stream yields
        self._end = 0  # the stream covers _plan[_pos:_end]
        self._stream: Iterator[Any] | None = None
        self._key: tuple[Any, ...] | None = None

    def expect(self, files: Sequence[InboxFile]) -> None:
        with self._lock:
            self._drop()
            self._plan = list(files)
            self._pos = self._end = 0

    def _drop(self) -> None:
        if self._stream is not None:
            close = getattr(self._stream, "close", None)
            if close is not None:
                close()
        self._stream, self._key = None, None

    def _matches(self, files: Sequence[InboxFile]) -> bool:
        want = [str(f.path) for f in files]
        got = [str(f.path) for f in self._plan[self._pos : self._pos + len(files)]]
        return bool(want) and want == got

    def take(self, cfg: Config, files: Sequence[InboxFile], workers: int) -> Iterator[Any] | None:
        """The decoded ``files`` (in order) from the shared stream, or None when they are
        not the next files of the announced run."""
        with self._lock:
            if not self._matches(files):
                self._drop()
                self._plan = []
                return None
            key = (cfg.limits, workers)
            if self._stream is not None and (self._key != key or self._pos >= self._end):
                self._drop()
            if self._stream is None:
                root = files[0].root
                end = self._pos
                while end < len(self._plan) and self._plan[end].root == root:
                    end += 1
                if end - self._pos < len(files):
                    return None
                todo = self._plan[self._pos : end]
                self._stream = iter(
                    decode_files(
                        [f.path for f in todo], [f.athlete_id for f in todo], cfg.limits,
                        root, workers,
                    )
                )
                self._key, self._end = key, end
            stream = self._stream
        return self._consume(stream, cfg, files, workers)

    def _consume(
        self, stream: Iterator[Any], cfg: Config, files: Sequence[InboxFile], workers: int
    ) -> Iterator[Any]:
        taken = 0
        try:
            while taken < len(files):
                with self._lock:
                    item = next(stream, None) if self._stream is stream else None
                    if item is not None:
                        self._pos += 1
                if item is None:  # the stream was dropped meanwhile: decode the rest here
                    rest = files[taken:]
                    yield from decode_files(
                        [f.path for f in rest], [f.athlete_id for f in rest], cfg.limits,
                        rest[0].root, workers,
                    )
                    taken = len(files)
                    break
                taken += 1
                yield item
        finally:
            if taken < len(files):  # abandoned midway (an error): the stream is out of step
                with self._lock:
                    if self._stream is stream:
                        self._drop()
                        self._plan = []


_AHEAD = _DecodeAhead()


def ingest_files(cfg: Config, files: Sequence[InboxFile], workers: int = 1) -> list[FileOutcome]:
    """Decode and load one batch of files; every file gets an outcome.

    Consecutive files of one athlete are loaded ``cfg.batch_size`` at a time with one
    ``Warehouse.load`` call (one transaction), and each file's outcome comes from the
    per-input outcomes of that call. A file that changed since it was discovered (still
    being copied) is not loaded and is left for the next run (status ``changed``).
    Positions inside the athlete's privacy zones are masked before anything is written,
    so they never reach the working database, the published copy or a report.
    """
    if not files:
        return []
    from warehouse.store import Warehouse

    outcomes: list[FileOutcome] = []
    ready = [f for f in files if f.still_same()]
    outcomes.extend(_changed(f) for f in files if f not in ready)
    # The shared run-wide stream decodes every announced file, the changed ones too.
    decoded = _AHEAD.take(cfg, files, workers)
    if not ready:
        if decoded is not None:
            for _ in decoded:
                pass
        return outcomes
    if decoded is None:
        decoded = decode_files(
            [f.path for f in ready],
            [f.athlete_id for f in ready],
            cfg.limits,
            ready[0].root,
            workers,
        )
    wanted = {str(f.path): f for f in ready}
    state = FileState(cfg.database)
    group: list[tuple[InboxFile, list[Any]]] = []
    lists: list[InboxFile] = []
    inside: list[tuple[InboxFile, str, bytes, set[str]]] = []  # lists inside archives
    with Warehouse.open(cfg.database) as wh:
        _sync_athletes(cfg, wh)

        def flush() -> None:
            outcomes.extend(_load_group(cfg, wh, state, group))
            group.clear()

        for item in decoded:
            f = wanted.get(str(item.path))
            if f is None:  # decoded by the shared stream but changed before this batch
                continue
            if not f.still_same():  # third look: it changed while we read it
                outcomes.append(_changed(f))
                progress_advance("ingest", 1, f.rel)
                continue
            if list_kind(f.rel) is not None:  # export activity list or journal (issue 12)
                lists.append(f)
                continue
            if group and group[0][0].athlete_id != f.athlete_id:
                flush()
            results = _lists_inside(cfg, f, list(item.results), inside)
            group.append((f, _masked(cfg, f, results)))
            budget = _crash_budget()
            if len(group) >= max(1, min(cfg.batch_size, budget or cfg.batch_size)):
                flush()
        if group:
            flush()
        outcomes.extend(
            _load_lists(cfg, wh, state, lists, inside, {f.athlete_id for f in ready})
        )
    return outcomes


def _load_group(
    cfg: Config, wh: Any, state: FileState, group: Sequence[tuple[InboxFile, list[Any]]]
) -> list[FileOutcome]:
    """Load the files of one athlete with one ``Warehouse.load`` call; one outcome each.

    The inbox's file-state record (the cheap "already done" skip) is written only after
    the warehouse committed: a crash loses at most that skip for this group (the files
    are re-read and the warehouse recognises their sha256: nothing is duplicated).
    """
    from warehouse.store import LoadSummary

    athlete_id = group[0][0].athlete_id
    summary = wh.load([r for _f, results in group for r in results], athlete_id, check=False)
    outcomes: list[FileOutcome] = []
    done: list[tuple[InboxFile, str]] = []
    i = 0
    for f, results in group:
        mine = summary.per_input[i : i + len(results)]
        i += len(results)
        s = LoadSummary(athlete_id=athlete_id, inputs=len(results))
        for counts in mine:
            for name in ("unchanged", "loaded", "replaced", "duplicates", "skipped",
                         "rejected", "samples"):
                setattr(s, name, getattr(s, name) + getattr(counts, name))
        outcome = _outcome(wh, f, results, s)
        outcomes.append(outcome)
        if f.root == cfg.inbox:  # files named on the command line stay untouched
            done.append((f, "rejected" if outcome.status == "rejected" else "processed"))
    inbox = [f for f, _results in group if f.root == cfg.inbox]
    if inbox:
        state.record([(f, sha256_file(f.path)) for f in inbox])
    for f, _results in group:
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
                # Re-read rather than concatenating ``gait``: its string columns are views
                # into the chunk's samples buffers and would keep every chunk's samples
                # alive (docs/performance.md, F4/P4). A few thousand rows, fresh buffers.
                ref = wh.activity_gait_frame()
            out.activities += gait.height
            progress_advance("metrics", len(chunk), f"{i + len(chunk)} activities")
        progress_done("metrics")

        watermark = state.get("watermark")
        max_loaded: Any = activities["loaded_at"].max()
        gait_all = wh.activity_gait_frame()
        base = activities.select(
            [c for c in _activity_input_columns() if c in activities.columns]
        )
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
    from transforms.risk import DEVICE_COLUMNS
    from transforms.schema import ACTIVITY_INPUT_SCHEMA

    # device columns: weekly_risk restarts gait baselines after a new watch or sensor
    return [*ACTIVITY_INPUT_SCHEMA, *DEVICE_COLUMNS]


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


# A full data-test run at least this often, even on incremental nightly runs.
FULL_DATA_TESTS_EVERY = timedelta(days=7)


def _datatests_state_path(cfg: Config) -> Path:
    return cfg.database.with_name(cfg.database.name + ".datatests.json")


def _datatest_scope(cfg: Config, wh: Any, full: bool) -> tuple[list[str] | None, dict[str, Any]]:
    """The activities an incremental data-test run must check (None: check everything),
    and the state to save once they pass.

    The watermark is the largest ``activities.loaded_at`` a passing run had seen: every
    activity loaded (or replaced) after it has not been checked yet. No watermark, a
    watermark from another file, or the last full run older than
    :data:`FULL_DATA_TESTS_EVERY` mean a full run.
    """
    from datetime import UTC

    path = _datatests_state_path(cfg)
    state: dict[str, Any] = {}
    if not full and path.exists():
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
    row = wh.con.execute("SELECT max(loaded_at), count(*) FROM activities").fetchall()[0]
    mark, n_activities = row[0], int(row[1])
    now = datetime.now(UTC)
    new_state: dict[str, Any] = {
        "watermark": mark.isoformat() if mark is not None else None,
        "full_at": state.get("full_at"),
    }
    last_full: datetime | None
    watermark: datetime | None
    try:
        last_full = datetime.fromisoformat(state["full_at"])
        watermark = datetime.fromisoformat(state["watermark"])
    except (KeyError, TypeError, ValueError):
        last_full = watermark = None
    if (
        full
        or last_full is None
        or watermark is None
        or now - last_full > FULL_DATA_TESTS_EVERY
        or n_activities == 0
    ):
        new_state["full_at"] = now.isoformat()
        return None, new_state
    ids = wh.con.execute(
        "SELECT activity_id FROM activities WHERE loaded_at > ?", [watermark]
    ).fetchall()
    return [i for (i,) in ids], new_state


def _save_datatest_state(cfg: Config, state: dict[str, Any]) -> None:
    path = _datatests_state_path(cfg)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, path)


def run_data_tests(cfg: Config, full: bool = False) -> list[str]:
    """Every failing data test as one line (empty: all passed).

    Incremental by default: the per-activity sample tests look only at activities loaded
    since the last passing run (a full run when there is none, or weekly; ``full=True``
    always). Every other test checks the whole warehouse.
    """
    from warehouse.store import Warehouse

    with Warehouse.open(cfg.database) as wh:
        scope, state = _datatest_scope(cfg, wh, full)
        results = wh.run_data_tests(raise_on_failure=False, activity_ids=scope)
    failures = [
        f"{r.name}: {r.failures} row(s), e.g. {r.examples[:2]}" for r in results if not r.passed
    ]
    if not failures:
        _save_datatest_state(cfg, state)
    return failures


def publish(cfg: Config, full_checks: bool = False) -> Path:
    """Copy the working database to the analysts' file (warehouse.publish), stripping
    coordinates when configured. The data tests run first, incrementally like
    :func:`run_data_tests` (``full_checks=True``: in full)."""
    from warehouse.store import Warehouse

    with Warehouse.open(cfg.database) as wh:
        scope, state = _datatest_scope(cfg, wh, full_checks)
        out = wh.publish(
            cfg.published_database, strip_coordinates=cfg.strip_coordinates, activity_ids=scope
        )
    _save_datatest_state(cfg, state)
    return out


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


# ------------------------------------------------------------------ export lists, journal


def _lists_inside(
    cfg: Config, f: InboxFile, results: list[Any], found: list[tuple[InboxFile, str, bytes, set[str]]]
) -> list[Any]:
    """An archive's export lists (a Strava or Garmin export zip dropped whole) go to the
    list loader instead of being logged as "not an activity"; the other results stay."""
    if not any(list_kind(r.source_file) for r in results if r.source_file != f.rel):
        return results
    from ingest.exports import read_zip_lists

    data = read_zip_lists(f.path, f.rel, cfg.limits.max_file_bytes)
    names = {r.source_file for r in results}
    for name, raw in data.items():
        found.append((f, name, raw, names))
    return [r for r in results if r.source_file not in data]


def _load_lists(
    cfg: Config,
    wh: Any,
    state: FileState,
    lists: Sequence[InboxFile],
    inside: Sequence[tuple[InboxFile, str, bytes, set[str]]],
    athletes: set[str],
) -> list[FileOutcome]:
    """Export activity lists and journals (warehouse.summaries), then link every listed
    activity of the batch's athletes to its recorded one (order-independent)."""
    from warehouse.summaries import has_export_rows, load_list_file, reconcile

    for f, name, raw, names in inside:  # the archive's own outcome covers them
        load_list_file(wh, f.athlete_id, name, raw, list_kind(name) or "", names.__contains__)
    outcomes: list[FileOutcome] = []
    for f in lists:
        kind = list_kind(f.rel) or ""
        root = f.root

        def beside(ref: str, root: Path = root) -> bool:
            return (root / ref).is_file()

        done = load_list_file(wh, f.athlete_id, f.rel, f.path.read_bytes(), kind, beside)
        status, reason = done.status, done.reason
        if done.problems:
            reason = f"{len(done.problems)} of {done.rows + len(done.problems)} rows rejected, " \
                     f"e.g. {done.problem_lines()[0]}"
        outcomes.append(FileOutcome(f.rel, f.athlete_id, status, reason, 0, 1,
                                    len(done.problems)))
        progress_advance("ingest", 1, f.rel)
    for athlete_id in sorted(athletes):
        if has_export_rows(wh, athlete_id):
            reconcile(wh, athlete_id)
    inbox = [f for f in lists if f.root == cfg.inbox]
    if inbox:
        state.record([(f, sha256_file(f.path)) for f in inbox])
    dispose(cfg, [(f, "rejected" if o.status == "rejected" else "processed")
                  for f, o in zip(lists, outcomes, strict=True) if f.root == cfg.inbox])
    return outcomes
