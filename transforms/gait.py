"""Per-sample derived metrics and the per-activity gait summary, in pure polars.

Input: samples read back from the warehouse (``activity_id``, ``athlete_id`` and the
columns of :data:`ingest.schema.SAMPLE_SCHEMA`). Output of :func:`activity_gait`:
:data:`transforms.schema.ACTIVITY_GAIT_SCHEMA`. Formulas, units and references of every
metric are in docs/metrics.md; the numbers come from :mod:`transforms.thresholds`.

Conventions
-----------
- Every sample carries the interval that *ends* at it (``dt_s``), 0 for the first sample
  of a session and for gaps longer than ``max_sample_gap_s`` (a pause). Time-weighted
  statistics weight by ``dt_s``, so smart recording (irregular sampling) is handled.
- Rolling windows run on the *moving clock* (seconds of moving time), not wall time, so a
  pause inserted anywhere changes no moving-only metric.
- Weighted quantiles are "lower" quantiles: the smallest value whose cumulative time share
  reaches q (for equal weights and an odd count, the ordinary median).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import polars as pl

from transforms.chartbins import chart_bins
from transforms.load import LOAD_HR, LOAD_PACE, hr_reserve, trimp_per_sample
from transforms.schema import ACTIVITY_GAIT_SCHEMA
from transforms.thresholds import DEFAULT_THRESHOLDS, Thresholds

PART = ["activity_id", "session_index"]  # sample windows never cross a session boundary
SORT_KEYS = [*PART, "ts"]
RUNNING = "running"
# Integer keys numbering the sessions / activities of the sorted frame (see _derive):
# windows over one integer column are several times cheaper than over the string
# activity_id plus session_index, and give the same groups.
SESSION_KEY = "_session"
ACTIVITY_KEY = "_activity"
Over = str | Sequence[str]
# A frame-wide rolling axis: session number x 2^40 + moving clock (ms). It increases over
# the sorted frame, and sessions lie 2^40 ms (35 years) apart, more than any window, so
# one rolling pass over the whole frame sees exactly the windows of one pass per session,
# without splitting the frame into sessions and scattering the results back.
AXIS = "_axis"
# activity_gait collects its batch in memory: windows, rolling and per-group sorts run
# faster there than in the streaming engine, and the caller bounds memory by batching
ENGINE: Literal["in-memory"] = "in-memory"


# ---------------------------------------------------------------------------- per sample


def interval_s(th: Thresholds = DEFAULT_THRESHOLDS, over: Over = PART) -> pl.Expr:
    """Seconds since the previous sample of the same session; 0 for the first sample and
    for gaps over ``max_sample_gap_s`` (treated as a pause). Unit: s. Requires ``ts``.
    ``over``: the session key (default ``activity_id``, ``session_index``)."""
    raw = pl.col("ts").diff().dt.total_microseconds().over(over) / 1e6
    # null (first sample), <= 0 and > the gap all give 0; raw appears twice, not four times
    ok = raw.is_between(0.0, th.max_sample_gap_s, closed="right")
    return pl.when(ok).then(raw).otherwise(0.0).alias("dt_s")


def distance_step_m(over: Over = PART) -> pl.Expr:
    """Horizontal distance covered in the interval ending at the sample, m: the increase of
    cumulative ``distance_m``, else ``speed_m_s x dt_s``. Requires ``dt_s``."""
    d = pl.col("distance_m").diff().over(over)
    return (
        pl.when(d.is_not_null() & (d >= 0) & (pl.col("dt_s") > 0))
        .then(d)
        .when(pl.col("dt_s") > 0)
        .then(pl.col("speed_m_s") * pl.col("dt_s"))
        .otherwise(0.0)
        .alias("dist_step_m")
    )


def speed_calc_m_s() -> pl.Expr:
    """Speed used by all metrics, m/s: the device's ``speed_m_s``, else distance step / dt.
    Requires ``dt_s`` and ``dist_step_m``."""
    derived = pl.when(pl.col("dt_s") > 0).then(pl.col("dist_step_m") / pl.col("dt_s"))
    return pl.coalesce(pl.col("speed_m_s"), derived).alias("speed_calc_m_s")


def is_running() -> pl.Expr:
    """True for samples of a running session (decided by session sport, never by the
    presence of running-dynamics fields, which also appear in walking/cycling files)."""
    return (pl.col("sport") == RUNNING).fill_null(False).alias("is_running")


def is_moving(th: Thresholds = DEFAULT_THRESHOLDS) -> pl.Expr:
    """True when speed >= ``moving_speed_min_m_s`` and the sample closes a real interval.
    Requires ``speed_calc_m_s`` and ``dt_s``."""
    return (
        ((pl.col("speed_calc_m_s") >= th.moving_speed_min_m_s) & (pl.col("dt_s") > 0))
        .fill_null(False)
        .alias("is_moving")
    )


def moving_clock_ms(over: Over = PART) -> pl.Expr:
    """Cumulative moving time within the session, integer ms (the axis of every rolling
    window). Requires ``dt_s`` and ``is_moving``."""
    step = pl.when(pl.col("is_moving")).then(pl.col("dt_s")).otherwise(0.0)
    return (step.cum_sum().over(over) * 1000).round().cast(pl.Int64).alias("moving_clock_ms")


def steps_per_min(th: Thresholds = DEFAULT_THRESHOLDS) -> pl.Expr:
    r"""Running step rate, steps/min (both feet).

    .. math:: f = f_{device} 	ext{ if present, else } 60\, v / L_{device}

    The device value is what ingest converted (FIT running cadence is strides/min per foot:
    spm = 2 x (cadence + fractional)); the fallback needs the device's step length. Null
    outside running or outside ``cadence_valid_min_spm``-``cadence_valid_max_spm``.
    Range: [60, 260]. Requires ``speed_calc_m_s``.
    """
    lo, hi = th.cadence_valid_min_spm, th.cadence_valid_max_spm
    dev = pl.col("cadence_spm")
    sl = pl.col("step_length_m")
    derived = pl.when(sl.is_between(th.step_length_valid_min_m, th.step_length_valid_max_m)).then(
        60.0 * pl.col("speed_calc_m_s") / sl
    )
    return (
        pl.when(is_running() & dev.is_between(lo, hi))
        .then(dev)
        .when(is_running() & dev.is_null() & derived.is_between(lo, hi))
        .then(derived)
        .alias("steps_per_min")
    )


def step_length_m(th: Thresholds = DEFAULT_THRESHOLDS) -> pl.Expr:
    r"""Step length, m per step (one foot contact to the next).

    .. math:: L = L_{device} \text{ if present, else } v / (f / 60)

    with v speed (m/s) and f step rate (steps/min). Null outside running or outside
    ``step_length_valid_min_m``-``step_length_valid_max_m``. Requires ``speed_calc_m_s``
    and ``steps_per_min``.
    """
    dev = pl.col("step_length_m")
    derived = pl.col("speed_calc_m_s") / (pl.col("steps_per_min") / 60.0)
    lo, hi = th.step_length_valid_min_m, th.step_length_valid_max_m
    return (
        pl.when(is_running() & dev.is_between(lo, hi))
        .then(dev)
        .when(is_running() & derived.is_between(lo, hi))
        .then(derived)
        .alias("step_length_calc_m")
    )


def step_length_source() -> pl.Expr:
    """``"device"`` when the device measured step length, ``"speed_cadence"`` when derived."""
    return (
        pl.when(pl.col("step_length_calc_m").is_null())
        .then(None)
        .when(pl.col("step_length_calc_m") == pl.col("step_length_m"))
        .then(pl.lit("device"))
        .otherwise(pl.lit("speed_cadence"))
        .alias("step_length_source")
    )


def grade_pct(
    th: Thresholds = DEFAULT_THRESHOLDS, over: Over = PART, axis: str | None = None
) -> pl.Expr:
    r"""Grade over the trailing ``grade_window_s`` of moving time, %.

    .. math:: g = 100 \cdot \sum \Delta h / \sum \Delta d

    Null without altitude or with less than ``grade_min_distance_m`` of distance in the
    window. Requires ``moving_clock_ms``, ``dist_step_m``. ``axis``: see :data:`AXIS`.
    """
    win = f"{int(th.grade_window_s * 1000)}i"
    dh = pl.col("altitude_m").diff().over(over).fill_null(0.0)
    dd = pl.col("dist_step_m")
    if axis is None:
        dh_sum = dh.rolling_sum_by("moving_clock_ms", win).over(over)
        dd_sum = dd.rolling_sum_by("moving_clock_ms", win).over(over)
    else:
        dh_sum, dd_sum = dh.rolling_sum_by(axis, win), dd.rolling_sum_by(axis, win)
    return (
        pl.when(pl.col("altitude_m").is_not_null() & (dd_sum >= th.grade_min_distance_m))
        .then(100.0 * dh_sum / dd_sum)
        .alias("grade_pct")
    )


def is_flat(th: Thresholds = DEFAULT_THRESHOLDS) -> pl.Expr:
    """|grade| <= ``flat_grade_max_pct``; unknown grade (no altitude, e.g. treadmill) counts
    as flat. Requires ``grade_pct``."""
    return (pl.col("grade_pct").abs() <= th.flat_grade_max_pct).fill_null(True).alias("is_flat")


def _moving_speed() -> pl.Expr:
    return pl.when(pl.col("is_moving")).then(pl.col("speed_calc_m_s"))


def speed_smooth_m_s(
    th: Thresholds = DEFAULT_THRESHOLDS, over: Over = PART, axis: str | None = None
) -> pl.Expr:
    """Rolling median of moving speed over ``robust_max_window_s`` of moving time, m/s (a
    single GPS spike cannot make a sprint). Null when not moving. ``axis``: see :data:`AXIS`."""
    win = f"{int(th.robust_max_window_s * 1000)}i"
    if axis is None:
        med = _moving_speed().rolling_median_by("moving_clock_ms", win).over(over)
    else:
        med = _moving_speed().rolling_median_by(axis, win)
    return pl.when(pl.col("is_moving")).then(med).alias("speed_smooth_m_s")


def speed_cv(
    th: Thresholds = DEFAULT_THRESHOLDS, over: Over = PART, axis: str | None = None
) -> pl.Expr:
    """Coefficient of variation of moving speed over the trailing ``steady_window_s`` of
    moving time (SD / mean, dimensionless). ``axis``: see :data:`AXIS`."""
    win = f"{int(th.steady_window_s * 1000)}i"
    v = _moving_speed()
    if axis is None:
        sd = v.rolling_std_by("moving_clock_ms", win, min_samples=3).over(over)
        mean = v.rolling_mean_by("moving_clock_ms", win, min_samples=3).over(over)
    else:
        sd = v.rolling_std_by(axis, win, min_samples=3)
        mean = v.rolling_mean_by(axis, win, min_samples=3)
    return pl.when(pl.col("is_moving") & (mean > 0)).then(sd / mean).alias("speed_cv")


def derive_samples(
    lf: pl.LazyFrame | pl.DataFrame, th: Thresholds = DEFAULT_THRESHOLDS
) -> pl.LazyFrame:
    """Add the per-sample derived metrics to samples of any sport.

    Added columns: ``dt_s``, ``dist_step_m``, ``speed_calc_m_s``, ``is_running``,
    ``is_moving``, ``moving_clock_ms``, ``steps_per_min``, ``step_length_calc_m``,
    ``step_length_source``, ``grade_pct``, ``is_flat``, ``speed_smooth_m_s``, ``speed_cv``,
    ``is_steady`` (moving, in a steady-pace segment >= ``steady_min_s``), ``steady_segment``
    (segment number within the session, null when not steady). Sorted by activity, session,
    time (a stable sort: samples with equal keys keep their input order). Lazy in, lazy
    out; nothing is collected.
    """
    d = _derive(_sorted(lf), th)
    keys = {SESSION_KEY, ACTIVITY_KEY, *DERIVED}
    return d.select(*(c for c in d.collect_schema().names() if c not in keys), *DERIVED)


# derive_samples' added columns, in their documented order
DERIVED = [
    "dt_s", "dist_step_m", "speed_calc_m_s", "is_running", "is_moving", "moving_clock_ms",
    "steps_per_min", "step_length_calc_m", "grade_pct", "step_length_source", "is_flat",
    "speed_smooth_m_s", "speed_cv", "is_steady", "steady_segment",
]  # fmt: skip


def _sorted(samples: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """Samples sorted by activity, session, time (stable). A frame that is already sorted,
    as the warehouse returns it, is not sorted again: the check is one vectorised pass,
    the sort the most expensive step of the whole computation."""
    if isinstance(samples, pl.DataFrame):
        if _is_sorted(samples):
            return samples.lazy()
        return samples.sort(SORT_KEYS, maintain_order=True).lazy()
    return samples.sort(SORT_KEYS, maintain_order=True)


def _is_sorted(df: pl.DataFrame) -> bool:
    """True when ``df`` is sorted by activity, session, time with no null key (a null key
    would sort first; the comparison below cannot see that, so nulls mean "sort")."""
    if df.height < 2:
        return True
    if df.select(pl.any_horizontal(pl.col(SORT_KEYS).is_null().any())).item():
        return False
    a, s, t = (pl.col(c) for c in SORT_KEYS)
    pa, ps, pt = (pl.col(c).shift(1) for c in SORT_KEYS)
    ordered = (a > pa) | ((a == pa) & ((s > ps) | ((s == ps) & (t >= pt))))
    return bool(df.select(ordered.fill_null(True).all()).item())


def _with_keys(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``_session`` and ``_activity`` to a sorted frame: a run id of the key columns
    numbers the groups."""
    return lf.with_columns(
        pl.struct(PART).rle_id().alias(SESSION_KEY),
        pl.col("activity_id").rle_id().alias(ACTIVITY_KEY),
    )


