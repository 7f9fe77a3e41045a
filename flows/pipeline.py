"""Thin adapters between the flows and the layers (ingest, transforms, warehouse,
reports). Each function opens what it needs, calls one layer function, closes, and
returns a small summary (never a frame) so Prefect results stay tiny.

Where the rules live: decoding and its scheduling in :mod:`ingest.batch`; file outcomes,
privacy masking and the inbox file state in :mod:`warehouse.files`; recompute planning in
:mod:`transforms.plan`; the data-test gate and its scope in :mod:`warehouse.datatests`;
publishing in :mod:`warehouse.publish`. Pipeline state lives in the warehouse
(``inbox_files``, ``pipeline_state``), never in files beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from flows.config import Config
from flows.inbox import dispose, scan_inbox
from ingest.batch import DecodeAhead, InboxFile, batches, list_inputs
from warehouse.datatests import DataTestError
from warehouse.files import (
    FileOutcome,
    IngestReport,
    Status,
    changed,
    load_decoded,
    outcome_counts,
)
from warehouse.files import ingest_status as _ingest_status
from warehouse.metrics import MetricsSummary, update_metrics
from warehouse.store import Warehouse

__all__ = [
    "DataTestError", "FileOutcome", "InboxFile", "IngestReport", "MetricsSummary", "Status",
    "batches", "outcome_counts",
]

# ------------------------------------------------------------------ results (small)


@dataclass
class NewFiles:
    ready: list[InboxFile] = field(default_factory=list)
    unchanged: int = 0
    unsettled: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)


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

# One decode stream per run, shared by the run's ingest_files calls (ingest.batch).
_AHEAD = DecodeAhead()


def plan_batches(files: Sequence[InboxFile], size: int) -> list[tuple[str, list[InboxFile]]]:
    """The run's batches (one flow task each), announced to the shared decode stream."""
    out = batches(files, size)
    _AHEAD.expect([f for _athlete, chunk in out for f in chunk])
    return out


def batch_label(batch: Sequence[InboxFile]) -> str:
    if len(batch) == 1:
        return batch[0].rel
    return f"{len(batch)} files ({batch[0].rel} .. {batch[-1].rel})"


def scan_new_files(cfg: Config) -> NewFiles:
    """Inbox files that are ready and not already done with the same size and mtime."""
    scan = scan_inbox(cfg)
    out = NewFiles(unsettled=scan.unsettled, invalid=scan.invalid)
    if not scan.ready:
        return out
    seen: dict[str, tuple[int, int]] = {}
    if cfg.database.exists():
        with Warehouse.open(cfg.database) as wh:
            seen = wh.inbox_files()
    for f in scan.ready:
        if seen.get(f.rel) == (f.size, f.mtime_ns):
            out.unchanged += 1
        else:
            out.ready.append(f)
    return out


def explicit_files(
    cfg: Config, paths: Sequence[Path], athlete: str | None
) -> tuple[list[InboxFile], list[tuple[str, str]]]:
    """Files named on the command line (:func:`ingest.batch.list_inputs`), for ``athlete``
    or the configured default athlete."""
    from ingest.safety import normalize_athlete_id

    return list_inputs(paths, normalize_athlete_id(athlete) if athlete else cfg.default_athlete)


def ingest_files(cfg: Config, files: Sequence[InboxFile], workers: int | None = None) -> list[FileOutcome]:
    """Decode and load one batch of files (:func:`warehouse.files.load_decoded`); every
    file gets an outcome. A file that changed since it was discovered (still being
    copied) is not loaded and is left for the next run (status ``changed``)."""
    if not files:
        return []
    n_workers = cfg.workers if workers is None else workers
    outcomes = [changed(f) for f in files if not f.still_same()]
    ready = [f for f in files if f.rel not in {o.rel for o in outcomes}]
    for o in outcomes:
        progress_advance("ingest", 1, o.rel)
    # The run-wide stream decodes every announced file, the changed ones too.
    decoded = _AHEAD.take(files, cfg.limits, n_workers)
    zones = {a.athlete_id: a.privacy_zones for a in cfg.athletes if a.privacy_zones}
    with Warehouse.open(cfg.database) as wh:
        _sync_athletes(cfg, wh)
        for outcome in load_decoded(wh, decoded, ready, zones, cfg.batch_size, cfg.inbox):
            outcomes.append(outcome)
            progress_advance("ingest", 1, outcome.rel)
    done = [
        (f, "rejected" if o.status == "rejected" else "processed")
        for o in outcomes
        for f in ready
        if f.rel == o.rel and f.root == cfg.inbox and o.status != "changed"
    ]
    dispose(cfg, done)
    return outcomes


def _sync_athletes(cfg: Config, wh: Warehouse) -> None:
    """The configured athletes (name, time zone, height, max HR) into the warehouse."""
    if cfg.athletes:
        wh.upsert_athletes(athletes_frame(cfg))


# ------------------------------------------------------------------ metrics, reports


def athletes_frame(cfg: Config) -> pl.DataFrame:
    """The configured athletes as the transforms' ``athletes`` frame."""
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


def compute_metrics(cfg: Config, full: bool = False) -> MetricsSummary:
    """Incremental gait metrics and weekly risk (:func:`warehouse.metrics.update_metrics`)."""
    seen = [0]

    def progress(done: int, total: int) -> None:
        if done == 0:
            progress_start("metrics", total)
        progress_advance("metrics", done - seen[0], f"{done} activities")
        seen[0] = done
        if done >= total:
            progress_done("metrics")

    with Warehouse.open(cfg.database) as wh:
        _sync_athletes(cfg, wh)
        settings = [[a.athlete_id, a.timezone, a.height_m, a.max_hr_bpm] for a in cfg.athletes]
        return update_metrics(wh, cfg.thresholds, settings, full, progress=progress)


def run_gate(cfg: Config, full: bool = False) -> None:
    """The data-test gate (:func:`warehouse.datatests.gate`): raises
    :class:`warehouse.datatests.DataTestError` when a test fails."""
    from warehouse.datatests import gate

    if not cfg.database.exists():
        return
    with Warehouse.open(cfg.database) as wh:
        gate(wh.con, full=full)


def write_reports(
    cfg: Config, athletes: list[str] | None = None, weeks: list[str] | None = None
) -> list[Path]:
    """HTML + Markdown weekly reports (reports.render), from the working database, after
    the data-test gate passed (a failing test raises and nothing is rendered)."""
    from reports.render import render_reports
    from transforms.thresholds import load_thresholds

    if not cfg.database.exists():
        return []
    run_gate(cfg)
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


def run_data_tests(cfg: Config, full: bool = False) -> list[str]:
    """Every failing data test as one line (empty: all passed), through the gate."""
    try:
        run_gate(cfg, full)
    except DataTestError as exc:
        return exc.failures
    return []


def publish(cfg: Config, full_checks: bool = False) -> Path:
    """The gate, then the analysts' copy (:func:`warehouse.publish.publish`), stripping
    coordinates when configured."""
    from warehouse.publish import publish as publish_file

    with Warehouse.open(cfg.database) as wh:
        return publish_file(
            wh.con, wh.path, cfg.published_database, cfg.strip_coordinates, full_checks
        )


def ingest_status(cfg: Config, athlete: str | None = None) -> Status:
    """``gaitwatch status``: what ingest_log says (:func:`warehouse.files.ingest_status`)."""
    with Warehouse.open(cfg.database) as wh:
        return _ingest_status(wh, athlete)
