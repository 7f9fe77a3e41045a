-- Current definitions (warehouse/sql/views/): applied with CREATE OR REPLACE after the
-- migrations whenever a file here changes or a migration ran (warehouse/migrate.py).
-- Change a view here, not in a migration (a migration that drops a view for a table
-- change leaves its re-creation to this folder). Grain and columns: the COMMENTs.
-- The back-test of the flags against each runner's journal (warehouse/evaluation.py).

CREATE OR REPLACE VIEW v_evaluation AS
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

CREATE OR REPLACE VIEW v_pain_episodes AS
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

CREATE OR REPLACE VIEW v_layoffs AS
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
