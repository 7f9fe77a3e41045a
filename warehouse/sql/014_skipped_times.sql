-- 014: since stop 23 the warehouse also skips activities recorded at a time no clock
-- could have set (ingest/limits.py: earliest_start_year, max_start_ahead_h; error_type
-- ImplausibleTimeError): "skipped" now says so. A comment only: no data changes.

COMMENT ON COLUMN ingest_log.status IS 'loaded (stored as activity_id), duplicate (same activity already stored as activity_id), skipped (readable but not an activity, or recorded at a time no clock could have set: not analysed), rejected (error), replaced (an older version of activity_id, superseded by a corrected file)';