def _derive(lf: pl.LazyFrame, th: Thresholds, keyed: bool = False) -> pl.LazyFrame:
    """:func:`derive_samples` on a sorted frame, keeping the integer keys ``_session`` and
    ``_activity`` for the per-activity aggregation (``keyed``: already added)."""
    if not keyed:
        lf = _with_keys(lf)
    part = SESSION_KEY
    lf = lf.with_columns(interval_s(th, part)).with_columns(distance_step_m(part))
    lf = lf.with_columns(speed_calc_m_s(), is_running())
    lf = lf.with_columns(is_moving(th)).with_columns(moving_clock_ms(part))
    axis = pl.col(part).cast(pl.Int64) * (1 << 40) + pl.col("moving_clock_ms")
    lf = lf.with_columns(axis.alias(AXIS))
    # the three rolling windows in one step, so that they run in parallel
    lf = lf.with_columns(
        steps_per_min(th),
        grade_pct(th, part, AXIS),
        speed_smooth_m_s(th, part, AXIS),
        speed_cv(th, part, AXIS),
    )
    lf = lf.with_columns(step_length_m(th), is_flat(th))
    lf = lf.with_columns(step_length_source())
    # Steady-pace segments: runs of consecutive moving samples with speed_cv <= max; paused
    # samples neither start nor end a segment (pause invariance). Written with whole-frame
    # fills and sums instead of windows per session: the frame is sorted by session, and
    # every session's first row is made non-null so that no fill crosses a session start.
    moving = pl.col("is_moving")
    first = pl.col(part) != pl.col(part).shift(1).fill_null(-1)  # first row of its session
    steady_cv = (pl.col("speed_cv") <= th.steady_cv_max).fill_null(False)
    raw = pl.when(moving).then(steady_cv.cast(pl.Int8))
    # previous moving sample's raw flag in the session (-1: none yet)
    filled = pl.when(first & raw.is_null()).then(pl.lit(-1, pl.Int8)).otherwise(raw).forward_fill()
    prev = pl.when(~first).then(filled.shift(1))
    change = moving & (prev.is_null() | (prev == -1) | (raw != prev))
    lf = lf.with_columns(_steady_raw=raw == 1, _change=change, _first=first)
    # segment number within the session = changes so far in the session
    total = pl.col("_change").cast(pl.Int32).cum_sum()
    before = pl.when(pl.col("_first")).then(total - pl.col("_change").cast(pl.Int32)).forward_fill()
    # one id per (session, segment): a new id at every change and every session start
    seg_id = (pl.col("_change") | pl.col("_first")).cast(pl.Int32).cum_sum()
    lf = lf.with_columns(_seg=total - before, _seg_id=seg_id)
    seg_time = pl.when(moving).then(pl.col("dt_s")).otherwise(0.0).sum().over("_seg_id")
    steady = (pl.col("_steady_raw") & (seg_time >= th.steady_min_s)).fill_null(False)
    lf = lf.with_columns(is_steady=steady)
    lf = lf.with_columns(steady_segment=pl.when(pl.col("is_steady")).then(pl.col("_seg")))
    return lf.drop(AXIS, "_steady_raw", "_change", "_first", "_seg", "_seg_id")


