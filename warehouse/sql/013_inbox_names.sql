-- 013: a file whose decoder crashed or overran (or met a reader bug) was logged in
-- ingest_log under its absolute path, while its inbox_files row holds the path relative
-- to the inbox. The data test tying the two then failed every later run at the gate
-- (fixed in ingest/batch.py, stop 23). Such rows (error_type IngestError: the failures
-- made outside the reader) take the inbox name of the file they end with (the longest,
-- should two inbox paths match). A row that would then repeat one the file already has
-- under that name is dropped, and so are all but the latest of several absolute rows of
-- one file (the inbox reached by another path over time).

CREATE TEMP TABLE _gw_renamed AS
SELECT rid, inbox_path,
       row_number() OVER (PARTITION BY athlete_id, inbox_path, sha256, part
                          ORDER BY seen_at DESC, rid) AS nth
FROM (
    SELECT l.rowid AS rid, l.athlete_id, l.sha256, l.part, l.seen_at,
           (SELECT i.path FROM inbox_files AS i
            WHERE i.athlete_id = l.athlete_id AND ends_with(l.source_file, '/' || i.path)
            ORDER BY length(i.path) DESC LIMIT 1) AS inbox_path
    FROM ingest_log AS l
    WHERE l.status IN ('rejected', 'skipped') AND l.error_type = 'IngestError'
      AND starts_with(l.source_file, '/')
)
WHERE inbox_path IS NOT NULL;

DELETE FROM ingest_log AS l USING _gw_renamed AS r
WHERE l.rowid = r.rid AND (r.nth > 1 OR EXISTS (
    SELECT 1 FROM ingest_log AS o WHERE o.athlete_id = l.athlete_id
    AND o.source_file = r.inbox_path AND o.sha256 IS NOT DISTINCT FROM l.sha256 AND o.part = l.part));

UPDATE ingest_log AS l SET source_file = r.inbox_path FROM _gw_renamed AS r
WHERE l.rowid = r.rid;

DROP TABLE _gw_renamed;
