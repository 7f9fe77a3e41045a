"""Batch decoding of many activity files and its scheduling: local worker processes or a
Dask cluster, and one decode stream shared by the batches of a run (:class:`DecodeAhead`).

Decoding (FIT/GPX/TCX bytes -> polars frames) is CPU-bound Python/Rust work that holds
the GIL for part of its time, so it is spread over processes, not threads. Everything
after decoding (loading DuckDB, transforms) stays in the calling process: DuckDB allows
one writer per file (FACTS.md), and polars is already multi-threaded.

Design choices, each for a measured reason (docs/performance.md):

- Work is sent as *chunks* of paths, not one task per file: a task costs about 1 ms of
  scheduling on a local pool and more on Dask (far more as a Prefect task), while a
  one-hour FIT file decodes in about 17 ms of CPU.
- A worker returns one compact payload per chunk: the frames of all activities of the
  chunk concatenated and written as Arrow IPC bytes (one buffer per table), plus small
  picklable metadata. The caller slices the frames back out without copying. This is
  cheaper than pickling thousands of small frames and it is what Dask moves best. (A
  frame kept after loading keeps its chunk's buffer, at most ``auto_chunk_size`` files,
  alive: consumers load and drop them.)
- At most ``max_in_flight`` chunks are submitted at a time, so memory stays bounded by
  the window, not by the number of files; results are yielded in input order so runs
  are reproducible.
- :class:`ingest.errors.IngestError` is rebuilt from (class, source, reason, offset):
  its ``__init__`` takes three arguments, so the default exception pickling fails.
- Local workers are plain spawn processes, one pipe each, not a ``ProcessPoolExecutor``:
  a worker killed while writing its result left the executor's reader thread blocked for
  ever (issue 11). Here every chunk has a deadline (``Limits.decode_timeout_s`` per file);
  a worker that dies or overruns it is killed and replaced, its files are retried one by
  one, and a file that kills a worker twice is reported, never waited on. Workers are
  daemons that also exit when the parent's pipe closes: none outlives the command.
"""

from __future__ import annotations

import atexit
import io
import os
import pickle
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ingest import errors as ingest_errors
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.safety import text_name
from ingest.schema import ActivityMeta, ParsedActivity

# The reader module is imported lazily in the worker (see _read): importing it here would
# make every importer of ingest.batch pay for the readers' dependencies.

_TABLES = ("samples", "sessions", "laps", "extras")
_ROW = "__gw_activity"  # temporary column tagging which activity of a chunk a row belongs to


@dataclass
class DecodedFile:
    """All read results of one input path (a file, a folder or an archive).

    ``results`` holds :class:`ingest.reader.ReadResult` objects: one per leaf input file,
    each either with its activities or with its typed error.
    """

    path: Path
    athlete_id: str
    results: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class InboxFile:
    """One input file as first seen (dropped in the inbox or named on the command line):
    its identity for the cheap "unchanged" check."""

    path: Path  # absolute
    rel: str  # relative to ``root`` (posix): the name recorded in ingest_log
    athlete_id: str
    size: int
    mtime_ns: int
    root: Path  # the inbox, or the parent of a path given to ``gaitwatch ingest``

    def still_same(self) -> bool:
        """Second look: same size and mtime as at discovery (and still there)."""
        try:
            st = self.path.stat()
        except OSError:
            return False
        return st.st_size == self.size and st.st_mtime_ns == self.mtime_ns


# Names copy tools and browsers give files still being written (renamed when complete).
TEMP_SUFFIXES = (".part", ".partial", ".crdownload", ".tmp", ".download", "~")


def is_temporary(name: str) -> bool:
    """Hidden or temporary names are not inputs (yet)."""
    return name.startswith(".") or name.lower().endswith(TEMP_SUFFIXES)


