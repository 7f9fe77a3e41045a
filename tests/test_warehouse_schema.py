"""The warehouse schema: migrations, contracts with ingest/transforms, comments and docs."""

from __future__ import annotations

import re
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest

from ingest.schema import EXTRA_SCHEMA, LAP_SCHEMA, SAMPLE_SCHEMA, SESSION_SCHEMA
from transforms.schema import ACTIVITY_GAIT_SCHEMA, WEEKLY_RISK_SCHEMA
from warehouse.docs import DOC_PATH, render_fresh
from warehouse.migrate import SQL_DIR, MigrationError, connect, migrate, migrations
from warehouse.store import Warehouse

# polars dtype -> the type name duckdb_columns() reports; written out here, independently
# of the code under test, so that a drift on either side fails.
DUCKDB_TYPE = {
    pl.String(): "VARCHAR",
    pl.Int32(): "INTEGER",
    pl.Int64(): "BIGINT",
    pl.Float64(): "DOUBLE",
    pl.Date(): "DATE",
    pl.Datetime("us", "UTC"): "TIMESTAMP WITH TIME ZONE",
    pl.List(pl.String()): "VARCHAR[]",
}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [
        (r[0], r[1])
        for r in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
            "ORDER BY column_index",
            [table],
        ).fetchall()
    ]


def _expected(schema: dict[str, pl.DataType], prefix: dict[str, pl.DataType] | None = None) -> list[tuple[str, str]]:
    full = {**(prefix or {}), **schema}
    return [(name, DUCKDB_TYPE[dtype]) for name, dtype in full.items()]


@pytest.fixture()
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    wh = Warehouse.open(tmp_path / "w.duckdb")
    yield wh.con
    wh.close()


def test_gait_and_risk_tables_match_transforms_schema(con: duckdb.DuckDBPyConnection) -> None:
    assert _columns(con, "activity_gait") == _expected(ACTIVITY_GAIT_SCHEMA)
    assert _columns(con, "weekly_risk") == _expected(WEEKLY_RISK_SCHEMA)


def test_ingest_tables_match_ingest_schema(con: duckdb.DuckDBPyConnection) -> None:
    aid: dict[str, pl.DataType] = {"activity_id": pl.String()}
    assert _columns(con, "samples") == _expected(SAMPLE_SCHEMA, aid)
    assert _columns(con, "sessions") == _expected(SESSION_SCHEMA, aid)
    assert _columns(con, "laps") == _expected(LAP_SCHEMA, aid)
    assert _columns(con, "sample_extras") == _expected(EXTRA_SCHEMA, aid)


def test_every_table_and_view_and_column_is_commented_with_grain(con: duckdb.DuckDBPyConnection) -> None:
    objects = con.execute(
        "SELECT table_name, comment FROM duckdb_tables() WHERE NOT internal "
        "UNION ALL SELECT view_name, comment FROM duckdb_views() WHERE NOT internal"
    ).fetchall()
    names = {o[0] for o in objects}
    assert {"athletes", "activities", "sessions", "laps", "samples", "sample_extras",
            "activity_gait", "weekly_risk", "ingest_log", "schema_version"} <= names
    assert {"v_activities", "v_runs", "v_weekly_risk", "v_ingest_problems"} <= names
    no_grain = [name for name, comment in objects if not (comment or "").startswith("Grain: ")]
    assert no_grain == []
    undocumented = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() "
        "WHERE NOT internal AND (comment IS NULL OR trim(comment) = '')"
    ).fetchall()
    assert undocumented == []


def test_migrations_are_recorded_and_rerun_is_noop(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    Warehouse.open(path).close()
    con = connect(path)
    try:
        versions = [r[0] for r in con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()]
        assert versions == [m.version for m in migrations()]
        assert migrate(con) == []
        before = con.execute("SELECT count(*) FROM duckdb_columns() WHERE NOT internal").fetchall()
    finally:
        con.close()
    with Warehouse.open(path) as wh:  # re-opening migrates nothing
        after = wh.con.execute("SELECT count(*) FROM duckdb_columns() WHERE NOT internal").fetchall()
        assert after == before


def test_edited_migration_is_refused(tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql)
    con = connect(tmp_path / "w.duckdb")
    try:
        migrate(con, sql)
        first = sorted(sql.glob("*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited\n")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            migrate(con, sql)
    finally:
        con.close()


def test_failed_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql)
    (sql / "900_broken.sql").write_text("CREATE TABLE half_done (x INTEGER);\nSELECT no_such_column;\n")
    con = connect(tmp_path / "w.duckdb")
    try:
        with pytest.raises(duckdb.Error):
            migrate(con, sql)
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert "half_done" not in tables
        assert "activities" in tables  # the earlier migrations committed
        assert con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0] < 900
    finally:
        con.close()


