"""Training load: per-sample TRIMP, per-activity load, daily loads, EWMA workload and
Foster monotony/strain. Pure polars; formulas and references in docs/metrics.md.

Load unit: TRIMP points (Banister), i.e. minutes weighted by heart-rate reserve.
- Runs: the run's ``trimp`` from :func:`transforms.gait.activity_gait` (HR when >= half the
  moving time has HR, else a pace-based intensity).
- Other sessions (cross-training, strength): duration x Banister weight of the session's
  average HR reserve, or of ``cross_training_hrr`` when there is no HR.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from transforms.thresholds import DEFAULT_THRESHOLDS, Thresholds

LOAD_HR = "hr_trimp"
LOAD_PACE = "pace_duration"
LOAD_AVG_HR = "avg_hr_duration"
LOAD_DURATION = "duration"


def hr_reserve(hr: pl.Expr, rest: pl.Expr, hr_max: pl.Expr) -> pl.Expr:
    r"""Heart-rate reserve fraction, dimensionless, clipped to [0, 1].

    .. math:: HRr = (HR - HR_{rest}) / (HR_{max} - HR_{rest})

    Reference: Karvonen 1957; as used by Banister 1991.
    """
    return ((hr - rest) / (hr_max - rest)).clip(0.0, 1.0)


def trimp_per_sample(dt_s: pl.Expr, hrr: pl.Expr, th: Thresholds = DEFAULT_THRESHOLDS) -> pl.Expr:
    r"""Banister TRIMP of one interval, TRIMP points (weighted minutes), >= 0.

    .. math:: TRIMP = \frac{\Delta t}{60} \cdot HRr \cdot 0.64\, e^{1.92\, HRr}

    Reference: Banister 1991; Morton et al. 1990 (men's weighting coefficients).
    """
    return dt_s / 60.0 * hrr * th.trimp_weight_a * (th.trimp_weight_b * hrr).exp()


def local_start(
    activities: pl.DataFrame, athletes: pl.DataFrame | None, ts_col: str = "started_at"
) -> pl.DataFrame:
    """Add ``local_date`` (the athlete's local calendar date of ``ts_col``).

    The file's own ``local_offset_s`` wins when present (it is what the watch showed); else
    the athlete's IANA ``timezone``; else UTC.
    """
    tz = (
        athletes.select("athlete_id", pl.col("timezone").cast(pl.String))
        if athletes is not None and "timezone" in athletes.columns
        else pl.DataFrame(schema={"athlete_id": pl.String(), "timezone": pl.String()})
    )
    df = activities.join(tz, on="athlete_id", how="left").with_columns(
        pl.col("timezone").fill_null("UTC"), _row=pl.int_range(pl.len())
    )
    if "local_offset_s" not in df.columns:
        df = df.with_columns(local_offset_s=pl.lit(None, pl.Int32()))
    parts = []
    # convert_time_zone takes one zone per call: one call per distinct athlete zone
    for (zone,), part in df.group_by("timezone"):
        try:
            ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            athletes_in = sorted(part["athlete_id"].unique().to_list())
            raise ValueError(f"unknown time zone {zone!r} for athlete(s) {athletes_in}") from exc
        zoned = pl.col(ts_col).dt.convert_time_zone(str(zone)).dt.replace_time_zone(None)
        parts.append(part.with_columns(_zoned=zoned))
    out = pl.concat(parts) if parts else df.with_columns(_zoned=pl.col(ts_col).dt.replace_time_zone(None))
    naive = pl.col(ts_col).dt.replace_time_zone(None)
    local = (
        pl.when(pl.col("local_offset_s").is_not_null())
        .then(naive + pl.duration(seconds=pl.col("local_offset_s")))
        .otherwise(pl.col("_zoned"))
    )
    return out.with_columns(local_date=local.dt.date()).sort("_row").drop("_row", "_zoned", "timezone")


def activity_loads(
    activities: pl.DataFrame,
    gait: pl.DataFrame,
    athletes: pl.DataFrame | None,
    th: Thresholds = DEFAULT_THRESHOLDS,
) -> pl.DataFrame:
    """Load per activity, TRIMP points: ``activity_id``, ``load``, ``load_method``.

    Runs with a gait row take its ``trimp``; everything else is duration (timer time) x the
    Banister weight of the average HR reserve, or of ``cross_training_hrr`` without HR.
    """
    hrmax = (
        athletes.select("athlete_id", pl.col("max_hr_bpm").cast(pl.Float64))
        if athletes is not None and "max_hr_bpm" in athletes.columns
        else pl.DataFrame(schema={"athlete_id": pl.String(), "max_hr_bpm": pl.Float64()})
    )
    g = gait.select("activity_id", pl.col("trimp").alias("_trimp"), pl.col("load_method").alias("_lm"))
    df = activities.join(hrmax, on="athlete_id", how="left").join(g, on="activity_id", how="left")
    hrr_avg = hr_reserve(
        pl.col("avg_heart_rate_bpm"),
        pl.lit(th.hr_rest_bpm),
        pl.col("max_hr_bpm").fill_null(th.hr_max_default_bpm),
    )
    hrr = pl.coalesce(hrr_avg, pl.lit(th.cross_training_hrr))
    minutes_load = trimp_per_sample(pl.col("duration_s").fill_null(0.0), hrr, th)
    return df.select(
        "activity_id",
        load=pl.coalesce(pl.col("_trimp"), minutes_load),
        load_method=pl.coalesce(
            pl.col("_lm"),
            pl.when(pl.col("avg_heart_rate_bpm").is_not_null())
            .then(pl.lit(LOAD_AVG_HR))
            .otherwise(pl.lit(LOAD_DURATION)),
        ),
    )


def daily_loads(per_activity: pl.DataFrame) -> pl.DataFrame:
    """Daily load per athlete over whole local ISO weeks, zero days included.

    Input: ``athlete_id``, ``local_date``, ``load``. Output (sorted): ``athlete_id``,
    ``day``, ``load``, ``observed`` (False for days after the athlete's last activity, i.e.
    the rest of a week in progress). The range runs from the Monday of the first week to
    the Sunday of the last: Foster's monotony is defined over 7 days (rest days count as 0).
    """
    day = per_activity.group_by("athlete_id", pl.col("local_date").alias("day")).agg(
        load=pl.col("load").fill_null(0.0).sum()
    )
    span = day.group_by("athlete_id").agg(
        first=pl.col("day").min().dt.truncate("1w"),
        last=pl.col("day").max().dt.truncate("1w") + pl.duration(days=6),
        _last_obs=pl.col("day").max(),
    )
    grid = span.select(
        "athlete_id", "_last_obs", day=pl.date_ranges("first", "last", interval="1d")
    ).explode("day")
    return (
        grid.join(day, on=["athlete_id", "day"], how="left")
        .with_columns(pl.col("load").fill_null(0.0), observed=pl.col("day") <= pl.col("_last_obs"))
        .drop("_last_obs")
        .sort("athlete_id", "day")
    )


def ewma(col: str, days: int) -> pl.Expr:
    r"""Exponentially weighted moving average of a daily series (Williams et al. 2017),
    bias-corrected at the start of the series.

    .. math:: E_t = \frac{\sum_{k \le t} (1 - \lambda)^{t-k} x_k}{\sum_{k \le t} (1 - \lambda)^{t-k}},
              \quad \lambda = 2 / (N + 1)

    After a few time constants this is the familiar recursion
    :math:`E_t = \lambda x_t + (1 - \lambda) E_{t-1}`; at the start it is the weighted mean
    of the days seen so far instead of being pulled towards an arbitrary seed (a zero seed
    inflates the acute:chronic ratio for weeks, because the 28-day average fills up four
    times slower than the 7-day one). Use per athlete: ``.over("athlete_id")`` on a frame
    sorted by day.
    """
    return pl.col(col).ewm_mean(alpha=2.0 / (days + 1.0), adjust=True)


def acute_chronic(daily: pl.DataFrame, th: Thresholds = DEFAULT_THRESHOLDS) -> pl.DataFrame:
    """Add ``acute_load`` and ``chronic_load`` (EWMA, TRIMP/day), ``chronic_before_acute``
    (the chronic EWMA ``acute_days`` earlier) and ``history_days`` (days since the Monday of
    the athlete's first week) to a daily frame sorted by athlete and day."""
    out = daily.sort("athlete_id", "day").with_columns(
        acute_load=ewma("load", th.acute_days).over("athlete_id"),
        chronic_load=ewma("load", th.chronic_days).over("athlete_id"),
        history_days=pl.int_range(pl.len()).over("athlete_id") + 1,
    )
    # Uncoupled ratio (Lolli 2019): the chronic EWMA as it stood before the acute window
    # (acute_days earlier), so the days being judged are not part of their own reference.
    return out.with_columns(
        chronic_before_acute=pl.col("chronic_load").shift(th.acute_days).over("athlete_id")
    )
