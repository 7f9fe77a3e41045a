-- 005: whole Strava / Garmin exports and the training journal (issue 12, parts 3 and 4).
-- Activities listed by an export without a file (manual entries, files missing from the
-- export) and strength / cross-training journal entries become summary-only rows of
-- `activities` (no samples, no gait metrics), so every weekly count reads one table.

ALTER TABLE activities ADD COLUMN description VARCHAR;
ALTER TABLE activities ADD COLUMN summary_only BOOLEAN DEFAULT false;
ALTER TABLE activities ADD COLUMN source VARCHAR DEFAULT 'file';
ALTER TABLE activities ADD COLUMN external_id VARCHAR;
COMMENT ON COLUMN activities.name IS 'Activity name: from the export list (Strava activities.csv, Garmin summarizedActivities.json) when one names it, else from the file (GPX/TCX); untrusted free text, or null';
COMMENT ON COLUMN activities.description IS 'Activity description from the export list or the journal text; untrusted free text, or null';
COMMENT ON COLUMN activities.summary_only IS 'True for an activity known only from a summary (export list without a file, journal entry): no samples, sessions or gait metrics';
COMMENT ON COLUMN activities.source IS 'Where the row comes from: file (a recording), strava_csv (Strava activities.csv), garmin_json (Garmin summarizedActivities.json) or journal (journal.csv)';
COMMENT ON COLUMN activities.external_id IS 'Id of the activity in the export it was listed in (Strava or Garmin activity id), or the journal entry_id; null when no list names it';

-- One row per activity an export lists (with or without a file): what links an export's
-- names and descriptions to the activities loaded from its files, order-independently.
CREATE TABLE export_activities (
    athlete_id     VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,
    external_id    VARCHAR NOT NULL,
    source_file    VARCHAR NOT NULL,
    source_line    INTEGER,
    sha256         VARCHAR NOT NULL,
    file_ref       VARCHAR,
    file_present   BOOLEAN NOT NULL,
    sport          VARCHAR NOT NULL,
    sub_sport      VARCHAR,
    started_at     TIMESTAMPTZ NOT NULL,
    elapsed_s      DOUBLE,
    moving_s       DOUBLE,
    distance_m     DOUBLE,
    avg_heart_rate_bpm DOUBLE,
    name           VARCHAR,
    description    VARCHAR,
    activity_id    VARCHAR,
    PRIMARY KEY (athlete_id, source, external_id)
);
COMMENT ON TABLE export_activities IS 'Grain: one row per activity listed in an athlete''s export (Strava activities.csv row, Garmin summarizedActivities.json entry), from the latest version of the list file. Linked to the activity loaded from its file, or to a summary-only activity.';
COMMENT ON COLUMN export_activities.athlete_id IS 'Athlete slug';
COMMENT ON COLUMN export_activities.source IS 'strava_csv or garmin_json';
COMMENT ON COLUMN export_activities.external_id IS 'Activity id in the export (Strava Activity ID, Garmin activityId)';
COMMENT ON COLUMN export_activities.source_file IS 'The list file as dropped (e.g. ann/export/activities.csv)';
COMMENT ON COLUMN export_activities.source_line IS 'Line of the CSV where the row starts (1 = header), or 1-based position in the JSON list';
COMMENT ON COLUMN export_activities.sha256 IS 'SHA-256 of the list file the row was read from (hex)';
COMMENT ON COLUMN export_activities.file_ref IS 'The activity file the list names, as an input name (path relative to the inbox), or null (manual entry)';
COMMENT ON COLUMN export_activities.file_present IS 'True when that file was beside the list when the list was read';
COMMENT ON COLUMN export_activities.sport IS 'Sport mapped to the FIT vocabulary (running, cycling, swimming, training ...)';
COMMENT ON COLUMN export_activities.sub_sport IS 'Sub-sport mapped to the FIT vocabulary (treadmill, trail, strength_training ...) or null';
COMMENT ON COLUMN export_activities.started_at IS 'Start, UTC';
COMMENT ON COLUMN export_activities.elapsed_s IS 'Wall time including pauses, seconds';
COMMENT ON COLUMN export_activities.moving_s IS 'Moving time, seconds';
COMMENT ON COLUMN export_activities.distance_m IS 'Distance, metres';
COMMENT ON COLUMN export_activities.avg_heart_rate_bpm IS 'Average heart rate, beats per minute, or null';
COMMENT ON COLUMN export_activities.name IS 'Activity name in the export (free text)';
COMMENT ON COLUMN export_activities.description IS 'Activity description in the export (free text, may span lines)';
COMMENT ON COLUMN export_activities.activity_id IS 'The activity it is linked to (loaded from its file, or summary-only), or null while its file is still to be read';

