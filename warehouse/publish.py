"""Publishing the working warehouse to the file analysts open read-only.

DuckDB lets no other process open a file while the pipeline holds it read-write
(FACTS.md), so analysts never open the working file: they open a published copy.

- Plain publish: data tests, ``CHECKPOINT`` (the main file alone is then complete and the
  WAL empty), copy the file byte for byte to a temporary file next to ``dest`` (owner-only,
  0600), fsync, then ``os.replace`` onto ``dest``. The rename is atomic: a reader holding
  the old file keeps its inode and goes on answering; a new connection sees the new data.
  Copying is about 0.2 s per 10 M samples.
- ``strip_coordinates=True``: the copy is rebuilt instead (same migrations, rows inserted
  with ``lat_deg``/``lon_deg`` null) so no coordinate bytes survive in freed blocks of the
  file, as they would after an ``UPDATE`` of a copied file.

- ``dest`` is what the last publish from this working file wrote (its stamp, below, and
  the same mode) and no other process has it open: it is brought up to date in place, in
  one transaction (:func:`_update_in_place`): the samples of activities added, changed or
  removed, every small table whole, then a checkpoint. A nightly run with one new file
  writes a few megabytes instead of copying the whole file (hundreds of MB after a few
  years). The result equals a copy table for table (tests/test_publish_in_place.py).
  The price: a connection opened during those few tenths of a second is refused (the
  file is locked); one opened before keeps the file locked, so the publish copies.
- Nothing changed since the last publish to ``dest``: no copy. A stamp on ``dest`` (an
  extended attribute, set after the rename) records the working file as it was copied
  (device, inode, size, mtime in ns, after ``CHECKPOINT``), the mode (plain or stripped)
  and ``dest`` itself (device, inode, size, mtime). When all of it still matches and the
  WAL is empty (every commit is in the main file), ``dest`` already holds exactly what a
  copy would write, and neither the checkpoint (which rewrites the header even when it
  has nothing to do) nor the copy is run. Any commit (to the WAL or the main file), any
  write to ``dest``, a missing stamp (another file renamed there, a filesystem without
  user attributes), or a crash between the rename and the stamp mean a copy.

The working file is kept in ``v1.5.0`` storage, so published files open in the DuckDB
1.5.6 shell (``duckdb-cli``) as well as in duckdb 2.x.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import duckdb

from ingest.errors import GaitwatchError
from warehouse import datatests
from warehouse.migrate import (
    STORAGE_VERSION,
    fetch_one,
    migrate,
    sql_literal,
    storage_version,
    wal_path,
)

_COPY_CHUNK = 16 * 1024 * 1024


class PublishError(GaitwatchError):
    """The warehouse could not be published (nothing was replaced)."""


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_path(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"


def _copy_owner_only(src: Path, dst: Path) -> None:
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
        if not _copy_in_kernel(inp.fileno(), out.fileno()):
            shutil.copyfileobj(inp, out, _COPY_CHUNK)
        out.flush()
        os.fsync(out.fileno())


def _copy_in_kernel(src_fd: int, dst_fd: int) -> bool:
    """Copy with ``copy_file_range`` (no round trip through Python buffers; a reflink on
    filesystems that share extents): 0.07 s instead of 0.13-0.4 s for a 250 MB file here.
    False, with nothing written, where the kernel or filesystem does not support it."""
    copy = getattr(os, "copy_file_range", None)
    if copy is None:
        return False
    size = os.fstat(src_fd).st_size
    done = 0
    try:
        while done < size:
            n = copy(src_fd, dst_fd, size - done, done, done)
            if n == 0:
                break
            done += n
    except OSError:
        if done:
            raise  # a real I/O error midway, not a missing feature
        return False
    if done != size:
        raise OSError(f"copy_file_range stopped after {done} of {size} bytes")
    return True


# Extended attribute of the published file naming the working file it was copied from.
# An attribute, not a file: nothing but DuckDB files beside the databases (state lives in
# the warehouse), and setting it changes neither the file's bytes nor its mtime.
_STAMP_ATTR = "user.gaitwatch.published-from"


def _file_id(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]


def _wal_size(working_path: Path) -> int:
    wal = wal_path(working_path)
    return wal.stat().st_size if wal.exists() else 0


def _stamp(working_path: Path, dest: Path, strip_coordinates: bool) -> bytes | None:
    """What the published file must carry to be current; None (always copy) while the WAL
    holds commits the main file's mtime does not show."""
    if _wal_size(working_path) > 0:
        return None
    doc = {"working": _file_id(working_path), "strip_coordinates": strip_coordinates,
           "published": _file_id(dest)}
    return json.dumps(doc, sort_keys=True).encode()


