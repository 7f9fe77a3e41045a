"""Opening the working DuckDB file and applying the versioned migrations in ``warehouse/sql``.

The working file is created in DuckDB's ``v1.5.0`` storage format (FACTS.md: the 1.5.6
shell analysts use cannot read 2.0 storage; a file created with ``STORAGE_VERSION
'v1.5.0'`` keeps that format when 2.0 writes it again), so publishing is a plain file copy.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from ingest.errors import GaitwatchError
from warehouse.instances import is_held

SQL_DIR = Path(__file__).resolve().parent / "sql"
STORAGE_VERSION = "v1.5.0"
_MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
# Every view's current definition, one file per family, applied after the migrations.
VIEWS_DIR = "views"
_VIEW_FILE_NAME = re.compile(r"^(\d{2})_([a-z0-9_]+)\.sql$")

_SCHEMA_VERSION_DDL = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    name        VARCHAR NOT NULL,
    checksum    VARCHAR NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE schema_version IS 'Grain: one row per applied migration (warehouse/sql/NNN_name.sql). Each migration runs in one transaction.';
COMMENT ON COLUMN schema_version.version IS 'Migration number NNN';
COMMENT ON COLUMN schema_version.name IS 'Migration file name';
COMMENT ON COLUMN schema_version.checksum IS 'SHA-256 of the migration file when applied (an applied migration must never change)';
COMMENT ON COLUMN schema_version.applied_at IS 'When the migration was applied, UTC';
"""


class WarehouseLockedError(GaitwatchError):
    """Another process holds the database file."""


def is_transient_io_error(exc: BaseException) -> bool:
    """A database file busy in another process (DuckDB lock) or a flaky filesystem:
    worth a retry. Anything else (bad data, bugs) is not."""
    if isinstance(exc, WarehouseLockedError):
        return True
    text = str(exc)
    if "Could not set lock" in text or "Conflicting lock" in text:
        return True
    return isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError)


