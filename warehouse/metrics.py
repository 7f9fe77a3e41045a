"""The metrics stage: gait metrics of the activities that need them, then weekly risk
from the first week touched since the last run, with the stage's watermark and the
thresholds in use (``thresholds_in_use``, read by the analyst views) committed in the same
transaction as the weekly rows they describe (a crash only repeats work).
What to recompute is planned by :func:`transforms.plan.plan_metrics` (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from transforms.gait import activity_gait_and_bins
from transforms.plan import metrics_fingerprint, plan_metrics
from transforms.risk import DEVICE_COLUMNS, weekly_risk
from transforms.schema import ACTIVITY_INPUT_SCHEMA
from transforms.thresholds import Thresholds, load_thresholds, threshold_values
from warehouse.evaluation import refresh_evaluation
from warehouse.migrate import StageState, utc_session
from warehouse.store import Warehouse


@dataclass
class MetricsSummary:
    activities: int = 0  # activities whose gait metrics were (re)computed
    weeks: int = 0  # athlete-weeks of weekly risk written
    athletes: int = 0

    def one_line(self) -> str:
        return f"{self.activities} activities, {self.weeks} athlete-weeks, {self.athletes} athletes"



# Samples read and analysed together: chunks bounded by samples, not activities, so a
# history of long runs makes more chunks, not bigger ones (memory flat in history and
# activity length; docs/performance.md). At least one activity per chunk.
GAIT_CHUNK_SAMPLES = 200_000


def sample_chunks(ids: Sequence[str], n_samples: Mapping[str, int], budget: int) -> list[list[str]]:
    """``ids`` in order, cut into runs whose samples add up to at most ``budget`` (an
    activity over the budget on its own is a chunk of one)."""
    chunks: list[list[str]] = []
    current: list[str] = []
    total = 0
    for i in ids:
        n = max(int(n_samples.get(i) or 0), 1)
        if current and total + n > budget:
            chunks.append(current)
            current, total = [], 0
        current.append(i)
        total += n
    if current:
        chunks.append(current)
    return chunks


def _prefetched(wh: Warehouse, chunks: list[list[str]]) -> Iterator[tuple[list[str], pl.DataFrame]]:
    """Each chunk with its samples, the next chunk's read (DuckDB, then a polars sort: both
    release the GIL) on a cursor in a thread while this one analyses and writes: a first
    run's metrics kept 1.4 of 2 cores busy. One chunk ahead: memory stays bounded. The
    caller holds a chunk's only reference to its samples (each read comes in a one-item
    list, emptied as it is handed over): dropped once analysed, they are gone before the
    write."""
    if not chunks:
        return
    cursor = utc_session(wh.con.cursor())

    def read(chunk: list[str]) -> list[pl.DataFrame]:
        return [wh.samples_frame(chunk, cursor)]

    try:
        with ThreadPoolExecutor(1, thread_name_prefix="gaitwatch-samples") as pool:
            ahead = pool.submit(read, chunks[0])
            for i, chunk in enumerate(chunks):
                box = ahead.result()
                if i + 1 < len(chunks):
                    ahead = pool.submit(read, chunks[i + 1])
                yield chunk, box.pop()
    finally:
        cursor.close()


def update_metrics(
    wh: Warehouse,
    threshold_overrides: Mapping[str, Any],
    athlete_settings: Sequence[Sequence[Any]],
    full: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> MetricsSummary:
    """Incremental metrics: ``activity_gait`` for running activities that have none (all of
    them when the plan is full: asked, or thresholds/athletes' settings changed), then
    ``weekly_risk`` from the first week touched by activities loaded since the last run.
    ``progress(done, total)`` is told about the gait chunks."""
    th = load_thresholds(dict(threshold_overrides))
    fingerprint = metrics_fingerprint(threshold_overrides, athlete_settings)
    out = MetricsSummary()
    activities = wh.activities_frame()
    if activities.height == 0:
        return out
    athletes = wh.athletes_frame()
    saved = wh.stage_state("metrics")
    # device columns too: weekly_risk restarts gait baselines after a new watch or sensor
    wanted_cols = [*ACTIVITY_INPUT_SCHEMA, *DEVICE_COLUMNS]
    base = activities.select([c for c in wanted_cols if c in activities.columns])
    plan = plan_metrics(activities, athletes, fingerprint, saved.fingerprint, saved.watermark, full)
    # a full plan: every running activity, multisport ones with a running session too
    todo = wh.activities_needing_gait(every=plan.full)
    if progress:
        progress(0, len(todo))
    ref = wh.activity_gait_frame()
    sizes = dict(zip(activities["activity_id"].to_list(), activities["n_samples"].to_list(), strict=True))
    done = 0
    for chunk, samples in _prefetched(wh, sample_chunks(todo, sizes, GAIT_CHUNK_SAMPLES)):
        # the report's chart bins from the same derived samples, written with the gait rows
        gait, bins = activity_gait_and_bins(samples, th, ref, athletes, datetime.now(UTC))
        del samples
        if gait.height:
            wh.write_activity_gait(gait, bins)
            # Re-read rather than concatenating ``gait``: its string columns are views
            # into the chunk's samples buffers and would keep every chunk's samples
            # alive (docs/performance.md, F4/P4). A few thousand rows, fresh buffers.
            ref = wh.activity_gait_frame()
        out.activities += gait.height
        done += len(chunk)
        if progress:
            progress(done, len(todo))
    gait_all = wh.activity_gait_frame()
    out.athletes = base["athlete_id"].n_unique()
    with wh.transaction():
        for athlete_id, start in plan.weeks_from.items():
            risk = _weekly_risk_for(base, gait_all, athletes, th, athlete_id, start)
            out.weeks += wh.write_weekly_risk(athlete_id, risk, from_week_start=start)
        refresh_evaluation(wh, th, plan.weeks_from)  # back-test beside the weeks it reads
        # The thresholds these results were computed with, for the views that define the
        # same per-sample quantities (v_report_samples): committed with the stage state
        # that names them; an unchanged set writes nothing.
        wh.write_thresholds_in_use(thresholds_in_use_rows(th))
        state = StageState("metrics", fingerprint, activities["loaded_at"].max())  # type: ignore[arg-type]
        # Unchanged state is not rewritten: a run with nothing new leaves the file as it
        # was, so publishing can skip its copy (warehouse.publish).
        if (state.fingerprint, state.watermark) != (saved.fingerprint, saved.watermark):
            wh.save_stage_state(state)
    return out


# A threshold's unit from its name's suffix (STYLE.md: the unit is in the name); longest
# suffix first ("_m_s" before "_s"). No suffix: a ratio, share or count (unit null).
_UNIT_SUFFIXES = (
    ("_m_s", "m/s"), ("_spm", "steps/min"), ("_pct", "%"), ("_bpm", "bpm"), ("_mm", "mm"),
    ("_days", "days"), ("_weeks", "weeks"), ("_s", "s"), ("_m", "m"), ("_z", "z"),
)


def threshold_unit(name: str) -> str | None:
    """The unit of threshold ``name`` (``max_sample_gap_s`` -> ``s``), or None."""
    return next((unit for suffix, unit in _UNIT_SUFFIXES if name.endswith(suffix)), None)


def thresholds_in_use_rows(th: Thresholds) -> dict[str, tuple[float, str | None]]:
    """``thresholds_in_use`` rows for ``th``: every threshold, name -> (value, unit)."""
    return {name: (value, threshold_unit(name)) for name, value in threshold_values(th).items()}


def _weekly_risk_for(
    base: pl.DataFrame, gait: pl.DataFrame, athletes: pl.DataFrame, th: Thresholds,
    athlete_id: str, start: Any,
) -> pl.DataFrame:
    return weekly_risk(
        base.filter(pl.col("athlete_id") == athlete_id),
        gait.filter(pl.col("athlete_id") == athlete_id),
        athletes,
        th,
        from_week=start,
    )