def list_inputs(
    paths: Sequence[Path], athlete_id: str
) -> tuple[list[InboxFile], list[tuple[str, str]]]:
    """Input files under the given files or folders (hidden/temporary names skipped), each
    named relative to its given path's folder; and ``(path, reason)`` for missing ones."""
    files: list[InboxFile] = []
    missing: list[tuple[str, str]] = []
    for given in paths:
        p = Path(given).expanduser().resolve()
        root = p.parent
        if p.is_dir():
            candidates = sorted(
                q
                for q in p.rglob("*")
                if q.is_file() and not any(is_temporary(part) for part in q.relative_to(p).parts)
            )
        elif p.is_file():
            candidates = [p]
        else:
            missing.append((str(given), "no such file or folder"))
            continue
        for q in candidates:
            st = q.stat()
            rel = text_name(q.relative_to(root).as_posix())
            files.append(InboxFile(q, rel, athlete_id, st.st_size, st.st_mtime_ns, root))
    return files, missing


# ---------------------------------------------------------------- worker side


def _read(path: Path, limits: Limits, name_root: Path | None) -> list[Any]:
    from ingest.reader import read_path

    return list(read_path(path, limits, name_root=name_root))


def _error_state(err: BaseException | None) -> tuple[str, str, str, int | None] | None:
    if err is None:
        return None
    if isinstance(err, ingest_errors.IngestError):
        return (type(err).__name__, err.source, err.reason, err.offset)
    # read_path promises IngestError only; keep anything else readable rather than lose it.
    return ("IngestError", "?", f"{type(err).__name__}: {err}", None)


def _error_from_state(
    state: tuple[str, str, str, int | None] | None,
) -> ingest_errors.IngestError | None:
    if state is None:
        return None
    name, source, reason, offset = state
    cls = getattr(ingest_errors, name, ingest_errors.IngestError)
    if not (isinstance(cls, type) and issubclass(cls, ingest_errors.IngestError)):
        cls = ingest_errors.IngestError
    return cls(source, reason, offset)


def _ipc(frames: list[pl.DataFrame]) -> bytes:
    """One table's frames (one per activity, in order) concatenated, each row tagged with
    its activity's number."""
    df = pl.concat(frames, how="vertical")
    # one tag column for the whole concatenation rather than a with_columns per frame
    # (4 per activity, ~0.3 ms per file); the same values
    heights = np.fromiter((f.height for f in frames), dtype=np.int64, count=len(frames))
    tags = np.repeat(np.arange(len(frames), dtype=np.int32), heights)
    df = df.with_columns(pl.Series(_ROW, tags, dtype=pl.Int32))
    buf = io.BytesIO()
    # Uncompressed: the payload crosses a local pipe; compression costs more CPU than it saves.
    df.write_ipc(buf, compression="uncompressed")
    return buf.getvalue()


def encode_results(items: Sequence[tuple[str, str, list[Any]]]) -> bytes:
    """Pack ``(path, athlete_id, read_results)`` items into one compact payload.

    Frames of every activity are concatenated per table with an activity tag column and
    written as Arrow IPC; file-level fields and :class:`ActivityMeta` are pickled (small).
    """
    files: list[tuple[str, str, list[tuple[Any, ...]]]] = []
    per_table: dict[str, list[pl.DataFrame]] = {t: [] for t in _TABLES}
    n_act = 0
    for path, athlete_id, results in items:
        packed = []
        for r in results:
            acts = []
            for act in r.activities:
                for t in _TABLES:
                    per_table[t].append(getattr(act, t))
                acts.append(act.meta)
                n_act += 1
            packed.append((r.source_file, r.sha256, r.size_bytes, acts, _error_state(r.error)))
        files.append((path, athlete_id, packed))
    blobs = {t: _ipc(fr) if fr else b"" for t, fr in per_table.items()}
    return pickle.dumps((files, blobs), protocol=pickle.HIGHEST_PROTOCOL)


