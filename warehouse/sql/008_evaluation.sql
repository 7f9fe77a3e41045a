-- 008: the back-test of the flags against each runner's own journal (issue 14 item 5),
-- stored by the metrics stage in the same transaction as the weekly_risk rows it reads
-- (warehouse/evaluation.py, transforms/evaluate.py); and the report views extended with
-- what issues 12 and 14 added (activity descriptions, summary-only activities, return
-- weeks, device changes, running load apart from other load).

CREATE TABLE athlete_evaluation (
    athlete_id        VARCHAR NOT NULL,
    signal            VARCHAR NOT NULL,
    kind              VARCHAR NOT NULL,
    scored_weeks      INTEGER NOT NULL,
    warning_weeks     INTEGER NOT NULL,
    alarm_rate        DOUBLE,
    episodes          INTEGER NOT NULL,
    preceded          INTEGER NOT NULL,
    hit_rate          DOUBLE,
    chance_rate       DOUBLE,
    median_lead_days  DOUBLE,
    PRIMARY KEY (athlete_id, signal)
);
COMMENT ON TABLE athlete_evaluation IS 'Grain: one row per athlete per signal (a rule, or a risk level): how often it warned on the athlete''s own history and whether the journal''s pain and injury episodes were preceded by it. Rewritten with weekly_risk (docs/metrics.md, "Back-test").';
COMMENT ON COLUMN athlete_evaluation.athlete_id IS 'Athlete slug';
COMMENT ON COLUMN athlete_evaluation.signal IS 'Rule code (load_spike, distance_progression, return_progression, compact_gait, asymmetry) or level (high, moderate_or_high)';
COMMENT ON COLUMN athlete_evaluation.kind IS 'rule or level';
COMMENT ON COLUMN athlete_evaluation.scored_weeks IS 'Weeks with a risk level other than insufficient_data';
COMMENT ON COLUMN athlete_evaluation.warning_weeks IS 'Scored weeks in which the signal warned (a rule: a moderate or high flag; a level: the week''s level)';
COMMENT ON COLUMN athlete_evaluation.alarm_rate IS 'warning_weeks / scored_weeks (share of weeks flagged), or null without scored weeks';
COMMENT ON COLUMN athlete_evaluation.episodes IS 'Pain or injury episodes in the journal (entries within 7 days of the previous one form one episode)';
COMMENT ON COLUMN athlete_evaluation.preceded IS 'Episodes whose start came 1-28 days after the end of a week in which the signal warned';
COMMENT ON COLUMN athlete_evaluation.hit_rate IS 'preceded / episodes, or null without episodes';
COMMENT ON COLUMN athlete_evaluation.chance_rate IS 'Share of the history''s Mondays (after the first 28 days) that a warning week ended 1-28 days before: the hit rate of a signal that knows nothing';
COMMENT ON COLUMN athlete_evaluation.median_lead_days IS 'Median days from the end of the latest warning week to the start of a preceded episode, or null';

CREATE TABLE evaluation_episodes (
    athlete_id     VARCHAR NOT NULL,
    episode        INTEGER NOT NULL,
    start_date     DATE NOT NULL,
    end_date       DATE NOT NULL,
    entries        INTEGER NOT NULL,
    max_severity   INTEGER,
    body_parts     VARCHAR,
    preceded_by    VARCHAR[],
    lead_days      INTEGER,
    PRIMARY KEY (athlete_id, episode)
);
COMMENT ON TABLE evaluation_episodes IS 'Grain: one row per pain or injury episode of an athlete''s journal, with the signals that warned 1-28 days before it.';
COMMENT ON COLUMN evaluation_episodes.athlete_id IS 'Athlete slug';
COMMENT ON COLUMN evaluation_episodes.episode IS 'Episode number, 1, 2, ... in date order per athlete';
COMMENT ON COLUMN evaluation_episodes.start_date IS 'Date of the episode''s first pain or injury entry (local date)';
COMMENT ON COLUMN evaluation_episodes.end_date IS 'Date of its last entry';
COMMENT ON COLUMN evaluation_episodes.entries IS 'Pain and injury entries in the episode';
COMMENT ON COLUMN evaluation_episodes.max_severity IS 'Highest pain severity written (0-10), or null';
COMMENT ON COLUMN evaluation_episodes.body_parts IS 'Body parts as written, comma-separated, or null';
COMMENT ON COLUMN evaluation_episodes.preceded_by IS 'Signals that warned in a week ending 1-28 days before the start';
COMMENT ON COLUMN evaluation_episodes.lead_days IS 'Days from the end of the latest moderate-or-high week to the start, or null if none within 28 days';

CREATE TABLE evaluation_layoffs (
    athlete_id       VARCHAR NOT NULL,
    return_iso_week  VARCHAR NOT NULL,
    days_off         INTEGER NOT NULL,
    label            VARCHAR NOT NULL,
    PRIMARY KEY (athlete_id, return_iso_week)
);
COMMENT ON TABLE evaluation_layoffs IS 'Grain: one row per break of 14 or more days without running during which the journal holds no entry: a possible layoff (maybe an unrecorded injury, maybe a holiday), never counted as an episode.';
COMMENT ON COLUMN evaluation_layoffs.athlete_id IS 'Athlete slug';
COMMENT ON COLUMN evaluation_layoffs.return_iso_week IS 'ISO week in which running resumed';
COMMENT ON COLUMN evaluation_layoffs.days_off IS 'Days without running before the return';
COMMENT ON COLUMN evaluation_layoffs.label IS 'The label shown with it (possible layoff ...)';

