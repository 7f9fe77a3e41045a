"""Per-activity histograms behind the weekly report's speed, cadence and step-length
charts (``CHART_BINS_SCHEMA``, stored as ``activity_chart_bins``).

The metrics stage writes them from the running samples it has already derived, so a
report sums a few hundred rows per run instead of re-deriving every sample of the week
and its baseline (docs/performance.md, sixth pass). The view ``v_report_samples`` defines
the same quantities in SQL; reports fall back to it for activities without stored bins,
and tests/test_chart_bins.py checks that both give the same charts.

Kinds (one row per activity, kind and bin; ``seconds`` = running time in the bin):
- ``step``: speed bin x step length to the millimetre, for samples with a step length and
  a running step rate (not a walking break: ``run_cadence_min_spm``): the report's
  step-length medians and quartiles per speed;
- ``cadence``: 2 steps/min bins of the running step rate (``run_cadence_min_spm`` to
  ``cadence_valid_max_spm``);
- ``speed``: speed bins below ``CHART_MAX_SPEED_M_S``;
- ``total``: one row per binned activity, even one with no moving running time, with the
  time of all its moving running samples and when it was binned (``binned_at``, new at
  every write: publishing and the data-test gate see a rewrite by it).

Samples: running (``is_running``) and moving (``is_moving``), weighted by ``dt_s``.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from transforms.schema import CHART_BINS_SCHEMA
from transforms.thresholds import Thresholds

CHART_SPEED_BIN_M_S = 0.25  # width of the speed bins (lower edges at multiples)
CHART_CADENCE_BIN_SPM = 2.0  # width of the cadence bins
CHART_MAX_SPEED_M_S = 12.0  # faster "running" is a GPS glitch or a vehicle: not charted
KINDS = ("step", "cadence", "speed", "total")


def chart_bins(run: pl.DataFrame, th: Thresholds, binned_at: datetime) -> pl.DataFrame:
    """``CHART_BINS_SCHEMA`` rows of the activities in ``run``.

    ``run``: derived running samples as transforms.gait summarises them: ``_activity``
    (an integer key, one per activity), ``activity_id``, ``dt_s``, ``is_moving``,
    ``speed_calc_m_s``, ``steps_per_min``, ``step_length_calc_m``. Every activity in
    ``run`` gets a ``total`` row. Rows in no particular order."""
    v, spm, sl = pl.col("speed_calc_m_s"), pl.col("steps_per_min"), pl.col("step_length_calc_m")
    # Bin numbers as integers (grouping on them is twice as fast as on floats); a lower
    # edge is then number x width, the same double as the SQL fallback's floor(v / w) * w.
    s = run.lazy().filter(pl.col("is_moving")).select(
        "_activity",
        w=pl.col("dt_s"),
        vb=(v / CHART_SPEED_BIN_M_S).floor().cast(pl.Int32),
        cb=(spm / CHART_CADENCE_BIN_SPM).floor().cast(pl.Int32),
        # half away from zero, as DuckDB's round in the fallback
        step_length_mm=(sl * 1000.0).round(0, mode="half_away_from_zero").cast(pl.Int32),
        is_step=sl.is_not_null() & (spm.is_null() | (spm >= th.run_cadence_min_spm)),
        is_cadence=spm.is_between(th.run_cadence_min_spm, th.cadence_valid_max_spm),
        is_speed=v < CHART_MAX_SPEED_M_S,
    )
    seconds = pl.col("w").sum().alias("seconds")
    speed_bin = (pl.col("vb") * CHART_SPEED_BIN_M_S).alias("speed_bin_m_s")
    parts = [
        s.filter("is_step").group_by("_activity", "vb", "step_length_mm").agg(seconds)
        .select("_activity", speed_bin, "step_length_mm", "seconds", kind=pl.lit("step")),
        s.filter("is_cadence").group_by("_activity", "cb").agg(seconds)
        .select("_activity", "seconds", kind=pl.lit("cadence"),
                cadence_bin_spm=pl.col("cb") * CHART_CADENCE_BIN_SPM),
        s.filter("is_speed").group_by("_activity", "vb").agg(seconds)
        .select("_activity", speed_bin, "seconds", kind=pl.lit("speed")),
    ]
    # every activity of the chunk, moving or not: its total row marks it as binned
    total = run.lazy().group_by("_activity").agg(
        pl.col("activity_id").first(),
        pl.col("dt_s").filter(pl.col("is_moving")).sum().alias("seconds"),
    ).with_columns(kind=pl.lit("total"), binned_at=pl.lit(binned_at))
    ids = total.select("_activity", "activity_id")
    bins = pl.concat(parts, how="diagonal_relaxed").join(ids, on="_activity")
    out = pl.concat([bins, total], how="diagonal_relaxed")
    return out.select([pl.col(c).cast(t) for c, t in CHART_BINS_SCHEMA.items()]).collect()