def _split(blob: bytes, n_act: int) -> list[pl.DataFrame | None]:
    """Split a concatenated, tagged frame back into one frame per activity (zero-copy slices)."""
    out: list[pl.DataFrame | None] = [None] * n_act
    if not blob:
        return out
    df = pl.read_ipc(io.BytesIO(blob))
    tags = df.get_column(_ROW)
    body = df.drop(_ROW)
    # Rows of one activity are contiguous (written in order), so run lengths give slices.
    runs = tags.rle()
    start = 0
    for tag, length in zip(runs.struct.field("value"), runs.struct.field("len"), strict=True):
        out[tag] = body.slice(start, length)
        start += length
    return out


def decode_results(payload: bytes) -> list[DecodedFile]:
    """Inverse of :func:`encode_results`: rebuild ``DecodedFile`` objects with ``ReadResult``\\ s."""
    from ingest.reader import ReadResult
    from ingest.schema import EXTRA_SCHEMA, LAP_SCHEMA, SAMPLE_SCHEMA, SESSION_SCHEMA

    files, blobs = pickle.loads(payload)  # noqa: S301 - produced by our own workers
    n_act = sum(len(acts) for _, _, packed in files for *_, acts, _ in packed)
    split = {t: _split(blobs[t], n_act) for t in _TABLES}
    schemas = {
        "samples": SAMPLE_SCHEMA,
        "sessions": SESSION_SCHEMA,
        "laps": LAP_SCHEMA,
        "extras": EXTRA_SCHEMA,
    }
    out: list[DecodedFile] = []
    i = 0
    for path, athlete_id, packed in files:
        results = []
        for source_file, sha256, size_bytes, metas, err in packed:
            acts = []
            for meta in metas:
                frames = {
                    t: (split[t][i] if split[t][i] is not None else pl.DataFrame(schema=schemas[t]))
                    for t in _TABLES
                }
                acts.append(_activity(meta, frames))
                i += 1
            results.append(
                ReadResult(
                    source_file=source_file,
                    sha256=sha256,
                    size_bytes=size_bytes,
                    activities=acts,
                    error=_error_from_state(err),
                )
            )
        out.append(DecodedFile(Path(path), athlete_id, results))
    return out


def _activity(meta: ActivityMeta, frames: dict[str, Any]) -> ParsedActivity:
    return ParsedActivity(
        meta=meta,
        samples=frames["samples"],
        sessions=frames["sessions"],
        laps=frames["laps"],
        extras=frames["extras"],
    )


def _read_safely(path: str, limits: Limits, root: Path | None) -> list[Any]:
    """``read_path`` results for one input; never raises for that input.

    ``read_path`` reports a bad file in its ``ReadResult``; a path that vanished since
    discovery (OSError) or a reader bug (any other exception) is reported the same way,
    as a typed :class:`~ingest.errors.IngestError`, so it never stops the other files.
    """
    try:
        return _read(Path(path), limits, root)
    except ingest_errors.IngestError as exc:
        return [_failed(_source_name(path, root), exc)]
    except OSError as exc:
        return [_failed_here(path, root, f"cannot read file: {exc}")]
    except Exception as exc:  # noqa: BLE001 - a reader bug: reported, not raised
        return [_failed_here(path, root, f"internal error while reading: {type(exc).__name__}: {exc}")]


def decode_chunk(chunk: Sequence[tuple[str, str]], limits: Limits, name_root: str | None) -> bytes:
    """Worker entry point: read every ``(path, athlete_id)`` of ``chunk``; one payload back."""
    root = Path(name_root) if name_root else None
    items = [(path, athlete, _read_safely(path, limits, root)) for path, athlete in chunk]
    try:
        return encode_results(items)
    except Exception:  # noqa: BLE001 - frames off-schema (a reader bug): find whose, below
        pass
    safe: list[tuple[str, str, list[Any]]] = []
    for path, athlete, results in items:
        try:
            encode_results([(path, athlete, results)])
        except Exception as exc:  # noqa: BLE001
            reason = f"internal error: decoded frames do not match the schema: {exc}"
            results = [_failed_here(path, root, reason)]
        safe.append((path, athlete, results))
    return encode_results(safe)


