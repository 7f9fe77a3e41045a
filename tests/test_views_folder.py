"""Every view's current definition in one place (warehouse/sql/views/, applied by
warehouse/migrate.py after the migrations): a database migrated from any older version
ends with exactly the views of a fresh one, and the folder changes nothing analysts see
compared with the definitions the migrations 001-008 left (same names, columns, comments
and, on a real warehouse built from sample_data, the same rows: EXCEPT ALL both ways)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from cli_support import age, write_config
from conftest import SAMPLE_DATA

from warehouse.migrate import SQL_DIR, VIEWS_DIR, connect, migrate, migrations

# The last migration written before the views folder: what "before" means.
BEFORE = 8
JOURNAL = (
    "date,kind,minutes,body_part,side,severity,text\n"
    "2026-09-15,strength,40,,,,legs\n"
    "2026-10-07,pain,,left knee,left,3,sore\n"
    "2026-10-09,pain,,left knee,left,4,\n"
)


def _migrations_up_to(tmp: Path, version: int) -> Path:
    """A migrations folder holding 001..``version`` only (and no views folder)."""
    sql = tmp / f"sql_{version:03d}"
    sql.mkdir()
    for m in migrations():
        if m.version <= version:
            shutil.copy(SQL_DIR / m.name, sql / m.name)
    return sql


def _views(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """What an analyst sees of the views: definitions, comments, columns with types and
    comments."""
    return {
        "views": con.execute(
            "SELECT view_name, sql, comment FROM duckdb_views() WHERE NOT internal "
            "AND database_name = current_database() ORDER BY 1").fetchall(),
        "columns": con.execute(
            "SELECT c.table_name, c.column_index, c.column_name, c.data_type, c.comment "
            "FROM duckdb_columns() AS c JOIN duckdb_views() AS v ON v.view_name = c.table_name "
            "AND v.database_name = c.database_name WHERE NOT v.internal "
            "AND c.database_name = current_database() ORDER BY 1, 2").fetchall(),
    }


# Comments changed on purpose after the folder began, (view, column or None for the
# view's own comment) -> what the new comment says: v_report_samples reads its thresholds
# from thresholds_in_use (migration 010), where 007 named the defaults as if fixed; a
# return's pre-break level is null without regular training before the break (stop 21).
_IN_USE = "thresholds_in_use"
CHANGED_COMMENTS = {
    ("v_report_samples", None): _IN_USE, ("v_report_samples", "interval_s"): _IN_USE,
    ("v_report_samples", "steps_per_min"): _IN_USE, ("v_report_samples", "step_length_calc_m"): _IN_USE,
    ("v_report_samples", "is_moving"): _IN_USE,
    ("v_report_weeks", "prebreak_run_time_s"): "null without regular training",
    ("v_ingest_problems", "status"): "recorded at a time no clock could have set",
}

# Views added to the folder since, over tables of later migrations (011: the report's chart
# bins): not in "before", and nothing of "before" changes for them.
ADDED_VIEWS = {"v_report_chart_bins"}


def _columns_only(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Names, columns and types, and every comment but those of CHANGED_COMMENTS, of the
    views that are not ADDED_VIEWS."""
    def comment(view: str, column: str | None, text: str) -> str:
        return "(changed)" if (view, column) in CHANGED_COMMENTS else text

    views = [v for v in snapshot["views"] if v[0] not in ADDED_VIEWS]
    columns = [c for c in snapshot["columns"] if c[0] not in ADDED_VIEWS]
    return {"names": [v[0] for v in views],
            "comments": [(v[0], comment(v[0], None, v[2])) for v in views],
            "columns": [(*c[:4], comment(c[0], c[2], c[4])) for c in columns]}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    with connect(tmp_path_factory.mktemp("fresh") / "w.duckdb") as con:
        migrate(con)
        return _views(con)


def test_every_view_is_defined_in_the_folder(fresh: dict[str, Any]) -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in (SQL_DIR / VIEWS_DIR).glob("*.sql"))
    defined = {line.split()[4] for line in text.splitlines()
               if line.startswith("CREATE OR REPLACE VIEW ")}
    assert defined == {v[0] for v in fresh["views"]}
    assert len(defined) == 12


@pytest.mark.parametrize("version", [m.version for m in migrations()])
def test_a_database_migrated_from_any_version_has_the_fresh_views(
        tmp_path: Path, version: int, fresh: dict[str, Any]) -> None:
    with connect(tmp_path / "old.duckdb") as con:
        migrate(con, _migrations_up_to(tmp_path, version))
        migrate(con)
        assert _views(con) == fresh


