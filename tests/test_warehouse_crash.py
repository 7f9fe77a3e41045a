"""Crash safety: the loader is killed at random points (an os._exit injected by this test's
child script inside and between transactions, and SIGKILL after a random delay); after
each crash the warehouse reopens with no partial and no duplicate activity, and the next
run completes. No crash hook lives in production code: the child wraps the loader."""

from __future__ import annotations

import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import REPO
from warehouse_support import corpus_results, fingerprint, make_errors_picklable

from warehouse.store import Warehouse

CHILD = textwrap.dedent(
    """
    import pickle, sys
    sys.path.insert(0, sys.argv[3])
    from warehouse_support import make_errors_picklable
    make_errors_picklable()
    import os
    import warehouse.store as store
    store.BATCH_INPUTS = 4  # many small transactions, so crashes land between and inside them
    # Test-only crash points: CRASH=<point>:<n> ends the process abruptly (os._exit, no
    # cleanup, like a power cut) at the n-th pass: after_samples = rows written, inside
    # the transaction; after_commit = right after a batch committed.
    point, _, nth = os.environ.get("CRASH", "").partition(":")
    passes = [0]
    def crash_at(name):
        if point == name:
            passes[0] += 1
            if passes[0] >= int(nth or "1"):
                os._exit(86)
    flush, protect = store.Warehouse._flush, store.Warehouse._protect_wal
    def _flush(self, state):
        flush(self, state)
        crash_at("after_samples")
    def _protect_wal(self):
        protect(self)
        crash_at("after_commit")
    store.Warehouse._flush, store.Warehouse._protect_wal = _flush, _protect_wal
    with open(sys.argv[2], "rb") as f:
        results = pickle.load(f)
    wh = store.Warehouse.open(sys.argv[1])
    print("loading", flush=True)
    s = wh.load(results, "kim", check=False)
    wh.close()
    print("done", s.loaded, flush=True)
    """
)


def _run_child(db: Path, data: Path, env_extra: dict[str, str], kill_after: float | None) -> int:
    env = {**os.environ, **env_extra, "PYTHONPATH": str(REPO)}
    # communicate(), not wait(): it drains both pipes (a full one would block the child)
    # and the with-block closes them
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(data), str(REPO / "tests")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    ) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if first.strip() != "loading":
            _out, err = proc.communicate(timeout=60)
            raise AssertionError(f"child failed to start: {first} {err}")
        if kill_after is not None:
            time.sleep(kill_after)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        try:
            proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()  # else leaving the with-block waits for the hung child without bound
            raise
    return proc.returncode


def _assert_consistent(db: Path) -> None:
    with Warehouse.open(db) as wh:  # reopening replays the WAL; uncommitted work is gone
        wh.run_data_tests()  # includes: every activity holds exactly n_samples samples
        dupes = wh.con.execute(
            "SELECT source_file, count(*) FROM activities GROUP BY 1 HAVING count(*) > 1"
        ).fetchall()
        assert dupes == []
        loaded = wh.con.execute(
            "SELECT count(*) FROM ingest_log WHERE status = 'loaded'"
        ).fetchall()[0][0]
        assert loaded == wh.con.execute("SELECT count(*) FROM activities").fetchall()[0][0]


@pytest.mark.slow
def test_loader_killed_at_random_points_recovers(tmp_path: Path) -> None:
    results = corpus_results()
    make_errors_picklable()
    data = tmp_path / "results.pkl"
    data.write_bytes(pickle.dumps(results))
    db = tmp_path / "work.duckdb"
    rng = random.Random(20261125)
    plans: list[tuple[dict[str, str], float | None, set[int]]] = [
        ({"CRASH": "after_samples:2"}, None, {86}),
        ({"CRASH": f"after_samples:{rng.randint(1, 3)}"}, None, {86}),
        ({"CRASH": "after_commit:1"}, None, {86}),
        ({}, rng.uniform(0.0, 0.3), {0, -signal.SIGKILL}),
        ({"CRASH": f"after_samples:{rng.randint(1, 4)}"}, None, {86, 0}),
        ({}, rng.uniform(0.0, 0.3), {0, -signal.SIGKILL}),
    ]
    crashed = 0
    for env_extra, kill_after, allowed in plans:
        rc = _run_child(db, data, env_extra, kill_after)
        assert rc in allowed, (env_extra, kill_after, rc)
        crashed += rc != 0
        _assert_consistent(db)
    assert crashed >= 3
    # the next, undisturbed run completes
    assert _run_child(db, data, {}, None) == 0
    _assert_consistent(db)
    # and the result equals one clean load (ids, samples, sessions, statuses)
    with Warehouse.open(tmp_path / "clean.duckdb") as clean:
        clean.load(results, "kim")
        expected = fingerprint(clean.con)
    with Warehouse.open(db) as wh:
        got = fingerprint(wh.con)
    assert {t: v for t, v in got.items()} == expected
