-- 004: pipeline state lives in the warehouse (issue 13), written in the same transaction
-- as the work it describes. Replaces the side files <db>.files.jsonl, <db>.metrics.json
-- and <db>.datatests.json (imported once when present, then removed).

CREATE TABLE inbox_files (
    path          VARCHAR NOT NULL PRIMARY KEY,
    size_bytes    BIGINT NOT NULL,
    mtime_ns      BIGINT NOT NULL,
    sha256        VARCHAR,
    outcome       VARCHAR NOT NULL,
    reason        VARCHAR,
    athlete_id    VARCHAR,
    processed_at  TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE inbox_files IS 'Grain: one row per file dropped in the inbox that a run has finished with (latest run wins). The cheap "already done" check: a file with the same path, size and mtime is not read again. Written in the load transaction of the file''s activities.';
COMMENT ON COLUMN inbox_files.path IS 'Path relative to the inbox (posix), as logged in ingest_log.source_file (an archive: the archive''s path)';
COMMENT ON COLUMN inbox_files.size_bytes IS 'File size when it was read, bytes';
COMMENT ON COLUMN inbox_files.mtime_ns IS 'File modification time when it was read, nanoseconds since the Unix epoch';
COMMENT ON COLUMN inbox_files.sha256 IS 'SHA-256 of the raw file as dropped (before gunzip/unzip)';
COMMENT ON COLUMN inbox_files.outcome IS 'What the run did with it: loaded, duplicate, unchanged, skipped or rejected (imported: carried over from the pre-004 side file)';
COMMENT ON COLUMN inbox_files.reason IS 'Why, in words, for anything but loaded (null otherwise)';
COMMENT ON COLUMN inbox_files.athlete_id IS 'Whose file it is (from its inbox folder)';
COMMENT ON COLUMN inbox_files.processed_at IS 'When the run finished with it, UTC';

CREATE TABLE pipeline_state (
    name        VARCHAR NOT NULL PRIMARY KEY,
    fingerprint VARCHAR,
    watermark   TIMESTAMPTZ,
    full_at     TIMESTAMPTZ,
    updated_at  TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE pipeline_state IS 'Grain: one row per incremental pipeline stage (metrics, datatests). How far the stage got, written in the same transaction as the stage''s own output.';
COMMENT ON COLUMN pipeline_state.name IS 'The stage: metrics (gait metrics and weekly risk) or datatests (the data tests before publishing)';
COMMENT ON COLUMN pipeline_state.fingerprint IS 'metrics: SHA-256 of what the metrics depend on besides the data (thresholds, athletes'' settings); a change means recompute everything. For datatests: the per-table state fingerprint of the last passing gate';
COMMENT ON COLUMN pipeline_state.watermark IS 'Largest activities.loaded_at the stage has processed; activities loaded later are new to it';
COMMENT ON COLUMN pipeline_state.full_at IS 'datatests: when the data tests last ran over the whole warehouse (a full run at least weekly). Null for metrics';
COMMENT ON COLUMN pipeline_state.updated_at IS 'When the row was written, UTC';
