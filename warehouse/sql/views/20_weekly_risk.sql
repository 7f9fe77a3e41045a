-- Current definitions (warehouse/sql/views/): applied with CREATE OR REPLACE after the
-- migrations whenever a file here changes or a migration ran (warehouse/migrate.py).
-- Change a view here, not in a migration (a migration that drops a view for a table
-- change leaves its re-creation to this folder). Grain and columns: the COMMENTs.
-- The weekly screening: one row per athlete per ISO week.

CREATE OR REPLACE VIEW v_weekly_risk AS
SELECT
    w.athlete_id,
    ath.name AS athlete_name,
    w.iso_week,
    w.week_start,
    w.risk_level,
    array_to_string(w.flags, ', ') AS flags,
    w.runs,
    w.run_distance_m / 1000.0 AS run_distance_km,
    w.run_time_s / 3600.0 AS run_time_h,
    w."load",
    w.acwr,
    w.monotony,
    w.compact_gait_score,
    w.asymmetry_level,
    w.sprint_s,
    w.strength_sessions,
    w.baseline_weeks,
    array_to_string(w.missing_data, ', ') AS missing_data,
    w.flag_details,
    w.run_load,
    w.other_load,
    w.run_acwr,
    w.cross_training_sessions,
    w.days_off_before,
    w.return_week,
    w.device_changed_on
FROM weekly_risk AS w
LEFT JOIN athletes AS ath USING (athlete_id);
COMMENT ON VIEW v_weekly_risk IS 'Grain: one row per athlete per ISO week (athlete local time): risk level, flags and the numbers behind them. Screening heuristics, never diagnoses.';
COMMENT ON COLUMN v_weekly_risk.athlete_id IS 'Athlete slug';
COMMENT ON COLUMN v_weekly_risk.athlete_name IS 'Athlete display name or null';
COMMENT ON COLUMN v_weekly_risk.iso_week IS 'ISO week label, e.g. 2026-W47';
COMMENT ON COLUMN v_weekly_risk.week_start IS 'Monday of the week, local date';
COMMENT ON COLUMN v_weekly_risk.risk_level IS 'low, moderate, high or insufficient_data';
COMMENT ON COLUMN v_weekly_risk.flags IS 'Flag codes raised this week, comma-separated';
COMMENT ON COLUMN v_weekly_risk.runs IS 'Number of runs';
COMMENT ON COLUMN v_weekly_risk.run_distance_km IS 'Running distance, kilometres';
COMMENT ON COLUMN v_weekly_risk.run_time_h IS 'Running time, hours';
COMMENT ON COLUMN v_weekly_risk."load" IS 'Sum of daily training loads (arbitrary units)';
COMMENT ON COLUMN v_weekly_risk.acwr IS 'Acute:chronic workload ratio (uncoupled EWMA), descriptive only';
COMMENT ON COLUMN v_weekly_risk.monotony IS 'Foster monotony: mean daily load / standard deviation of daily load';
COMMENT ON COLUMN v_weekly_risk.compact_gait_score IS 'Mean signed z-score against the trailing baseline (higher = more compact gait)';
COMMENT ON COLUMN v_weekly_risk.asymmetry_level IS 'balanced, moderate, high, or null without balance data';
COMMENT ON COLUMN v_weekly_risk.sprint_s IS 'Time above the sprint threshold, seconds';
COMMENT ON COLUMN v_weekly_risk.strength_sessions IS 'Strength sessions recorded';
COMMENT ON COLUMN v_weekly_risk.baseline_weeks IS 'Weeks available in the trailing baseline';
COMMENT ON COLUMN v_weekly_risk.missing_data IS 'What was missing, comma-separated (no_running_dynamics, no_gct_balance, no_cadence ...)';
COMMENT ON COLUMN v_weekly_risk.flag_details IS 'JSON text: list of {code, severity, reason, numbers, recommendation}';
COMMENT ON COLUMN v_weekly_risk.run_load IS 'Running part of the weekly load (arbitrary units)';
COMMENT ON COLUMN v_weekly_risk.other_load IS 'Cross-training and strength part of the weekly load (arbitrary units)';
COMMENT ON COLUMN v_weekly_risk.run_acwr IS 'Running acute:chronic load ratio, descriptive';
COMMENT ON COLUMN v_weekly_risk.cross_training_sessions IS 'Cycling, swimming and other non-running sessions';
COMMENT ON COLUMN v_weekly_risk.days_off_before IS 'Days without running before the return, in the weeks after a break; else null';
COMMENT ON COLUMN v_weekly_risk.return_week IS 'Week 1, 2, ... after a break in running; else null';
COMMENT ON COLUMN v_weekly_risk.device_changed_on IS 'Local date of the last new watch or running-dynamics sensor; null if none';
