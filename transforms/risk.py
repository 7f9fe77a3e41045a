"""Weekly load, gait-pattern and risk screening per athlete and ISO week (athlete's local
time). Output: :data:`transforms.schema.WEEKLY_RISK_SCHEMA`.

Everything is computed from activity-level summaries (``activities`` + ``activity_gait``),
never from samples, so recomputing a week is cheap. Flags are screening heuristics, never
diagnoses; ACWR is reported as a description of load change, not as a validated injury
predictor (Lolli 2019; Impellizzeri 2021). Rules and references: docs/metrics.md.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from transforms.load import LOAD_PACE, activity_loads, acute_chronic, daily_loads, local_start
from transforms.schema import WEEKLY_RISK_SCHEMA
from transforms.thresholds import DEFAULT_THRESHOLDS, Thresholds

RUNNING = "running"
STRENGTH_SUB_SPORTS = ("strength_training",)
STRENGTH_SPORTS = ("strength_training", "strength")

SEVERITIES = ("info", "moderate", "high")  # info = advice, never raises the risk level
RISK_LEVELS = ("low", "moderate", "high", "insufficient_data")
ASYMMETRY_LEVELS = ("balanced", "moderate", "high")

RECOMMENDATIONS = {
    "compact_gait": (
        "Restore range of motion and speed: once a week 6-8 strides of 20 s at about 90 % effort "
        "(walk back to recover) or 6 x 10 s hill sprints, plus lower-body strength twice a week "
        "(squats 3 x 8-10, reverse lunges 3 x 8 per leg, step-ups 3 x 10 per leg, Romanian "
        "deadlifts 3 x 8; add load gradually over 6-8 weeks). If the change came with pain or "
        "stiffness, have it checked."
    ),
    "asymmetry": (
        "Check the sensor first (a strap or pod off-centre shifts the reading). Balance "
        "differences are common and were not linked to more injuries in 836 runners "
        "(Malisoux 2024); if the change persists or comes with pain, see a clinician."
    ),
    "asymmetry_drift": (
        "Balance worsens as the run goes on (fatigue): shorten long runs slightly and add "
        "single-leg strength (split squats, step-ups, single-leg Romanian deadlifts, 3 x 8-10 "
        "per leg, twice a week)."
    ),
    "load_spike": (
        "Keep next week's running 20-30 % below this week's and easy, then build again in "
        "small steps. If something hurts, see a clinician."
    ),
    "distance_progression": (
        "Weekly distance rose more than 30 % over two weeks: hold the distance steady next week "
        "before progressing again (Nielsen 2014)."
    ),
    "monotony": (
        "Vary the week: alternate hard and easy days and keep at least one rest or very easy day "
        "(Foster 1998)."
    ),
    "no_sprints": (
        "Add one session of strides or sprints a week: 6-8 x 20 s fast but relaxed with full "
        "walk-back recovery, after an easy run."
    ),
    "no_strength": (
        "Strength training builds strength and speed; try twice a week: squats 3 x 8-10, "
        "lunges 3 x 8 per leg, step-ups 3 x 10 per leg, Romanian deadlifts 3 x 8, "
        "progressing the load over 6-8 weeks."
    ),
    "low_cadence": (
        "Step rate is in Garmin's lowest band: try a 5-10 % higher step rate at easy pace "
        "(a metronome helps), which lowered hip, knee and patellofemoral loading in lab "
        "studies (Heiderscheit 2011; Lenhart 2014)."
    ),
    "return_progression": (
        "Back after a break: build running time in steps, about half of your usual week at "
        "first, then three quarters (Daniels 2014), easy pace. See a clinician if you have pain."
    ),
    "returning": (
        "Back after a break: keep building gradually from here, easy pace first; strength "
        "and cross-training are good company. See a clinician if you have pain."
    ),
    "new_device": (
        "New watch or sensor: readings can shift with the device, so your gait baselines "
        "start again; nothing to do."
    ),
    "other_training": (
        "Keep it up: cross-training adds fitness with less impact, and strength work builds "
        "strength and speed."
    ),
}
FLAG_CODES = tuple(RECOMMENDATIONS)  # every code weekly_risk can emit

# Optional ``activities`` columns (the warehouse has them; hand-built frames may not): the
# recording device and which running-dynamics sensor was used.
DEVICE_COLUMNS: dict[str, pl.DataType] = {
    "device": pl.String(),  # human label, e.g. "garmin fenix5"
    "manufacturer": pl.String(),
    "product": pl.String(),
    "serial_number": pl.Int64(),
    "has_running_dynamics": pl.Boolean(),
    "has_gct_balance": pl.Boolean(),
}
# Flags of one family describe the same thing; "high" from two flags needs two families.
FAMILIES = {
    "load_spike": "load", "distance_progression": "load", "return_progression": "load",
    "compact_gait": "gait", "asymmetry": "asymmetry",
}


def _monday(x: date | datetime | str) -> date:
    """The Monday of an ISO week given as ``"2026-W47"``, a date or a datetime."""
    if isinstance(x, str):
        year, week = x.split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    d = x.date() if isinstance(x, datetime) else x
    return d - timedelta(days=d.weekday())


def iso_week_label() -> pl.Expr:
    """``"YYYY-Www"`` of the ``week_start`` column (ISO year, ISO week)."""
    ws = pl.col("week_start")
    return pl.format("{}-W{}", ws.dt.iso_year(), ws.dt.week().cast(pl.String).str.zfill(2))


def _prepare(
    activities: pl.DataFrame, gait: pl.DataFrame, athletes: pl.DataFrame | None
) -> pl.DataFrame:
    """Activities (plus any gait-only runs) with ``local_date``, ``week_start``, kind flags."""
    acts = activities.select(
        "activity_id", "athlete_id", "sport", "sub_sport", "started_at", "local_offset_s",
        "duration_s", "distance_m", "avg_heart_rate_bpm",
        *[
            pl.col(c).cast(t) if c in activities.columns else pl.lit(None, t).alias(c)
            for c, t in DEVICE_COLUMNS.items()
        ],
    )
    missing = gait.filter(~pl.col("activity_id").is_in(acts["activity_id"].implode()))
    if missing.height:
        extra = missing.select(
            "activity_id", "athlete_id", sport=pl.lit(RUNNING), sub_sport=pl.lit(None, pl.String()),
            started_at=pl.col("started_at"), local_offset_s=pl.lit(None, pl.Int32()),
            duration_s=pl.col("moving_s"), distance_m=pl.col("distance_m"),
            avg_heart_rate_bpm=pl.lit(None, pl.Float64()),
            **{c: pl.lit(None, t) for c, t in DEVICE_COLUMNS.items()},
        )
        acts = pl.concat([acts, extra], how="vertical_relaxed")
    acts = local_start(acts, athletes)
    gids = gait["activity_id"].implode()
    strength = pl.col("sub_sport").is_in(STRENGTH_SUB_SPORTS).fill_null(False) | pl.col(
        "sport"
    ).is_in(STRENGTH_SPORTS).fill_null(False)
    is_run = (pl.col("sport") == RUNNING).fill_null(False) | pl.col("activity_id").is_in(gids)
    return acts.with_columns(
        week_start=pl.col("local_date").dt.truncate("1w"),
        is_run=is_run,
        is_strength=strength & ~is_run,
        is_cross=~is_run & ~strength & pl.col("sport").is_not_null(),
    )


def weekly_risk(
    activities: pl.DataFrame,
    gait: pl.DataFrame,
    athletes: pl.DataFrame | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    from_week: str | date | datetime | None = None,
) -> pl.DataFrame:
    """One row per athlete per ISO week (local time), first to last week with data.

    Parameters
    ----------
    activities
        ACTIVITY_INPUT_SCHEMA rows, all sports, the athletes' whole history (the EWMA and the
        trailing baseline need it).
    gait
        ACTIVITY_GAIT_SCHEMA rows of the same athletes.
    athletes
        ``athlete_id``, ``timezone`` (IANA), ``max_hr_bpm`` (optional columns: ``name``,
        ``height_m``). Missing athletes default to UTC and ``hr_max_default_bpm``.
    thresholds
        :class:`transforms.thresholds.Thresholds`.
    from_week
        Return only weeks starting on or after this ISO week (``"2026-W47"``) or the week
        containing this date: the rows an incremental update must replace (see
        :func:`weeks_to_recompute`). The computation still reads the full history.
    """
    th = thresholds
    if activities.height == 0 and gait.height == 0:
        return pl.DataFrame(schema=WEEKLY_RISK_SCHEMA)
    acts = _prepare(activities, gait, athletes)
    loads = activity_loads(acts, gait, athletes, th)
    acts = acts.join(loads, on="activity_id", how="left").with_columns(
        _run_load=pl.when(pl.col("is_run")).then(pl.col("load")).otherwise(0.0)
    )

    daily = acute_chronic(daily_loads(acts.select("athlete_id", "local_date", "load")), th)
    # running only: load spikes judge running, the rest is shown but never raises the level
    run_daily = acute_chronic(
        daily_loads(acts.select("athlete_id", "local_date", load="_run_load")), th
    ).select(
        "athlete_id", "day", _run_day="load", _run_acute="acute_load",
        _run_chronic_ref="chronic_before_acute",
    )
    daily = daily.join(run_daily, on=["athlete_id", "day"], how="left").with_columns(
        week_start=pl.col("day").dt.truncate("1w")
    )
    obs = pl.col("observed")
    wload = (
        daily.group_by("athlete_id", "week_start")
        .agg(
            load=pl.col("load").sum(),
            run_load=pl.col("_run_day").sum(),
            _mean=pl.col("load").mean(),
            _sd=pl.col("load").std(ddof=1),
            _load_days=(pl.col("load") > 0).sum(),
            # read on Sunday, or on the last observed day of a week in progress (daily is
            # sorted by day and group_by keeps the row order within a group)
            acute_load=pl.col("acute_load").filter(obs).last(),
            chronic_load=pl.col("chronic_load").filter(obs).last(),
            _chronic_ref=pl.col("chronic_before_acute").filter(obs).last(),
            _run_acute=pl.col("_run_acute").filter(obs).last(),
            _run_chronic_ref=pl.col("_run_chronic_ref").filter(obs).last(),
            _history_days=pl.col("history_days").filter(obs).max(),
        )
        .with_columns(
            # uncoupled: acute over the chronic EWMA as it stood before the acute window
            acwr=pl.when(pl.col("_chronic_ref") > 0).then(
                pl.col("acute_load") / pl.col("_chronic_ref")
            ),
            run_acwr=pl.when(pl.col("_run_chronic_ref") > 0).then(
                pl.col("_run_acute") / pl.col("_run_chronic_ref")
            ),
            other_load=pl.col("load") - pl.col("run_load"),
            monotony=pl.when(pl.col("_sd") > 0).then(pl.col("_mean") / pl.col("_sd")),
        )
        .with_columns(strain=pl.col("load") * pl.col("monotony"))
    )

    run_acts = acts.filter(pl.col("is_run")).join(
        gait.drop("athlete_id", "started_at").rename({"distance_m": "_gait_distance_m"}),
        on="activity_id",
        how="left",
    )
    run_acts = run_acts.with_columns(
        # running part of the activity when analysed (multisport), else the file's distance
        _dist=pl.coalesce(pl.col("_gait_distance_m"), pl.col("distance_m")),
        _time=pl.coalesce(pl.col("moving_s"), pl.col("duration_s")),
        _wa=pl.col("analysed_s").fill_null(0.0),
    )
    a = pl.col("_wa")
    wgait = run_acts.group_by("athlete_id", "week_start").agg(
        runs=pl.len(),
        run_distance_m=pl.col("_dist").fill_null(0.0).sum(),
        run_time_s=pl.col("_time").fill_null(0.0).sum(),
        long_run_m=pl.col("_dist").max(),
        sprint_s=_sum_or_null("sprint_s"),
        sprint_efforts=_sum_or_null("sprint_efforts"),
        step_length_at_ref_speed_m=_wavg("step_length_at_ref_speed_m", a),
        speed_range_m_s=_wavg("speed_range_m_s", pl.col("moving_s")),
        vertical_oscillation_mm=_wavg("vertical_oscillation_median_mm", a * pl.col("dynamics_share")),
        cadence_spm=_wavg("cadence_median_spm", a * pl.col("cadence_share")),
        gct_balance_left_pct=_wavg("gct_balance_mean_left_pct", a * pl.col("balance_share")),
        _drift=_wavg("symmetry_drift_pct", a * pl.col("balance_share")),
        _analysed=a.sum(),
        _gait_runs=(a > 0).sum(),
        _dyn_time=(a * pl.col("dynamics_share").fill_null(0.0)).sum(),
        _bal_time=(a * pl.col("balance_share").fill_null(0.0)).sum(),
        _cad_time=(a * pl.col("cadence_share").fill_null(0.0)).sum(),
        _pace_load=(pl.col("load_method") == LOAD_PACE).any(),
    )
    wother = acts.group_by("athlete_id", "week_start").agg(
        cross_training_sessions=pl.col("is_cross").sum(),
        strength_sessions=pl.col("is_strength").sum(),
    )

    grid = (
        daily.select("athlete_id", "week_start").unique()
        .join(wload, on=["athlete_id", "week_start"], how="left")
        .join(wgait, on=["athlete_id", "week_start"], how="left")
        .join(wother, on=["athlete_id", "week_start"], how="left")
        .sort("athlete_id", "week_start")
        .with_columns(
            pl.col("runs", "cross_training_sessions", "strength_sessions").fill_null(0),
            pl.col("run_distance_m", "run_time_s").fill_null(0.0),
            iso_week=iso_week_label(),
        )
    )
    grid = grid.with_columns(
        symmetry_index_pct=_si(pl.col("gct_balance_left_pct")),
        distance_progression_pct=_progression(th),
        # most running (time, distance) of the previous weeks: a load spike or distance
        # progression needs more running than the runner did in any of those weeks
        _run_time_prev=pl.col("run_time_s")
        .shift(1)
        .rolling_max(th.load_spike_compare_weeks, min_samples=1)
        .over("athlete_id"),
        _run_dist_prev=pl.col("run_distance_m")
        .shift(1)
        .rolling_max(th.load_spike_compare_weeks, min_samples=1)
        .over("athlete_id"),
    )
    grid = _returns_and_devices(grid, acts, th)
    grid = _baseline(grid, th)
    grid = _advice_windows(grid, th)
    rows = [_judge(r, th) for r in grid.iter_rows(named=True)]
    judged = pl.DataFrame(
        rows,
        schema={
            "athlete_id": pl.String(), "week_start": pl.Date(), "asymmetry_level": pl.String(),
            "risk_level": pl.String(), "flags": pl.List(pl.String()),
            "flag_details": pl.String(), "missing_data": pl.List(pl.String()),
        },
    )
    out = grid.join(judged, on=["athlete_id", "week_start"], how="left")
    if from_week is not None:
        out = out.filter(pl.col("week_start") >= _monday(from_week))
    return out.select([pl.col(c).cast(t) for c, t in WEEKLY_RISK_SCHEMA.items()]).sort(
        "athlete_id", "week_start"
    )


def _sum_or_null(col: str) -> pl.Expr:
    return pl.when(pl.col(col).is_not_null().any()).then(pl.col(col).sum())


def _wavg(col: str, weight: pl.Expr) -> pl.Expr:
    """Weighted mean of per-run values; runs without the value or weight are skipped."""
    ok = pl.col(col).is_not_null() & weight.is_not_null() & (weight > 0)
    w = pl.when(ok).then(weight).otherwise(0.0)
    return pl.when(w.sum() > 0).then((pl.col(col).fill_null(0.0) * w).sum() / w.sum())


def _si(left: pl.Expr) -> pl.Expr:
    right = 100.0 - left
    return (left - right) / (0.5 * (left + right)) * 100.0


def _progression(th: Thresholds) -> pl.Expr:
    r"""Nielsen 2014 progression: this week's run distance vs the mean of the 2 previous
    weeks, %. Null when those weeks average less than ``distance_progression_min_m`` / 2."""
    prev = (
        pl.col("run_distance_m").shift(1).over("athlete_id")
        + pl.col("run_distance_m").shift(2).over("athlete_id")
    ) / 2.0
    return pl.when(prev >= th.distance_progression_min_m / 2.0).then(
        (pl.col("run_distance_m") / prev - 1.0) * 100.0
    )


def _device_label(device: str | None, manufacturer: str | None, product: str | None) -> str:
    if device:
        return device
    parts = [str(x) for x in (manufacturer, product) if x not in (None, "")]
    return " ".join(parts) if parts else "unknown device"


def _sensor_changes(acts: pl.DataFrame) -> dict[str, list[tuple[date, str, str]]]:
    """Per athlete: (local date, device label, what changed) of every run recorded with a
    device or running-dynamics sensor not seen before (the first one is no change).

    Only *new* devices count: a runner who alternates a watch and a phone does not restart
    the baselines at every switch. Runs without device fields (GPX, manual entries) are
    skipped. Dynamics source: a chest strap or pod when the run has GCT balance (wrist
    sensors do not measure it), else the watch when it has running dynamics.
    """
    runs = acts.filter(pl.col("is_run")).sort("athlete_id", "started_at")
    out: dict[str, list[tuple[date, str, str]]] = {}
    seen_dev: dict[str, set[tuple[Any, ...]]] = {}
    seen_src: dict[str, set[str]] = {}
    for r in runs.iter_rows(named=True):
        a = r["athlete_id"]
        label = _device_label(r["device"], r["manufacturer"], r["product"])
        key = (r["manufacturer"], r["product"], r["serial_number"])
        if any(k is not None for k in key):
            devs = seen_dev.setdefault(a, set())
            if devs and key not in devs:
                out.setdefault(a, []).append((r["local_date"], label, "new watch"))
            devs.add(key)
        src = (
            "strap or pod" if r["has_gct_balance"]
            else "watch" if r["has_running_dynamics"] else None
        )
        if src is not None:
            srcs = seen_src.setdefault(a, set())
            if srcs and src not in srcs:
                out.setdefault(a, []).append(
                    (r["local_date"], label, f"running dynamics from the {src}")
                )
            srcs.add(src)
    return out


def _returns_and_devices(grid: pl.DataFrame, acts: pl.DataFrame, th: Thresholds) -> pl.DataFrame:
    """Breaks in running, the return weeks after them, and device/sensor changes.

    A break: ``break_min_days`` or more days without a run. The weeks from the week of the
    first run after it are return weeks 1, 2, ...: up to ``return_no_acwr_weeks`` (or the
    number of return steps, if more) they are judged against the pre-break level, the mean
    weekly running time of the last ``return_prebreak_weeks`` weeks with runs before the
    break (Daniels 2014), instead of an ACWR whose chronic load decayed during the break.
    Those weeks must all lie within the ``return_prebreak_span_weeks`` weeks up to the
    last run before the break: Daniels' steps assume regular training before it. Runs
    weeks or months apart (a sporadic runner, or a history of a few files) give no level,
    and the return is only noted.
    """
    run_dates = (
        acts.filter(pl.col("is_run"))
        .group_by("athlete_id")
        .agg(pl.col("local_date").unique().sort())
    )
    returns: dict[str, list[tuple[date, int]]] = {}
    first_run: dict[str, date] = {}
    for athlete, days in run_dates.iter_rows():
        first_run[athlete] = days[0]
        for prev, cur in zip(days, days[1:], strict=False):
            off = (cur - prev).days - 1
            if off >= th.break_min_days:
                returns.setdefault(athlete, []).append((cur, off))
    changes = _sensor_changes(acts)

    rows = grid.select("athlete_id", "week_start", "runs", "run_time_s").to_dicts()
    out: list[dict[str, Any]] = []
    run_weeks: dict[str, list[tuple[date, float]]] = {}
    levels: dict[tuple[str, date], float | None] = {}
    for r in rows:  # grid is sorted by athlete, week
        a, ws = r["athlete_id"], r["week_start"]
        week_end = ws + timedelta(days=6)
        hist = run_weeks.setdefault(a, [])
        res: dict[str, Any] = {
            "days_off_before": None, "return_week": None, "prebreak_run_time_s": None,
            "device_changed_on": None, "_device_change": None, "_weeks_since_change": None,
            "_run_history_days": None,
        }
        if a in first_run and first_run[a] <= week_end:
            res["_run_history_days"] = (week_end - _monday(first_run[a])).days + 1
        ret = [x for x in returns.get(a, []) if x[0] <= week_end]
        if ret:
            day, off = ret[-1]
            k = (ws - _monday(day)).days // 7 + 1
            if (a, day) not in levels:
                last = _monday(day - timedelta(days=off + 1))  # week of the last run before
                first = last - timedelta(weeks=th.return_prebreak_span_weeks - 1)
                before = [t for w, t in hist if first <= w <= last][-th.return_prebreak_weeks :]
                regular = len(before) == th.return_prebreak_weeks
                levels[(a, day)] = sum(before) / len(before) if regular else None
            if k <= max(th.return_no_acwr_weeks, len(_return_shares(off, th))):
                res["days_off_before"] = off
                res["return_week"] = k
                res["prebreak_run_time_s"] = levels[(a, day)]
        ch = [x for x in changes.get(a, []) if x[0] <= week_end]
        if ch:
            day, label, what = ch[-1]
            res["device_changed_on"] = day
            res["_device_change"] = f"{what} ({label})" if what != "new watch" else f"new watch ({label})"
            res["_weeks_since_change"] = (ws - _monday(day)).days // 7
        if r["runs"]:
            hist.append((ws, r["run_time_s"]))
        out.append(res)
    schema: dict[str, pl.DataType] = {
        "days_off_before": pl.Int32(), "return_week": pl.Int32(),
        "prebreak_run_time_s": pl.Float64(), "device_changed_on": pl.Date(),
        "_device_change": pl.String(), "_weeks_since_change": pl.Int32(),
        "_run_history_days": pl.Int32(),
    }
    return pl.concat([grid, pl.DataFrame(out, schema=schema)], how="horizontal")


def _return_shares(days_off: int, th: Thresholds) -> tuple[float, ...]:
    """Share of the pre-break weekly running time allowed in return weeks 1, 2, ...
    (Daniels 2014); later return weeks up to ``return_no_acwr_weeks`` allow 100 %."""
    if days_off > th.return_long_break_days:
        return (th.return_share_long_1, th.return_share_long_2, th.return_share_long_3)
    return (th.return_share_short_1, th.return_share_short_2)


# metric column, its SD floor, and the compact direction (-1: lower = more compact)
BASELINE_METRICS = {
    "step_length_at_ref_speed_m": "sd_floor_step_length_m",
    "speed_range_m_s": "sd_floor_speed_range_m_s",
    "sprint_s": "sd_floor_sprint_s",
    "vertical_oscillation_mm": "sd_floor_vertical_oscillation_mm",
}


def _baseline(grid: pl.DataFrame, th: Thresholds) -> pl.DataFrame:
    r"""Trailing baselines, compact-gait score and balance change, per athlete in week order.

    The baseline of a week is the last ``baseline_weeks`` *eligible* weeks before it (the
    current week excluded) within ``baseline_max_lookback_weeks`` and after the last device
    or sensor change (the week of the change included: its values mix two sensors):
    weeks with gait data that were not themselves changed (compact score at or above
    ``compact_moderate_z``, or a balance change). Leaving changed weeks out keeps a
    progressive change measured against the athlete's last normal weeks instead of letting
    the baseline follow the drift; once the changed stretch outlasts the lookback the
    baseline runs out (``insufficient_data``) and re-forms on the new normal.

    Score: the mean of the available signed z-scores (at least ``compact_min_metrics``)

    .. math:: z_m = \operatorname{clip}\left(-\frac{x_m - \bar x_m}{\max(s_m, s_{floor,m})}, \pm 3\right)

    (lower step length at the reference speed, narrower speed range, less sprint time and
    lower vertical oscillation are all "more compact"). :math:`s_m` is the sample SD of the
    baseline weeks (0 with one week, so the floor applies).

    Balance change: the week's GCT balance moved away from 50 % by at least
    ``balance_change_min_pct`` points and 2 SD (floor ``sd_floor_balance_pct``) from the
    baseline mean. ``_compact_streak`` / ``_balance_streak``: consecutive gait weeks (weeks
    without gait skipped) with a compact score / balance change, this week included.
    """
    metrics = list(BASELINE_METRICS)
    floors = {m: float(getattr(th, f)) for m, f in BASELINE_METRICS.items()}
    rows = grid.select(
        "athlete_id", "week_start", "device_changed_on", "gct_balance_left_pct", *metrics
    ).to_dicts()
    out: list[dict[str, Any]] = []
    history: dict[str, list[tuple[date, dict[str, Any]]]] = {}
    streaks: dict[str, list[int]] = {}
    for r in rows:  # grid is sorted by athlete, week
        past = history.setdefault(r["athlete_id"], [])
        streak = streaks.setdefault(r["athlete_id"], [0, 0])
        oldest = r["week_start"] - timedelta(weeks=th.baseline_max_lookback_weeks)
        changed = r["device_changed_on"]
        if changed is not None:
            oldest = max(oldest, _monday(changed) + timedelta(weeks=1))
        base = [v for d, v in past if d >= oldest][-th.baseline_weeks :]
        res: dict[str, Any] = {"baseline_weeks": len(base)}
        zs: list[float] = []
        for m in metrics:
            mean, sd = _mean_sd([v[m] for v in base if v[m] is not None])
            z = None
            if mean is not None and r[m] is not None:
                z = (mean - r[m]) / max(sd, floors[m])
                z = max(-th.compact_z_clip, min(th.compact_z_clip, z))
                zs.append(z)
            res[f"_base_{m}"] = mean
            res[f"_sd_{m}"] = sd
            res[f"_z_{m}"] = z
        score = None
        if len(base) >= th.baseline_min_weeks and len(zs) >= th.compact_min_metrics:
            score = sum(zs) / len(zs)
        res["compact_gait_score"] = score
        bal = r["gct_balance_left_pct"]
        bmean, bsd = _mean_sd([v["gct_balance_left_pct"] for v in base if v["gct_balance_left_pct"] is not None])
        bal_change = (
            bal is not None and bmean is not None and len(base) >= th.baseline_min_weeks
            and abs(bal - 50.0) > abs(bmean - 50.0)
            and abs(bal - bmean) >= max(th.balance_change_min_pct, 2.0 * max(bsd, th.sd_floor_balance_pct))
        )
        res["_base_balance"] = bmean
        has_gait = any(r[m] is not None for m in ("step_length_at_ref_speed_m", "speed_range_m_s"))
        compact = score is not None and score >= th.compact_moderate_z
        if has_gait:
            streak[0] = streak[0] + 1 if compact else 0
            streak[1] = streak[1] + 1 if bal_change else 0
            if not compact and not bal_change:
                past.append((r["week_start"], r))
        res["_compact_streak"] = streak[0] if compact else 0
        res["_balance_streak"] = streak[1] if bal_change else 0
        out.append(res)
    schema: dict[str, pl.DataType] = {"baseline_weeks": pl.Int32(), "compact_gait_score": pl.Float64()}
    for m in metrics:
        schema[f"_base_{m}"] = pl.Float64()
        schema[f"_sd_{m}"] = pl.Float64()
        schema[f"_z_{m}"] = pl.Float64()
    schema.update({"_base_balance": pl.Float64(), "_compact_streak": pl.Int32(), "_balance_streak": pl.Int32()})
    extra = pl.DataFrame(out, schema=schema)
    return pl.concat([grid, extra.select(list(schema))], how="horizontal")


def _mean_sd(vals: list[float]) -> tuple[float | None, float]:
    """Mean (None without values) and sample SD (0 with fewer than two values)."""
    if not vals:
        return None, 0.0
    mean = sum(vals) / len(vals)
    if len(vals) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((x - mean) ** 2 for x in vals) / (len(vals) - 1))


def _advice_windows(grid: pl.DataFrame, th: Thresholds) -> pl.DataFrame:
    """Sprint efforts and strength sessions over the last few weeks (advice flags)."""
    return grid.with_columns(
        _efforts_recent=pl.col("sprint_efforts").fill_null(0).rolling_sum(th.no_sprints_weeks, min_samples=1).over("athlete_id"),
        _strength_recent=pl.col("strength_sessions").rolling_sum(th.no_strength_weeks, min_samples=1).over("athlete_id"),
        _weeks_seen=pl.int_range(pl.len()).over("athlete_id") + 1,
    )


def asymmetry_level(left_pct: float | None, th: Thresholds = DEFAULT_THRESHOLDS) -> str | None:
    """Garmin GCT balance zone of max(L, 100 - L): ``balanced`` (<= 50.7 %), ``moderate``
    (<= 52.2 %), ``high`` (> 52.2 %); None without balance data."""
    if left_pct is None:
        return None
    dev = max(left_pct, 100.0 - left_pct)
    if dev <= th.balance_balanced_max_pct:
        return "balanced"
    if dev <= th.balance_moderate_max_pct:
        return "moderate"
    return "high"


def cadence_band(spm: float | None, th: Thresholds = DEFAULT_THRESHOLDS) -> str | None:
    """Garmin running-dynamics cadence colour band (population percentiles)."""
    if spm is None:
        return None
    if spm < th.cadence_band_red_max_spm:
        return "red (<5th percentile)"
    if spm < th.cadence_band_orange_max_spm:
        return "orange (5-29th percentile)"
    if spm < th.cadence_band_green_max_spm:
        return "green (30-69th percentile)"
    if spm < th.cadence_band_blue_max_spm:
        return "blue (70-95th percentile)"
    return "purple (>95th percentile)"


def _r(x: Any, nd: int = 3) -> Any:
    """Round floats for the JSON; non-finite numbers become null (JSON has no NaN)."""
    if isinstance(x, float):
        return round(x, nd) if math.isfinite(x) else None
    return x


def _flag(code: str, severity: str, reason: str, numbers: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": code,
        "severity": severity,
        "reason": reason,
        "numbers": {k: _r(v) for k, v in numbers.items()},
        "recommendation": RECOMMENDATIONS[code],
    }


def _judge(r: dict[str, Any], th: Thresholds) -> dict[str, Any]:
    """Flags, asymmetry level, missing data and risk level of one athlete-week row."""
    flags: list[dict[str, Any]] = []
    missing: list[str] = []
    runs = r["runs"]
    analysed = r["_analysed"] or 0.0
    has_gait = runs > 0 and analysed > 0
    if runs == 0:
        missing.append("no_runs")
    elif not has_gait:
        missing.append("no_gait_samples")
    else:
        if (r["_dyn_time"] or 0.0) <= 0:
            missing.append("no_running_dynamics")
        if (r["_bal_time"] or 0.0) < th.min_balance_share * analysed:
            missing.append("no_gct_balance")
        if (r["_cad_time"] or 0.0) <= 0:
            missing.append("no_cadence")
    if r["_pace_load"]:
        missing.append("no_heart_rate")
    history = r["_history_days"] or 0
    if history < th.acwr_min_history_days:
        missing.append("short_load_history")
    if r["baseline_weeks"] < th.baseline_min_weeks:
        missing.append("short_gait_baseline")

    # a new watch or dynamics sensor: gait baselines rebuild, compact gait is not judged
    since_change = r["_weeks_since_change"]
    rebuilding = since_change is not None and since_change <= th.device_quiet_weeks
    if rebuilding:
        missing.append("new_device_baseline")

    # compact gait vs own baseline: raises the level only when it persists
    score = r["compact_gait_score"]
    if score is not None and has_gait and score >= th.compact_moderate_z and not rebuilding:
        persists = r["_compact_streak"] >= th.change_persist_weeks
        sev = ("high" if score >= th.compact_high_z else "moderate") if persists else "info"
        nums: dict[str, Any] = {
            "compact_gait_score": score, "baseline_weeks": r["baseline_weeks"],
            "weeks_in_a_row": r["_compact_streak"],
        }
        for col in BASELINE_METRICS:
            nums[col] = r[col]
            nums[f"{col}_baseline"] = r[f"_base_{col}"]
            nums[f"{col}_z"] = None if r[f"_z_{col}"] is None else -r[f"_z_{col}"]
        nums["cadence_spm"] = r["cadence_spm"]
        nums["cadence_band"] = cadence_band(r["cadence_spm"], th)
        when = (
            f"for {r['_compact_streak']} gait weeks in a row" if persists
            else "this week (one week: noted, not rated until it persists)"
        )
        sl, sl_base = r["step_length_at_ref_speed_m"], r["_base_step_length_at_ref_speed_m"]
        step = (
            f" Step length at {th.ref_speed_m_s:g} m/s {sl:.2f} m against your usual "
            f"{sl_base:.2f} +- {r['_sd_step_length_at_ref_speed_m']:.2f} m."
            if sl is not None and sl_base is not None else ""
        )
        flags.append(_flag(
            "compact_gait", sev,
            f"Gait more compact than your previous {r['baseline_weeks']} weeks {when}: mean "
            f"z-score {score:.1f} over step length at {th.ref_speed_m_s:g} m/s, speed range, "
            f"sprint time and vertical oscillation (threshold {th.compact_moderate_z:g}).{step} "
            f"Gait data from {r['_gait_runs']} of {runs} runs.",
            nums,
        ))

    # asymmetry: only with balance data (never guessed). Garmin's population zones are
    # context; only a persistent change against the runner's own baseline counts, and
    # never as "high" (Malisoux 2024: no higher injury risk with asymmetry).
    level = None
    if has_gait and "no_gct_balance" not in missing and r["gct_balance_left_pct"] is not None:
        left = r["gct_balance_left_pct"]
        level = asymmetry_level(left, th)
        own = r["_balance_streak"] >= th.change_persist_weeks and not rebuilding
        if level in ("moderate", "high") or own:
            side = "left" if left > 50 else "right"
            base = r["_base_balance"]
            vs_own = (
                f"; your own baseline {max(base, 100 - base):.1f} %, changed for "
                f"{r['_balance_streak']} gait weeks in a row" if own and base is not None
                else "; close to your own usual balance or not yet persistent, so context only"
            )
            flags.append(_flag(
                "asymmetry", "moderate" if own else "info",
                f"Ground contact time balance {max(left, 100 - left):.1f} % towards the {side} "
                f"foot (Garmin zones: <= {th.balance_balanced_max_pct:g} % balanced, <= "
                f"{th.balance_moderate_max_pct:g} % moderate){vs_own}.",
                {"gct_balance_left_pct": left, "max_side_pct": max(left, 100 - left),
                 "symmetry_index_pct": r["symmetry_index_pct"], "baseline_left_pct": base,
                 "weeks_in_a_row": r["_balance_streak"], "garmin_zone": level},
            ))
        drift = r["_drift"]
        if drift is not None and abs(drift) > th.symmetry_drift_max_pct:
            flags.append(_flag(
                "asymmetry_drift", "info",
                f"Symmetry index changed by {drift:+.1f} points from the first to the last third "
                f"of your runs (limit {th.symmetry_drift_max_pct:g}).",
                {"symmetry_drift_pct": drift},
            ))

    # returns from a break: judged against the pre-break level, not the ACWR
    rweek = r["return_week"]
    returning = rweek is not None
    if returning:
        off = r["days_off_before"]
        shares = _return_shares(off, th)
        share = shares[rweek - 1] if rweek <= len(shares) else 1.0
        pre = r["prebreak_run_time_s"]
        nums = {"days_off": off, "return_week": rweek, "run_time_s": r["run_time_s"],
                "prebreak_run_time_s": pre, "allowed_share": share}
        if pre is not None and runs > 0 and r["run_time_s"] > share * pre:
            flags.append(_flag(
                "return_progression", "moderate",
                f"Returning after {off} days off, week {rweek}: {r['run_time_s'] / 60:.0f} min "
                f"of running is more than {share:.0%} of your pre-break "
                f"{pre / 60:.0f} min a week (Daniels 2014 return guidance).",
                nums,
            ))
        elif runs > 0:
            flags.append(_flag(
                "returning", "info",
                f"Returning after {off} days off, week {rweek}"
                + (f": {r['run_time_s'] / 60:.0f} min of running, within {share:.0%} of your "
                   f"pre-break {pre / 60:.0f} min a week." if pre is not None else "."),
                nums,
            ))

    # load: running only (cross-training and strength are shown, never a reason for a level)
    acwr = r["run_acwr"]
    run_history = r["_run_history_days"] or 0
    rose = r["_run_time_prev"] is not None and r["run_time_s"] > r["_run_time_prev"]
    if (
        acwr is not None and not returning and run_history >= th.acwr_min_history_days
        and acwr > th.acwr_moderate and rose
    ):
        # moderate at most: the ratio describes a change, it does not predict injury
        # (Impellizzeri 2021); "high" needs a second, independent finding
        much = "well " if acwr > th.acwr_high else ""
        flags.append(_flag(
            "load_spike", "moderate",
            f"Running load ratio {acwr:.2f} (acute 7-day over chronic 28-day EWMA) is {much}above "
            f"{th.acwr_moderate:g}, and running time {r['run_time_s'] / 60:.0f} min is more than "
            f"in any of the previous {th.load_spike_compare_weeks} weeks (at most "
            f"{r['_run_time_prev'] / 60:.0f} min): a sudden rise, described here, not a prediction.",
            {"run_acwr": acwr, "acwr_all_sports": r["acwr"], "run_load": r["run_load"],
             "week_load": r["load"], "run_time_s": r["run_time_s"],
             "previous_weeks_max_run_time_s": r["_run_time_prev"],
             "usual_range_low": th.acwr_low, "usual_range_high": th.acwr_moderate},
        ))
    prog = r["distance_progression_pct"]
    new_high = r["_run_dist_prev"] is not None and r["run_distance_m"] > r["_run_dist_prev"]
    if prog is not None and prog > th.distance_progression_max_pct and not returning and new_high:
        flags.append(_flag(
            "distance_progression", "moderate",
            f"Running distance {r['run_distance_m'] / 1000:.1f} km is {prog:.0f} % above the mean "
            f"of the two previous weeks (Nielsen 2014: > {th.distance_progression_max_pct:g} %) and "
            f"more than in any of the previous {th.load_spike_compare_weeks} weeks.",
            {"distance_progression_pct": prog, "run_distance_m": r["run_distance_m"]},
        ))
    mono = r["monotony"]
    if mono is not None and mono > th.monotony_high and (r["_load_days"] or 0) >= th.monotony_min_load_days:
        flags.append(_flag(
            "monotony", "info",
            f"Training monotony {mono:.2f} (mean / SD of daily load) above {th.monotony_high:g}: "
            "information only (Foster 1998 found thresholds differ between athletes).",
            {"monotony": mono, "strain": r["strain"], "week_load": r["load"]},
        ))
    if r["_device_change"] is not None and since_change is not None and rebuilding:
        left_weeks = th.device_quiet_weeks - since_change + 1
        flags.append(_flag(
            "new_device", "info",
            f"{r['_device_change'][0].upper()}{r['_device_change'][1:]} since "
            f"{r['device_changed_on']}: gait baselines rebuild over the next {left_weeks} "
            "week(s); compact gait is not judged until then.",
            {"device_changed_on": str(r["device_changed_on"]), "weeks_left": left_weeks},
        ))

    # cross-training and strength: counted, shown and encouraged, never a level
    n_cross, n_str = r["cross_training_sessions"], r["strength_sessions"]
    if n_cross or n_str:
        flags.append(_flag(
            "other_training", "info",
            f"{n_cross} cross-training and {n_str} strength session(s) this week "
            f"({r['other_load']:.0f} load points): counted and shown; load spikes judge "
            "running only.",
            {"cross_training_sessions": n_cross, "strength_sessions": n_str,
             "other_load": r["other_load"]},
        ))

    # advice (info: does not raise the risk level)
    if runs > 0 and r["_weeks_seen"] >= th.no_sprints_weeks and (r["_efforts_recent"] or 0) == 0 and has_gait:
        flags.append(_flag(
            "no_sprints", "info",
            f"No sprint or stride efforts in the last {th.no_sprints_weeks} weeks.",
            {"sprint_efforts": r["sprint_efforts"], "sprint_s": r["sprint_s"]},
        ))
    if runs > 0 and r["_weeks_seen"] >= th.no_strength_weeks and (r["_strength_recent"] or 0) == 0:
        flags.append(_flag(
            "no_strength", "info",
            f"No strength session recorded in the last {th.no_strength_weeks} weeks.",
            {"strength_sessions": r["strength_sessions"]},
        ))
    cad = r["cadence_spm"]
    if cad is not None and cad < th.cadence_band_red_max_spm:
        flags.append(_flag(
            "low_cadence", "info",
            f"Median step rate {cad:.0f} spm is in Garmin's lowest band (< "
            f"{th.cadence_band_red_max_spm:g} spm).",
            {"cadence_spm": cad, "suggested_spm_low": cad * (1 + th.step_rate_increase_min_pct / 100),
             "suggested_spm_high": cad * (1 + th.step_rate_increase_max_pct / 100)},
        ))

    serious = [f for f in flags if f["severity"] != "info"]
    families = {FAMILIES.get(f["code"], f["code"]) for f in serious}
    if any(f["severity"] == "high" for f in serious) or len(families) >= 2:
        risk = "high"
    elif serious:
        risk = "moderate"
    elif not has_gait or r["baseline_weeks"] < th.baseline_min_weeks:
        risk = "insufficient_data"
    else:
        risk = "low"
    return {
        "athlete_id": r["athlete_id"],
        "week_start": r["week_start"],
        "asymmetry_level": level,
        "risk_level": risk,
        "flags": [f["code"] for f in flags],
        "flag_details": json.dumps(flags, allow_nan=False),
        "missing_data": missing,
    }


def weeks_to_recompute(
    activities: pl.DataFrame,
    athletes: pl.DataFrame | None,
    since: date | datetime,
    athlete_ids: list[str] | None = None,
) -> pl.DataFrame:
    """Weeks whose ``weekly_risk`` rows change when activities on/after ``since`` change.

    That is the week containing ``since`` (the athlete's local date; a tz-aware datetime is
    converted per athlete) and every later week up to the athlete's last week with data:
    the chronic EWMA carries every day's load forward indefinitely, and the trailing
    baseline carries each week into the next ``baseline_weeks``. Returns ``athlete_id``,
    ``iso_week``, ``week_start``; pass ``min(week_start)`` as ``weekly_risk(from_week=)``.
    """
    acts = activities if athlete_ids is None else activities.filter(pl.col("athlete_id").is_in(athlete_ids))
    if acts.height == 0:
        return pl.DataFrame(schema={"athlete_id": pl.String(), "iso_week": pl.String(), "week_start": pl.Date()})
    acts = local_start(acts.select("athlete_id", "started_at", *(
        ["local_offset_s"] if "local_offset_s" in acts.columns else []
    )), athletes)
    if isinstance(since, datetime) and since.tzinfo is not None:
        probe = acts.select("athlete_id").unique().with_columns(
            started_at=pl.lit(since).cast(pl.Datetime("us", "UTC")),
            local_offset_s=pl.lit(None, pl.Int32()),
        )
        start = local_start(probe, athletes).select("athlete_id", _since="local_date")
    else:
        d = since.date() if isinstance(since, datetime) else since
        start = acts.select("athlete_id").unique().with_columns(_since=pl.lit(d))
    span = acts.group_by("athlete_id").agg(_last=pl.col("local_date").max()).join(start, on="athlete_id")
    span = span.filter(pl.col("_since") <= pl.col("_last")).select(
        "athlete_id",
        week_start=pl.date_ranges(
            pl.col("_since").dt.truncate("1w"), pl.col("_last").dt.truncate("1w"), interval="1w"
        ),
    ).explode("week_start")
    return span.select("athlete_id", iso_week_label().alias("iso_week"), "week_start").sort(
        "athlete_id", "week_start"
    )
