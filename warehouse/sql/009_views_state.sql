-- 009: the views get one home. Every view's current definition lives in
-- warehouse/sql/views/ (one file per family, with its COMMENTs); warehouse/migrate.py
-- applies that folder with CREATE OR REPLACE after the migrations whenever a file's
-- content differs from the one recorded here. The views the earlier migrations create
-- stay in them as history (an applied migration never changes).

CREATE TABLE schema_views (
    file        VARCHAR NOT NULL PRIMARY KEY,
    checksum    VARCHAR NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE schema_views IS 'Grain: one row per file of warehouse/sql/views/ as last applied. The whole folder is applied again, in file order, when any file changed, was added or was removed.';
COMMENT ON COLUMN schema_views.file IS 'View file name (NN_family.sql)';
COMMENT ON COLUMN schema_views.checksum IS 'SHA-256 of the file when applied';
COMMENT ON COLUMN schema_views.applied_at IS 'When the folder was applied, UTC';
