"""Output schemas of the gait analytics, persisted by the warehouse as
``activity_gait`` and ``weekly_risk``. The warehouse DDL must match these (a test checks).

Input contract: transforms receive frames read back from the warehouse:
- samples: ``activity_id`` + ``athlete_id`` + the columns of ``ingest.schema.SAMPLE_SCHEMA``
- activities: ``ACTIVITY_INPUT_SCHEMA`` (one row per activity, any sport)
"""

from __future__ import annotations

import polars as pl

from ingest.schema import UTC_TS

# One row per activity, any sport: what weekly aggregation needs besides activity_gait.
ACTIVITY_INPUT_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "athlete_id": pl.String(),
    "sport": pl.String(),
    "sub_sport": pl.String(),
    "started_at": UTC_TS,
    "local_offset_s": pl.Int32(),  # may be null: then the athlete's configured time zone is used
    "duration_s": pl.Float64(),  # timer time (moving), seconds
    "elapsed_s": pl.Float64(),
    "distance_m": pl.Float64(),
    "avg_heart_rate_bpm": pl.Float64(),
}

# Grain: one row per running activity (sport running, any sub-sport).
ACTIVITY_GAIT_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "athlete_id": pl.String(),
    "started_at": UTC_TS,
    "moving_s": pl.Float64(),  # running time moving, s
    "analysed_s": pl.Float64(),  # running, moving, flat samples used for gait metrics, s
    "distance_m": pl.Float64(),
    "steady_share": pl.Float64(),  # 0-1, share of moving time in steady-pace segments
    "cadence_median_spm": pl.Float64(),
    "cadence_cv_pct": pl.Float64(),  # coefficient of variation on steady segments, %
    "step_length_median_m": pl.Float64(),
    "step_length_cv_pct": pl.Float64(),
    "step_length_at_ref_speed_m": pl.Float64(),  # from the within-run step length / speed fit
    "ref_speed_m_s": pl.Float64(),  # the reference speed used (config)
    "speed_p10_m_s": pl.Float64(),
    "speed_p50_m_s": pl.Float64(),
    "speed_p90_m_s": pl.Float64(),
    "speed_range_m_s": pl.Float64(),  # p90 - p10
    "max_speed_m_s": pl.Float64(),  # robust max (e.g. 99th pct or 5 s rolling max)
    "sprint_threshold_m_s": pl.Float64(),  # athlete's threshold used for this run
    "sprint_s": pl.Float64(),  # time above the sprint threshold, s
    "sprint_efforts": pl.Int32(),  # count of short fast efforts (>= min duration above threshold)
    "gct_balance_mean_left_pct": pl.Float64(),
    "gct_balance_dev_pct": pl.Float64(),  # |mean - 50|, percentage points
    "symmetry_index_pct": pl.Float64(),  # Robinson SI = (L - R) / (0.5 (L + R)) x 100; + = left longer
    "symmetry_drift_pct": pl.Float64(),  # SI last third - SI first third
    "stance_time_median_ms": pl.Float64(),
    "vertical_oscillation_median_mm": pl.Float64(),
    "vertical_ratio_median_pct": pl.Float64(),
    "dynamics_share": pl.Float64(),  # 0-1, share of analysed time with running dynamics (stance time)
    "balance_share": pl.Float64(),  # 0-1, share of analysed time with GCT balance
    "cadence_share": pl.Float64(),  # 0-1, share with cadence
    "trimp": pl.Float64(),  # training load of the run (session RPE-free proxy; see docs/metrics.md)
    # appended by the transforms helper (issue 4):
    "cadence_mean_spm": pl.Float64(),  # steps / running timer time incl. stops (comparable to the device's session average)
    "hr_share": pl.Float64(),  # 0-1, share of moving running time with heart rate
    "load_method": pl.String(),  # "hr_trimp" (Banister TRIMP from HR) | "pace_duration" (no HR; see docs/metrics.md)
}

