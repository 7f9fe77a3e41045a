"""Prefect flows: orchestration only. Every step is one function of ingest, transforms,
warehouse or reports (through the thin adapters of :mod:`flows.pipeline`).

- ``ingest_inbox``: new or changed files of the inbox -> parsed -> loaded (one task per
  batch of files of one athlete; retried when the database is busy).
- ``compute_metrics``: incremental gait metrics and weekly risk.
- ``weekly_reports``: HTML + Markdown reports, a markdown artifact with the summary.
- ``nightly``: the same steps as tasks of one run (no sub-flows): ingest and metrics,
  then publish and reports.

One gate: every flow that changes the warehouse runs the data tests
(:func:`warehouse.datatests.gate`) at its end, and publishing and rendering reports run
them first (in the nightly run, the gate task just before them, once for both); a failing
test raises :class:`warehouse.datatests.DataTestError` and blocks
both (the CLI exits with 3).

Parameters are typed and validated by Prefect (pydantic). Tasks pass paths and small
summaries, never frames; result persistence and caching are off because every step is
idempotent against the warehouse (re-running is a no-op), which is the real cache.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from prefect import Task, flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.runtime import flow_run
from pydantic import Field

from flows import pipeline
from flows.config import Config, load_config
from ingest.batch import InboxFile
from ingest.inbox import InboxScan

BatchSize = Annotated[int, Field(ge=1, le=10_000)]
Workers = Annotated[int, Field(ge=0, le=256)]


def settings(config: Path | None, inbox: Path | None = None, database: Path | None = None,
             reports_dir: Path | None = None, published_database: Path | None = None) -> Config:
    """The configuration file plus per-run path overrides."""
    cfg = load_config(config, must_exist=config is not None)
    return cfg.with_paths(inbox, database, reports_dir, published_database)


def _run_name(prefix: str) -> Callable[[], str]:
    """flow_run_name callable: what the run does, on what, when."""

    def name() -> str:
        params = flow_run.parameters or {}
        cfg = params.get("config")
        where = f" {Path(str(cfg)).name}" if cfg else ""
        return f"{prefix}{where} {datetime.now(UTC):%Y-%m-%d %H:%M}Z"

    return name


def _say_what_it_did(summary: str) -> None:
    """Append the outcome to the run's name ("nightly x.toml 2026-11-25 02:30Z: 3 loaded,
    1 rejected"), so the runs list reads as a log. Cosmetic: never fails the run."""
    from prefect.client.orchestration import get_client

    run_id, name = flow_run.id, flow_run.name
    if not run_id or not name:
        return
    try:
        with get_client(sync_client=True) as client:
            client.update_flow_run(run_id, name=f"{name}: {summary}"[:200])
    except Exception as exc:  # noqa: BLE001 - a name is not worth failing a run for
        get_run_logger().debug("could not rename the flow run: %s", exc)