def is_current(working_path: Path, dest: Path, strip_coordinates: bool = False) -> bool:
    """True when ``dest`` is the untouched result of publishing the working file as it is
    now (same mode): publishing again would write the same bytes."""
    working_path, dest = Path(working_path).resolve(), Path(dest).resolve()
    want = _stamp(working_path, dest, strip_coordinates)
    try:
        got = os.getxattr(dest, _STAMP_ATTR)
    except (OSError, AttributeError):  # no file, no attribute, no xattr support
        return False
    return want is not None and got == want


def _write_stamp(working_path: Path, dest: Path, strip_coordinates: bool) -> None:
    stamp = _stamp(working_path, dest, strip_coordinates)
    if stamp is None:
        return
    try:
        os.setxattr(dest, _STAMP_ATTR, stamp)
    except (OSError, AttributeError):
        pass  # a filesystem without user attributes: every publish copies, as before


def _published_rows(table: str, strip_coordinates: bool) -> str:
    """The SELECT list copying ``table`` into a published file: positions null in
    ``samples`` when coordinates are stripped."""
    if table == "samples" and strip_coordinates:
        return "SELECT * REPLACE (NULL::DOUBLE AS lat_deg, NULL::DOUBLE AS lon_deg)"
    return "SELECT *"


def _rebuild_without_coordinates(con: duckdb.DuckDBPyConnection, dst: Path) -> None:
    """Write a fresh copy of the connection's database into ``dst`` with null coordinates."""
    home = fetch_one(con, "SELECT current_database()")
    assert home is not None
    src_db = home[0]
    con.execute(f"ATTACH {sql_literal(str(dst))} AS gw_publish (STORAGE_VERSION '{STORAGE_VERSION}')")
    try:
        con.execute("USE gw_publish")
        try:
            migrate(con)
        finally:
            con.execute(f"USE {_ident(src_db)}")
        # migrate() filled the bookkeeping tables of the new file already
        tables = [t for t in sorted(_tables(con, src_db)) if t not in ("schema_version", "schema_views")]
        con.execute("BEGIN")
        try:
            for t in tables:
                con.execute(
                    f"INSERT INTO gw_publish.main.{t} BY NAME {_published_rows(t, True)} "  # noqa: S608
                    f"FROM {_ident(src_db)}.main.{t}"
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("CHECKPOINT gw_publish")
    finally:
        con.execute("DETACH gw_publish")
    os.chmod(dst, 0o600)


# Tables whose rows belong to one activity (the samples hold nearly all of the file): on
# a publish over an existing copy only the rows of activities added, changed or removed
# are rewritten. Their rows are only ever inserted and deleted with their activity
# (warehouse.store's _DATA_TABLES), never updated, so an unchanged ``activities`` row
# means unchanged rows here. activity_gait is not one of them: a threshold change
# rewrites it alone. activity_chart_bins (most of the rest of the file) is rewritten for
# the activities changed, and for those the metrics binned again: every write of an
# activity's bins gives its total row a new binned_at. Table -> the temporary table of
# the activities whose rows are rewritten.
_PER_ACTIVITY = {
    "samples": "_gw_changed", "sample_extras": "_gw_changed", "sessions": "_gw_changed",
    "laps": "_gw_changed", "activity_chart_bins": "_gw_rebinned",
}


def _ident(name: str) -> str:
    """A quoted SQL identifier (a database is named after its file: "my-runs" needs quotes)."""
    return '"' + name.replace('"', '""') + '"'


class _NotInPlace(Exception):
    """The published file cannot be brought up to date in place: copy it instead."""


def _tables(con: duckdb.DuckDBPyConnection, db: str) -> dict[str, list[tuple[str, str]]]:
    """The base tables of database ``db`` with their columns and types (no views)."""
    rows = con.execute(
        "SELECT c.table_name, c.column_name, c.data_type FROM duckdb_columns() AS c "
        "JOIN duckdb_tables() AS t USING (database_name, schema_name, table_name) "
        "WHERE c.database_name = ? AND c.schema_name = 'main' "
        "ORDER BY c.table_name, c.column_index",
        [db],
    ).fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        out.setdefault(table, []).append((column, kind))
    return out


def _update_in_place(con: duckdb.DuckDBPyConnection, dest: Path, strip_coordinates: bool) -> None:
    """Bring ``dest`` (a published copy of this warehouse, same schema) up to date in one
    transaction: the per-activity tables only for activities whose ``activities`` row
    differs, every other (small) table rewritten whole; then a checkpoint so the file is
    complete without a WAL. Raises :class:`_NotInPlace`, with ``dest`` as it was, when it
    is missing, open in another process, of another schema, or ends with other row
    counts than the working file.

    The statements go to DuckDB a script at a time, not one call each: the nightly run
    renders the reports meanwhile, and each return from DuckDB waits for the interpreter
    lock the rendering thread holds (up to 5 ms a call, about 60 calls: half the publish
    time of a nightly run with one new file)."""
    if not dest.exists():
        raise _NotInPlace("no published file yet")
    home = fetch_one(con, "SELECT current_database()")
    assert home is not None
    name = home[0]
    src = _ident(name)
    try:
        con.execute(f"ATTACH {sql_literal(str(dest))} AS gw_pub")
    except duckdb.Error as exc:  # open elsewhere (lock), or not a DuckDB file
        raise _NotInPlace(str(exc)) from exc
    try:
        tables = _tables(con, name)
        if tables != _tables(con, "gw_pub"):
            raise _NotInPlace("the published file has another schema")
        # activities whose row differs between the files (by a 64-bit hash of the whole
        # row: 8x faster than EXCEPT ALL of 2,000 wide rows); before activities is
        # rewritten; in the temporary catalog, outside the transaction (which may write
        # one database only)
        total = "SELECT activity_id, binned_at FROM {}.main.activity_chart_bins WHERE kind = 'total'"
        # ... and how many of them the published file holds rows of: none in a nightly run
        # that only adds activities, whose deletes would scan every published sample for
        # nothing (a tenth of the publish)
        held = con.execute(
            "CREATE OR REPLACE TEMP TABLE _gw_changed AS SELECT activity_id FROM "  # noqa: S608
            f"(SELECT activity_id, hash(w) AS h FROM {src}.main.activities AS w) AS w "
            "FULL JOIN (SELECT activity_id, hash(p) AS h FROM gw_pub.main.activities AS p) AS p "
            "USING (activity_id) WHERE w.h IS DISTINCT FROM p.h; "
            "CREATE OR REPLACE TEMP TABLE _gw_rebinned AS SELECT activity_id FROM _gw_changed "
            f"UNION SELECT activity_id FROM ({total.format(src)}) AS w "
            f"FULL JOIN ({total.format('gw_pub')}) AS p USING (activity_id) "
            "WHERE w.binned_at IS DISTINCT FROM p.binned_at; "
            "SELECT (SELECT count(*) FROM _gw_changed WHERE activity_id IN "
            "(SELECT activity_id FROM gw_pub.main.activities)), "
            f"(SELECT count(*) FROM _gw_rebinned WHERE activity_id IN (SELECT activity_id FROM "
            f"({total.format('gw_pub')})))"
        ).fetchall()[0]
        published = {"_gw_changed": held[0], "_gw_rebinned": held[1]}
        script = []
        for t in sorted(tables):
            where = (f"WHERE activity_id IN (SELECT activity_id FROM {_PER_ACTIVITY[t]})"  # noqa: S608
                     if t in _PER_ACTIVITY else "")
            if t not in _PER_ACTIVITY or published[_PER_ACTIVITY[t]]:
                script.append(f"DELETE FROM gw_pub.main.{t} {where}")  # noqa: S608
            script.append(f"INSERT INTO gw_pub.main.{t} BY NAME "  # noqa: S608
                          f"{_published_rows(t, strip_coordinates)} FROM {src}.main.{t} {where}")
        # then every table's row counts in both files, in one query
        names = sorted(tables)
        pairs = [f"(SELECT count(*) FROM {src}.main.{t}), "  # noqa: S608 - our names
                 f"(SELECT count(*) FROM gw_pub.main.{t})" for t in names]
        script.append("SELECT " + ", ".join(pairs))
        con.execute("BEGIN")
        try:
            counts = con.execute(";\n".join(script)).fetchall()[0]
            for t, a, b in zip(names, counts[::2], counts[1::2], strict=True):
                if a != b:
                    raise _NotInPlace(f"{t}: {b} rows in the published file, {a} in the working file")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("CHECKPOINT gw_pub")
    finally:
        con.execute("DROP TABLE IF EXISTS _gw_changed; DROP TABLE IF EXISTS _gw_rebinned; "
                    "DETACH gw_pub")


def _updatable(working_path: Path, dest: Path, strip_coordinates: bool) -> bool:
    """True when ``dest`` is untouched since this working file was last published to it
    in the same mode (its stamp says so): then only what changed since needs writing."""
    try:
        doc = json.loads(os.getxattr(dest, _STAMP_ATTR))
    except (OSError, AttributeError, ValueError):
        return False
    working = _file_id(working_path)
    return (
        doc.get("strip_coordinates") == strip_coordinates
        and doc.get("published") == _file_id(dest)
        and working is not None
        and (doc.get("working") or [None, None])[:2] == working[:2]  # same file (device, inode)
    )


def publish(
    con: duckdb.DuckDBPyConnection,
    working_path: Path,
    dest: Path,
    strip_coordinates: bool = False,
    full_checks: bool = True,
    gated: bool = False,
) -> Path:
    """Publish the database open on ``con`` (the working file ``working_path``) to ``dest``:
    the one publish function.

    The data-test gate runs first (:func:`warehouse.datatests.gate`: in full, or
    incremental with ``full_checks=False`` as the pipeline does): a failure raises
    :class:`warehouse.datatests.DataTestError` and ``dest`` is left as it was. ``gated``:
    the caller's own gate passed on this warehouse and nothing was written since (the
    nightly flow, which holds the file for the whole run), so it is not run again. When
    :func:`is_current` says ``dest`` already holds this working file, nothing is copied.
    """
    working_path = Path(working_path).resolve()
    dest = Path(dest).resolve()
    if dest == working_path:
        raise PublishError(f"{dest}: cannot publish the working file onto itself")
    version = storage_version(con) or "unknown"
    if not version.startswith("v1.5"):
        raise PublishError(
            f"{working_path} uses storage {version}: the DuckDB 1.5.6 shell could not read a "
            "copy; rebuild the working file with this gaitwatch"
        )
    if not gated:
        datatests.gate(con, full=full_checks)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Before the CHECKPOINT: DuckDB rewrites the file header at every checkpoint, even one
    # with nothing to write, so the working file's mtime only holds until then.
    if is_current(working_path, dest, strip_coordinates):
        return dest
    # Fails if this connection has an open transaction: then the file is not complete.
    con.execute("CHECKPOINT")
    if not strip_coordinates and _wal_size(working_path) > 0:
        raise PublishError(f"{wal_path(working_path)} not empty after CHECKPOINT: another writer is active")
    if _updatable(working_path, dest, strip_coordinates):
        try:
            _update_in_place(con, dest, strip_coordinates)
        except (_NotInPlace, duckdb.Error):
            pass  # a reader has it open, or it is not what its stamp says: copy instead
        else:
            _write_stamp(working_path, dest, strip_coordinates)
            return dest
    tmp = _temp_path(dest)
    try:
        if strip_coordinates:
            _rebuild_without_coordinates(con, tmp)
        else:
            _copy_owner_only(working_path, tmp)
        # A WAL beside dest (an in-place update killed before its checkpoint, or someone
        # writing to the published file) belongs to the file being replaced: DuckDB would
        # replay it into the new one.
        wal_path(dest).unlink(missing_ok=True)
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if strip_coordinates:
        # the rebuild attached and wrote through this connection: take the working file
        # as it is after that (a checkpoint of its own, nothing of ours changed)
        con.execute("CHECKPOINT")
    _write_stamp(working_path, dest, strip_coordinates)
    return dest
