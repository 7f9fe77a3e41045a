-- Current definitions (warehouse/sql/views/): applied with CREATE OR REPLACE after the
-- migrations whenever a file here changes or a migration ran (warehouse/migrate.py).
-- Change a view here, not in a migration (a migration that drops a view for a table
-- change leaves its re-creation to this folder). Grain and columns: the COMMENTs.
-- The views the weekly reports read (issue 13 item 4). Reports query only v_* views;
-- local start time comes from v_activities.started_local (one definition), and the
-- per-sample interval, speed, step rate and step length are computed here exactly as
-- transforms/gait.py computes them (interval_s, speed_calc_m_s, steps_per_min,
-- step_length_m), so a chart and a metric cannot disagree. The thresholds are the ones
-- the metrics used, read from thresholds_in_use (migration 010, written by the metrics
-- stage with gaitwatch.toml [thresholds] applied). A name without a row there (a database
-- whose metrics never ran on data) takes its transforms/thresholds.py default, written
-- once below in the CTE th (tests/test_reports_views.py checks those numbers and the
-- results against the polars functions; tests/test_thresholds_in_use.py checks overrides).

CREATE OR REPLACE VIEW v_report_weeks AS
SELECT
    w.athlete_id,
    ath.name AS athlete_name,
    w.iso_week,
    w.week_start,
    w.risk_level,
    w.flags AS flag_codes,
    w.runs,
    w.cross_training_sessions,
    w.strength_sessions,
    w.run_distance_m,
    w."load",
    w.acwr,
    w.compact_gait_score,
    w.asymmetry_level,
    w.baseline_weeks,
    w.missing_data AS missing_codes,
    w.flag_details,
    w.run_load,
    w.other_load,
    w.run_acwr,
    w.days_off_before,
    w.return_week,
    w.prebreak_run_time_s,
    w.device_changed_on
FROM weekly_risk AS w
LEFT JOIN athletes AS ath USING (athlete_id);
COMMENT ON VIEW v_report_weeks IS 'Grain: one row per athlete per ISO week (athlete local time) with what the weekly report shows; flags and missing data as lists.';
COMMENT ON COLUMN v_report_weeks.athlete_id IS 'Athlete slug';
COMMENT ON COLUMN v_report_weeks.athlete_name IS 'Athlete display name or null';
COMMENT ON COLUMN v_report_weeks.iso_week IS 'ISO week label, e.g. 2026-W47';
COMMENT ON COLUMN v_report_weeks.week_start IS 'Monday of the week, local date';
COMMENT ON COLUMN v_report_weeks.risk_level IS 'low, moderate, high or insufficient_data';
COMMENT ON COLUMN v_report_weeks.flag_codes IS 'Flag codes raised this week, as a list';
COMMENT ON COLUMN v_report_weeks.runs IS 'Number of runs';
COMMENT ON COLUMN v_report_weeks.cross_training_sessions IS 'Cross-training sessions (cycling, swimming ...)';
COMMENT ON COLUMN v_report_weeks.strength_sessions IS 'Strength sessions recorded';
COMMENT ON COLUMN v_report_weeks.run_distance_m IS 'Running distance, metres';
COMMENT ON COLUMN v_report_weeks."load" IS 'Sum of daily training loads (arbitrary units)';
COMMENT ON COLUMN v_report_weeks.acwr IS 'Acute:chronic workload ratio (uncoupled EWMA), descriptive only';
COMMENT ON COLUMN v_report_weeks.compact_gait_score IS 'Mean signed z-score against the trailing baseline (higher = more compact gait)';
COMMENT ON COLUMN v_report_weeks.asymmetry_level IS 'balanced, moderate, high, or null without balance data';
COMMENT ON COLUMN v_report_weeks.baseline_weeks IS 'Weeks available in the trailing baseline';
COMMENT ON COLUMN v_report_weeks.missing_codes IS 'What was missing, as a list (no_running_dynamics, no_gct_balance, no_cadence ...)';
COMMENT ON COLUMN v_report_weeks.flag_details IS 'JSON text: list of {code, severity, reason, numbers, recommendation}';
COMMENT ON COLUMN v_report_weeks.run_load IS 'Running part of the weekly load (arbitrary units)';
COMMENT ON COLUMN v_report_weeks.other_load IS 'Cross-training and strength part of the weekly load (arbitrary units)';
COMMENT ON COLUMN v_report_weeks.run_acwr IS 'Running acute:chronic load ratio, descriptive';
COMMENT ON COLUMN v_report_weeks.days_off_before IS 'Days without running before the return, in the weeks after a break; else null';
COMMENT ON COLUMN v_report_weeks.return_week IS 'Week 1, 2, ... after a break in running; else null';
COMMENT ON COLUMN v_report_weeks.prebreak_run_time_s IS 'In return weeks: mean weekly running time before the break, seconds; null without regular training before it (weekly_risk.prebreak_run_time_s)';
COMMENT ON COLUMN v_report_weeks.device_changed_on IS 'Local date of the last new watch or running-dynamics sensor; null if none';