def test_working_file_is_v150_storage_and_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with Warehouse.open(path) as wh:
        tags = wh.con.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchall()[0][0]
        wh.upsert_athletes(pl.DataFrame({"athlete_id": ["ann"], "name": ["Ann"]}))
        wal = path.with_name(path.name + ".wal")
        assert wal.exists()  # the write went to the write-ahead log ...
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600  # ... which is owner-only too
    assert tags.startswith("v1.5.0")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_committed_docs_equal_generated_docs() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render_fresh(), (
        "docs/warehouse.md is stale: run `.venv/bin/python -m warehouse.docs --write`"
    )


def test_docs_columns_agree_with_information_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Parse the committed markdown independently and compare with information_schema."""
    documented: dict[str, list[str]] = {}
    current = None
    for line in DOC_PATH.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^### `(\w+)` \((table|view)\)$", line)
        if m:
            current = m.group(1)
            documented[current] = []
            continue
        m = re.match(r"^\| `(\w+)` \| ([^|]+) \| (.+) \|$", line)
        if m and current:
            assert m.group(3).strip(), f"{current}.{m.group(1)} has no description"
            documented[current].append(m.group(1))
    actual: dict[str, list[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall():
        actual.setdefault(table, []).append(column)
    assert documented == actual


def test_second_process_gets_a_readable_lock_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "w.duckdb"
    code = (
        "import sys\n"
        "from warehouse.migrate import WarehouseLockedError\n"
        "from warehouse.store import Warehouse\n"
        "try:\n"
        "    Warehouse.open(sys.argv[1])\n"
        "except WarehouseLockedError as e:\n"
        "    print('locked:', e)\n"
    )
    with Warehouse.open(path):
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                             text=True, timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.startswith("locked: "), out.stderr
    assert "published copy" in out.stdout


def test_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        with pytest.raises(ValueError, match="time zone"):
            wh.upsert_athletes(pl.DataFrame({"athlete_id": ["ann"], "timezone": ["Mars/Olympus"]}))
        wh.upsert_athletes(pl.DataFrame({"athlete_id": ["ann"], "timezone": ["America/New_York"]}))
        wh.upsert_athletes(pl.DataFrame({"athlete_id": ["ann"], "name": ["Ann"]}))  # tz kept
        assert wh.athletes_frame().select("name", "timezone").row(0) == ("Ann", "America/New_York")


def test_pre_004_side_files_are_imported_once_and_removed(tmp_path: Path) -> None:
    # The state files older versions kept beside the database, written by hand here.
    db = tmp_path / "gw.duckdb"
    with Warehouse.open(db) as wh:
        wh.con.execute(
            "INSERT INTO ingest_log (athlete_id, source_file, sha256, part, size_bytes, status, "
            "first_seen_at, seen_at, status_changed_at) VALUES ('ann', 'ann/a.fit', 'x', 0, 10, "
            "'skipped', now(), now(), now())"
        )
    side = {k: db.with_name(f"gw.duckdb.{k}") for k in ("files.jsonl", "metrics.json", "datatests.json")}
    side["files.jsonl"].write_text(
        '{"rel": "ann/a.fit", "size": 10, "mtime_ns": 123, "sha256": "raw"}\n'
        '{"rel": "ann/gone.fit", "size": 1, "mtime_ns": 1, "sha256": "r"}\n'  # unknown to ingest_log
        '{"rel": "ann/b.fi',  # a torn last line from a crash
        encoding="utf-8",
    )
    side["metrics.json"].write_text(
        '{"fingerprint": "f00", "watermark": "2026-11-01T10:00:00+00:00"}', encoding="utf-8"
    )
    side["datatests.json"].write_text(
        '{"watermark": "2026-11-02T10:00:00+00:00", "full_at": "2026-11-03T10:00:00+00:00"}',
        encoding="utf-8",
    )
    with Warehouse.open(db) as wh:
        assert wh.inbox_files() == {"ann/a.fit": (10, 123)}
        metrics = wh.stage_state("metrics")
        tests = wh.stage_state("datatests")
    assert not any(p.exists() for p in side.values())
    assert metrics.fingerprint == "f00"
    assert metrics.watermark is not None and metrics.watermark.isoformat() == "2026-11-01T10:00:00+00:00"
    assert tests.full_at is not None and tests.full_at.isoformat() == "2026-11-03T10:00:00+00:00"
    with Warehouse.open(db) as wh:  # imported once: reopening changes nothing
        assert wh.inbox_files() == {"ann/a.fit": (10, 123)}


def test_013_gives_rejections_logged_by_absolute_path_their_inbox_name(tmp_path: Path) -> None:
    # Before stop 23 a file whose decoder crashed or overran was logged by its absolute
    # path, and the data test tying ingest_log to inbox_files failed every run after.
    from warehouse.datatests import TESTS, run

    old = tmp_path / "sql"
    shutil.copytree(SQL_DIR, old)
    for f in old.glob("*.sql"):
        if int(f.name[:3]) >= 13:
            f.unlink()
    test = "inbox_files rejected/skipped have a reason and an ingest_log row"
    assert test in TESTS
    log = ("INSERT INTO ingest_log (athlete_id, source_file, sha256, part, size_bytes, status, "
           "reason, error_type, first_seen_at, seen_at, status_changed_at) VALUES ")
    row = "('{}', '{}', NULL, 0, 0, 'rejected', 'decoder process crashed', '{}', now(), now(), now())"
    with connect(tmp_path / "gw.duckdb") as con:
        assert migrate(con, old)[-1] == 12
        con.execute(
            "INSERT INTO inbox_files VALUES "
            "('ann/x.fit', 1, 1, 'h', 'rejected', 'crashed', 'ann', now()), "
            "('ann/y.fit', 1, 1, 'h', 'rejected', 'crashed', 'ann', now()), "
            "('ann/b/x.fit', 1, 1, 'h', 'rejected', 'crashed', 'ann', now()), "
            "('ann/z.fit', 1, 1, 'h', 'rejected', 'crashed', 'ann', now()), "
            "('run.fit', 1, 1, 'h', 'rejected', 'bad crc', 'me', now())"
        )
        con.execute(log + ", ".join(row.format(*r) for r in (
            ("ann", "/in/ann/x.fit", "IngestError"),  # renamed
            ("ann", "/in/ann/y.fit", "IngestError"), ("ann", "ann/y.fit", "IngestError"),  # one stays
            ("ann", "/in/ann/b/x.fit", "IngestError"),  # ends with ann/x.fit's name too: the longer wins
            ("ann", "/old/inbox/ann/z.fit", "IngestError"),  # the inbox reached by two paths:
            ("ann", "/new/inbox/ann/z.fit", "IngestError"),  # one row stays
            ("me", "/home/u/exports/run.fit", "CorruptFileError"),  # a reader's error: kept as it is
            ("me", "run.fit", "CorruptFileError"),
            ("ann", "/elsewhere/w.fit", "IngestError"),  # not in the inbox: kept
        )))
        assert [r.name for r in run(con, False, names={test}) if not r.passed] == [test]
        assert migrate(con) == [13, 14]
        names = sorted(r[0] for r in con.execute("SELECT source_file FROM ingest_log").fetchall())
        assert names == ["/elsewhere/w.fit", "/home/u/exports/run.fit", "ann/b/x.fit", "ann/x.fit",
                         "ann/y.fit", "ann/z.fit", "run.fit"]
        unique = "ingest_log (athlete_id, source_file, sha256, part) unique"
        assert unique in TESTS
        assert [r.name for r in run(con, False, names={unique}) if not r.passed] == []
        assert [r.name for r in run(con, False, names={test}) if not r.passed] == []