CREATE TABLE evaluation_state (
    athlete_id      VARCHAR PRIMARY KEY,
    journal_sha256  VARCHAR NOT NULL,
    evaluated_at    TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE evaluation_state IS 'Grain: one row per evaluated athlete: a hash of the journal rows the stored back-test read, so a journal-only change (a pain entry) re-evaluates the athlete in the next metrics run.';
COMMENT ON COLUMN evaluation_state.athlete_id IS 'Athlete slug';
COMMENT ON COLUMN evaluation_state.journal_sha256 IS 'SHA-256 over the athlete''s journal rows (entry_id, date, kind, body part, severity) at evaluation time';
COMMENT ON COLUMN evaluation_state.evaluated_at IS 'When the back-test was last written, UTC';

CREATE VIEW v_evaluation AS
SELECT
    e.athlete_id,
    ath.name AS athlete_name,
    e.signal,
    e.kind,
    e.scored_weeks,
    e.warning_weeks,
    e.alarm_rate,
    e.episodes,
    e.preceded,
    e.hit_rate,
    e.chance_rate,
    e.median_lead_days
FROM athlete_evaluation AS e
LEFT JOIN athletes AS ath USING (athlete_id);
COMMENT ON VIEW v_evaluation IS 'Grain: one row per athlete per signal (rule or risk level): alarm rate, pain/injury episodes preceded within 28 days, median lead time and the chance rate. A screening back-test on small numbers, not a validation.';
COMMENT ON COLUMN v_evaluation.athlete_id IS 'Athlete slug';
COMMENT ON COLUMN v_evaluation.athlete_name IS 'Athlete display name or null';
COMMENT ON COLUMN v_evaluation.signal IS 'Rule code or level (high, moderate_or_high)';
COMMENT ON COLUMN v_evaluation.kind IS 'rule or level';
COMMENT ON COLUMN v_evaluation.scored_weeks IS 'Weeks with a risk level other than insufficient_data';
COMMENT ON COLUMN v_evaluation.warning_weeks IS 'Scored weeks in which the signal warned';
COMMENT ON COLUMN v_evaluation.alarm_rate IS 'Share of scored weeks with a warning';
COMMENT ON COLUMN v_evaluation.episodes IS 'Pain or injury episodes in the journal';
COMMENT ON COLUMN v_evaluation.preceded IS 'Episodes preceded by a warning within 1-28 days';
COMMENT ON COLUMN v_evaluation.hit_rate IS 'preceded / episodes, or null without episodes';
COMMENT ON COLUMN v_evaluation.chance_rate IS 'Hit rate a signal that knows nothing would get on this history';
COMMENT ON COLUMN v_evaluation.median_lead_days IS 'Median lead time of preceded episodes, days, or null';

CREATE VIEW v_pain_episodes AS
SELECT
    e.athlete_id,
    ath.name AS athlete_name,
    e.episode,
    e.start_date,
    e.end_date,
    e.entries,
    e.max_severity,
    e.body_parts,
    array_to_string(e.preceded_by, ', ') AS preceded_by,
    e.lead_days
FROM evaluation_episodes AS e
LEFT JOIN athletes AS ath USING (athlete_id);
COMMENT ON VIEW v_pain_episodes IS 'Grain: one row per pain or injury episode of an athlete''s journal (entries within 7 days form one), with the signals that warned before it.';
COMMENT ON COLUMN v_pain_episodes.athlete_id IS 'Athlete slug';
COMMENT ON COLUMN v_pain_episodes.athlete_name IS 'Athlete display name or null';
COMMENT ON COLUMN v_pain_episodes.episode IS 'Episode number per athlete';
COMMENT ON COLUMN v_pain_episodes.start_date IS 'First entry date';
COMMENT ON COLUMN v_pain_episodes.end_date IS 'Last entry date';
COMMENT ON COLUMN v_pain_episodes.entries IS 'Pain and injury entries';
COMMENT ON COLUMN v_pain_episodes.max_severity IS 'Highest severity written (0-10), or null';
COMMENT ON COLUMN v_pain_episodes.body_parts IS 'Body parts as written, comma-separated';
COMMENT ON COLUMN v_pain_episodes.preceded_by IS 'Signals that warned 1-28 days before, comma-separated';
COMMENT ON COLUMN v_pain_episodes.lead_days IS 'Days from the latest moderate-or-high week to the start, or null';

CREATE VIEW v_layoffs AS
SELECT
    l.athlete_id,
    ath.name AS athlete_name,
    l.return_iso_week,
    l.days_off,
    l.label
FROM evaluation_layoffs AS l
LEFT JOIN athletes AS ath USING (athlete_id);
COMMENT ON VIEW v_layoffs IS 'Grain: one row per possible layoff: a break of 14 or more days without running with nothing in the journal during it. Labelled as possible, never counted as an episode.';
COMMENT ON COLUMN v_layoffs.athlete_id IS 'Athlete slug';
COMMENT ON COLUMN v_layoffs.athlete_name IS 'Athlete display name or null';
COMMENT ON COLUMN v_layoffs.return_iso_week IS 'ISO week in which running resumed';
COMMENT ON COLUMN v_layoffs.days_off IS 'Days without running before the return';
COMMENT ON COLUMN v_layoffs.label IS 'possible layoff (no running, nothing in the journal)';

-- The report views with the columns of migrations 005 and 006 (same columns first).
DROP VIEW v_report_weeks;
CREATE VIEW v_report_weeks AS
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
COMMENT ON COLUMN v_report_weeks.prebreak_run_time_s IS 'In return weeks: mean weekly running time before the break, seconds';
COMMENT ON COLUMN v_report_weeks.device_changed_on IS 'Local date of the last new watch or running-dynamics sensor; null if none';

DROP VIEW v_report_activities;
CREATE VIEW v_report_activities AS
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