def _transient(task: Task[..., object], task_run: TaskRun, state: State) -> bool:
    """Retry only when the database file was busy (another process held the lock)."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - classifying the failure
        return pipeline.is_transient_io_error(exc)
    return False


# ------------------------------------------------------------------ tasks


def _task(name: str, run_name: str, retry: bool) -> Any:
    """Our task options: no caching or persisted results (every step is idempotent against
    the warehouse); ``retry``: up to 3 tries when the database file was busy."""
    options: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}
    if retry:
        options.update(retries=3, retry_delay_seconds=[2, 5, 15], retry_condition_fn=_transient)
    return task(name=name, task_run_name=run_name, **options)


@_task("scan-inbox", "scan {cfg.inbox.name}", retry=True)
def scan_inbox_task(cfg: Config) -> InboxScan:
    return pipeline.scan_new_files(cfg)


@_task("ingest-batch", "ingest {athlete_id}: {label}", retry=True)
def ingest_batch(
    cfg: Config, athlete_id: str, files: list[InboxFile], label: str, workers: int
) -> list[pipeline.FileOutcome]:
    outcomes = pipeline.ingest_files(cfg, files, workers=workers)
    logger = get_run_logger()  # per-file detail: INFO, shown with ``-v`` only
    for o in outcomes:
        logger.info("%s %s: %s", o.status, o.rel, o.reason)
    return outcomes


@_task("compute-metrics", "metrics {cfg.database.name}", retry=True)
def metrics_task(cfg: Config, full: bool) -> pipeline.MetricsSummary:
    return pipeline.compute_metrics(cfg, full=full)


@_task("render-reports", "reports -> {cfg.reports_dir.name}", retry=False)
def reports_task(cfg: Config, athletes: list[str] | None, weeks: list[str] | None,
                 gated: bool = False) -> list[Path]:
    return pipeline.write_reports(cfg, athletes=athletes, weeks=weeks, gated=gated)


@_task("data-tests", "data tests {cfg.database.name}", retry=False)
def data_tests_task(cfg: Config, checkpoint: bool = False) -> None:
    """The gate: raises DataTestError when a data test fails (pipeline.run_gate)."""
    pipeline.run_gate(cfg, checkpoint=checkpoint)


@_task("publish", "publish -> {cfg.published_database.name}", retry=True)
def publish_task(cfg: Config, gated: bool = False) -> Path:
    return pipeline.publish(cfg, gated=gated)


# ------------------------------------------------------------------ flows


@flow(name="ingest-inbox", flow_run_name=_run_name("ingest inbox"), persist_result=False)
def ingest_inbox(
    config: Path | None = None,
    inbox: Path | None = None,
    database: Path | None = None,
    batch_size: BatchSize | None = None,
    workers: Workers | None = None,
) -> pipeline.IngestReport:
    """Load new or changed inbox files; unchanged ones are skipped without parsing.

    ``batch_size`` files per task and ``workers`` decoding processes (0: one per CPU)
    default to the configuration's ``[ingest]`` table.
    """
    cfg = settings(config, inbox=inbox, database=database)
    with pipeline.held(cfg):
        report = _ingest_inbox_steps(cfg, batch_size, workers)
    _say_what_it_did(report.one_line())
    return report


def _ingest_inbox_steps(cfg: Config, batch_size: int | None, workers: int | None,
                        gate: bool = True) -> pipeline.IngestReport:
    """Scan, ingest every ready file, the rejected-files artifact, the gate (``gate``)."""
    scan = scan_inbox_task(cfg)
    report = pipeline.IngestReport(
        unchanged=scan.unchanged, unsettled=list(scan.unsettled), invalid=list(scan.invalid)
    )
    _ingest_all(cfg, scan.ready, report, batch_size, workers)
    get_run_logger().info("ingest: %s", report.one_line())
    _rejected_artifact(report, f"Files rejected by {cfg.inbox}")
    if gate:  # else the caller runs it after later steps, over their changes too
        data_tests_task(cfg)
    return report


def _ingest_all(cfg: Config, files: list[InboxFile], report: pipeline.IngestReport,
                batch_size: int | None, workers: int | None) -> None:
    """One ``ingest-batch`` task per batch; one decode stream across them (ingest.batch)."""
    pipeline.progress_start("ingest", len(files))
    size = batch_size or cfg.batch_size
    n_workers = cfg.workers if workers is None else workers
    for athlete_id, batch in pipeline.batches(files, size):
        label = pipeline.batch_label(batch)
        report.outcomes.extend(ingest_batch(cfg, athlete_id, batch, label, n_workers))
    pipeline.progress_done("ingest")


def _rejected_artifact(report: pipeline.IngestReport, description: str) -> None:
    rows = [{"file": r.rel, "athlete": r.athlete_id, "reason": r.reason} for r in report.rejected]
    if rows:
        create_table_artifact(rows, key="rejected-files", description=description)


@flow(name="compute-metrics", flow_run_name=_run_name("compute metrics"), persist_result=False)
def compute_metrics(
    config: Path | None = None,
    database: Path | None = None,
    full: bool = False,
) -> pipeline.MetricsSummary:
    """Gait metrics of activities that have none yet, then weekly risk from the first
    affected week on (``full=True`` recomputes everything, e.g. after a threshold change)."""
    cfg = settings(config, database=database)
    with pipeline.held(cfg):
        summary = metrics_task(cfg, full)
    get_run_logger().info("metrics: %s", summary.one_line())
    _say_what_it_did(summary.one_line())
    return summary


@flow(name="weekly-reports", flow_run_name=_run_name("weekly reports"), persist_result=False)
def weekly_reports(
    config: Path | None = None,
    database: Path | None = None,
    reports_dir: Path | None = None,
    athletes: list[str] | None = None,
    weeks: list[Annotated[str, Field(pattern=r"^\d{4}-W\d{2}$")]] | None = None,
) -> list[Path]:
    """Render the weekly reports; a markdown artifact carries the week's summary."""
    cfg = settings(config, database=database, reports_dir=reports_dir)
    paths = _report_steps(cfg, athletes, weeks)
    _say_what_it_did(f"{len(paths)} report files")
    return paths