# ---------------------------------------------------------------------------- aggregations


def wquantile(value: pl.Expr, weight: pl.Expr, q: float) -> pl.Expr:
    """Time-weighted lower quantile for use inside ``group_by().agg``: the smallest value
    whose cumulative weight share reaches ``q``. Nulls and non-positive weights ignored."""
    ok = value.is_not_null() & weight.is_not_null() & (weight > 0)
    v = pl.when(ok).then(value)
    w = pl.when(ok).then(weight).otherwise(0.0)
    # one sort of (value, weight) pairs; excluded rows sort last with weight 0
    pairs = pl.struct(v.alias("v"), w.alias("w")).sort_by(v, nulls_last=True)
    cw = pairs.struct.field("w").cum_sum()
    return pairs.struct.field("v").filter((cw >= q * w.sum() - 1e-9) & (w.sum() > 0)).first()


def wmean(value: pl.Expr, weight: pl.Expr) -> pl.Expr:
    """Time-weighted mean, nulls ignored; null when no weight."""
    ok = value.is_not_null() & weight.is_not_null()
    w = pl.when(ok).then(weight).otherwise(0.0)
    tot = w.sum()
    return pl.when(tot > 0).then((value.fill_null(0.0) * w).sum() / tot)


def wcv_pct(value: pl.Expr, weight: pl.Expr) -> pl.Expr:
    """Time-weighted coefficient of variation, % (population SD / mean x 100)."""
    ok = value.is_not_null() & weight.is_not_null()
    w = pl.when(ok).then(weight).otherwise(0.0)
    tot = w.sum()
    x = value.fill_null(0.0)
    mean = (x * w).sum() / tot
    var = ((x - mean) ** 2 * w).sum() / tot
    return pl.when((tot > 0) & (mean > 0)).then(var.clip(lower_bound=0).sqrt() / mean * 100.0)


