-- Current definitions (warehouse/sql/views/): applied with CREATE OR REPLACE after the
-- migrations whenever a file here changes or a migration ran (warehouse/migrate.py).
-- Change a view here, not in a migration (a migration that drops a view for a table
-- change leaves its re-creation to this folder). Grain and columns: the COMMENTs.
-- Activities: v_activities (every activity with its local start) and v_runs (runs with
-- their gait metrics, built on v_activities).

CREATE OR REPLACE VIEW v_activities AS
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
    a.source_file,
    a.name,
    a.description,
    a.summary_only,
    a.source
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
COMMENT ON COLUMN v_activities.format IS 'Source file format: fit, tcx or gpx; summary for summary-only activities';
COMMENT ON COLUMN v_activities.device IS 'Human device label';
COMMENT ON COLUMN v_activities.n_samples IS 'Number of samples (0 for summary-only activities)';
COMMENT ON COLUMN v_activities.has_gps IS 'True when at least one sample has a position';
COMMENT ON COLUMN v_activities.has_running_dynamics IS 'True when ground contact time, vertical oscillation or step length was recorded';
COMMENT ON COLUMN v_activities.has_gct_balance IS 'True when ground-contact-time balance was recorded';
COMMENT ON COLUMN v_activities.source_file IS 'Input file name as dropped';
COMMENT ON COLUMN v_activities.name IS 'Activity name (export list, else file), free text, or null';
COMMENT ON COLUMN v_activities.description IS 'Activity description (export list or journal text), free text, or null';
COMMENT ON COLUMN v_activities.summary_only IS 'True when known only from a summary (no samples, no gait metrics)';
COMMENT ON COLUMN v_activities.source IS 'file, strava_csv, garmin_json or journal';

CREATE OR REPLACE VIEW v_runs AS
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
    g.trimp,
    a.name,
    a.description,
    a.summary_only
FROM v_activities AS a
LEFT JOIN activity_gait AS g USING (activity_id)
WHERE a.sport = 'running';
COMMENT ON VIEW v_runs IS 'Grain: one row per running activity (sport running, any sub-sport) with its main gait metrics (null until computed; always null for summary-only runs).';
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
COMMENT ON COLUMN v_runs.name IS 'Activity name (export list, else file), free text, or null';
COMMENT ON COLUMN v_runs.description IS 'Activity description from the export list, free text, or null';
COMMENT ON COLUMN v_runs.summary_only IS 'True for a run known only from a summary (manual entry, file missing): no gait metrics';
