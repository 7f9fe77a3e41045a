-- 002: analyst views. Stable, documented names; analysts query these, not the tables,
-- wherever a view fits (the tables are documented too).

CREATE VIEW v_activities AS
SELECT
    a.activity_id,
    a.athlete_id,
    ath.name AS athlete_name,
    a.sport,
    a.sub_sport,
    a.started_at,
    CASE
        WHEN a.local_offset_s IS NOT NULL
            THEN (a.started_at AT TIME ZONE 'UTC') + to_seconds(a.local_offset_s)
        ELSE a.started_at AT TIME ZONE coalesce(ath.timezone, 'UTC')
    END AS started_local,
    a.duration_s,
    a.elapsed_s,
    a.distance_m / 1000.0 AS distance_km,
    a.avg_heart_rate_bpm,
    a.format,
    a.device,
    a.n_samples,
    a.has_gps,
    a.has_running_dynamics,
    a.has_gct_balance,
    a.source_file
FROM activities AS a
LEFT JOIN athletes AS ath USING (athlete_id);
COMMENT ON VIEW v_activities IS 'Grain: one row per activity, any sport, with local start time and the athlete name.';
COMMENT ON COLUMN v_activities.activity_id IS 'Activity id (activities.activity_id)';
COMMENT ON COLUMN v_activities.athlete_id IS 'Athlete slug';
COMMENT ON COLUMN v_activities.athlete_name IS 'Athlete display name or null';
COMMENT ON COLUMN v_activities.sport IS 'Primary sport, lower-case FIT vocabulary';
COMMENT ON COLUMN v_activities.sub_sport IS 'Primary sub-sport or null';
COMMENT ON COLUMN v_activities.started_at IS 'Start, UTC';
COMMENT ON COLUMN v_activities.started_local IS 'Start in local wall-clock time (file UTC offset, else the athlete time zone, else UTC), no time zone';
COMMENT ON COLUMN v_activities.duration_s IS 'Timer (moving/recording) time, seconds';
COMMENT ON COLUMN v_activities.elapsed_s IS 'Wall time including pauses, seconds';
COMMENT ON COLUMN v_activities.distance_km IS 'Distance, kilometres';
COMMENT ON COLUMN v_activities.avg_heart_rate_bpm IS 'Average heart rate, beats per minute';
COMMENT ON COLUMN v_activities.format IS 'Source file format: fit, tcx or gpx';
COMMENT ON COLUMN v_activities.device IS 'Human device label';
COMMENT ON COLUMN v_activities.n_samples IS 'Number of samples';
COMMENT ON COLUMN v_activities.has_gps IS 'True when at least one sample has a position';
COMMENT ON COLUMN v_activities.has_running_dynamics IS 'True when ground contact time, vertical oscillation or step length was recorded';
COMMENT ON COLUMN v_activities.has_gct_balance IS 'True when ground-contact-time balance was recorded';
COMMENT ON COLUMN v_activities.source_file IS 'Input file name as dropped';

CREATE VIEW v_runs AS
SELECT
    a.activity_id,
    a.athlete_id,
    a.athlete_name,
    a.sub_sport,
    a.started_at,
    a.started_local,
    a.distance_km,
    a.duration_s,
    CASE WHEN a.distance_km > 0 THEN a.duration_s / 60.0 / a.distance_km END AS pace_min_per_km,
    a.avg_heart_rate_bpm,
    a.device,
    a.has_running_dynamics,
    a.has_gct_balance,
    g.activity_id IS NOT NULL AS gait_computed,
    g.cadence_median_spm,
    g.step_length_median_m,
    g.step_length_at_ref_speed_m,
    g.speed_range_m_s,
    g.sprint_s,
    g.stance_time_median_ms,
    g.vertical_oscillation_median_mm,
    g.gct_balance_mean_left_pct,
    g.symmetry_index_pct,
    g.trimp
