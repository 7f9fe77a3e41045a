"""Publishing over the previous published copy writes only what changed (issue 15: the
nightly run with one new file must not copy the whole warehouse), and the result is
exactly what a full copy would hold: every table, row for row, volatile columns too.
A reader holding the published file open, or a published file that is not what its
stamp says, gets a full copy instead."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import pytest
from warehouse_support import corpus_results, gpx_bytes, read_one

from warehouse.publish import is_current, publish
from warehouse.store import Warehouse


def _tables(con: duckdb.DuckDBPyConnection, db: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' "
        "ORDER BY 1", [db]).fetchall()]


def _differences(work: Path, dest: Path) -> dict[str, tuple[int, int]]:
    """Per table, rows only in the working file and rows only in the published one."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{work}' AS w (READ_ONLY)")
        con.execute(f"ATTACH '{dest}' AS p (READ_ONLY)")
        tables = _tables(con, "w")
        assert tables == _tables(con, "p")
        out = {}
        for t in tables:
            only = "SELECT count(*) FROM (SELECT * FROM {}.{t} EXCEPT ALL SELECT * FROM {}.{t})"
            a = con.execute(only.format("w", "p", t=t)).fetchall()[0][0]
            b = con.execute(only.format("p", "w", t=t)).fetchall()[0][0]
            if a or b:
                out[t] = (a, b)
        return out
    finally:
        con.close()


def _count(path: Path, sql: str) -> Any:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def inputs() -> tuple[list[Any], Any, Any]:
    results = [r for r in corpus_results() if r.error is None]
    fit = [r for r in results if r.activities[0].meta.format == "fit"]
    if len(fit) < 6:
        pytest.skip("corpus has too few FIT files")
    run = next(r for r in fit if r.activities[0].meta.sport == "running"
               and r.activities[0].samples["lat_deg"].null_count() == 0)
    act = run.activities[0]
    v1 = read_one("inbox/run.gpx", gpx_bytes(act.samples))
    v2 = read_one("inbox/run-corrected.gpx", gpx_bytes(act.samples.head(act.samples.height - 5)))
    return [r for r in fit if r is not run][:5], v1, v2


@pytest.fixture(autouse=True)
def _xattrs(tmp_path: Path) -> None:
    """The published file's stamp is an extended attribute: without them every publish
    copies (warehouse.publish), and nothing here applies."""
    probe = tmp_path / "probe"
    probe.touch()
    try:
        os.setxattr(probe, "user.gaitwatch.probe", b"1")
    except OSError:
        pytest.skip("no user extended attributes on this filesystem: every publish copies")
    finally:
        probe.unlink()


def _publish(work: Path, dest: Path, strip: bool = False) -> None:
    with Warehouse.open(work) as wh:
        publish(wh.con, wh.path, dest, strip_coordinates=strip, full_checks=False)


def test_each_change_is_written_in_place_and_equals_a_copy(tmp_path: Path, inputs: Any) -> None:
    fits, v1, v2 = inputs
    work, dest = tmp_path / "work.duckdb", tmp_path / "pub" / "gaitwatch.duckdb"
    with Warehouse.open(work) as wh:
        wh.load(fits[:2] + [v1], "ann")
    _publish(work, dest)  # first publish: a copy
    inode = dest.stat().st_ino
    assert _differences(work, dest) == {}

    with Warehouse.open(work) as wh:  # new activities
        assert wh.load(fits[2:4], "ann").loaded == 2
    assert not is_current(work, dest)
    _publish(work, dest)
    assert dest.stat().st_ino == inode and _differences(work, dest) == {}
    assert is_current(work, dest)

    with Warehouse.open(work) as wh:  # a corrected file: same activity, fewer samples
        assert wh.load([v2], "ann").replaced == 1
    _publish(work, dest)
    assert dest.stat().st_ino == inode and _differences(work, dest) == {}
    n_run = v2.activities[0].samples.height
    assert _count(dest, "SELECT count(*) FROM samples JOIN activities USING (activity_id) "
                        "WHERE format = 'gpx'") == n_run

    with Warehouse.open(work) as wh:  # another athlete, and an activity row edited in place
        wh.load(fits[4:5], "bo")
        wh.con.execute("UPDATE activities SET name = 'renamed' WHERE activity_id = "
                       "(SELECT min(activity_id) FROM activities WHERE athlete_id = 'ann')")
    _publish(work, dest)
    assert dest.stat().st_ino == inode and _differences(work, dest) == {}
    assert _count(dest, "SELECT count(*) FROM activities WHERE name = 'renamed'") == 1
    # only DuckDB's own files: no WAL or temporary file left beside the published one
    assert sorted(p.name for p in dest.parent.iterdir()) == ["gaitwatch.duckdb"]