def _failed(name: str, exc: ingest_errors.IngestError) -> Any:
    from ingest.reader import ReadResult

    return ReadResult(source_file=name, sha256=None, size_bytes=0, activities=[], error=exc)


def _source_name(path: str, root: Path | str | None) -> str:
    """The name :func:`ingest.reader.read_path` gives ``path``'s results (relative to
    ``root``): a failure reported outside the reader (a crashed or late decoder, a reader
    bug) must name the file as its results would, or the warehouse cannot tie its
    ``ingest_log`` row to the file's ``inbox_files`` row (a data test fails the run)."""
    from ingest.reader import display_name

    p = Path(path)
    return display_name(p, Path(root) if root else p.parent)


def _failed_here(path: str, root: Path | str | None, reason: str) -> Any:
    """The result of a file that failed outside the reader, named as the reader would."""
    name = _source_name(path, root)
    return _failed(name, ingest_errors.IngestError(name, reason))


# ---------------------------------------------------------------- caller side

# Seconds a fresh worker may need to start and import the readers, on top of the
# per-file decode limit.
_START_S = 60.0
_CRASHED = "decoder process crashed (killed, out of memory or a native fault) on this file"

def _late(limits: Limits) -> str:
    return f"decoding took longer than {limits.decode_timeout_s:g} s per file; stopped"


def _recv_within(w: _Worker, deadline: float) -> bytes:
    """The worker's next message. Readable does not mean complete: a worker that stops
    in the middle of writing a large message (hung, SIGSTOPped, swapped out) would block
    a plain ``recv_bytes`` for ever. The read runs in a thread; at the chunk's deadline
    the worker is killed, which closes its end and ends the read with EOFError."""
    got: list[bytes] = []
    failed: list[BaseException] = []

    def read() -> None:
        try:
            got.append(w.conn.recv_bytes())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            failed.append(exc)

    reader = threading.Thread(target=read, name="gaitwatch-decode-recv", daemon=True)
    reader.start()
    reader.join(max(0.0, deadline - time.monotonic()))
    if reader.is_alive():
        w.proc.kill()
        reader.join()
    if got:
        return got[0]
    raise EOFError(f"worker message incomplete: {failed[0] if failed else 'stopped'}")


class _Worker:
    """One spawn process decoding chunks sent over its own pipe."""

    def __init__(self) -> None:
        # spawn, not fork: the parent usually has polars/DuckDB thread pools running, and
        # forking a multi-threaded process can deadlock the child.
        ctx = get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child,), daemon=True)
        self.proc.start()
        child.close()  # ours closed: the parent sees EOF as soon as the worker dies

    def alive(self) -> bool:
        return self.proc.is_alive()

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=10)
        self.conn.close()


def _worker_main(conn: Connection) -> None:
    """Worker loop: ``(chunk, limits, root)`` in, one payload out; EOF or None ends it,
    at once: the parent waits for its workers at exit, and the interpreter's teardown of
    polars and the readers took a tenth of a second or more, with nothing to save."""
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            os._exit(0)  # the parent is gone
        if task is None:
            conn.close()
            os._exit(0)
        try:
            payload = decode_chunk(*task)
        except Exception as exc:  # noqa: BLE001 - reported as the chunk's failure
            conn.send_bytes(b"E" + f"{type(exc).__name__}: {exc}".encode())
            continue
        conn.send_bytes(b"P" + payload)


