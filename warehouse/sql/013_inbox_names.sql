-- 013: a file whose decoder crashed or overran (or met a reader bug) was logged in
-- ingest_log under its absolute path, while its inbox_files row holds the path relative
-- to the inbox. The data test tying the two then failed every later run at the gate
-- (fixed in ingest/batch.py, stop 23). Such rows take the inbox name of the file they
-- end with (the longest, should two inbox paths match); one that would then repeat a row
-- the file already has under that name is dropped instead. Rows of files named on the
-- command line (not in the inbox) are left as they are.

CREATE TEMP TABLE _gw_renamed AS
SELECT l.rowid AS rid,
       (SELECT i.path FROM inbox_files AS i
        WHERE i.athlete_id = l.athlete_id AND ends_with(l.source_file, '/' || i.path)
        ORDER BY length(i.path) DESC LIMIT 1) AS inbox_path
FROM ingest_log AS l
WHERE l.status IN ('rejected', 'skipped') AND starts_with(l.source_file, '/');

DELETE FROM ingest_log AS l USING _gw_renamed AS r
WHERE l.rowid = r.rid AND r.inbox_path IS NOT NULL AND EXISTS (
    SELECT 1 FROM ingest_log AS o WHERE o.athlete_id = l.athlete_id
    AND o.source_file = r.inbox_path AND o.sha256 IS NOT DISTINCT FROM l.sha256 AND o.part = l.part);

UPDATE ingest_log AS l SET source_file = r.inbox_path FROM _gw_renamed AS r
WHERE l.rowid = r.rid AND r.inbox_path IS NOT NULL;

DROP TABLE _gw_renamed;