CREATE OR REPLACE VIEW v_report_activities AS
SELECT
    a.activity_id,
    a.athlete_id,
    a.sport,
    a.sub_sport,
    n.name,
    n.sha256 AS file_sha256,
    a.started_at,
    a.started_local,
    CAST(date_trunc('week', a.started_local) AS DATE) AS week_start_local,
    a.duration_s,
    a.distance_km * 1000.0 AS distance_m,
    g.moving_s AS gait_moving_s,
    g.distance_m AS gait_distance_m,
    g.cadence_median_spm,
    g.step_length_at_ref_speed_m,
    g.ref_speed_m_s,
    g.sprint_threshold_m_s,
    g.sprint_s,
    g.gct_balance_mean_left_pct,
    g.trimp,
    a.description,
    coalesce(a.summary_only, FALSE) AS summary_only,
    a.source
FROM v_activities AS a
JOIN activities AS n USING (activity_id)
LEFT JOIN activity_gait AS g USING (activity_id);
COMMENT ON VIEW v_report_activities IS 'Grain: one row per activity, any sport, with its local start, local ISO week and (for runs) the gait numbers the weekly report shows.';
COMMENT ON COLUMN v_report_activities.activity_id IS 'Activity id';
COMMENT ON COLUMN v_report_activities.athlete_id IS 'Athlete slug';
COMMENT ON COLUMN v_report_activities.sport IS 'Primary sport, lower-case FIT vocabulary';
COMMENT ON COLUMN v_report_activities.sub_sport IS 'Primary sub-sport or null';
COMMENT ON COLUMN v_report_activities.name IS 'Activity name (export list, else file), untrusted free text, or null';
COMMENT ON COLUMN v_report_activities.file_sha256 IS 'SHA-256 of the stored file: changes when a corrected file replaces the activity';
COMMENT ON COLUMN v_report_activities.started_at IS 'Start, UTC';
COMMENT ON COLUMN v_report_activities.started_local IS 'Start in local wall-clock time (v_activities.started_local), no time zone';
COMMENT ON COLUMN v_report_activities.week_start_local IS 'Monday of the local ISO week of the start';
COMMENT ON COLUMN v_report_activities.duration_s IS 'Timer (moving/recording) time, seconds';
COMMENT ON COLUMN v_report_activities.distance_m IS 'Distance, metres';
COMMENT ON COLUMN v_report_activities.gait_moving_s IS 'Moving time from the gait analysis, seconds (null until computed or for other sports)';
COMMENT ON COLUMN v_report_activities.gait_distance_m IS 'Distance from the gait analysis, metres';
COMMENT ON COLUMN v_report_activities.cadence_median_spm IS 'Median cadence, steps per minute';
COMMENT ON COLUMN v_report_activities.step_length_at_ref_speed_m IS 'Step length at the reference speed, metres';
COMMENT ON COLUMN v_report_activities.ref_speed_m_s IS 'Reference speed of the step-length regression, metres per second';
COMMENT ON COLUMN v_report_activities.sprint_threshold_m_s IS 'Athlete sprint threshold used for this run, metres per second';
COMMENT ON COLUMN v_report_activities.sprint_s IS 'Time above the sprint threshold, seconds';
COMMENT ON COLUMN v_report_activities.gct_balance_mean_left_pct IS 'Mean ground-contact-time balance, % on the left foot';
COMMENT ON COLUMN v_report_activities.trimp IS 'Training load of the run (arbitrary units)';
COMMENT ON COLUMN v_report_activities.description IS 'Activity description (export list or journal text), untrusted free text, or null';
COMMENT ON COLUMN v_report_activities.summary_only IS 'True for an activity known only from a summary (export list without a file, journal entry): no recording, no gait metrics';
COMMENT ON COLUMN v_report_activities.source IS 'file, strava_csv, garmin_json or journal';

