-- 001: the warehouse tables.
-- Units are in column names; every timestamp is TIMESTAMPTZ in UTC.
-- The big samples / sample_extras tables carry no PRIMARY KEY on purpose (FACTS.md: a key
-- makes a 10 M-row table 5x larger and its load 5x slower): the loader keeps them unique
-- and warehouse/datatests.py checks it after every load.

CREATE TABLE athletes (
    athlete_id  VARCHAR PRIMARY KEY,
    name        VARCHAR,
    timezone    VARCHAR,
    height_m    DOUBLE,
    max_hr_bpm  DOUBLE,
    updated_at  TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE athletes IS 'Grain: one row per athlete. Created on first load; name, time zone, height and max HR come from the configuration (upsert_athletes).';
COMMENT ON COLUMN athletes.athlete_id IS 'Athlete slug [a-z0-9_-]{1,64}, the folder name under the inbox';
COMMENT ON COLUMN athletes.name IS 'Display name (free text) or null';
COMMENT ON COLUMN athletes.timezone IS 'IANA time zone (e.g. Europe/Paris) used for local weeks when a file carries no UTC offset';
COMMENT ON COLUMN athletes.height_m IS 'Body height, metres';
COMMENT ON COLUMN athletes.max_hr_bpm IS 'Maximum heart rate, beats per minute (training-load model)';
COMMENT ON COLUMN athletes.updated_at IS 'When this row was last written, UTC';

CREATE TABLE activities (
    activity_id          VARCHAR PRIMARY KEY,
    athlete_id           VARCHAR NOT NULL,
    sport                VARCHAR NOT NULL,
    sub_sport            VARCHAR,
    started_at           TIMESTAMPTZ NOT NULL,
    ended_at             TIMESTAMPTZ NOT NULL,
    local_offset_s       INTEGER,
    duration_s           DOUBLE,
    elapsed_s            DOUBLE,
    distance_m           DOUBLE,
    avg_heart_rate_bpm   DOUBLE,
    format               VARCHAR NOT NULL,
    device               VARCHAR,
    manufacturer         VARCHAR,
    product              VARCHAR,
    serial_number        BIGINT,
    time_created         TIMESTAMPTZ,
    name                 VARCHAR,
    cadence_source       VARCHAR,
    n_samples            BIGINT NOT NULL,
    n_sessions           INTEGER NOT NULL,
    n_laps               INTEGER NOT NULL,
    n_extras             BIGINT NOT NULL,
    n_data_columns       INTEGER NOT NULL,
    has_gps              BOOLEAN NOT NULL,
    has_running_dynamics BOOLEAN NOT NULL,
    has_gct_balance      BOOLEAN NOT NULL,
    source_file          VARCHAR NOT NULL,
    sha256               VARCHAR NOT NULL,
    warnings             VARCHAR[],
    loaded_at            TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE activities IS 'Grain: one row per recorded activity (a FIT, GPX or TCX recording), any sport. A cross-format duplicate is stored once (the richer file); see ingest_log for the others.';
COMMENT ON COLUMN activities.activity_id IS 'Deterministic id: hash of (fit, athlete, serial_number, time_created) for FIT files that carry both, else hash of (athlete, start to the second)';
COMMENT ON COLUMN activities.athlete_id IS 'Athlete slug, references athletes.athlete_id';
COMMENT ON COLUMN activities.sport IS 'Primary sport (of the longest session), lower-case FIT vocabulary: running, cycling, walking, swimming, training ...';
COMMENT ON COLUMN activities.sub_sport IS 'Primary sub-sport, lower-case FIT vocabulary (treadmill, trail, lap_swimming ...) or null';
COMMENT ON COLUMN activities.started_at IS 'Start of the activity, UTC (first sample time or session start)';
COMMENT ON COLUMN activities.ended_at IS 'End of the activity, UTC: latest session start + session elapsed time, or the last sample time when the file has no session times';
COMMENT ON COLUMN activities.local_offset_s IS 'Local time minus UTC at the recording, seconds (FIT activity.local_timestamp); null when the file does not say (then the athlete time zone applies)';
COMMENT ON COLUMN activities.duration_s IS 'Timer (moving/recording) time, seconds: sum of the sessions total timer time, or elapsed_s when the file has none';
COMMENT ON COLUMN activities.elapsed_s IS 'Wall time including pauses, seconds: sum of the sessions total elapsed time, or the sample time span when the file has none';
COMMENT ON COLUMN activities.distance_m IS 'Distance, metres: sum of session distances, or the last cumulative sample distance';
COMMENT ON COLUMN activities.avg_heart_rate_bpm IS 'Average heart rate, beats per minute: timer-weighted over sessions, or the sample mean';
COMMENT ON COLUMN activities.format IS 'Source file format: fit, tcx or gpx';
COMMENT ON COLUMN activities.device IS 'Human device label, e.g. garmin fenix5 or the GPX creator';
COMMENT ON COLUMN activities.manufacturer IS 'Device manufacturer as written in the file (FIT file_id.manufacturer) or null';
COMMENT ON COLUMN activities.product IS 'Device product name or number as text, or null';
COMMENT ON COLUMN activities.serial_number IS 'FIT file_id.serial_number of the recording device, or null';
COMMENT ON COLUMN activities.time_created IS 'FIT file_id.time_created, UTC, or null';
COMMENT ON COLUMN activities.name IS 'Activity name from the file (GPX/TCX), untrusted free text, or null';
COMMENT ON COLUMN activities.cadence_source IS 'How samples.cadence_spm was derived: fit_per_foot, gpx_per_foot, gpx_spm, tcx_per_foot, tcx_spm or none';
COMMENT ON COLUMN activities.n_samples IS 'Number of rows in samples for this activity (checked by the data tests)';
COMMENT ON COLUMN activities.n_sessions IS 'Number of rows in sessions for this activity';
COMMENT ON COLUMN activities.n_laps IS 'Number of rows in laps for this activity';
COMMENT ON COLUMN activities.n_extras IS 'Number of rows in sample_extras (developer-field values) for this activity';
COMMENT ON COLUMN activities.n_data_columns IS 'How many measurement columns of samples (position, altitude, distance, speed, heart rate, cadence, running dynamics, power, temperature) hold at least one value; used to keep the richer of two copies of one activity';
COMMENT ON COLUMN activities.has_gps IS 'True when at least one sample has a position';
COMMENT ON COLUMN activities.has_running_dynamics IS 'True when at least one sample has ground contact time, vertical oscillation or step length';
COMMENT ON COLUMN activities.has_gct_balance IS 'True when at least one sample has ground-contact-time balance (left/right)';
COMMENT ON COLUMN activities.source_file IS 'Input file name as dropped, with the path inside archives (export.zip/activities/1.fit.gz)';
COMMENT ON COLUMN activities.sha256 IS 'SHA-256 of the decoded activity file bytes (hex)';
COMMENT ON COLUMN activities.warnings IS 'Repairs the reader made, e.g. 3 backward timestamps dropped';
COMMENT ON COLUMN activities.loaded_at IS 'When this version of the activity was loaded, UTC';

CREATE TABLE sessions (
    activity_id                  VARCHAR NOT NULL,
    session_index                INTEGER NOT NULL,
    sport                        VARCHAR,
    sub_sport                    VARCHAR,
    started_at                   TIMESTAMPTZ,
    total_elapsed_s              DOUBLE,
    total_timer_s                DOUBLE,
    total_distance_m             DOUBLE,
    total_ascent_m               DOUBLE,
    total_descent_m              DOUBLE,
    total_calories_kcal          DOUBLE,
    avg_speed_m_s                DOUBLE,
    max_speed_m_s                DOUBLE,
    avg_heart_rate_bpm           DOUBLE,
    max_heart_rate_bpm           DOUBLE,
    avg_cadence_spm              DOUBLE,
    avg_step_length_m            DOUBLE,
    avg_stance_time_ms           DOUBLE,
    avg_gct_balance_left_pct     DOUBLE,
    avg_vertical_oscillation_mm  DOUBLE,
    avg_vertical_ratio_pct       DOUBLE,
    avg_power_w                  DOUBLE,
    total_strides                DOUBLE,
    PRIMARY KEY (activity_id, session_index)
);
COMMENT ON TABLE sessions IS 'Grain: one row per session of an activity, as the device summarised it (multisport files have several; a GPX/TCX file has one).';
COMMENT ON COLUMN sessions.activity_id IS 'References activities.activity_id';
COMMENT ON COLUMN sessions.session_index IS '0-based index of the session in the activity';
COMMENT ON COLUMN sessions.sport IS 'Session sport, lower-case FIT vocabulary';
COMMENT ON COLUMN sessions.sub_sport IS 'Session sub-sport, lower-case FIT vocabulary, or null';
COMMENT ON COLUMN sessions.started_at IS 'Session start, UTC';
COMMENT ON COLUMN sessions.total_elapsed_s IS 'Wall time including pauses, seconds';
COMMENT ON COLUMN sessions.total_timer_s IS 'Timer (moving/recording) time, seconds';
COMMENT ON COLUMN sessions.total_distance_m IS 'Distance, metres';
COMMENT ON COLUMN sessions.total_ascent_m IS 'Total ascent, metres';
COMMENT ON COLUMN sessions.total_descent_m IS 'Total descent, metres';
COMMENT ON COLUMN sessions.total_calories_kcal IS 'Energy, kilocalories (device estimate)';
COMMENT ON COLUMN sessions.avg_speed_m_s IS 'Average speed, metres per second';
COMMENT ON COLUMN sessions.max_speed_m_s IS 'Maximum speed, metres per second';
COMMENT ON COLUMN sessions.avg_heart_rate_bpm IS 'Average heart rate, beats per minute';
COMMENT ON COLUMN sessions.max_heart_rate_bpm IS 'Maximum heart rate, beats per minute';
COMMENT ON COLUMN sessions.avg_cadence_spm IS 'Device average cadence; running: steps per minute (both feet); null when the device wrote 0';
COMMENT ON COLUMN sessions.avg_step_length_m IS 'Device average step length, metres per step';
COMMENT ON COLUMN sessions.avg_stance_time_ms IS 'Device average ground contact time, milliseconds';
COMMENT ON COLUMN sessions.avg_gct_balance_left_pct IS 'Device average ground-contact-time balance, % on the left foot';
COMMENT ON COLUMN sessions.avg_vertical_oscillation_mm IS 'Device average vertical oscillation, millimetres';
COMMENT ON COLUMN sessions.avg_vertical_ratio_pct IS 'Device average vertical ratio (oscillation / step length), %';
COMMENT ON COLUMN sessions.avg_power_w IS 'Device average power, watts';
COMMENT ON COLUMN sessions.total_strides IS 'Running strides (FIT total_cycles; steps = 2 x strides)';

CREATE TABLE laps (
    activity_id                  VARCHAR NOT NULL,
    session_index                INTEGER,
    lap_index                    INTEGER NOT NULL,
    sport                        VARCHAR,
    sub_sport                    VARCHAR,
    started_at                   TIMESTAMPTZ,
    total_elapsed_s              DOUBLE,
    total_timer_s                DOUBLE,
    total_distance_m             DOUBLE,
    total_ascent_m               DOUBLE,
    total_descent_m              DOUBLE,
    total_calories_kcal          DOUBLE,
    avg_speed_m_s                DOUBLE,
    max_speed_m_s                DOUBLE,
    avg_heart_rate_bpm           DOUBLE,
    max_heart_rate_bpm           DOUBLE,
    avg_cadence_spm              DOUBLE,
    avg_step_length_m            DOUBLE,
    avg_stance_time_ms           DOUBLE,
    avg_gct_balance_left_pct     DOUBLE,
    avg_vertical_oscillation_mm  DOUBLE,
    avg_vertical_ratio_pct       DOUBLE,
    avg_power_w                  DOUBLE,
    total_strides                DOUBLE,
    PRIMARY KEY (activity_id, lap_index)
);
COMMENT ON TABLE laps IS 'Grain: one row per lap of an activity, as the device summarised it.';
COMMENT ON COLUMN laps.activity_id IS 'References activities.activity_id';
COMMENT ON COLUMN laps.session_index IS '0-based index of the session the lap belongs to';
COMMENT ON COLUMN laps.lap_index IS '0-based index of the lap over the whole activity';
COMMENT ON COLUMN laps.sport IS 'Lap sport, lower-case FIT vocabulary';
COMMENT ON COLUMN laps.sub_sport IS 'Lap sub-sport, lower-case FIT vocabulary, or null';
COMMENT ON COLUMN laps.started_at IS 'Lap start, UTC';
COMMENT ON COLUMN laps.total_elapsed_s IS 'Wall time including pauses, seconds';
COMMENT ON COLUMN laps.total_timer_s IS 'Timer (moving/recording) time, seconds';
COMMENT ON COLUMN laps.total_distance_m IS 'Distance, metres';
COMMENT ON COLUMN laps.total_ascent_m IS 'Total ascent, metres';
COMMENT ON COLUMN laps.total_descent_m IS 'Total descent, metres';
COMMENT ON COLUMN laps.total_calories_kcal IS 'Energy, kilocalories (device estimate)';
COMMENT ON COLUMN laps.avg_speed_m_s IS 'Average speed, metres per second';
COMMENT ON COLUMN laps.max_speed_m_s IS 'Maximum speed, metres per second';
COMMENT ON COLUMN laps.avg_heart_rate_bpm IS 'Average heart rate, beats per minute';
COMMENT ON COLUMN laps.max_heart_rate_bpm IS 'Maximum heart rate, beats per minute';
COMMENT ON COLUMN laps.avg_cadence_spm IS 'Device average cadence; running: steps per minute (both feet); null when the device wrote 0';
COMMENT ON COLUMN laps.avg_step_length_m IS 'Device average step length, metres per step';
COMMENT ON COLUMN laps.avg_stance_time_ms IS 'Device average ground contact time, milliseconds';
COMMENT ON COLUMN laps.avg_gct_balance_left_pct IS 'Device average ground-contact-time balance, % on the left foot';
COMMENT ON COLUMN laps.avg_vertical_oscillation_mm IS 'Device average vertical oscillation, millimetres';
COMMENT ON COLUMN laps.avg_vertical_ratio_pct IS 'Device average vertical ratio (oscillation / step length), %';
COMMENT ON COLUMN laps.avg_power_w IS 'Device average power, watts';
COMMENT ON COLUMN laps.total_strides IS 'Running strides (FIT total_cycles; steps = 2 x strides)';

CREATE TABLE samples (
    activity_id              VARCHAR NOT NULL,
    ts                       TIMESTAMPTZ NOT NULL,
    session_index            INTEGER,
    sport                    VARCHAR,
    lat_deg                  DOUBLE,
    lon_deg                  DOUBLE,
    altitude_m               DOUBLE,
    distance_m               DOUBLE,
    speed_m_s                DOUBLE,
    heart_rate_bpm           DOUBLE,
    cadence_spm              DOUBLE,
    step_length_m            DOUBLE,
    stance_time_ms           DOUBLE,
    gct_balance_left_pct     DOUBLE,
    vertical_oscillation_mm  DOUBLE,
    vertical_ratio_pct       DOUBLE,
    power_w                  DOUBLE,
    temperature_c            DOUBLE
);
COMMENT ON TABLE samples IS 'Grain: one row per recorded sample (FIT record, GPX/TCX trackpoint) of an activity, in recording order. A value the device did not measure is null, never 0. No primary key (size and speed); activities.n_samples and the data tests guard it.';
COMMENT ON COLUMN samples.activity_id IS 'References activities.activity_id';
COMMENT ON COLUMN samples.ts IS 'Sample time, UTC';
COMMENT ON COLUMN samples.session_index IS '0-based index of the session (sessions.session_index) the sample falls in';
COMMENT ON COLUMN samples.sport IS 'Sport of that session, lower-case FIT vocabulary';
COMMENT ON COLUMN samples.lat_deg IS 'WGS84 latitude, degrees (null inside privacy zones and in coordinate-stripped copies)';
COMMENT ON COLUMN samples.lon_deg IS 'WGS84 longitude, degrees (null inside privacy zones and in coordinate-stripped copies)';
COMMENT ON COLUMN samples.altitude_m IS 'Altitude above sea level, metres';
COMMENT ON COLUMN samples.distance_m IS 'Cumulative distance from the start, metres';
COMMENT ON COLUMN samples.speed_m_s IS 'Speed, metres per second';
COMMENT ON COLUMN samples.heart_rate_bpm IS 'Heart rate, beats per minute';
COMMENT ON COLUMN samples.cadence_spm IS 'Running: steps per minute, both feet (FIT: 2 x (cadence + fractional_cadence)); other sports: the device rpm';
COMMENT ON COLUMN samples.step_length_m IS 'Step length, metres per step';
COMMENT ON COLUMN samples.stance_time_ms IS 'Ground contact time, milliseconds';
COMMENT ON COLUMN samples.gct_balance_left_pct IS 'Ground-contact-time balance, % of contact time on the left foot';
COMMENT ON COLUMN samples.vertical_oscillation_mm IS 'Vertical oscillation, millimetres';
COMMENT ON COLUMN samples.vertical_ratio_pct IS 'Vertical ratio (vertical oscillation / step length), %';
COMMENT ON COLUMN samples.power_w IS 'Power, watts (native field preferred over developer fields)';
COMMENT ON COLUMN samples.temperature_c IS 'Temperature, degrees Celsius (device or sensor)';

CREATE TABLE sample_extras (
    activity_id  VARCHAR NOT NULL,
    ts           TIMESTAMPTZ,
    source       VARCHAR,
    field        VARCHAR,
    value        DOUBLE,
    unit         VARCHAR
);
COMMENT ON TABLE sample_extras IS 'Grain: one row per developer-field value per sample time of an activity (Stryd, RunScribe, Moxy, CORE ...), kept even when unknown to gaitwatch. No primary key (size).';
COMMENT ON COLUMN sample_extras.activity_id IS 'References activities.activity_id';
COMMENT ON COLUMN sample_extras.ts IS 'Sample time, UTC';
COMMENT ON COLUMN sample_extras.source IS 'Developer app or sensor, e.g. stryd, runscribe, or the developer data index';
COMMENT ON COLUMN sample_extras.field IS 'Field name as the developer wrote it, e.g. Form Power';
COMMENT ON COLUMN sample_extras.value IS 'Numeric value, in the unit given by the unit column';
COMMENT ON COLUMN sample_extras.unit IS 'Unit string as written in the file (may be null or unknown)';

CREATE TABLE activity_gait (
    activity_id                     VARCHAR PRIMARY KEY,
    athlete_id                      VARCHAR,
    started_at                      TIMESTAMPTZ,
    moving_s                        DOUBLE,
    analysed_s                      DOUBLE,
    distance_m                      DOUBLE,
    steady_share                    DOUBLE,
    cadence_median_spm              DOUBLE,
    cadence_cv_pct                  DOUBLE,
    step_length_median_m            DOUBLE,
    step_length_cv_pct              DOUBLE,
    step_length_at_ref_speed_m      DOUBLE,
    ref_speed_m_s                   DOUBLE,
    speed_p10_m_s                   DOUBLE,
    speed_p50_m_s                   DOUBLE,
    speed_p90_m_s                   DOUBLE,
    speed_range_m_s                 DOUBLE,
    max_speed_m_s                   DOUBLE,
    sprint_threshold_m_s            DOUBLE,
    sprint_s                        DOUBLE,
    sprint_efforts                  INTEGER,
    gct_balance_mean_left_pct       DOUBLE,
    gct_balance_dev_pct             DOUBLE,
    symmetry_index_pct              DOUBLE,
    symmetry_drift_pct              DOUBLE,
    stance_time_median_ms           DOUBLE,
    vertical_oscillation_median_mm  DOUBLE,
    vertical_ratio_median_pct       DOUBLE,
    dynamics_share                  DOUBLE,
    balance_share                   DOUBLE,
    cadence_share                   DOUBLE,
    trimp                           DOUBLE
);
COMMENT ON TABLE activity_gait IS 'Grain: one row per running activity (sport running, any sub-sport): gait metrics computed by transforms (columns = transforms/schema.py ACTIVITY_GAIT_SCHEMA). Deleted when its activity is replaced, so it is recomputed.';
COMMENT ON COLUMN activity_gait.activity_id IS 'References activities.activity_id';
COMMENT ON COLUMN activity_gait.athlete_id IS 'Athlete slug';
COMMENT ON COLUMN activity_gait.started_at IS 'Activity start, UTC';
COMMENT ON COLUMN activity_gait.moving_s IS 'Running time while moving, seconds';
COMMENT ON COLUMN activity_gait.analysed_s IS 'Time of the running, moving, flat samples used for gait metrics, seconds';
COMMENT ON COLUMN activity_gait.distance_m IS 'Running distance, metres';
COMMENT ON COLUMN activity_gait.steady_share IS 'Share of moving time in steady-pace segments, 0-1';
COMMENT ON COLUMN activity_gait.cadence_median_spm IS 'Median cadence, steps per minute';
COMMENT ON COLUMN activity_gait.cadence_cv_pct IS 'Coefficient of variation of cadence on steady segments, %';
COMMENT ON COLUMN activity_gait.step_length_median_m IS 'Median step length, metres';
COMMENT ON COLUMN activity_gait.step_length_cv_pct IS 'Coefficient of variation of step length on steady segments, %';
COMMENT ON COLUMN activity_gait.step_length_at_ref_speed_m IS 'Step length at the reference speed from the within-run step length / speed fit, metres';
COMMENT ON COLUMN activity_gait.ref_speed_m_s IS 'Reference speed used for step_length_at_ref_speed_m, metres per second (configuration)';
COMMENT ON COLUMN activity_gait.speed_p10_m_s IS '10th percentile of moving speed, metres per second';
COMMENT ON COLUMN activity_gait.speed_p50_m_s IS 'Median moving speed, metres per second';
COMMENT ON COLUMN activity_gait.speed_p90_m_s IS '90th percentile of moving speed, metres per second';
COMMENT ON COLUMN activity_gait.speed_range_m_s IS 'Speed range p90 - p10, metres per second';
COMMENT ON COLUMN activity_gait.max_speed_m_s IS 'Robust maximum speed, metres per second';
COMMENT ON COLUMN activity_gait.sprint_threshold_m_s IS 'Athlete sprint threshold used for this run, metres per second';
COMMENT ON COLUMN activity_gait.sprint_s IS 'Time above the sprint threshold, seconds';
COMMENT ON COLUMN activity_gait.sprint_efforts IS 'Count of short fast efforts above the sprint threshold';
COMMENT ON COLUMN activity_gait.gct_balance_mean_left_pct IS 'Mean ground-contact-time balance, % on the left foot';
COMMENT ON COLUMN activity_gait.gct_balance_dev_pct IS 'Deviation of GCT balance from 50 %, |mean - 50|, percentage points';
COMMENT ON COLUMN activity_gait.symmetry_index_pct IS 'Robinson symmetry index (L - R) / (0.5 (L + R)) x 100, %; positive = longer contact on the left';
COMMENT ON COLUMN activity_gait.symmetry_drift_pct IS 'Symmetry index of the last third minus the first third, percentage points';
COMMENT ON COLUMN activity_gait.stance_time_median_ms IS 'Median ground contact time, milliseconds';
COMMENT ON COLUMN activity_gait.vertical_oscillation_median_mm IS 'Median vertical oscillation, millimetres';
COMMENT ON COLUMN activity_gait.vertical_ratio_median_pct IS 'Median vertical ratio, %';
COMMENT ON COLUMN activity_gait.dynamics_share IS 'Share of analysed time with running dynamics (ground contact time), 0-1';
COMMENT ON COLUMN activity_gait.balance_share IS 'Share of analysed time with GCT balance, 0-1';
COMMENT ON COLUMN activity_gait.cadence_share IS 'Share of analysed time with cadence, 0-1';
COMMENT ON COLUMN activity_gait.trimp IS 'Training load of the run (TRIMP-style, arbitrary units; see docs/metrics.md)';

CREATE TABLE weekly_risk (
    athlete_id                  VARCHAR NOT NULL,
    iso_week                    VARCHAR NOT NULL,
    week_start                  DATE NOT NULL,
    runs                        INTEGER,
    run_distance_m              DOUBLE,
    run_time_s                  DOUBLE,
    long_run_m                  DOUBLE,
    load                        DOUBLE,
    acute_load                  DOUBLE,
    chronic_load                DOUBLE,
    acwr                        DOUBLE,
    monotony                    DOUBLE,
    strain                      DOUBLE,
    cross_training_sessions     INTEGER,
    strength_sessions           INTEGER,
    sprint_s                    DOUBLE,
    sprint_efforts              INTEGER,
    step_length_at_ref_speed_m  DOUBLE,
    speed_range_m_s             DOUBLE,
    vertical_oscillation_mm     DOUBLE,
    cadence_spm                 DOUBLE,
    gct_balance_left_pct        DOUBLE,
    symmetry_index_pct          DOUBLE,
    compact_gait_score          DOUBLE,
    asymmetry_level             VARCHAR,
    baseline_weeks              INTEGER,
    risk_level                  VARCHAR,
    flags                       VARCHAR[],
    flag_details                VARCHAR,
    missing_data                VARCHAR[],
    PRIMARY KEY (athlete_id, week_start)
);
COMMENT ON TABLE weekly_risk IS 'Grain: one row per athlete per ISO week (athlete local time), from the first to the last week with data (columns = transforms/schema.py WEEKLY_RISK_SCHEMA). Flags are screening heuristics, never diagnoses.';
COMMENT ON COLUMN weekly_risk.athlete_id IS 'References athletes.athlete_id';
COMMENT ON COLUMN weekly_risk.iso_week IS 'ISO week label, e.g. 2026-W47';
COMMENT ON COLUMN weekly_risk.week_start IS 'Monday of the week, athlete local date';
COMMENT ON COLUMN weekly_risk.runs IS 'Number of running activities in the week';
COMMENT ON COLUMN weekly_risk.run_distance_m IS 'Running distance of the week, metres';
COMMENT ON COLUMN weekly_risk.run_time_s IS 'Running time of the week, seconds';
COMMENT ON COLUMN weekly_risk.long_run_m IS 'Longest run of the week, metres';
COMMENT ON COLUMN weekly_risk.load IS 'Sum of daily training loads of the week (arbitrary units)';
COMMENT ON COLUMN weekly_risk.acute_load IS 'Acute load: EWMA of daily load, 7-day time constant, at the end of the week';
COMMENT ON COLUMN weekly_risk.chronic_load IS 'Chronic load: EWMA of daily load, 28-day time constant, at the end of the week';
COMMENT ON COLUMN weekly_risk.acwr IS 'Acute:chronic workload ratio (uncoupled EWMA), descriptive only';
COMMENT ON COLUMN weekly_risk.monotony IS 'Foster monotony: mean daily load / standard deviation of daily load';
COMMENT ON COLUMN weekly_risk.strain IS 'Foster strain: weekly load x monotony';
COMMENT ON COLUMN weekly_risk.cross_training_sessions IS 'Cycling, swimming and other non-running sessions in the week';
COMMENT ON COLUMN weekly_risk.strength_sessions IS 'Strength sessions in the week (FIT training / strength_training)';
COMMENT ON COLUMN weekly_risk.sprint_s IS 'Time above the sprint threshold in the week, seconds';
COMMENT ON COLUMN weekly_risk.sprint_efforts IS 'Short fast efforts in the week';
COMMENT ON COLUMN weekly_risk.step_length_at_ref_speed_m IS 'Weekly step length at the reference speed, metres';
COMMENT ON COLUMN weekly_risk.speed_range_m_s IS 'Weekly speed range (p90 - p10), metres per second';
COMMENT ON COLUMN weekly_risk.vertical_oscillation_mm IS 'Weekly vertical oscillation, millimetres';
COMMENT ON COLUMN weekly_risk.cadence_spm IS 'Weekly cadence, steps per minute';
COMMENT ON COLUMN weekly_risk.gct_balance_left_pct IS 'Weekly ground-contact-time balance, % on the left foot';
COMMENT ON COLUMN weekly_risk.symmetry_index_pct IS 'Weekly Robinson symmetry index, %; positive = longer contact on the left';
COMMENT ON COLUMN weekly_risk.compact_gait_score IS 'Mean of signed z-scores against the trailing baseline (higher = more compact gait)';
COMMENT ON COLUMN weekly_risk.asymmetry_level IS 'balanced, moderate or high; null when the week has no balance data';
COMMENT ON COLUMN weekly_risk.baseline_weeks IS 'Weeks actually available in the trailing baseline';
COMMENT ON COLUMN weekly_risk.risk_level IS 'low, moderate, high or insufficient_data (screening heuristic, not a diagnosis)';
COMMENT ON COLUMN weekly_risk.flags IS 'Flag codes raised this week: compact_gait, asymmetry, load_spike, monotony, no_sprints, no_strength ...';
COMMENT ON COLUMN weekly_risk.flag_details IS 'JSON text: list of {code, severity, reason, numbers, recommendation}';
COMMENT ON COLUMN weekly_risk.missing_data IS 'What was missing this week: no_running_dynamics, no_gct_balance, no_cadence ...';

CREATE TABLE ingest_log (
    athlete_id         VARCHAR NOT NULL,
    source_file        VARCHAR NOT NULL,
    sha256             VARCHAR,
    part               INTEGER NOT NULL,
    size_bytes         BIGINT,
    status             VARCHAR NOT NULL CHECK (status IN ('loaded', 'duplicate', 'skipped', 'rejected', 'replaced')),
    reason             VARCHAR,
    error_type         VARCHAR,
    activity_id        VARCHAR,
    first_seen_at      TIMESTAMPTZ NOT NULL,
    seen_at            TIMESTAMPTZ NOT NULL,
    status_changed_at  TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE ingest_log IS 'Grain: one row per input file per activity inside it (part) per athlete and content (sha256). Every input ends up here: loaded, duplicate, skipped, rejected or replaced, with its reason. Re-reading an unchanged input only updates seen_at.';
COMMENT ON COLUMN ingest_log.athlete_id IS 'Athlete slug the input was dropped for';
COMMENT ON COLUMN ingest_log.source_file IS 'Input file name as dropped, with the path inside archives';
COMMENT ON COLUMN ingest_log.sha256 IS 'SHA-256 of the decoded file bytes (hex); null when the bytes could not be read';
COMMENT ON COLUMN ingest_log.part IS '0-based index of the activity inside the file (chained FIT files hold several); 0 for whole-file outcomes';
COMMENT ON COLUMN ingest_log.size_bytes IS 'Size of the input, bytes';
COMMENT ON COLUMN ingest_log.status IS 'loaded (stored as activity_id), duplicate (same activity already stored as activity_id), skipped (readable but not an activity), rejected (error), replaced (an older version of activity_id, superseded by a corrected file)';
COMMENT ON COLUMN ingest_log.reason IS 'One readable line: the error, why skipped, or which file it duplicates or replaced';
COMMENT ON COLUMN ingest_log.error_type IS 'gaitwatch error class for rejected/skipped inputs (CorruptFileError, NotAnActivityError ...), else null';
COMMENT ON COLUMN ingest_log.activity_id IS 'The activity this input is stored as (loaded), duplicates (duplicate) or was an older version of (replaced); null otherwise';
COMMENT ON COLUMN ingest_log.first_seen_at IS 'When this input was first read, UTC';
COMMENT ON COLUMN ingest_log.seen_at IS 'When this input was last read, UTC';
COMMENT ON COLUMN ingest_log.status_changed_at IS 'When status, reason or activity_id last changed, UTC';
