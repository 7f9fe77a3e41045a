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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from flows.config import Config
from flows.config import PrivacyZone as ZoneConfig
from flows.inbox import dispose, is_temporary, scan_inbox
from ingest.batch import DecodeAhead, InboxFile, batches
from transforms.privacy import PrivacyZone
from warehouse.datatests import DataTestError
from warehouse.files import FileOutcome, changed, load_decoded
from warehouse.store import Warehouse

__all__ = ["DataTestError", "FileOutcome", "InboxFile", "batches"]

# ------------------------------------------------------------------ results (small)


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

    @property
    def waiting(self) -> list[str]:
        """Files left for the next run because they were still being written."""
        return list(self.unsettled) + [o.rel for o in self.outcomes if o.status == "changed"]

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
    zones = {
        a.athlete_id: [_zone(z) for z in a.privacy_zones] for a in cfg.athletes if a.privacy_zones
    }
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


def _zone(z: ZoneConfig) -> PrivacyZone:
    return PrivacyZone(z.lat_deg, z.lon_deg, z.radius_m)


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


GAIT_CHUNK = 50  # activities whose samples are read and analysed together (bounded memory)


def compute_metrics(cfg: Config, full: bool = False) -> MetricsSummary:
    """Incremental metrics: ``activity_gait`` for running activities that have none (all of
    them when the plan is full), then ``weekly_risk`` from the first week touched by
    activities loaded since the last run (:func:`transforms.plan.plan_metrics`).

    The watermark (``pipeline_state``) commits in the same transaction as the weekly
    risk rows it describes: a crash only repeats work.
    """
    from transforms.gait import activity_gait
    from transforms.plan import metrics_fingerprint, plan_metrics
    from transforms.schema import ACTIVITY_INPUT_SCHEMA
    from transforms.thresholds import load_thresholds
    from warehouse.migrate import StageState

    th = load_thresholds(dict(cfg.thresholds))
    fingerprint = metrics_fingerprint(
        cfg.thresholds,
        [[a.athlete_id, a.timezone, a.height_m, a.max_hr_bpm] for a in cfg.athletes],
    )
    out = MetricsSummary()
    with Warehouse.open(cfg.database) as wh:
        _sync_athletes(cfg, wh)
        activities = wh.activities_frame()
        if activities.height == 0:
            return out
        athletes = wh.athletes_frame()
        saved = wh.stage_state("metrics")
        base = activities.select(list(ACTIVITY_INPUT_SCHEMA))
        plan = plan_metrics(
            activities, athletes, fingerprint, saved.fingerprint, saved.watermark, full
        )
        todo = wh.activities_needing_gait()
        if plan.full:
            running = activities.filter(pl.col("sport") == "running")["activity_id"].to_list()
            wanted = set(running) | set(todo)
            todo = activities.filter(pl.col("activity_id").is_in(wanted)).sort("started_at")[
                "activity_id"
            ].to_list()
        progress_start("metrics", len(todo))
        ref = wh.activity_gait_frame()
        for i in range(0, len(todo), GAIT_CHUNK):
            chunk = todo[i : i + GAIT_CHUNK]
            gait = activity_gait(wh.samples_frame(chunk), th, sprint_ref=ref, athletes=athletes)
            if gait.height:
                wh.write_activity_gait(gait)
                # Re-read rather than concatenating ``gait``: its string columns are views
                # into the chunk's samples buffers and would keep every chunk's samples
                # alive (docs/performance.md, F4/P4). A few thousand rows, fresh buffers.
                ref = wh.activity_gait_frame()
            out.activities += gait.height
            progress_advance("metrics", len(chunk), f"{i + len(chunk)} activities")
        progress_done("metrics")
        gait_all = wh.activity_gait_frame()
        out.athletes = base["athlete_id"].n_unique()
        with wh.transaction():
            for athlete_id, start in plan.weeks_from.items():
                risk = weekly_risk_for(base, gait_all, athletes, th, athlete_id, start)
                out.weeks += wh.write_weekly_risk(athlete_id, risk, from_week_start=start)
            wh.save_stage_state(
                StageState("metrics", fingerprint, activities["loaded_at"].max())  # type: ignore[arg-type]
            )
    return out


def weekly_risk_for(
    base: pl.DataFrame, gait: pl.DataFrame, athletes: pl.DataFrame, th: Any, athlete_id: str,
    start: Any,
) -> pl.DataFrame:
    from transforms.risk import weekly_risk

    return weekly_risk(
        base.filter(pl.col("athlete_id") == athlete_id),
        gait.filter(pl.col("athlete_id") == athlete_id),
        athletes,
        th,
        from_week=start,
    )


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