CREATE OR REPLACE VIEW v_report_samples AS
WITH th AS (
    -- one row: each threshold in use, else its default (no metrics run yet)
    SELECT
        coalesce(max(value) FILTER (WHERE name = 'max_sample_gap_s'), 10.0) AS max_gap_s,
        coalesce(max(value) FILTER (WHERE name = 'moving_speed_min_m_s'), 1.0) AS moving_min_m_s,
        coalesce(max(value) FILTER (WHERE name = 'cadence_valid_min_spm'), 60.0) AS spm_min,
        coalesce(max(value) FILTER (WHERE name = 'cadence_valid_max_spm'), 260.0) AS spm_max,
        coalesce(max(value) FILTER (WHERE name = 'step_length_valid_min_m'), 0.2) AS sl_min_m,
        coalesce(max(value) FILTER (WHERE name = 'step_length_valid_max_m'), 3.0) AS sl_max_m
    FROM thresholds_in_use
), d AS (
    SELECT
        s.activity_id,
        s.session_index,
        s.ts,
        coalesce(s.sport = 'running', FALSE) AS is_running,
        s.speed_m_s,
        s.cadence_spm,
        s.step_length_m,
        epoch_us(s.ts - lag(s.ts) OVER w) / 1e6 AS raw_s,
        s.distance_m - lag(s.distance_m) OVER w AS raw_dist_m
    FROM samples AS s
    WINDOW w AS (PARTITION BY s.activity_id, s.session_index ORDER BY s.ts)
), i AS (
    SELECT
        d.*,
        th.*,
        -- transforms/gait.py interval_s: 0 for the first sample and for gaps > max_gap_s
        CASE WHEN raw_s > 0 AND raw_s <= max_gap_s THEN raw_s ELSE 0.0 END AS interval_s
    FROM d CROSS JOIN th
), v AS (
    SELECT
        *,
        -- speed_calc_m_s: the device speed, else the distance step over the interval
        coalesce(speed_m_s,
                 CASE WHEN interval_s > 0 AND raw_dist_m >= 0 THEN raw_dist_m / interval_s END)
            AS speed_calc_m_s
    FROM i
), c AS (
    SELECT
        *,
        CASE
            WHEN is_running AND cadence_spm BETWEEN spm_min AND spm_max THEN cadence_spm
            WHEN is_running AND cadence_spm IS NULL AND step_length_m BETWEEN sl_min_m AND sl_max_m
                 AND 60.0 * speed_calc_m_s / step_length_m BETWEEN spm_min AND spm_max
                THEN 60.0 * speed_calc_m_s / step_length_m
        END AS steps_per_min
    FROM v
)
SELECT
    activity_id,
    session_index,
    ts,
    is_running,
    interval_s,
    speed_calc_m_s,
    steps_per_min,
    CASE
        WHEN is_running AND step_length_m BETWEEN sl_min_m AND sl_max_m THEN step_length_m
        WHEN is_running AND speed_calc_m_s / (steps_per_min / 60.0) BETWEEN sl_min_m AND sl_max_m
            THEN speed_calc_m_s / (steps_per_min / 60.0)
    END AS step_length_calc_m,
    coalesce(speed_calc_m_s >= moving_min_m_s AND interval_s > 0, FALSE) AS is_moving
