-- Current definitions (warehouse/sql/views/): applied with CREATE OR REPLACE after the
-- migrations whenever a file here changes or a migration ran (warehouse/migrate.py).
-- Change a view here, not in a migration (a migration that drops a view for a table
-- change leaves its re-creation to this folder). Grain and columns: the COMMENTs.
-- The training journal, with each entry's ISO week.

CREATE OR REPLACE VIEW v_journal AS
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