def symmetry_index_pct(left_pct: pl.Expr) -> pl.Expr:
    r"""Robinson symmetry index from GCT balance, %.

    .. math:: SI = \frac{L - R}{0.5 (L + R)} \times 100, \quad R = 100 - L

    which with L + R = 100 is 4 L - 200. Positive = longer ground contact on the left.
    Range [-200, 200]; 50 % balance gives 0. Reference: Robinson et al. 1987.
    """
    right = 100.0 - left_pct
    return (left_pct - right) / (0.5 * (left_pct + right)) * 100.0


def _share(mask: pl.Expr, base: pl.Expr) -> pl.Expr:
    tot = (pl.col("dt_s") * base).sum()
    return pl.when(tot > 0).then((pl.col("dt_s") * (base & mask)).sum() / tot)


def activity_gait(
    samples: pl.LazyFrame | pl.DataFrame,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    sprint_ref: pl.DataFrame | None = None,
    athletes: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per activity with running samples (ACTIVITY_GAIT_SCHEMA).
    :func:`activity_gait_and_bins` gives the same rows and the activities' chart bins.

    Parameters
    ----------
    samples
        ``activity_id``, ``athlete_id`` + SAMPLE_SCHEMA columns, any sports, any athletes.
    thresholds
        :class:`transforms.thresholds.Thresholds`.
    sprint_ref
        Earlier per-run summaries of the same athletes (rows of ``activity_gait``:
        ``athlete_id``, ``started_at``, ``max_speed_m_s``, optional ``speed_p50_m_s``,
        optional ``activity_id``), so that an incremental run sees the athlete's trailing
        top speed. Runs in ``samples`` replace rows with the same ``activity_id``.
    athletes
        Optional ``athlete_id``, ``max_hr_bpm`` (TRIMP); defaults from thresholds.

    Notes
    -----
    Gait metrics use *analysed* samples: running sport, moving, flat, not a walking break
    (step rate below ``run_cadence_min_spm``). Cadence and step-length medians and CVs use
    the steady-pace segments when they total ``steady_min_total_s``, else all analysed
    samples. Speed percentiles, sprint exposure and load use all moving running samples.
    """
    return _gait(samples, thresholds, sprint_ref, athletes)[0]


def activity_gait_and_bins(
    samples: pl.LazyFrame | pl.DataFrame,
    thresholds: Thresholds,
    sprint_ref: pl.DataFrame | None,
    athletes: pl.DataFrame | None,
    binned_at: datetime,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`activity_gait` and the same activities' report chart bins
    (``CHART_BINS_SCHEMA``, :func:`transforms.chartbins.chart_bins`) from one derivation
    of the samples."""
    gait, run = _gait(samples, thresholds, sprint_ref, athletes)
    return gait, chart_bins(run, thresholds, binned_at)


def _gait(
    samples: pl.LazyFrame | pl.DataFrame,
    th: Thresholds,
    sprint_ref: pl.DataFrame | None,
    athletes: pl.DataFrame | None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """activity_gait's rows and the derived running samples they summarise."""
    lf = _with_keys(_sorted(samples))  # sorted by activity, session, time
    # the start is over all samples of the activity, not only its running sessions
    lf = lf.with_columns(_started=pl.col("ts").min().over(ACTIVITY_KEY))
    # Only sessions with running samples reach the summary. Every window is per session,
    # so dropping whole other sessions (cycling, strength...) before deriving changes no
    # value of the sessions kept, and saves their rolling windows.
    lf = lf.filter(is_running().any().over(SESSION_KEY))
    d = _derive(lf, th, keyed=True)
    # one collect: the running samples feed the summary and the sprint exposure
    run_df = _running_samples(d, th, athletes).collect(engine=ENGINE).rechunk()
    run = run_df.lazy()
    summary = run.group_by(ACTIVITY_KEY).agg(_summary_aggs(th))
    for value, weight, qs in _QUANTILES:
        summary = summary.join(_wquantiles(run, value, weight, qs), on=ACTIVITY_KEY, how="left")
    per = summary.collect(engine=ENGINE).with_columns(
        pl.when(pl.col("step_length_at_ref_speed_m").is_between(th.step_length_valid_min_m, th.step_length_valid_max_m))
        .then(pl.col("step_length_at_ref_speed_m")),
        speed_range_m_s=pl.col("speed_p90_m_s") - pl.col("speed_p10_m_s"),
        gct_balance_dev_pct=(pl.col("gct_balance_mean_left_pct") - 50.0).abs(),
        symmetry_index_pct=symmetry_index_pct(pl.col("gct_balance_mean_left_pct")),
        symmetry_drift_pct=symmetry_index_pct(pl.col("_bal_last")) - symmetry_index_pct(pl.col("_bal_first")),
    )
    per = per.join(sprint_thresholds(per, sprint_ref, th), on="activity_id", how="left")
    thr = per.lazy().select(ACTIVITY_KEY, "sprint_threshold_m_s")
    sprint = _sprint_exposure(run, thr, th).collect(engine=ENGINE)
    per = per.join(sprint, on=ACTIVITY_KEY, how="left").with_columns(
        pl.col("sprint_s").fill_null(0.0),
        pl.col("sprint_efforts").fill_null(0),
    )
    per = per.with_columns(
        pl.when(pl.col("sprint_threshold_m_s").is_null()).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("sprint_s", "sprint_efforts")
    )
    gait = per.select(
        [pl.col(c).cast(t) for c, t in ACTIVITY_GAIT_SCHEMA.items()]
    ).sort(["athlete_id", "started_at", "activity_id"])
    return gait, run_df


def _running_samples(
    d: pl.LazyFrame, th: Thresholds, athletes: pl.DataFrame | None
) -> pl.LazyFrame:
    """Running samples of derived samples with the weights and per-sample loads of the
    summary: ``_a`` analysed, ``_w`` moving time, ``_wa`` analysed time, ``_ws`` steady
    analysed time, ``_wm`` the cadence/step-length weight, ``_third`` (1-3) by moving time,
    ``_trimp_hr`` and ``_trimp_pace``."""
    run = d.filter(pl.col("is_running")).with_columns(max_hr_bpm=_hr_max(athletes, th))
    mov = pl.col("is_moving")
    walk_break = (pl.col("steps_per_min") < th.run_cadence_min_spm).fill_null(False)
    analysed = mov & pl.col("is_flat") & ~walk_break
    run = run.with_columns(
        _a=analysed,
        _w=pl.when(mov).then(pl.col("dt_s")).otherwise(0.0),
    )
    run = run.with_columns(
        _wa=pl.when(pl.col("_a")).then(pl.col("dt_s")).otherwise(0.0),
        _ws=pl.when(pl.col("_a") & pl.col("is_steady")).then(pl.col("dt_s")).otherwise(0.0),
        # position within the running part of the activity, by moving time (for thirds)
        _clock=pl.col("_w").cum_sum().over(ACTIVITY_KEY),
    )
    use_steady = pl.col("_ws").sum().over(ACTIVITY_KEY) >= th.steady_min_total_s
    run = run.with_columns(
        _wm=pl.when(use_steady).then(pl.col("_ws")).otherwise(pl.col("_wa")),
        _third=(pl.col("_clock") / pl.col("_clock").max().over(ACTIVITY_KEY) * 3)
        .ceil()
        .clip(1, 3)
        .fill_nan(None),
    )
    hrr = hr_reserve(pl.col("heart_rate_bpm"), pl.lit(th.hr_rest_bpm), pl.col("max_hr_bpm"))
    pace_hrr = (th.pace_hrr_at_ref_speed * pl.col("speed_calc_m_s") / th.ref_speed_m_s).clip(0.0, 1.0)
    run = run.with_columns(
        _trimp_hr=trimp_per_sample(pl.col("_w"), hrr, th),
        _trimp_pace=trimp_per_sample(pl.col("_w"), pace_hrr, th),
    )
    return run.select(_RUN_COLUMNS)


# what the summary and the sprint exposure read (fewer columns: less memory, less work)
_RUN_COLUMNS = [
    ACTIVITY_KEY, "activity_id", "athlete_id", "_started", "dt_s", "dist_step_m",
    "speed_calc_m_s", "speed_smooth_m_s", "is_moving", "is_steady", "steps_per_min",
    "step_length_calc_m", "gct_balance_left_pct", "stance_time_ms", "vertical_oscillation_mm",
    "vertical_ratio_pct", "heart_rate_bpm", "_a", "_w", "_wa", "_wm", "_third", "_trimp_hr",
    "_trimp_pace",
]
# weighted quantiles of the summary: (value, weight, {output column: q}); one ordering per value
_QUANTILES: list[tuple[str, str, dict[str, float]]] = [
    ("steps_per_min", "_wm", {"cadence_median_spm": 0.5}),
    ("step_length_calc_m", "_wm", {"step_length_median_m": 0.5}),
    ("speed_calc_m_s", "_w", {"speed_p10_m_s": 0.1, "speed_p50_m_s": 0.5, "speed_p90_m_s": 0.9}),
    ("stance_time_ms", "_wa", {"stance_time_median_ms": 0.5}),
    ("vertical_oscillation_mm", "_wa", {"vertical_oscillation_median_mm": 0.5}),
    ("vertical_ratio_pct", "_wa", {"vertical_ratio_median_pct": 0.5}),
]


def _wquantiles(run: pl.LazyFrame, value: str, weight: str, qs: dict[str, float]) -> pl.LazyFrame:
    """Per activity, time-weighted lower quantiles of ``value`` (the definition of
    :func:`wquantile`), several from one ordering.

    The cumulative weight runs in value order within each activity (a window ordered by
    value: no sort of the frame, no sorted copy per quantile); it only grows in that order,
    so the first value reaching the share is the smallest value that does: a plain
    conditional min, on the fast path of ``group_by``."""
    v, w, k = pl.col(value), pl.col(weight), pl.col(ACTIVITY_KEY)
    s = run.filter(v.is_not_null() & w.is_not_null() & (w > 0)).select(k, _v=v, _wq=w)
    s = s.with_columns(
        _cw=pl.col("_wq").cum_sum().over(k, order_by="_v"), _tot=pl.col("_wq").sum().over(k)
    )
    return s.group_by(k).agg(
        pl.when(pl.col("_cw") >= q * pl.col("_tot") - 1e-9).then(pl.col("_v")).min().alias(name)
        for name, q in qs.items()
    )


def _summary_aggs(th: Thresholds) -> list[pl.Expr]:
    """The per-activity aggregations over :func:`_running_samples` (one ``group_by``)."""
    mov = pl.col("is_moving")
    sl, v, w, wa = pl.col("step_length_calc_m"), pl.col("speed_calc_m_s"), pl.col("_w"), pl.col("_wa")
    # weighted least squares of step length on speed over analysed samples
    ok_fit = sl.is_not_null() & v.is_not_null() & (wa > 0)
    fw = pl.when(ok_fit).then(wa).otherwise(0.0)
    fx, fy = v.fill_null(0.0), sl.fill_null(0.0)
    sw, sx, sy = fw.sum(), (fw * fx).sum(), (fw * fy).sum()
    sxx, sxy = (fw * fx * fx).sum(), (fw * fx * fy).sum()
    var_x = sxx / sw - (sx / sw) ** 2
    slope = (sw * sxy - sx * sy) / (sw * sxx - sx * sx)
    fitted = sy / sw + slope * (th.ref_speed_m_s - sx / sw)
    fallback = th.ref_speed_m_s * sy / sx  # constant step rate: L = v / f
    n_fit = ok_fit.sum()
    sl_ref = (
        pl.when(sw <= 0)
        .then(None)
        .when((n_fit >= th.fit_min_samples) & (var_x.clip(lower_bound=0).sqrt() >= th.fit_min_speed_sd_m_s))
        .then(fitted)
        .otherwise(fallback)
    )
    in_third = {k: pl.col("_third") == k for k in (1, 3)}
    bal = pl.col("gct_balance_left_pct")
    hr_time = pl.when(pl.col("heart_rate_bpm").is_not_null()).then(w).otherwise(0.0).sum()
    hr_share = pl.when(w.sum() > 0).then(hr_time / w.sum())
    use_hr = (hr_share >= th.hr_min_share).fill_null(False)
    trimp_hr = pl.col("_trimp_hr").sum() * w.sum() / hr_time  # scaled to the whole moving time

    return [
        pl.col("activity_id").first(),
        pl.col("athlete_id").first(),
        pl.col("_started").first().alias("started_at"),
        w.sum().alias("moving_s"),
        wa.sum().alias("analysed_s"),
        pl.when(mov).then(pl.col("dist_step_m")).otherwise(0.0).sum().alias("distance_m"),
        pl.when(w.sum() > 0)
        .then(pl.when(pl.col("is_steady")).then(w).otherwise(0.0).sum() / w.sum())
        .alias("steady_share"),
        wcv_pct(pl.col("steps_per_min"), pl.col("_wm")).alias("cadence_cv_pct"),
        wcv_pct(sl, pl.col("_wm")).alias("step_length_cv_pct"),
        sl_ref.alias("step_length_at_ref_speed_m"),
        pl.lit(th.ref_speed_m_s).alias("ref_speed_m_s"),
        pl.col("speed_smooth_m_s").max().alias("max_speed_m_s"),
        wmean(bal, wa).alias("gct_balance_mean_left_pct"),
        wmean(bal, pl.when(in_third[1]).then(wa).otherwise(0.0)).alias("_bal_first"),
        wmean(bal, pl.when(in_third[3]).then(wa).otherwise(0.0)).alias("_bal_last"),
        _share(pl.col("stance_time_ms").is_not_null() | pl.col("vertical_oscillation_mm").is_not_null(), pl.col("_a")).alias("dynamics_share"),
        _share(bal.is_not_null(), pl.col("_a")).alias("balance_share"),
        _share(pl.col("steps_per_min").is_not_null(), pl.col("_a")).alias("cadence_share"),
        pl.when(use_hr).then(trimp_hr).otherwise(pl.col("_trimp_pace").sum()).alias("trimp"),
        # steps / running timer time (stops included, no steps counted where cadence is
        # null), like the device's avg_running_cadence = total strides / timer time
        pl.when(pl.col("steps_per_min").is_not_null().any())
        .then((pl.col("steps_per_min").fill_null(0.0) * pl.col("dt_s")).sum() / pl.col("dt_s").sum())
        .alias("cadence_mean_spm"),
        hr_share.alias("hr_share"),
        pl.when(use_hr).then(pl.lit(LOAD_HR)).otherwise(pl.lit(LOAD_PACE)).alias("load_method"),
    ]


def _hr_max(athletes: pl.DataFrame | None, th: Thresholds) -> pl.Expr:
    """Each sample's athlete HRmax (``athletes.max_hr_bpm``), else ``hr_max_default_bpm``."""
    if athletes is None or "max_hr_bpm" not in athletes.columns:
        return pl.lit(th.hr_max_default_bpm)
    known = athletes.filter(pl.col("max_hr_bpm").is_not_null())
    return pl.col("athlete_id").replace_strict(
        known["athlete_id"],
        known["max_hr_bpm"].cast(pl.Float64),
        default=th.hr_max_default_bpm,
        return_dtype=pl.Float64,
    )


def sprint_thresholds(
    per_run: pl.DataFrame, sprint_ref: pl.DataFrame | None, th: Thresholds = DEFAULT_THRESHOLDS
) -> pl.DataFrame:
    r"""Each run's sprint threshold, m/s.

    .. math:: v_{sprint} = \max(s \cdot Q_{0.9}(v_{max}),\ 1.3 \cdot \tilde v_{p50})

    with :math:`Q_{0.9}(v_{max})` the 90th percentile of per-run robust max speeds over the
    trailing ``top_speed_window_days`` (this run included) and :math:`s` =
    ``sprint_share_of_top_speed``. The floor (1.3 x the median of per-run median speeds in
    the same window, ``sprint_min_over_typical``) keeps an athlete who never runs fast from
    having their ordinary pace counted as sprinting.

    Returns ``activity_id``, ``sprint_threshold_m_s``.
    """
    cols = ["activity_id", "athlete_id", "started_at", "max_speed_m_s", "speed_p50_m_s"]
    cur = per_run.select(cols).with_columns(_cur=pl.lit(True))
    frames = [cur]
    if sprint_ref is not None and sprint_ref.height:
        ref = sprint_ref
        if "activity_id" not in ref.columns:
            ref = ref.with_columns(activity_id=pl.lit(None, pl.String()))
        else:
            ref = ref.filter(~pl.col("activity_id").is_in(cur["activity_id"].implode()).fill_null(False))
        if "speed_p50_m_s" not in ref.columns:
            ref = ref.with_columns(speed_p50_m_s=pl.lit(None, pl.Float64()))
        ref = ref.select(
            pl.col("activity_id").cast(pl.String),
            pl.col("athlete_id").cast(pl.String),
            pl.col("started_at").cast(ACTIVITY_GAIT_SCHEMA["started_at"]),
            pl.col("max_speed_m_s").cast(pl.Float64),
            pl.col("speed_p50_m_s").cast(pl.Float64),
            _cur=pl.lit(False),
        )
        frames.append(ref)
    allr = pl.concat(frames).sort(["athlete_id", "started_at"])
    win = f"{th.top_speed_window_days}d"
    allr = allr.with_columns(
        _top=pl.col("max_speed_m_s")
        .rolling_quantile_by("started_at", win, quantile=th.top_speed_quantile, interpolation="linear")
        .over("athlete_id"),
        _typ=pl.col("speed_p50_m_s").rolling_median_by("started_at", win).over("athlete_id"),
    )
    thr = pl.max_horizontal(
        pl.col("_top") * th.sprint_share_of_top_speed,
        pl.col("_typ") * th.sprint_min_over_typical,
    )
    return allr.filter(pl.col("_cur")).select(
        "activity_id", pl.when(pl.col("_top").is_not_null()).then(thr).alias("sprint_threshold_m_s")
    )


def _sprint_exposure(run: pl.LazyFrame, thr: pl.LazyFrame, th: Thresholds) -> pl.LazyFrame:
    """Time above the threshold and number of efforts lasting >= ``sprint_min_effort_s``,
    over moving running samples only (pauses neither split nor join efforts).

    ``run`` is sorted by activity; ``thr`` has ``_activity`` and ``sprint_threshold_m_s``.
    Returns ``_activity``, ``sprint_s``, ``sprint_efforts``."""
    k = pl.col(ACTIVITY_KEY)
    m = (
        run.filter(pl.col("is_moving"))
        .join(thr, on=ACTIVITY_KEY, how="left")
        .with_columns(
            _above=(pl.col("speed_smooth_m_s") >= pl.col("sprint_threshold_m_s")).fill_null(False)
        )
        # stretches of consecutive samples of one activity on the same side of the threshold
        .with_columns(_stretch=pl.struct(k, pl.col("_above")).rle_id())
    )
    efforts = (
        m.filter(pl.col("_above"))
        .group_by("_stretch")
        .agg(k.first(), dur=pl.col("dt_s").sum())
        .group_by(k)
        .agg(sprint_efforts=(pl.col("dur") >= th.sprint_min_effort_s).sum())
    )
    time_above = m.group_by(k).agg(
        sprint_s=pl.when(pl.col("_above")).then(pl.col("dt_s")).otherwise(0.0).sum()
    )
    return time_above.join(efforts, on=ACTIVITY_KEY, how="left")