class MigrationError(GaitwatchError):
    """The database and the migration files disagree (edited or unknown migration)."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations(sql_dir: Path = SQL_DIR) -> list[Migration]:
    """The migration files, in version order."""
    found: list[Migration] = []
    for path in sorted(sql_dir.glob("*.sql")):
        m = _MIGRATION_NAME.match(path.name)
        if not m:
            raise MigrationError(f"{path.name}: migration files are named NNN_name.sql")
        found.append(Migration(int(m.group(1)), path.name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version number in {sql_dir}")
    return found


def sql_literal(text: str) -> str:
    """A single-quoted SQL string literal (ATTACH and COPY take no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def create_database_file(path: Path) -> None:
    """Create an empty database file in ``STORAGE_VERSION`` storage, owner-only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    boot = duckdb.connect(":memory:")
    try:
        boot.execute(
            f"ATTACH {sql_literal(str(path))} AS gw_new (STORAGE_VERSION '{STORAGE_VERSION}')"
        )
        boot.execute("DETACH gw_new")
    finally:
        boot.close()
    os.chmod(path, 0o600)


def wal_path(database: Path) -> Path:
    """DuckDB's write-ahead log beside ``database`` (``<name>.wal``)."""
    return database.with_name(database.name + ".wal")


def utc_session(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Session time zone UTC on ``con``, a connection or a cursor (the setting is per
    connection: a cursor starts at the machine's zone). TIMESTAMPTZ values come back to
    polars as Datetime("us", "UTC") only under a UTC session."""
    con.execute("SET TimeZone = 'UTC'")
    return con


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open ``path`` (creating it in v1.5.0 storage if missing), session time zone UTC.
    ``read_only`` is ignored while this process holds the file for a run
    (:meth:`warehouse.store.Warehouse.held`): the connection joins the held read-write
    instance (DuckDB refuses a second configuration of an open file)."""
    path = Path(path)
    read_only = read_only and not is_held(path)
    if not path.exists():
        if read_only:
            raise FileNotFoundError(path)
        create_database_file(path)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise WarehouseLockedError(
                f"{path} is open in another process (DuckDB allows one writer and no readers "
                "meanwhile): close it there; analysts open the published copy instead"
            ) from e
        raise
    utc_session(con)
    # DuckDB's default memory limit is 80 % of RAM, so its buffer cache grows with the file
    # (docs/performance.md, F8/P7); a fixed cap keeps the flow process flat. Larger-than-
    # memory work spills to disk instead.
    con.execute("SET memory_limit = ?", [memory_limit()])
    return con


# The block cache holds every block a run reads until the limit: 100 MB keeps a run's
# memory flat in history length (the samples of 500 one-hour runs already fill it; at
# 1 GB the 2,000-run first run peaked 40 % higher than the 500-run one) at no measured cost
# in CPU: the pipeline reads each sample once. Queries that need more spill to disk.
DEFAULT_MEMORY_LIMIT = "100MB"
_MEMORY_LIMIT = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def memory_limit() -> str:
    """DuckDB's ``memory_limit`` for gaitwatch connections: ``GAITWATCH_DUCKDB_MEMORY_LIMIT``
    (e.g. ``512MB``, ``2GB``) or :data:`DEFAULT_MEMORY_LIMIT`."""
    value = os.environ.get("GAITWATCH_DUCKDB_MEMORY_LIMIT", "").strip() or DEFAULT_MEMORY_LIMIT
    if not _MEMORY_LIMIT.match(value):
        raise ValueError(
            f"GAITWATCH_DUCKDB_MEMORY_LIMIT={value!r}: expected a size such as 512MB or 2GB"
        )
    return value


def fetch_one(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> tuple[Any, ...] | None:
    """The first row of ``sql`` or None. Fetches everything: in duckdb 2.x an unfinished
    ``execute()`` result blocks any further work on the connection."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def storage_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """The storage version tag of the connection's main database, e.g. ``'v1.5.0+'``."""
    row = fetch_one(
        con,
        "SELECT tags['storage_version'] FROM duckdb_databases() "
        "WHERE database_name = current_database()",
    )
    return None if row is None else row[0]


def migrate(con: duckdb.DuckDBPyConnection, sql_dir: Path = SQL_DIR) -> list[int]:
    """Apply every migration not yet in ``schema_version``, each in its own transaction.

    Re-running is a no-op. Returns the versions applied now. Raises
    :class:`MigrationError` when an applied migration's file changed or the database
    knows a migration this code does not have (it is newer than the code).
    """
    # Only when missing: the DDL commits a WAL record even when the table exists, and an
    # open that writes nothing lets publish see an unchanged file (warehouse.publish).
    known = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = current_schema() AND table_name = 'schema_version'"
    ).fetchall()
    if not known or known[0][0] == 0:
        con.execute("BEGIN")
        try:
            con.execute(_SCHEMA_VERSION_DDL)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    applied = dict(con.execute("SELECT version, checksum FROM schema_version").fetchall())
    files = migrations(sql_dir)
    unknown = sorted(set(applied) - {m.version for m in files})
    if unknown:
        raise MigrationError(
            f"database has migration(s) {unknown} that this gaitwatch does not know: "
            "it was written by a newer version"
        )
    done: list[int] = []
    for m in files:
        if m.version in applied:
            if applied[m.version] != m.checksum:
                raise MigrationError(
                    f"migration {m.name} changed after it was applied; add a new migration instead"
                )
            continue
        con.execute("BEGIN")
        try:
            con.execute(m.sql)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?, now())",
                [m.version, m.name, m.checksum],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        done.append(m.version)
    apply_views(con, sql_dir / VIEWS_DIR, force=bool(done))
    return done


def view_files(views_dir: Path) -> list[Migration]:
    """The view files (``NN_family.sql``) in file order; version = NN."""
    if not views_dir.is_dir():
        return []
    found: list[Migration] = []
    for path in sorted(views_dir.glob("*.sql")):
        m = _VIEW_FILE_NAME.match(path.name)
        if not m:
            raise MigrationError(f"{path.name}: view files are named NN_family.sql")
        found.append(Migration(int(m.group(1)), path.name, path.read_text(encoding="utf-8")))
    return found


def apply_views(con: duckdb.DuckDBPyConnection, views_dir: Path, force: bool = False) -> bool:
    """Create or replace every view from ``views_dir`` in one transaction when a file
    differs from the one recorded in ``schema_views`` (changed, added or removed), or
    when ``force`` (a migration ran: it may have dropped a view). Returns True when
    applied. Nothing is written otherwise (an open that changes nothing leaves the file
    as it was, warehouse.publish)."""
    files = view_files(views_dir)
    if not files:
        return False
    wanted = {f.name: f.checksum for f in files}
    if not force:
        recorded = dict(con.execute("SELECT file, checksum FROM schema_views").fetchall())
        if recorded == wanted:
            return False
    con.execute("BEGIN")
    try:
        for f in files:
            con.execute(f.sql)
        con.execute("DELETE FROM schema_views")
        con.executemany(
            "INSERT INTO schema_views VALUES (?, ?, now())", [[n, c] for n, c in wanted.items()]
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return True


# ---------------------------------------------------------------- pipeline state (004)


@dataclass(frozen=True)
class StageState:
    """One ``pipeline_state`` row: how far an incremental stage got."""

    name: str  # metrics | datatests
    fingerprint: str | None = None
    watermark: datetime | None = None
    full_at: datetime | None = None


def read_stage_state(con: duckdb.DuckDBPyConnection, name: str) -> StageState:
    """The saved state of stage ``name``; an empty state when it never ran."""
    row = fetch_one(
        con,
        "SELECT fingerprint, watermark, full_at FROM pipeline_state WHERE name = ?",
        [name],
    )
    if row is None:
        return StageState(name)
    return StageState(name, row[0], row[1], row[2])


def write_stage_state(con: duckdb.DuckDBPyConnection, state: StageState) -> None:
    """Upsert ``state``; the caller owns the transaction (it commits with the stage's work)."""
    con.execute("DELETE FROM pipeline_state WHERE name = ?", [state.name])
    con.execute(
        "INSERT INTO pipeline_state VALUES (?, ?, ?, ?, ?)",
        [state.name, state.fingerprint, state.watermark, state.full_at, datetime.now(UTC)],
    )
