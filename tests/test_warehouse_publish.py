"""Publishing: analysts open the published copy read-only (Python and the 1.5.6 shell)
while the pipeline keeps loading and publishing."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import pytest
from warehouse_support import corpus_results, fingerprint

from warehouse.datatests import DataTestError
from warehouse.publish import publish
from warehouse.store import Warehouse

VIEWS = [
    "v_activities", "v_evaluation", "v_ingest_problems", "v_journal", "v_layoffs",
    "v_pain_episodes", "v_report_activities", "v_report_chart_bins", "v_report_samples",
    "v_report_weeks", "v_runs",
    "v_weekly_risk",
]

READER = textwrap.dedent(
    """
    import sys, duckdb
    dest = sys.argv[1]
    con = duckdb.connect(dest, read_only=True)
    q = "SELECT count(*), (SELECT count(*) FROM samples) FROM activities"
    print("before", *con.execute(q).fetchall()[0], flush=True)
    sys.stdin.readline()  # the test publishes a new version meanwhile
    print("old", *con.execute(q).fetchall()[0], flush=True)
    # duckdb caches one database instance per path and process while a connection is
    # open: connect() again here would share the old instance. Close, then reconnect.
    con.close()
    con = duckdb.connect(dest, read_only=True)
    print("new", *con.execute(q).fetchall()[0], flush=True)
    """
)


def _split(results: list[Any]) -> tuple[list[Any], list[Any]]:
    fit = [r for r in results if r.source_file.startswith("fit/")]
    rest = [r for r in results if not r.source_file.startswith("fit/")]
    return fit, rest


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_reader_in_another_process_survives_load_and_publish(tmp_path: Path) -> None:
    fit, rest = _split(corpus_results())
    dest = tmp_path / "published" / "gaitwatch.duckdb"
    with Warehouse.open(tmp_path / "work.duckdb") as wh:
        wh.load(fit, "ann")
        publish(wh.con, wh.path, dest)
        n1 = wh.con.execute("SELECT count(*), (SELECT count(*) FROM samples) FROM activities").fetchall()[0]
        reader = subprocess.Popen(
            [sys.executable, "-c", READER, str(dest)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert reader.stdout is not None and reader.stdin is not None
            before = reader.stdout.readline().split()
            assert before == ["before", str(n1[0]), str(n1[1])], reader.stderr.read() if reader.stderr else ""
            # full load + publish while the analyst's connection is open
            s = wh.load(rest, "ann")
            assert s.loaded > 0
            publish(wh.con, wh.path, dest)
            n2 = wh.con.execute("SELECT count(*), (SELECT count(*) FROM samples) FROM activities").fetchall()[0]
            # another analyst process opening the file now sees the new data
            fresh = subprocess.run(
                [sys.executable, "-c", READER, str(dest)], input="\n",
                capture_output=True, text=True, timeout=60,
            )
            out, err = reader.communicate("go\n", timeout=60)
        finally:
            if reader.poll() is None:
                reader.kill()
    assert reader.returncode == 0, err
    lines = out.split("\n")
    assert lines[0].split() == ["old", str(n1[0]), str(n1[1])]  # old connection: old data, still answering
    assert lines[1].split() == ["new", str(n2[0]), str(n2[1])]  # new connection: new data
    assert n2[0] > n1[0]
    assert fresh.stdout.split("\n")[0].split() == ["before", str(n2[0]), str(n2[1])], fresh.stderr


def test_published_copy_equals_working_and_is_owner_only(tmp_path: Path) -> None:
    work = tmp_path / "work.duckdb"
    dest = tmp_path / "pub" / "gaitwatch.duckdb"
    with Warehouse.open(work) as wh:
        wh.load(corpus_results(), "ann")
        fp_work = fingerprint(wh.con)
    with Warehouse.open(work) as wh:
        publish(wh.con, wh.path, dest)  # the one publish function: gate, checkpoint, copy
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert not list(dest.parent.glob(".*.tmp"))  # no temp file left behind
    con = duckdb.connect(str(dest), read_only=True)
    try:
        assert fingerprint(con) == fp_work
        views = [r[0] for r in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()]
        assert views == VIEWS
        assert con.execute("SELECT count(*) FROM v_runs").fetchall()[0][0] > 0
    finally:
        con.close()


def test_strip_coordinates_publishes_without_positions(tmp_path: Path) -> None:
    dest = tmp_path / "pub" / "nogps.duckdb"
    with Warehouse.open(tmp_path / "work.duckdb") as wh:
        wh.load(corpus_results(), "ann")
        with_gps = wh.con.execute("SELECT count(lat_deg) FROM samples").fetchall()[0][0]
        assert with_gps > 0
        fp_work = fingerprint(wh.con)
        others = wh.con.execute(
            "SELECT count(*), sum(hash(x)) FROM (SELECT * EXCLUDE (lat_deg, lon_deg) FROM samples) x"
        ).fetchall()
        publish(wh.con, wh.path, dest, strip_coordinates=True)
        assert wh.con.execute("SELECT count(lat_deg) FROM samples").fetchall()[0][0] == with_gps
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    con = duckdb.connect(str(dest), read_only=True)
    try:
        assert con.execute("SELECT count(lat_deg) + count(lon_deg) FROM samples").fetchall() == [(0,)]
        assert con.execute(
            "SELECT count(*), sum(hash(x)) FROM (SELECT * EXCLUDE (lat_deg, lon_deg) FROM samples) x"
        ).fetchall() == others
        fp = fingerprint(con)
        assert {t: v for t, v in fp.items() if t != "samples"} == {
            t: v for t, v in fp_work.items() if t != "samples"}
        comments = con.execute("SELECT count(*) FROM duckdb_columns() WHERE comment IS NULL AND NOT internal").fetchall()
        assert comments == [(0,)]
        tags = con.execute("SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
        assert tags[0][0].startswith("v1.5.0")
    finally:
        con.close()


def test_failing_data_test_blocks_publishing(tmp_path: Path) -> None:
    dest = tmp_path / "pub" / "gaitwatch.duckdb"
    fit, _ = _split(corpus_results())
    with Warehouse.open(tmp_path / "work.duckdb") as wh:
        wh.load(fit, "ann")
        publish(wh.con, wh.path, dest)
        published = _sha(dest)
        wh.con.execute("DELETE FROM samples WHERE ts = (SELECT min(ts) FROM samples)")
        with pytest.raises(DataTestError, match="count = n_samples"):
            publish(wh.con, wh.path, dest)
    assert _sha(dest) == published
    assert sorted(p.name for p in dest.parent.iterdir()) == ["gaitwatch.duckdb"]


def _fingerprint_of(path: Path) -> Any:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return fingerprint(con)
    finally:
        con.close()


def _rows(path: Path) -> tuple[Any, ...]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            "SELECT count(*), (SELECT count(*) FROM samples), (SELECT count(lat_deg) FROM samples) "
            "FROM activities").fetchall()[0]
    finally:
        con.close()


def test_publish_copies_only_when_the_working_file_or_the_published_file_changed(tmp_path: Path) -> None:
    """An unchanged warehouse is not copied again (the published file keeps its inode); a
    load is written into it in place; a touched published file, a lost stamp or another
    mode each copy afresh.
    Incremental gates as in the pipeline (a full gate saves its state: a write)."""
    from warehouse.publish import is_current

    probe = tmp_path / "probe"
    probe.touch()
    try:
        os.setxattr(probe, "user.gaitwatch.probe", b"1")
    except OSError:
        pytest.skip("no user extended attributes on this filesystem: every publish copies")
    fit, rest = _split(corpus_results())
    work = tmp_path / "work.duckdb"
    dest = tmp_path / "pub" / "gaitwatch.duckdb"
    with Warehouse.open(work) as wh:
        wh.load(fit[:2], "ann")
        publish(wh.con, wh.path, dest, full_checks=False)
    first = dest.stat().st_ino
    assert is_current(work, dest)
    with Warehouse.open(work) as wh:  # a run with nothing new: no copy
        publish(wh.con, wh.path, dest, full_checks=False)
    assert dest.stat().st_ino == first
    with Warehouse.open(work) as wh:  # new data: written in place, the new rows are there
        wh.load(fit[2:4] + rest[:1], "ann")
        n_work = wh.con.execute("SELECT count(*) FROM activities").fetchall()[0][0]
        assert not is_current(work, dest)
        publish(wh.con, wh.path, dest, full_checks=False)
        fp_work = fingerprint(wh.con)
    second = dest.stat().st_ino
    assert second == first and _rows(dest)[0] == n_work
    assert _fingerprint_of(dest) == fp_work  # exactly what a copy would hold
    assert is_current(work, dest)
    # someone wrote into the published file: it is no longer what the stamp says
    con = duckdb.connect(str(dest))
    con.execute("DELETE FROM weekly_risk")
    con.execute("CREATE TABLE scribble AS SELECT 1 AS x")
    con.close()
    assert not is_current(work, dest)
    with Warehouse.open(work) as wh:
        publish(wh.con, wh.path, dest, full_checks=False)
    assert dest.stat().st_ino != second
    con = duckdb.connect(str(dest), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'scribble'"
                           ).fetchall() == [(0,)]
    finally:
        con.close()
    third = dest.stat().st_ino
    os.removexattr(dest, "user.gaitwatch.published-from")  # stamp lost: copy, to be safe
    with Warehouse.open(work) as wh:
        publish(wh.con, wh.path, dest, full_checks=False)
    assert dest.stat().st_ino != third
    # the same working file published with coordinates stripped is another file
    assert _rows(dest)[2] > 0
    with Warehouse.open(work) as wh:
        publish(wh.con, wh.path, dest, strip_coordinates=True, full_checks=False)
    stripped = dest.stat().st_ino
    assert _rows(dest)[2] == 0
    with Warehouse.open(work) as wh:  # stripped again, nothing changed: no rebuild
        publish(wh.con, wh.path, dest, strip_coordinates=True, full_checks=False)
    assert dest.stat().st_ino == stripped
    with Warehouse.open(work) as wh:  # and back to a plain copy: coordinates again
        publish(wh.con, wh.path, dest, full_checks=False)
    assert _rows(dest)[2] > 0


def _duckdb_shell() -> Path:
    candidates = [Path(sys.executable).parent / "duckdb", Path(sys.prefix) / "bin" / "duckdb"]
    found = shutil.which("duckdb")
    if found:
        candidates.append(Path(found))
    for c in candidates:
        if c.is_file():
            return c
    pytest.skip("duckdb shell (pip install duckdb-cli) not installed")


def test_duckdb_cli_opens_published_file_and_lists_views(tmp_path: Path) -> None:
    shell = _duckdb_shell()
    version = subprocess.run([str(shell), "--version"], capture_output=True, text=True, check=True).stdout
    dest = tmp_path / "pub" / "gaitwatch.duckdb"
    with Warehouse.open(tmp_path / "work.duckdb") as wh:
        wh.load(corpus_results(), "ann")
        runs = wh.con.execute("SELECT count(*) FROM v_runs").fetchall()[0][0]
        problems = wh.con.execute("SELECT count(*) FROM v_ingest_problems").fetchall()[0][0]
        publish(wh.con, wh.path, dest, full_checks=False)
    sql = (
        "SELECT string_agg(view_name, ',' ORDER BY view_name) FROM duckdb_views() WHERE NOT internal; "
        "SELECT count(*) FROM v_runs; SELECT count(*) FROM v_ingest_problems; "
        "SELECT count(*) FROM v_activities WHERE started_local IS NULL;"
    )
    out = subprocess.run(
        [str(shell), "-readonly", "-noheader", "-list", str(dest), "-c", sql],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, f"{version}: {out.stderr}"
    assert out.stdout.split() == [",".join(VIEWS), str(runs), str(problems), "0"]
