"""Decode workers start before the flow needs them when the inbox may hold new files
(issue 15, nightly +1 file): the hint is ``stat`` alone (modified, or moved/linked in,
after the warehouse's last write), and a run with nothing new starts none."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ingest import batch
from ingest.inbox import InboxRules, new_since, prewarm_decoders


def _rules(inbox: Path) -> InboxRules:
    return InboxRules(inbox=inbox, default_athlete="ann", settle_seconds=0,
                      processed_dir=inbox.parent / "processed", rejected_dir=inbox.parent / "rejected")


def _file(path: Path, age_s: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    old = time.time() - age_s
    os.utime(path, (old, old))
    return path


def test_new_since_counts_files_changed_or_moved_in_after_the_last_write(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    for i in range(3):
        _file(inbox / "ann" / f"old{i}.fit", 7200)
    db = _file(tmp_path / "gaitwatch.duckdb", 3600)  # the warehouse's last write: an hour ago
    since = db.stat().st_mtime_ns
    # the old files' ctime is "now" (just written): a copy made before the run would not be
    for p in (inbox / "ann").iterdir():
        assert p.stat().st_ctime_ns > since
    assert new_since(_rules(inbox), None, 10) == 3  # no warehouse yet: every file
    assert new_since(_rules(inbox), None, 2) == 2  # counting stops at the limit
    later = time.time_ns() + 10**9  # a last write after every file: nothing new
    assert new_since(_rules(inbox), later, 10) == 0
    # a file moved in later keeps its old mtime but gets a new ctime: it counts
    outside = _file(tmp_path / "elsewhere" / "moved.fit", 86_400)
    time.sleep(0.01)
    mark = time.time_ns()
    time.sleep(0.01)
    os.rename(outside, inbox / "ann" / "moved.fit")
    assert (inbox / "ann" / "moved.fit").stat().st_mtime_ns < mark
    assert new_since(_rules(inbox), mark, 10) == 1


def test_prewarm_starts_one_worker_per_new_file_up_to_the_pool_and_none_when_idle(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    _file(inbox / "ann" / "a.fit", 7200)
    db = tmp_path / "gaitwatch.duckdb"
    batch.shutdown_pools()
    try:
        db.write_bytes(b"")  # written after the file: nothing new, no worker
        os.utime(db, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
        prewarm_decoders(_rules(inbox), db, 2)
        assert batch._POOLS.get(2) is None or batch._POOLS[2].workers == []
        db.unlink()  # no warehouse: the file is new, one worker (not two) starts
        prewarm_decoders(_rules(inbox), db, 2)
        workers = batch._POOLS[2].workers
        assert len(workers) == 1 and workers[0].alive()
        prewarm_decoders(_rules(inbox), db, 1)  # in-process decoding: no pool at all
        assert 1 not in batch._POOLS
    finally:
        batch.shutdown_pools()
    assert batch._POOLS == {}