FROM v_activities AS a
LEFT JOIN activity_gait AS g USING (activity_id)
WHERE a.sport = 'running';
COMMENT ON VIEW v_runs IS 'Grain: one row per running activity (sport running, any sub-sport) with its main gait metrics (null until computed).';
COMMENT ON COLUMN v_runs.activity_id IS 'Activity id';
COMMENT ON COLUMN v_runs.athlete_id IS 'Athlete slug';
COMMENT ON COLUMN v_runs.athlete_name IS 'Athlete display name or null';
COMMENT ON COLUMN v_runs.sub_sport IS 'Sub-sport (treadmill, trail ...) or null';
COMMENT ON COLUMN v_runs.started_at IS 'Start, UTC';
COMMENT ON COLUMN v_runs.started_local IS 'Start in local wall-clock time, no time zone';
COMMENT ON COLUMN v_runs.distance_km IS 'Distance, kilometres';
COMMENT ON COLUMN v_runs.duration_s IS 'Timer (moving/recording) time, seconds';
COMMENT ON COLUMN v_runs.pace_min_per_km IS 'Average pace over timer time, minutes per kilometre';
COMMENT ON COLUMN v_runs.avg_heart_rate_bpm IS 'Average heart rate, beats per minute';
COMMENT ON COLUMN v_runs.device IS 'Human device label';
COMMENT ON COLUMN v_runs.has_running_dynamics IS 'True when ground contact time, vertical oscillation or step length was recorded';
COMMENT ON COLUMN v_runs.has_gct_balance IS 'True when ground-contact-time balance was recorded';
COMMENT ON COLUMN v_runs.gait_computed IS 'True when activity_gait has a row for this run';
COMMENT ON COLUMN v_runs.cadence_median_spm IS 'Median cadence, steps per minute';
COMMENT ON COLUMN v_runs.step_length_median_m IS 'Median step length, metres';
COMMENT ON COLUMN v_runs.step_length_at_ref_speed_m IS 'Step length at the reference speed, metres';
COMMENT ON COLUMN v_runs.speed_range_m_s IS 'Speed range p90 - p10, metres per second';
COMMENT ON COLUMN v_runs.sprint_s IS 'Time above the sprint threshold, seconds';
COMMENT ON COLUMN v_runs.stance_time_median_ms IS 'Median ground contact time, milliseconds';
COMMENT ON COLUMN v_runs.vertical_oscillation_median_mm IS 'Median vertical oscillation, millimetres';
COMMENT ON COLUMN v_runs.gct_balance_mean_left_pct IS 'Mean ground-contact-time balance, % on the left foot';
COMMENT ON COLUMN v_runs.symmetry_index_pct IS 'Robinson symmetry index, %; positive = longer contact on the left';
COMMENT ON COLUMN v_runs.trimp IS 'Training load of the run (arbitrary units)';

CREATE VIEW v_weekly_risk AS
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
    w.flag_details
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

CREATE VIEW v_ingest_problems AS
SELECT
    l.athlete_id,
    l.source_file,
    l.status,
    l.reason,
    l.error_type,
    l.size_bytes,
    l.sha256,
    l.first_seen_at,
    l.seen_at
FROM ingest_log AS l
WHERE l.status IN ('rejected', 'skipped');
COMMENT ON VIEW v_ingest_problems IS 'Grain: one row per input (file, or activity inside a file) that was rejected or skipped, with the reason.';
COMMENT ON COLUMN v_ingest_problems.athlete_id IS 'Athlete slug the input was dropped for';
COMMENT ON COLUMN v_ingest_problems.source_file IS 'Input file name as dropped, with the path inside archives';
COMMENT ON COLUMN v_ingest_problems.status IS 'rejected (an error) or skipped (readable, not an activity)';
COMMENT ON COLUMN v_ingest_problems.reason IS 'One readable line saying why';
COMMENT ON COLUMN v_ingest_problems.error_type IS 'gaitwatch error class';
COMMENT ON COLUMN v_ingest_problems.size_bytes IS 'Size of the input, bytes';
COMMENT ON COLUMN v_ingest_problems.sha256 IS 'SHA-256 of the bytes (hex) or null';
COMMENT ON COLUMN v_ingest_problems.first_seen_at IS 'When first read, UTC';
COMMENT ON COLUMN v_ingest_problems.seen_at IS 'When last read, UTC';