class WorkerPool:
    """``n`` decoding processes. Reused across calls (start-up costs about a second per
    worker); a dead worker is replaced on the next use; :func:`shutdown_pools` (also at
    exit) ends them."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.workers: list[_Worker] = []

    def healthy(self, want: int | None = None) -> list[_Worker]:
        """The live workers, started as needed up to ``want`` (default all ``n``): a job
        of one chunk (the nightly run's new file) starts one process, not one per CPU."""
        for w in [w for w in self.workers if not w.alive()]:
            self.replace(w)
        while len(self.workers) < (self.n if want is None else min(self.n, want)):
            self.workers.append(_Worker())
        return list(self.workers)

    def replace(self, w: _Worker) -> None:
        w.kill()
        if w in self.workers:
            self.workers.remove(w)

    def close(self) -> None:
        for w in self.workers:
            try:
                w.conn.send(None)
            except OSError:
                pass
        for w in self.workers:
            w.proc.join(timeout=5)
            w.kill()
        self.workers = []


_POOLS: dict[int, WorkerPool] = {}


def _pool(n: int) -> WorkerPool:
    pool = _POOLS.get(n)
    if pool is None:
        pool = _POOLS[n] = WorkerPool(n)
    return pool


def shutdown_pools() -> None:
    """Stop the cached worker processes (also done at interpreter exit)."""
    for n in list(_POOLS):
        _POOLS.pop(n).close()


atexit.register(shutdown_pools)


def prewarm(workers: int | None = None, count: int = 1) -> None:
    """Start up to ``count`` decode processes of the pool ``workers`` will use, without
    waiting for them: a worker's start-up (a fresh interpreter importing polars, about
    0.6 s) then overlaps the caller's own (Prefect's server, opening the warehouse)
    instead of delaying the first decoded file. Nothing happens for in-process decoding."""
    n = workers or default_workers()
    if n > 1 and count > 0:
        _pool(n).healthy(want=count)


def default_workers() -> int:
    """Usable CPUs (honours CPU affinity / container limits), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def auto_chunk_size(n_files: int, workers: int) -> int:
    """About 4 chunks per worker for load balance, at most 16 files (a few MB) per chunk."""
    return max(1, min(16, n_files // (workers * 4) or 1))


Chunk = list[tuple[str, str]]


def decode_paths(
    paths: Sequence[Path],
    athlete_ids: Sequence[str],
    workers: int | None = None,
    dask_address: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    *,
    name_root: Path | None = None,
    chunk_size: int | None = None,
    max_in_flight: int | None = None,
    dask_client: Any = None,
) -> Iterator[DecodedFile]:
    """Decode ``paths`` in parallel; yield one :class:`DecodedFile` per path, in input order.

    A file that crashes its worker process is retried alone in a fresh process and, if it
    crashes again, reported as an :class:`~ingest.errors.IngestError` in its
    ``ReadResult``; the other files are unaffected.

    Parameters
    ----------
    paths, athlete_ids:
        Parallel sequences: each input path (file, folder or archive) and its athlete.
    workers:
        Worker processes. ``None`` or ``0``: one per usable CPU. ``1``: decode in this
        process (no pool). With Dask, only the size of a ``"local"`` cluster.
    dask_address:
        ``"tcp://host:8786"`` of a running Dask scheduler; its workers must see ``paths``
        (shared filesystem) and have gaitwatch installed. ``"local"`` starts a
        ``LocalCluster`` of ``workers`` processes for the duration of the call.
    limits:
        Resource limits passed to the readers.
    name_root:
        ``source_file`` names are made relative to it (see ``ingest.reader.read_path``).
    chunk_size:
        Paths per task; default :func:`auto_chunk_size`.
    max_in_flight:
        Chunks submitted but not yet consumed; bounds memory. Default ``2 x workers``.
    dask_client:
        An existing ``distributed.Client`` (takes precedence over ``dask_address``).
    """
    if len(paths) != len(athlete_ids):
        raise ValueError("paths and athlete_ids must have the same length")
    pairs = [(str(p), a) for p, a in zip(paths, athlete_ids, strict=True)]
    if not pairs:
        return
    root = str(name_root) if name_root is not None else None
    n_workers = workers or default_workers()

    if dask_client is not None or dask_address is not None:
        yield from _decode_dask(
            pairs, n_workers, limits, root, dask_address, dask_client, chunk_size, max_in_flight
        )
        return
    if n_workers <= 1:
        for path, athlete_id in pairs:
            yield _decode_here(path, athlete_id, limits, root)
        return
    yield from _decode_local(pairs, n_workers, limits, root, chunk_size, max_in_flight)


def _decode_here(path: str, athlete_id: str, limits: Limits, root: str | None) -> DecodedFile:
    return DecodedFile(
        Path(path), athlete_id, _read_safely(path, limits, Path(root) if root else None)
    )


def _crashed(chunk: Chunk, root: str | None, reason: str = _CRASHED) -> list[DecodedFile]:
    return [DecodedFile(Path(p), a, [_failed_here(p, root, reason)]) for p, a in chunk]


_Part = tuple[int, int]  # (chunk index, position of the first file inside it)


def _decode_local(
    pairs: Chunk,
    n: int,
    limits: Limits,
    root: str | None,
    chunk_size: int | None,
    max_in_flight: int | None,
) -> Iterator[DecodedFile]:
    """Chunks over the pool's workers, at most ``window`` chunks ahead of the consumer,
    results in input order. A chunk whose worker dies or overruns its deadline is split
    into single files, each retried in a fresh worker; a single file that fails again is
    reported as an :class:`~ingest.errors.IngestError` (never retried for ever)."""
    size = chunk_size or auto_chunk_size(len(pairs), n)
    window = max_in_flight or 2 * n
    chunks = list(_chunks(pairs, size))
    pool = _pool(n)
    todo: deque[tuple[_Part, Chunk, bool]] = deque()  # (part, files, single retry)
    parts: dict[int, dict[int, list[DecodedFile]]] = {}
    expected: dict[int, set[int]] = {}
    busy: dict[Connection, tuple[_Worker, _Part, Chunk, bool, float]] = {}
    submitted = 0
    nxt = 0

    def fail(part: _Part, chunk: Chunk, single: bool, reason: str) -> None:
        idx, first = part
        if single:
            parts[idx][first] = _crashed(chunk, root, reason)
            return
        expected[idx].discard(first)
        for k, one in enumerate(chunk):
            expected[idx].add(first + k)
            todo.appendleft(((idx, first + k), [one], True))

    try:
        while nxt < len(chunks):
            while submitted < len(chunks) and submitted - nxt < window:
                todo.append(((submitted, 0), chunks[submitted], False))
                parts[submitted], expected[submitted] = {}, {0}
                submitted += 1
            idle = [w for w in pool.healthy(max(1, len(busy) + len(todo))) if w.conn not in busy]
            while idle and todo:
                w = idle.pop()
                part, chunk, single = todo.popleft()
                deadline = time.monotonic() + _START_S + limits.decode_timeout_s * len(chunk)
                try:
                    w.conn.send((chunk, limits, root))
                except OSError:  # died while idle: replaced on the next round
                    pool.replace(w)
                    todo.appendleft((part, chunk, single))
                    continue
                busy[w.conn] = (w, part, chunk, single, deadline)
            if set(parts[nxt]) >= expected[nxt]:
                for first in sorted(parts[nxt]):
                    yield from parts[nxt][first]
                del parts[nxt], expected[nxt]
                nxt += 1
                continue
            # pool.healthy() replaces a worker that died, closing its pipe: if it died while
            # busy, its chunk failed (waiting on the closed pipe would raise).
            for pipe, (_w, part, chunk, single, _dl) in list(busy.items()):
                if pipe.closed:
                    del busy[pipe]
                    fail(part, chunk, single, _CRASHED)
            if not busy:
                continue
            timeout = max(0.0, min(b[4] for b in busy.values()) - time.monotonic())
            ready = wait(list(busy), timeout=timeout)
            for conn in ready:
                assert isinstance(conn, Connection)
                w, part, chunk, single, deadline = busy.pop(conn)
                try:
                    msg = _recv_within(w, deadline)
                except (EOFError, OSError):
                    pool.replace(w)
                    overran = time.monotonic() >= deadline
                    fail(part, chunk, single, _late(limits) if overran else _CRASHED)
                    continue
                if msg[:1] == b"P":
                    try:
                        parts[part[0]][part[1]] = decode_results(msg[1:])
                        continue
                    except Exception as exc:  # noqa: BLE001 - an unreadable payload
                        reason = f"decoding failed in the worker: {exc}"
                else:
                    reason = f"decoding failed in the worker: {msg[1:].decode(errors='replace')}"
                fail(part, chunk, single, reason)
            now = time.monotonic()
            for conn, (w, part, chunk, single, deadline) in list(busy.items()):
                if now >= deadline:
                    del busy[conn]
                    pool.replace(w)
                    fail(part, chunk, single, _late(limits))
    finally:
        for w, *_rest in busy.values():  # abandoned midway: their results would be stale
            pool.replace(w)


def _chunks(pairs: Chunk, chunk_size: int) -> Iterator[Chunk]:
    for i in range(0, len(pairs), chunk_size):
        yield pairs[i : i + chunk_size]


def _windowed(
    chunks: Iterator[Chunk],
    submit: Callable[[Chunk], Any],
    result: Callable[[Chunk, Any], list[DecodedFile]],
    window: int,
) -> Iterator[DecodedFile]:
    """Keep at most ``window`` chunks in flight; yield results in submission order."""
    pending: deque[tuple[Chunk, Any]] = deque()
    for chunk in chunks:
        pending.append((chunk, submit(chunk)))
        if len(pending) >= window:
            yield from result(*pending.popleft())
    while pending:
        yield from result(*pending.popleft())


def _decode_dask(
    pairs: Chunk,
    n_workers: int,
    limits: Limits,
    root: str | None,
    address: str | None,
    client: Any,
    chunk_size: int | None,
    max_in_flight: int | None,
) -> Iterator[DecodedFile]:
    from distributed import Client, LocalCluster

    own_cluster = None
    own_client = None
    if client is None:
        if address in (None, "local"):
            own_cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            own_client = Client(own_cluster)
        else:
            own_client = Client(address)
        client = own_client
    try:
        # Total worker threads: each runs one decode_chunk at a time.
        n = max(1, sum(client.nthreads().values()) or n_workers)
        size = chunk_size or auto_chunk_size(len(pairs), n)

        def submit(chunk: Chunk) -> Any:
            # pure=False: the same paths may hold new content on a later call.
            return client.submit(decode_chunk, chunk, limits, root, pure=False)

        def result(chunk: Chunk, fut: Any) -> list[DecodedFile]:
            try:
                payload: bytes = fut.result()
                return decode_results(payload)
            except Exception:  # noqa: BLE001 - KilledWorker etc.: isolate the files below
                pass
            finally:
                fut.release()
            out: list[DecodedFile] = []
            for one in chunk:
                f1 = submit([one])
                try:
                    out.extend(decode_results(f1.result()))
                except Exception as exc:  # noqa: BLE001 - this file kills workers
                    out.extend(_crashed([one], root, f"{_CRASHED}: {type(exc).__name__}"))
                finally:
                    f1.release()
            return out

        yield from _windowed(_chunks(pairs, size), submit, result, max_in_flight or 2 * n)
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


# ---------------------------------------------------------------- one stream per run


def batches(files: Sequence[InboxFile], size: int) -> list[tuple[str, list[InboxFile]]]:
    """Files grouped by (athlete, root), in chunks of ``size``: one flow task each."""
    ordered = sorted(files, key=lambda f: (f.athlete_id, str(f.root), f.rel))
    out: list[tuple[str, list[InboxFile]]] = []
    for f in ordered:
        last = out[-1] if out else None
        if (
            last is None
            or last[0] != f.athlete_id
            or last[1][0].root != f.root
            or len(last[1]) >= size
        ):
            out.append((f.athlete_id, [f]))
        else:
            last[1].append(f)
    return out


def decode_files(
    files: Sequence[InboxFile], limits: Limits, workers: int = 0
) -> Iterator[DecodedFile]:
    """Decode ``files`` (one name root) in input order: ``workers`` = 1 in this process,
    more (0 = one per usable CPU) in worker processes."""
    if not files:
        return iter(())
    return decode_paths(
        [f.path for f in files], [f.athlete_id for f in files], workers=workers or None,
        limits=limits, name_root=files[0].root,
    )


class DecodeAhead:
    """One decode stream for a whole run, shared by the run's batches.

    :meth:`expect` announces the run's files in the order the batches will ask for them;
    the first :meth:`take` starts :func:`decode_files` over all of them (per name root),
    and each later call takes its own files from the same stream, so the workers decode
    the next batches while the caller loads the current one (docs/performance.md, P6).
    The stream keeps at most ``2 x workers`` chunks decoded ahead, so memory stays
    bounded. Anything unexpected (another order, a retried batch, other limits) drops
    the stream and the batch decodes its own files: only the overlap is lost, never a file.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plan: list[InboxFile] = []
        self._pos = 0  # index in _plan of the next file the stream yields
        self._end = 0  # the stream covers _plan[_pos:_end]
        self._stream: Iterator[DecodedFile] | None = None
        self._key: tuple[Limits, int] | None = None

    def expect(self, files: Sequence[InboxFile]) -> None:
        with self._lock:
            self._drop()
            self._plan = list(files)
            self._pos = self._end = 0

    def _drop(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()
        self._stream, self._key = None, None

    def _matches(self, files: Sequence[InboxFile]) -> bool:
        want = [str(f.path) for f in files]
        got = [str(f.path) for f in self._plan[self._pos : self._pos + len(files)]]
        return bool(want) and want == got

    def take(self, files: Sequence[InboxFile], limits: Limits, workers: int) -> Iterator[DecodedFile]:
        """The decoded ``files``, in order: from the shared stream when they are the next
        files of the announced run, else decoded now."""
        with self._lock:
            stream = self._stream_for(files, limits, workers)
        if stream is None:
            return decode_files(files, limits, workers)
        return self._consume(stream, files, limits, workers)

    def _stream_for(
        self, files: Sequence[InboxFile], limits: Limits, workers: int
    ) -> Iterator[DecodedFile] | None:
        if not self._matches(files):
            self._drop()
            self._plan = []
            return None
        key = (limits, workers)
        if self._stream is not None and (self._key != key or self._pos >= self._end):
            self._drop()
        if self._stream is None:
            root = files[0].root
            end = self._pos
            while end < len(self._plan) and self._plan[end].root == root:
                end += 1
            if end - self._pos < len(files):
                return None
            self._stream = iter(decode_files(self._plan[self._pos : end], limits, workers))
            self._key, self._end = key, end
        return self._stream

    def _consume(
        self, stream: Iterator[DecodedFile], files: Sequence[InboxFile], limits: Limits,
        workers: int,
    ) -> Iterator[DecodedFile]:
        taken = 0
        try:
            while taken < len(files):
                with self._lock:
                    item = next(stream, None) if self._stream is stream else None
                    if item is not None:
                        self._pos += 1
                if item is None:  # the stream was dropped meanwhile: decode the rest here
                    yield from decode_files(files[taken:], limits, workers)
                    taken = len(files)
                    break
                taken += 1
                yield item
        finally:
            if taken < len(files):  # abandoned midway (an error): the stream is out of step
                with self._lock:
                    if self._stream is stream:
                        self._drop()
                        self._plan = []