def test_the_folder_changes_no_name_column_or_comment(tmp_path: Path, fresh: dict[str, Any]) -> None:
    with connect(tmp_path / "before.duckdb") as con:
        migrate(con, _migrations_up_to(tmp_path, BEFORE))
        before = _views(con)
    assert _columns_only(before) == _columns_only(fresh)
    # the changed ones now say what they were changed to say
    now = {(v[0], None): v[2] for v in fresh["views"]} | {(c[0], c[2]): c[4] for c in fresh["columns"]}
    assert all(says in now[k] for k, says in CHANGED_COMMENTS.items())


def test_a_changed_view_file_is_applied_once(tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql)
    with connect(tmp_path / "w.duckdb") as con:
        migrate(con, sql)
        first = con.execute("SELECT file, checksum, applied_at FROM schema_views ORDER BY 1").fetchall()
        assert [f for f, _c, _t in first] == sorted(p.name for p in (sql / VIEWS_DIR).glob("*.sql"))
        migrate(con, sql)  # nothing changed: nothing applied again
        assert con.execute("SELECT file, checksum, applied_at FROM schema_views ORDER BY 1").fetchall() == first
        path = sql / VIEWS_DIR / "40_journal.sql"
        path.write_text(path.read_text(encoding="utf-8").replace(
            "COMMENT ON VIEW v_journal IS 'Grain: one row per training-journal entry",
            "COMMENT ON VIEW v_journal IS 'Grain: one row per journal entry"), encoding="utf-8")
        assert migrate(con, sql) == []  # no migration, but the view file was applied
        comment = con.execute("SELECT comment FROM duckdb_views() WHERE view_name = 'v_journal'").fetchall()
        assert comment[0][0].startswith("Grain: one row per journal entry")


@pytest.fixture(scope="module")
def sample_db(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sample_data (plus a journal for the spike athlete) through the real pipeline."""
    if not (SAMPLE_DATA / "inbox").is_dir():
        pytest.skip("sample_data/inbox not generated (make sample-data)")
    from flows import pipeline
    from flows.flows import ingest_inbox, settings

    root = tmp_path_factory.mktemp("views-sample")
    shutil.copytree(SAMPLE_DATA / "inbox", root / "inbox")
    (root / "inbox" / "spike" / "journal.csv").write_text(JOURNAL, encoding="utf-8")
    age(p for p in (root / "inbox").rglob("*") if p.is_file())
    config = write_config(root / "gaitwatch.toml", {
        "inbox": "inbox", "database": "out/gw.duckdb", "default_athlete": "control",
        "inbox_options": {"settle_seconds": 0},
    })
    ingest_inbox(config=config)
    pipeline.compute_metrics(settings(config))
    return root / "out" / "gw.duckdb"


def _rows(path: Path, view: str) -> pa.Table:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.sql(f"SELECT * FROM {view}").to_arrow_table()  # noqa: S608


def test_every_view_returns_the_same_rows_as_before(sample_db: Path, tmp_path: Path) -> None:
    """The same warehouse with the views as migrations 001-008 left them ("before") and as
    the folder defines them ("after"): every view, EXCEPT ALL both ways, is empty."""
    with connect(tmp_path / "defs.duckdb") as con:
        migrate(con, _migrations_up_to(tmp_path, BEFORE))
        old_defs = con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal "
                               "AND database_name = current_database() ORDER BY 1").fetchall()
    before = tmp_path / "before.duckdb"
    shutil.copy(sample_db, before)
    with duckdb.connect(str(before)) as con:
        for _name, sql in old_defs:
            assert sql.startswith("CREATE VIEW ")
            con.execute("CREATE OR REPLACE VIEW " + sql[len("CREATE VIEW "):])
    nonempty = 0
    with duckdb.connect() as cmp:
        for name, _sql in old_defs:
            old, new = _rows(before, name), _rows(sample_db, name)
            assert old.schema == new.schema, name
            cmp.register("old_rows", old)
            cmp.register("new_rows", new)
            for a, b in (("old_rows", "new_rows"), ("new_rows", "old_rows")):
                diff = cmp.execute(
                    f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})"  # noqa: S608
                ).fetchall()
                assert diff == [(0,)], (name, a, b)
            assert old.num_rows == new.num_rows, name
            nonempty += new.num_rows > 0
            cmp.unregister("old_rows")
            cmp.unregister("new_rows")
    # v_ingest_problems and v_layoffs may be empty here; every other view holds rows
    assert nonempty >= len(old_defs) - 2


def test_no_migration_after_the_folder_defines_a_view() -> None:
    """A view created by a later migration would be replaced by the folder's definition
    right after it ran: views change in warehouse/sql/views/ only."""
    late = [m.name for m in migrations() if m.version > BEFORE
            and re.search(r"\bCREATE\s+(OR\s+REPLACE\s+)?VIEW\b", m.sql, re.IGNORECASE)]
    assert late == [], f"{late}: define views in warehouse/sql/views/, not in a migration"