# Grain: one row per running activity, chart kind and bin (transforms/chartbins.py):
# the histograms behind the weekly report's speed, cadence and step-length charts.
CHART_BINS_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "kind": pl.String(),  # step | cadence | speed | total
    "speed_bin_m_s": pl.Float64(),  # lower edge of the speed bin (step, speed)
    "cadence_bin_spm": pl.Float64(),  # lower edge of the cadence bin (cadence)
    "step_length_mm": pl.Int32(),  # step length to the millimetre (step)
    "seconds": pl.Float64(),  # running, moving time in the bin (total: all of it), s
    "binned_at": UTC_TS,  # when the bins were written (total rows only)
}

# Grain: one row per athlete per ISO week (athlete's local time) from the first to the last week with data.
WEEKLY_RISK_SCHEMA: dict[str, pl.DataType] = {
    "athlete_id": pl.String(),
    "iso_week": pl.String(),  # "2026-W47"
    "week_start": pl.Date(),  # Monday, local
    "runs": pl.Int32(),
    "run_distance_m": pl.Float64(),
    "run_time_s": pl.Float64(),
    "long_run_m": pl.Float64(),
    "load": pl.Float64(),  # sum of daily loads
    "acute_load": pl.Float64(),  # EWMA, 7-day time constant
    "chronic_load": pl.Float64(),  # EWMA, 28-day time constant
    "acwr": pl.Float64(),  # acute / chronic (uncoupled EWMA); descriptive only
    "monotony": pl.Float64(),  # Foster: mean daily load / sd daily load
    "strain": pl.Float64(),  # Foster: weekly load x monotony
    "cross_training_sessions": pl.Int32(),  # cycling, swimming, other non-running sports
    "strength_sessions": pl.Int32(),  # FIT training / strength_training
    "sprint_s": pl.Float64(),
    "sprint_efforts": pl.Int32(),
    "step_length_at_ref_speed_m": pl.Float64(),
    "speed_range_m_s": pl.Float64(),
    "vertical_oscillation_mm": pl.Float64(),
    "cadence_spm": pl.Float64(),
    "gct_balance_left_pct": pl.Float64(),
    "symmetry_index_pct": pl.Float64(),
    "compact_gait_score": pl.Float64(),  # mean of signed z-scores vs trailing baseline (higher = more compact)
    "asymmetry_level": pl.String(),  # "balanced" | "moderate" | "high" | null when no balance data
    "baseline_weeks": pl.Int32(),  # weeks in the trailing baseline actually available
    "risk_level": pl.String(),  # "low" | "moderate" | "high" | "insufficient_data"
    "flags": pl.List(pl.String()),  # codes: compact_gait, asymmetry, load_spike, monotony, no_sprints, no_strength, ...
    "flag_details": pl.String(),  # JSON list of {code, severity, reason, numbers{...}, recommendation}
    "missing_data": pl.List(pl.String()),  # e.g. "no_running_dynamics", "no_gct_balance", "no_cadence"
    # appended by the transforms helper (issue 4):
    "distance_progression_pct": pl.Float64(),  # run distance vs mean of the 2 previous weeks, % change (Nielsen 2014)
    # appended by the flags helper (issue 14, migration 006):
    "run_load": pl.Float64(),  # running part of load; load spikes judge running only
    "other_load": pl.Float64(),  # cross-training and strength load (shown, never raises the level)
    "run_acwr": pl.Float64(),  # running acute:chronic ratio (uncoupled EWMA); load_spike reads this
    "days_off_before": pl.Int32(),  # return weeks: days without running before the return, else null
    "return_week": pl.Int32(),  # 1, 2, ... in the weeks after a break, else null
    "prebreak_run_time_s": pl.Float64(),  # return weeks: mean weekly running time before the break
    "device_changed_on": pl.Date(),  # local date of the last new watch / dynamics sensor, null if none
}