FROM c;
COMMENT ON VIEW v_report_samples IS 'Grain: one row per sample, with the interval, speed, step rate and step length defined exactly as transforms/gait.py defines them (docs/metrics.md), with the thresholds the metrics used (thresholds_in_use; the defaults while it is empty). Filter by activity_id.';
COMMENT ON COLUMN v_report_samples.activity_id IS 'Activity id';
COMMENT ON COLUMN v_report_samples.session_index IS 'Session within the activity (0-based)';
COMMENT ON COLUMN v_report_samples.ts IS 'Sample time, UTC';
COMMENT ON COLUMN v_report_samples.is_running IS 'True for samples of a running session (by session sport)';
COMMENT ON COLUMN v_report_samples.interval_s IS 'Seconds since the previous sample of the session; 0 for the first sample and after a gap over max_sample_gap_s (a pause; default 10 s, value in use in thresholds_in_use)';
COMMENT ON COLUMN v_report_samples.speed_calc_m_s IS 'Speed used by all metrics: the device speed, else distance step / interval, metres per second';
COMMENT ON COLUMN v_report_samples.steps_per_min IS 'Running step rate, steps per minute (device cadence within cadence_valid_min_spm-cadence_valid_max_spm, default 60-260, else 60 x speed / device step length); null outside running. Values in use: thresholds_in_use';
COMMENT ON COLUMN v_report_samples.step_length_calc_m IS 'Step length per step, metres (device value within step_length_valid_min_m-step_length_valid_max_m, default 0.2-3.0, else speed / step rate); null outside running. Values in use: thresholds_in_use';
COMMENT ON COLUMN v_report_samples.is_moving IS 'True when speed_calc_m_s >= moving_speed_min_m_s (default 1.0 m/s, value in use in thresholds_in_use) and the sample closes a real interval';

CREATE OR REPLACE VIEW v_report_chart_bins AS
SELECT activity_id, kind, speed_bin_m_s, cadence_bin_spm, step_length_mm, seconds, binned_at
FROM activity_chart_bins;
COMMENT ON VIEW v_report_chart_bins IS 'Grain: one row per running activity, chart kind and bin: the histograms of running, moving time behind the weekly report''s speed, cadence and step-length charts, from the same samples and thresholds as v_report_samples (migration 011). An activity without a total row has not been binned yet: derive its bins from v_report_samples. Filter by activity_id.';
COMMENT ON COLUMN v_report_chart_bins.activity_id IS 'Activity id';
COMMENT ON COLUMN v_report_chart_bins.kind IS 'step (speed bin x step length), cadence (step-rate bin), speed (speed bin) or total (one row per binned activity)';
COMMENT ON COLUMN v_report_chart_bins.speed_bin_m_s IS 'Lower edge of the 0.25 m/s speed bin (step and speed rows), metres per second';
COMMENT ON COLUMN v_report_chart_bins.cadence_bin_spm IS 'Lower edge of the 2 steps/min cadence bin (cadence rows), steps per minute';
COMMENT ON COLUMN v_report_chart_bins.step_length_mm IS 'Step length to the millimetre (step rows), millimetres';
COMMENT ON COLUMN v_report_chart_bins.seconds IS 'Running, moving time in the bin (total rows: in all), seconds';
COMMENT ON COLUMN v_report_chart_bins.binned_at IS 'When the bins were written, UTC (total rows only)';
