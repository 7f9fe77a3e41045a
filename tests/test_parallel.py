"""ingest.batch on local worker processes: the same results as decoding in one process.

Every corpus file (good, bad, GPX) goes through both paths; frames, metadata and typed
errors must be identical. Small chunks and a window of one force the chunking and the
bounded in-flight logic to be exercised, not just the happy single-chunk case.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import corpus_files
from polars.testing import assert_frame_equal

from ingest.batch import DecodedFile, decode_paths, decode_results, encode_results
from ingest.errors import IngestError, NotAnActivityError
from ingest.reader import read_path

TABLES = ("samples", "sessions", "laps", "extras")


def _all_corpus() -> list[Path]:
    return corpus_files("fit") + corpus_files("gpx") + corpus_files("bad")


def assert_same_decoding(got: list[DecodedFile], want: list[DecodedFile]) -> None:
    """Same paths in the same order, and per leaf file the same activities and errors."""
    assert [(d.path, d.athlete_id) for d in got] == [(d.path, d.athlete_id) for d in want]
    for g, w in zip(got, want, strict=True):
        assert len(g.results) == len(w.results), g.path
        for rg, rw in zip(g.results, w.results, strict=True):
            assert (rg.source_file, rg.sha256, rg.size_bytes) == (
                rw.source_file,
                rw.sha256,
                rw.size_bytes,
            )
            if rw.error is None:
                assert rg.error is None, rg.error
            else:
                assert type(rg.error) is type(rw.error)
                assert isinstance(rg.error, IngestError)
                assert (rg.error.source, rg.error.reason, rg.error.offset) == (
                    rw.error.source,
                    rw.error.reason,
                    rw.error.offset,
                )
                assert rg.error.status == rw.error.status
            assert len(rg.activities) == len(rw.activities), rg.source_file
            for ag, aw in zip(rg.activities, rw.activities, strict=True):
                assert ag.meta == aw.meta
                for t in TABLES:
                    assert_frame_equal(getattr(ag, t), getattr(aw, t), check_exact=True)


@functools.cache
def reference_decoding() -> tuple[DecodedFile, ...]:
    """Every corpus file decoded in this process (workers=1), athletes a0/a1/a2 in turn.
    Cached: test_dask compares against the same reference."""
    paths = _all_corpus()
    return tuple(decode_paths(paths, [f"a{i % 3}" for i in range(len(paths))], workers=1))


@pytest.fixture(scope="module")
def single_process() -> list[DecodedFile]:
    return list(reference_decoding())


def test_single_process_path_is_read_path(single_process: list[DecodedFile]) -> None:
    # The reference itself: workers=1 is ingest.reader.read_path per file (a sample).
    for d in single_process[::5]:
        want = list(read_path(d.path))
        assert [r.source_file for r in d.results] == [r.source_file for r in want]
        assert [r.sha256 for r in d.results] == [r.sha256 for r in want]
        assert [len(r.activities) for r in d.results] == [len(r.activities) for r in want]


def test_process_pool_matches_single_process(single_process: list[DecodedFile]) -> None:
    paths = _all_corpus()
    athletes = [f"a{i % 3}" for i in range(len(paths))]
    got = list(decode_paths(paths, athletes, workers=2, chunk_size=3, max_in_flight=1))
    assert_same_decoding(got, single_process)
    # The corpus holds activities, non-activities and damaged files: all three kinds
    # must have crossed the process boundary.
    results = [r for d in got for r in d.results]
    assert any(r.activities for r in results)
    assert any(isinstance(r.error, NotAnActivityError) for r in results)
    assert any(r.error is not None and r.error.status == "rejected" for r in results)


def test_payload_round_trip_keeps_typed_errors(single_process: list[DecodedFile]) -> None:
    # IngestError's __init__ takes (source, reason, offset): default pickling loses them.
    items = [(str(d.path), d.athlete_id, d.results) for d in single_process]
    back = decode_results(encode_results(items))
    assert_same_decoding(back, single_process)


def test_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    good = corpus_files("fit")[0]
    gone = tmp_path / "vanished.fit"
    for workers in (1, 2):
        out = list(decode_paths([gone, good], ["me", "me"], workers=workers))
        assert [d.path for d in out] == [gone, good]
        assert all(r.error is not None for r in out[0].results)
        assert out[0].results, "a missing file must still yield a result with its error"
        assert out[1].results and out[1].results[0].error is None


def test_empty_and_mismatched_input() -> None:
    assert list(decode_paths([], [], workers=2)) == []
    with pytest.raises(ValueError):
        list(decode_paths([Path("x.fit")], [], workers=2))


def test_killed_worker_is_recovered(single_process: list[DecodedFile]) -> None:
    # A real crash: SIGKILL every worker process in the middle of the run (what the OOM
    # killer or a native fault does), while they decode or write their results: the run
    # neither stalls nor loses or repeats a file. The files of the killed chunks are
    # decoded again one by one in fresh workers; results are unchanged.
    from ingest import batch

    ref = list(reference_decoding())
    paths, athletes = [d.path for d in ref], [d.athlete_id for d in ref]
    batch.shutdown_pools()
    stream = decode_paths(paths, athletes, workers=2, chunk_size=1, max_in_flight=4)
    got = [next(stream)]
    victims = [w.proc for w in batch._pool(2).workers]
    assert victims, "the pool has worker processes"
    for proc in victims:
        if proc.pid is not None:
            os.kill(proc.pid, signal.SIGKILL)
    got += list(stream)
    assert_same_decoding(got, single_process)
    assert all(not p.is_alive() for p in victims)
    assert all(w.proc not in victims for w in batch._pool(2).workers)  # replaced


def test_hung_workers_are_stopped_at_the_deadline(
    single_process: list[DecodedFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Workers that stop answering (SIGSTOP: alive, holding their chunk, never writing)
    # must not stall the run: at the chunk's deadline they are killed and replaced, and
    # their files are retried one by one. Every file comes out once, in order: decoded as
    # in one process, or (a retry that also overran on a loaded machine) reported as such.
    from ingest import batch
    from ingest.limits import DEFAULT_LIMITS

    # test-sized deadlines, 8 s + 2 s per file: the stopped workers are waited for this
    # long; a late retry on a loaded machine is allowed for below
    monkeypatch.setattr(batch, "_START_S", 8.0)
    limits = DEFAULT_LIMITS.with_overrides({"decode_timeout_s": 2.0})
    ref = single_process[:8]
    batch.shutdown_pools()
    stream = decode_paths([d.path for d in ref], [d.athlete_id for d in ref], workers=2,
                          limits=limits, chunk_size=1, max_in_flight=4)
    got = [next(stream)]
    stopped = [w.proc for w in batch._pool(2).workers]
    for proc in stopped:
        if proc.pid is not None:
            os.kill(proc.pid, signal.SIGSTOP)
    got += list(stream)
    assert [d.path for d in got] == [d.path for d in ref]
    for g, want in zip(got, ref, strict=True):
        late = [r for r in g.results if r.error is not None and "took longer" in r.error.reason]
        if not late:
            assert_same_decoding([g], [want])
    assert all(not p.is_alive() for p in stopped)
    batch.shutdown_pools()


def test_no_worker_outlives_the_process(tmp_path: Path) -> None:
    # A command that decodes in parallel and exits without any cleanup of its own leaves
    # no decoding process behind.
    good = corpus_files("fit")[-1]
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from ingest.batch import _pool, decode_paths\n"
        f"out = list(decode_paths([Path({str(good)!r})] * 4, ['me'] * 4, workers=2, chunk_size=1))\n"
        "print(' '.join(str(w.proc.pid) for w in _pool(2).workers), flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        check=True,
    )
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) == 2
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid), pid


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"



def test_one_chunk_starts_one_worker(single_process: list[DecodedFile]) -> None:
    # The nightly run's one new file: one decoding process starts, not one per CPU (each
    # costs about a second of CPU to start); a larger job then tops the pool up.
    from ingest import batch

    ref = single_process[:4]
    paths, athletes = [d.path for d in ref], [d.athlete_id for d in ref]
    batch.shutdown_pools()
    assert_same_decoding(list(decode_paths(paths[:1], athletes[:1], workers=2)), ref[:1])
    assert len(batch._pool(2).workers) == 1
    got = list(decode_paths(paths, athletes, workers=2, chunk_size=1))
    assert_same_decoding(got, ref)
    assert len(batch._pool(2).workers) == 2
    batch.shutdown_pools()


def test_a_file_its_decoder_overruns_is_rejected_by_its_inbox_name_and_the_gate_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file whose decoder does not answer by the deadline (a hostile or pathological
    # file) is killed in its worker and rejected. Its ingest_log row must name it as its
    # inbox_files row does (relative to the inbox), as every reader result does: the
    # result made on the caller's side once named it by its absolute path, the data test
    # tying the two tables failed, and the whole run stopped at the gate.
    import duckdb

    from flows import pipeline
    from flows.config import config_from_dict
    from ingest import batch

    folder = tmp_path / "inbox" / "ann"
    folder.mkdir(parents=True)
    for src in corpus_files("fit")[:2]:
        (folder / src.name).write_bytes(src.read_bytes())
    cfg = config_from_dict(
        {"inbox": str(tmp_path / "inbox"), "database": str(tmp_path / "gw.duckdb"),
         "published_database": str(tmp_path / "pub.duckdb"), "reports": str(tmp_path / "reports"),
         "inbox_options": {"settle_seconds": 0}, "limits": {"decode_timeout_s": 0.0}},
        tmp_path,
    )
    # no start-up allowance: the deadline passes as the chunk is sent, before any worker
    # can answer, so the caller kills the workers (the chunk, then each file alone)
    monkeypatch.setattr(batch, "_START_S", 0.0)
    files = pipeline.scan_new_files(cfg).ready
    assert len(files) == 2
    outcomes = pipeline.ingest_files(cfg, files, workers=2)
    batch.shutdown_pools()
    assert [o.status for o in outcomes] == ["rejected", "rejected"]
    assert all("took longer than" in o.reason for o in outcomes), [o.reason for o in outcomes]
    pipeline.run_gate(cfg, full=True)  # raised DataTestError before the fix
    with duckdb.connect(str(cfg.database), read_only=True) as con:
        logged = sorted(r[0] for r in con.execute("SELECT source_file FROM ingest_log").fetchall())
        inbox = sorted(r[0] for r in con.execute("SELECT path FROM inbox_files").fetchall())
    assert logged == inbox == sorted(f"ann/{p.name}" for p in corpus_files("fit")[:2])
