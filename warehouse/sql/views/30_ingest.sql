-- Current definitions (warehouse/sql/views/): applied with CREATE OR REPLACE after the
-- migrations whenever a file here changes or a migration ran (warehouse/migrate.py).
-- Change a view here, not in a migration (a migration that drops a view for a table
-- change leaves its re-creation to this folder). Grain and columns: the COMMENTs.
-- What went wrong while loading: every input rejected or skipped, with its reason.

CREATE OR REPLACE VIEW v_ingest_problems AS
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
COMMENT ON COLUMN v_ingest_problems.status IS 'rejected (an error) or skipped (readable, but not an activity or recorded at a time no clock could have set: not analysed)';
COMMENT ON COLUMN v_ingest_problems.reason IS 'One readable line saying why';
COMMENT ON COLUMN v_ingest_problems.error_type IS 'gaitwatch error class';
COMMENT ON COLUMN v_ingest_problems.size_bytes IS 'Size of the input, bytes';
COMMENT ON COLUMN v_ingest_problems.sha256 IS 'SHA-256 of the bytes (hex) or null';
COMMENT ON COLUMN v_ingest_problems.first_seen_at IS 'When first read, UTC';
COMMENT ON COLUMN v_ingest_problems.seen_at IS 'When last read, UTC';