def test_chart_bins_binned_again_are_written_in_place(tmp_path: Path, inputs: Any) -> None:
    """The report's chart bins change without their activity when the metrics bin again
    (a threshold change): the in-place publish rewrites them, and equals a copy."""
    from warehouse.metrics import update_metrics

    fits, v1, v2 = inputs
    work, dest = tmp_path / "work.duckdb", tmp_path / "pub" / "gaitwatch.duckdb"
    with Warehouse.open(work) as wh:
        wh.load(fits[:3] + [v1], "ann")
        update_metrics(wh, {}, [])
    _publish(work, dest)  # first publish: a copy
    inode = dest.stat().st_ino
    binned = _count(dest, "SELECT max(binned_at) FROM activity_chart_bins")
    assert binned is not None

    with Warehouse.open(work) as wh:  # every run binned again, no activity changed
        assert wh.load(fits[:3] + [v1], "ann").loaded == 0
        update_metrics(wh, {"run_cadence_min_spm": 150.0}, [])
    _publish(work, dest)
    assert dest.stat().st_ino == inode and _differences(work, dest) == {}
    assert _count(dest, "SELECT min(binned_at) FROM activity_chart_bins") > binned

    with Warehouse.open(work) as wh:  # a corrected file: its bins replaced with it
        assert wh.load([v2], "ann").replaced == 1
        update_metrics(wh, {"run_cadence_min_spm": 150.0}, [])
    _publish(work, dest)
    assert dest.stat().st_ino == inode and _differences(work, dest) == {}


def test_stripped_copies_stay_stripped_in_place(tmp_path: Path, inputs: Any) -> None:
    fits, _v1, _v2 = inputs
    work, dest = tmp_path / "work.duckdb", tmp_path / "pub" / "nogps.duckdb"
    with Warehouse.open(work) as wh:
        wh.load(fits[:2], "ann")
    _publish(work, dest, strip=True)
    inode = dest.stat().st_ino
    with Warehouse.open(work) as wh:
        wh.load(fits[2:5], "ann")
        n = wh.con.execute("SELECT count(*) FROM samples").fetchall()[0][0]
        with_gps = wh.con.execute("SELECT count(lat_deg) FROM samples").fetchall()[0][0]
    assert with_gps > 0  # the new files carry positions: the check below can fail
    _publish(work, dest, strip=True)
    assert dest.stat().st_ino == inode
    assert _count(dest, "SELECT count(*) FROM samples") == n
    assert _count(dest, "SELECT count(lat_deg) + count(lon_deg) FROM samples") == 0
    # the other mode is another file: a copy, positions back
    _publish(work, dest)
    assert dest.stat().st_ino != inode
    assert _count(dest, "SELECT count(lat_deg) FROM samples") == with_gps


