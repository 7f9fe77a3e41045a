"""One DuckDB instance for a whole run (issue 15, the nightly run): while a flow holds the
working file (:meth:`Warehouse.held`), its steps' own opens and closes share that
instance, so a step's close does not checkpoint the file; the holder's close does, once.
Read-only opens in the same process (the reports) join the held instance."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import pytest
from warehouse_support import corpus_results

from warehouse.instances import is_held
from warehouse.migrate import WarehouseLockedError, connect
from warehouse.store import Warehouse


def _wal(db: Path) -> int:
    wal = db.with_name(db.name + ".wal")
    return wal.stat().st_size if wal.exists() else 0


@pytest.fixture(scope="module")
def fits() -> list[Any]:
    results = [r for r in corpus_results()
               if r.error is None and r.activities[0].meta.format == "fit"]
    if len(results) < 3:
        pytest.skip("corpus has too few FIT files")
    return results[:3]


def _count_in_new_process(db: Path) -> int:
    """Activities as another process sees them (the file plus its WAL)."""
    code = (f"import duckdb; con = duckdb.connect({str(db)!r}, read_only=True); "  # noqa: S608 - a test script
            "print(con.execute('SELECT count(*) FROM activities').fetchall()[0][0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_steps_share_the_held_instance_and_the_run_checkpoints_once(
    tmp_path: Path, fits: list[Any]
) -> None:
    db = tmp_path / "work.duckdb"
    with Warehouse.open(db) as wh:
        wh.load(fits[:1], "ann")
    assert _wal(db) == 0  # an unheld close checkpoints: the file alone is complete

    with Warehouse.held(db):
        assert is_held(db) and is_held(tmp_path / "." / "work.duckdb")
        with Warehouse.open(db) as wh:  # one step of the run
            assert wh.load(fits[1:2], "ann").loaded == 1
        # the step closed, the holder did not: its commit is still only in the WAL
        assert _wal(db) > 0
        with Warehouse.open(db) as wh:  # the next step sees it
            assert wh.con.execute("SELECT count(*) FROM activities").fetchall()[0][0] == 2
        # a read-only open in this process joins the held instance (DuckDB would refuse a
        # second configuration of the open file) and sees the uncheckpointed commit
        with connect(db, read_only=True) as ro:
            assert ro.execute("SELECT count(*) FROM activities").fetchall()[0][0] == 2
        # another process is kept out for the whole run, as during any step
        with pytest.raises(WarehouseLockedError):
            _locked_elsewhere(db)
    assert not is_held(db)
    assert _wal(db) == 0  # the holder's close checkpointed
    assert _count_in_new_process(db) == 2


def _locked_elsewhere(db: Path) -> None:
    code = f"import duckdb; duckdb.connect({str(db)!r}, read_only=True)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode and "lock" in out.stderr.lower():
        raise WarehouseLockedError(out.stderr.strip().splitlines()[-1])


def test_a_crash_in_a_held_run_keeps_every_commit(tmp_path: Path, fits: list[Any]) -> None:
    """Commits made while held are durable in the WAL: a process killed before the
    holder's checkpoint loses none of them, and no half activity."""
    db = tmp_path / "work.duckdb"
    with Warehouse.open(db) as wh:
        wh.load(fits[:1], "ann")
    script = textwrap.dedent(f"""
        import os, sys
        sys.path[:0] = {sys.path!r}
        from warehouse_support import corpus_results
        from warehouse.store import Warehouse
        fits = [r for r in corpus_results()
                if r.error is None and r.activities[0].meta.format == "fit"][:3]
        with Warehouse.held({str(db)!r}):
            with Warehouse.open({str(db)!r}) as wh:
                wh.load(fits[1:3], "ann")
            os._exit(9)  # killed: no checkpoint, no close
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).parent)
    assert proc.returncode == 9, proc.stderr
    assert _wal(db) > 0
    with Warehouse.open(db) as wh:  # replays the WAL
        n, samples = wh.con.execute(
            "SELECT count(*), sum(n_samples) = (SELECT count(*) FROM samples) FROM activities"
        ).fetchall()[0]
    assert (n, samples) == (3, True)


def test_nested_holds_share_the_outer_one(tmp_path: Path) -> None:
    db = tmp_path / "work.duckdb"
    with Warehouse.held(db):
        with Warehouse.held(db):
            assert is_held(db)
        assert is_held(db)  # the inner hold ended, the outer one still holds
        with Warehouse.open(db) as wh:
            wh.con.execute("CREATE TABLE t AS SELECT 1 AS x")
        assert _wal(db) > 0
    assert not is_held(db) and _wal(db) == 0
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT x FROM t").fetchall() == [(1,)]