CREATE TABLE journal (
    entry_id      VARCHAR PRIMARY KEY,
    athlete_id    VARCHAR NOT NULL,
    entry_date    DATE NOT NULL,
    kind          VARCHAR NOT NULL,
    minutes       DOUBLE,
    body_part     VARCHAR,
    side          VARCHAR,
    severity      INTEGER,
    text          VARCHAR,
    source_file   VARCHAR,
    source_line   INTEGER
);
COMMENT ON TABLE journal IS 'Grain: one row per training-journal entry of an athlete (inbox/<athlete>/journal.csv, or `gaitwatch log`). Strength and cross-training entries are also summary-only activities (source journal).';
COMMENT ON COLUMN journal.entry_id IS 'Deterministic id: hash of (athlete, source file, line)';
COMMENT ON COLUMN journal.athlete_id IS 'Athlete slug';
COMMENT ON COLUMN journal.entry_date IS 'Day of the entry, athlete local date';
COMMENT ON COLUMN journal.kind IS 'strength, cross_training, pain, injury, illness or note';
COMMENT ON COLUMN journal.minutes IS 'Duration, minutes, or null';
COMMENT ON COLUMN journal.body_part IS 'Body part (free text, e.g. left hip), or null';
COMMENT ON COLUMN journal.side IS 'left, right, both, or null';
COMMENT ON COLUMN journal.severity IS 'Pain on the 0-10 numeric rating scale, or null';
COMMENT ON COLUMN journal.text IS 'Free text (for cross-training: may name the sport), or null';
COMMENT ON COLUMN journal.source_file IS 'The journal file as dropped (e.g. ann/journal.csv)';
COMMENT ON COLUMN journal.source_line IS 'Line of the entry in that file (1 = header)';

DROP VIEW v_runs;
DROP VIEW v_activities;

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

CREATE VIEW v_journal AS
SELECT
    j.entry_id,
    j.athlete_id,
    ath.name AS athlete_name,
    j.entry_date,
    strftime(j.entry_date, '%G-W%V') AS iso_week,
    j.kind,
    j.minutes,
    j.body_part,
    j.side,
    j.severity,
    j.text,
    j.source_file,
    j.source_line
FROM journal AS j
LEFT JOIN athletes AS ath USING (athlete_id);
COMMENT ON VIEW v_journal IS 'Grain: one row per training-journal entry (strength, cross-training, pain, injury, illness, note) with its ISO week.';
COMMENT ON COLUMN v_journal.entry_id IS 'Entry id (journal.entry_id)';
COMMENT ON COLUMN v_journal.athlete_id IS 'Athlete slug';
COMMENT ON COLUMN v_journal.athlete_name IS 'Athlete display name or null';
COMMENT ON COLUMN v_journal.entry_date IS 'Day of the entry, local date';
COMMENT ON COLUMN v_journal.iso_week IS 'ISO week label of the day, e.g. 2026-W47';
COMMENT ON COLUMN v_journal.kind IS 'strength, cross_training, pain, injury, illness or note';
COMMENT ON COLUMN v_journal.minutes IS 'Duration, minutes, or null';
COMMENT ON COLUMN v_journal.body_part IS 'Body part (free text), or null';
COMMENT ON COLUMN v_journal.side IS 'left, right, both, or null';
COMMENT ON COLUMN v_journal.severity IS 'Pain on the 0-10 numeric rating scale, or null';
COMMENT ON COLUMN v_journal.text IS 'Free text, or null';
COMMENT ON COLUMN v_journal.source_file IS 'The journal file as dropped';
COMMENT ON COLUMN v_journal.source_line IS 'Line of the entry in that file (1 = header)';