HOLD = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print(con.execute("SELECT count(*) FROM activities").fetchall()[0][0], flush=True)
    sys.stdin.readline()
    print(con.execute("SELECT count(*) FROM activities").fetchall()[0][0], flush=True)
    """
)


def test_a_reader_holding_the_file_gets_a_copy_and_keeps_its_data(tmp_path: Path, inputs: Any) -> None:
    fits, _v1, _v2 = inputs
    work, dest = tmp_path / "work.duckdb", tmp_path / "pub" / "gaitwatch.duckdb"
    with Warehouse.open(work) as wh:
        wh.load(fits[:2], "ann")
    _publish(work, dest)
    inode = dest.stat().st_ino
    reader = subprocess.Popen([sys.executable, "-c", HOLD, str(dest)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "2"
        with Warehouse.open(work) as wh:
            wh.load(fits[2:4], "ann")
        _publish(work, dest)  # the reader's lock: not in place, a copy renamed over it
        out, err = reader.communicate("go\n", timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
    assert reader.returncode == 0, err
    assert out.strip() == "2"  # the open connection still answers from the old file
    assert dest.stat().st_ino != inode and _differences(work, dest) == {}
    assert is_current(work, dest)


def _tamper_then_publish(tmp_path: Path, fits: list[Any], sql: str,
                         restamp: bool = False) -> tuple[Path, Path, int]:
    """Two files loaded and published, ``sql`` run on the published file (then its stamp
    written again when ``restamp``: as if nobody had touched it), a third file loaded and
    published. Returns the working file, the published file and its first inode."""
    from warehouse.publish import _write_stamp

    work, dest = tmp_path / "work.duckdb", tmp_path / "pub" / "gaitwatch.duckdb"
    with Warehouse.open(work) as wh:
        wh.load(fits[:2], "ann")
    _publish(work, dest)
    inode = dest.stat().st_ino
    con = duckdb.connect(str(dest))
    con.execute(sql)
    con.close()
    if restamp:
        _write_stamp(work.resolve(), dest.resolve(), False)
    with Warehouse.open(work) as wh:
        wh.load(fits[2:3], "ann")
    _publish(work, dest)
    return work, dest, inode


def test_a_published_file_changed_by_someone_else_is_copied_afresh(tmp_path: Path, inputs: Any) -> None:
    fits, _v1, _v2 = inputs
    work, dest, inode = _tamper_then_publish(
        tmp_path, fits, "DELETE FROM samples WHERE ts = (SELECT min(ts) FROM samples)")
    assert dest.stat().st_ino != inode and _differences(work, dest) == {}


def test_an_update_that_ends_with_other_counts_is_rolled_back_and_copied(
    tmp_path: Path, inputs: Any
) -> None:
    """A published file that its stamp vouches for but that holds an extra sample of an
    unchanged activity (what a lost or doubled write would leave): the in-place update
    ends with other row counts than the working file, is rolled back whole, and the file
    is copied afresh instead."""
    fits, _v1, _v2 = inputs
    work, dest, inode = _tamper_then_publish(
        tmp_path, fits, "INSERT INTO samples SELECT * FROM samples LIMIT 1", restamp=True)
    assert dest.stat().st_ino != inode and _differences(work, dest) == {}
    assert sorted(p.name for p in dest.parent.iterdir()) == ["gaitwatch.duckdb"]


WRITE_AND_DIE = textwrap.dedent(
    """
    import os, sys, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("SET checkpoint_threshold = '1TB'")  # keep the change in the WAL
    con.execute("DELETE FROM activities")
    os._exit(9)  # killed before any checkpoint: the WAL stays beside the file
    """
)


def test_a_wal_left_beside_the_published_file_is_not_replayed_into_the_new_copy(
    tmp_path: Path, inputs: Any
) -> None:
    # (duckdb 2.0 itself discards a WAL that does not belong to the file it opens;
    # publish also removes it, for older readers such as the 1.5 shell)
    fits, _v1, _v2 = inputs
    work, dest = tmp_path / "work.duckdb", tmp_path / "pub" / "gaitwatch.duckdb"
    with Warehouse.open(work) as wh:
        wh.load(fits[:2], "ann")
    _publish(work, dest)
    subprocess.run([sys.executable, "-c", WRITE_AND_DIE, str(dest)], check=False, timeout=120)
    wal = dest.with_name(dest.name + ".wal")
    assert wal.exists() and wal.stat().st_size > 0  # the precondition: a WAL with a delete
    with Warehouse.open(work) as wh:
        wh.load(fits[2:3], "ann")
    _publish(work, dest)
    assert not wal.exists()
    assert _differences(work, dest) == {}
    assert _count(dest, "SELECT count(*) FROM activities") == 3