def _report_steps(cfg: Config, athletes: list[str] | None, weeks: list[str] | None,
                  gated: bool = False) -> list[Path]:
    """Render the reports (``gated``: after the caller's gate), then the summary artifact."""
    paths = reports_task(cfg, athletes, weeks, gated)
    summary = pipeline.summary_markdown(cfg, athletes, weeks)
    if summary:
        create_markdown_artifact(summary, key="weekly-summary", description="gaitwatch weekly summary")
    get_run_logger().info("reports: %d files in %s", len(paths), cfg.reports_dir)
    return paths


@flow(name="nightly", flow_run_name=_run_name("nightly"), persist_result=False)
def nightly(
    config: Path | None = None,
    inbox: Path | None = None,
    database: Path | None = None,
    reports_dir: Path | None = None,
    published_database: Path | None = None,
    batch_size: BatchSize | None = None,
    workers: Workers | None = None,
) -> pipeline.RunReport:
    """Ingest the inbox, compute metrics, then publish while writing the reports: the
    steps of the stand-alone flows as tasks, not sub-flows (a sub-flow run costs about a
    second of Prefect API round trips, more than a nightly run's work).

    One data-test gate, after metrics, covers what ingest and metrics changed: a failing
    test stops the run before the analysts' file is replaced or any report written
    (:class:`warehouse.datatests.DataTestError`; the CLI exits with 3). Publishing and
    rendering then only read the checked warehouse, so they run at the same time
    (docs/performance.md).
    """
    logger = get_run_logger()
    cfg = settings(config, inbox, database, reports_dir, published_database)
    with pipeline.held(cfg):
        ingest = _ingest_inbox_steps(cfg, batch_size, workers, gate=False)
        if any(o.status == "loaded" for o in ingest.outcomes):
            pipeline.preload_reports()
        metrics = metrics_task(cfg, False)
        logger.info("metrics: %s", metrics.one_line())
        data_tests_task(cfg, checkpoint=True)  # the file complete before the readers start
        # the gate above covers both readers: nothing is written between it and them
        publishing = publish_task.submit(cfg, gated=True)
        changed = metrics.weeks > 0 or any(o.activities or o.status == "loaded" for o in ingest.outcomes)
        if changed or not (cfg.reports_dir / "index.html").exists():
            reports = _report_steps(cfg, None, None, gated=True)
        else:  # nothing new since the reports were written: re-rendering would change nothing
            logger.info("reports up to date in %s", cfg.reports_dir)
            reports = []
        published = publishing.result()
    report = pipeline.RunReport(ingest=ingest, metrics=metrics, reports=reports, published=published)
    summary = f"{ingest.one_line()}; {metrics.activities} runs analysed; published"
    logger.info("nightly: %s; %d report files", summary, len(reports))
    _say_what_it_did(summary)
    return report


@flow(name="ingest-paths", flow_run_name=_run_name("ingest files"), persist_result=False)
def ingest_paths(
    paths: list[Path],
    athlete: str | None = None,
    config: Path | None = None,
    database: Path | None = None,
    batch_size: BatchSize | None = None,
    workers: Workers | None = None,
) -> pipeline.IngestReport:
    """``gaitwatch ingest``: load given files, folders or archives for one athlete, update
    the metrics, then the data-test gate."""
    cfg = settings(config, database=database)
    files, missing = pipeline.explicit_files(cfg, paths, athlete)
    report = pipeline.IngestReport(invalid=missing)
    with pipeline.held(cfg):
        _ingest_all(cfg, files, report, batch_size, workers)
        _rejected_artifact(report, "Files rejected by `gaitwatch ingest`")
        metrics_task(cfg, False)
        data_tests_task(cfg)
    return report
