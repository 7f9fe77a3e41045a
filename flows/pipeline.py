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

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import polars as pl

from flows.config import Config
from ingest import batch as _batch
from ingest.batch import DecodeAhead, InboxFile, list_inputs
from ingest.exports import list_kind
from ingest.inbox import InboxScan, dispose, scan_inbox
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
from warehouse.migrate import is_transient_io_error
from warehouse.store import ATHLETE_SCHEMA, Warehouse
from warehouse.summaries import divert_lists, load_lists

__all__ = ["DataTestError", "FileOutcome", "InboxFile", "IngestReport", "MetricsSummary",
           "Status", "is_transient_io_error", "outcome_counts"]

@dataclass
class RunReport:
    ingest: IngestReport
    metrics: MetricsSummary
    reports: list[Path]
    published: Path | None


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


def held(cfg: Config) -> AbstractContextManager[Warehouse | None]:
    return Warehouse.held(cfg.database)  # one DuckDB instance for the whole run


# ------------------------------------------------------------------ ingest

# One decode stream per run, shared by the run's ingest_files calls (ingest.batch).
_AHEAD = DecodeAhead()


def batches(files: Sequence[InboxFile], size: int) -> list[tuple[str, list[InboxFile]]]:
    """The run's batches (one flow task each), announced to the shared decode stream."""
    out = _batch.batches(files, size)
    _AHEAD.expect([f for _athlete, chunk in out for f in chunk if not list_kind(f.rel)])
    return out


def batch_label(batch: Sequence[InboxFile]) -> str:
    if len(batch) == 1:
        return batch[0].rel
    return f"{len(batch)} files ({batch[0].rel} .. {batch[-1].rel})"


def scan_new_files(cfg: Config) -> InboxScan:
    """Inbox files that are ready and not already done with the same size and mtime
    (the warehouse's ``inbox_files``)."""
    scan = scan_inbox(cfg.rules)
    if scan.ready and cfg.database.exists():
        with Warehouse.open(cfg.database) as wh:
            scan.drop_done(wh.inbox_files())
    return scan


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
    # Export activity lists and journals are not recordings: their own loader takes them.
    lists = [f for f in ready if list_kind(f.rel)]
    recordings = [f for f in files if not list_kind(f.rel)]
    # The run-wide stream decodes every announced recording, the changed ones too.
    decoded = _AHEAD.take(recordings, cfg.limits, n_workers)
    zones = {a.athlete_id: a.privacy_zones for a in cfg.athletes if a.privacy_zones}
    inside: list[tuple[str, str, bytes, set[str]]] = []  # lists inside dropped archives
    with Warehouse.open(cfg.database) as wh:
        _sync_athletes(cfg, wh)
        decoded = divert_lists(decoded, {str(f.path): f for f in recordings},
                               cfg.limits.max_file_bytes, inside)
        loading = [f for f in ready if not list_kind(f.rel)]
        for outcome in load_decoded(wh, decoded, loading, zones, cfg.batch_size, cfg.inbox, cfg.limits):
            outcomes.append(outcome)
            progress_advance("ingest", 1, outcome.rel)
        athletes = {f.athlete_id for f in ready}
        for outcome in load_lists(wh, lists, inside, athletes, cfg.inbox):
            outcomes.append(outcome)
            progress_advance("ingest", 1, outcome.rel)
    done = [
        (f, "rejected" if o.status == "rejected" else "processed")
        for o in outcomes
        for f in ready
        if f.rel == o.rel and f.root == cfg.inbox and o.status != "changed"
    ]
    dispose(cfg.rules, done)
    return outcomes


def _sync_athletes(cfg: Config, wh: Warehouse) -> None:
    """The configured athletes (name, time zone, height, max HR) into the warehouse."""
    if cfg.athletes:
        wh.upsert_athletes(athletes_frame(cfg))


# ------------------------------------------------------------------ metrics, reports


def athletes_frame(cfg: Config) -> pl.DataFrame:
    """The configured athletes as the transforms' ``athletes`` frame."""
    rows = [(a.athlete_id, a.name, a.timezone, a.height_m, a.max_hr_bpm) for a in cfg.athletes]
    return pl.DataFrame(rows, schema=ATHLETE_SCHEMA, orient="row")


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


def run_gate(cfg: Config, full: bool = False, checkpoint: bool = False) -> None:
    """The data-test gate (:func:`warehouse.datatests.gate`): raises
    :class:`warehouse.datatests.DataTestError` when a test fails. ``checkpoint``: then
    write the WAL into the file, before steps that read concurrently start: a checkpoint
    beside other transactions leaves the row groups of parallel inserts unmerged, and the
    next process's first checkpoint rewrites the whole samples table (13 s at 2,000 runs)."""
    from warehouse.datatests import gate

    if not cfg.database.exists():
        return
    with Warehouse.open(cfg.database) as wh:
        gate(wh.con, full=full)
        if checkpoint:
            wh.checkpoint()


def preload_reports() -> None:
    """Import the report code (Jinja, 0.1-0.3 s) in a thread while metrics run, whose DuckDB
    and polars work releases the GIL: a run that will render pays it off its critical path."""
    threading.Thread(target=import_module, args=("reports.render",), daemon=True).start()


def write_reports(
    cfg: Config, athletes: list[str] | None = None, weeks: list[str] | None = None,
    gated: bool = False,
) -> list[Path]:
    """HTML + Markdown weekly reports (reports.render), from the working database, after
    the data-test gate passed (a failing test raises and nothing is rendered); ``gated``:
    as for :func:`publish`."""
    from reports.render import render_reports
    from transforms.thresholds import load_thresholds

    if not cfg.database.exists():
        return []
    if not gated:
        run_gate(cfg)
    th = load_thresholds(dict(cfg.thresholds))
    return render_reports(cfg.database, cfg.reports_dir, athletes=athletes, weeks=weeks, thresholds=th)


def summary_markdown(
    cfg: Config, athletes: list[str] | None = None, weeks: list[str] | None = None
) -> str:
    """The summary table for a Prefect markdown artifact (reports.render.summary_markdown):
    the given weeks, else each athlete's latest week."""
    from reports.render import latest_weeks
    from reports.render import summary_markdown as render_summary
    from warehouse.migrate import connect

    if not cfg.database.exists():
        return ""
    with connect(cfg.database, read_only=True) as con:
        return render_summary(con, athletes=athletes, weeks=weeks or latest_weeks(con))


def run_data_tests(cfg: Config, full: bool = False) -> list[str]:
    """Every failing data test as one line (empty: all passed), through the gate."""
    try:
        run_gate(cfg, full)
    except DataTestError as exc:
        return exc.failures
    return []


def publish(cfg: Config, full_checks: bool = False, gated: bool = False) -> Path:
    """The gate, then the analysts' copy (:func:`warehouse.publish.publish`), stripping
    coordinates when configured. ``gated``: the caller's gate passed within :func:`held`
    and nothing was written since (the nightly flow: publish and reports read at once)."""
    from warehouse.publish import publish as publish_file

    with Warehouse.open(cfg.database) as wh:
        return publish_file(
            wh.con, wh.path, cfg.published_database, cfg.strip_coordinates, full_checks, gated
        )


def ingest_status(cfg: Config, athlete: str | None = None) -> Status:
    """``gaitwatch status``: what ingest_log says (:func:`warehouse.files.ingest_status`)."""
    with Warehouse.open(cfg.database) as wh:
        return _ingest_status(wh, athlete)
