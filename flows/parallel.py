"""Parallel decoding of many activity files: local worker processes or a Dask cluster.

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
"""

from __future__ import annotations

import atexit
import io
import os
import pickle
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import polars as pl

from ingest import errors as ingest_errors
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.schema import ActivityMeta, ParsedActivity

# The reader module is imported lazily in the worker (see _read): importing it here would
# make every importer of flows.parallel pay for the readers' dependencies.

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
    buf = io.BytesIO()
    # Uncompressed: the payload crosses a local pipe; compression costs more CPU than it saves.
    pl.concat(frames, how="vertical").write_ipc(buf, compression="uncompressed")
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
                    frame: pl.DataFrame = getattr(act, t)
                    per_table[t].append(frame.with_columns(pl.lit(n_act, pl.Int32).alias(_ROW)))
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
        return [_failed(path, exc)]
    except OSError as exc:
        return [_failed(path, ingest_errors.IngestError(path, f"cannot read file: {exc}"))]
    except Exception as exc:  # noqa: BLE001 - a reader bug: reported, not raised
        reason = f"internal error while reading: {type(exc).__name__}: {exc}"
        return [_failed(path, ingest_errors.IngestError(path, reason))]


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
            results = [_failed(path, ingest_errors.IngestError(path, reason))]
        safe.append((path, athlete, results))
    return encode_results(safe)


def _failed(path: str, exc: ingest_errors.IngestError) -> Any:
    from ingest.reader import ReadResult

    return ReadResult(source_file=path, sha256=None, size_bytes=0, activities=[], error=exc)


# ---------------------------------------------------------------- caller side

_CRASHED = "decoder process crashed (killed, out of memory or a native fault) on this file"

# One pool per worker count, reused across calls: the flows call decode_paths once per
# batch of files, and starting spawn workers costs about a second each time.
_POOLS: dict[int, ProcessPoolExecutor] = {}


def _pool(n: int) -> ProcessPoolExecutor:
    pool = _POOLS.get(n)
    if pool is None:
        # spawn, not fork: the parent usually has polars/DuckDB thread pools running, and
        # forking a multi-threaded process can deadlock the child.
        pool = ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn"))
        _POOLS[n] = pool
    return pool


def _drop_pool(n: int) -> None:
    pool = _POOLS.pop(n, None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def shutdown_pools() -> None:
    """Stop the cached worker processes (also done at interpreter exit)."""
    for n in list(_POOLS):
        pool = _POOLS.pop(n)
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown_pools)


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


def _crashed(chunk: Chunk, reason: str = _CRASHED) -> list[DecodedFile]:
    return [
        DecodedFile(Path(p), a, [_failed(p, ingest_errors.IngestError(p, reason))])
        for p, a in chunk
    ]


def _decode_local(
    pairs: Chunk,
    n: int,
    limits: Limits,
    root: str | None,
    chunk_size: int | None,
    max_in_flight: int | None,
) -> Iterator[DecodedFile]:
    size = chunk_size or auto_chunk_size(len(pairs), n)

    def submit(chunk: Chunk) -> Future[bytes]:
        try:
            return _pool(n).submit(decode_chunk, chunk, limits, root)
        except BrokenProcessPool:
            _drop_pool(n)
            return _pool(n).submit(decode_chunk, chunk, limits, root)

    def result(chunk: Chunk, fut: Future[bytes]) -> list[DecodedFile]:
        try:
            return decode_results(fut.result())
        except BrokenProcessPool:
            _drop_pool(n)
        except Exception:  # noqa: BLE001 - e.g. a payload that does not unpickle
            pass
        # One file of the chunk (or of a sibling chunk) killed a worker: isolate each file.
        out: list[DecodedFile] = []
        for one in chunk:
            try:
                out.extend(decode_results(submit([one]).result()))
            except BrokenProcessPool:
                _drop_pool(n)
                out.extend(_crashed([one]))
            except Exception as exc:  # noqa: BLE001
                out.extend(_crashed([one], f"decoding failed in the worker: {exc}"))
        return out

    yield from _windowed(_chunks(pairs, size), submit, result, max_in_flight or 2 * n)


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
                    out.extend(_crashed([one], f"{_CRASHED}: {type(exc).__name__}"))
                finally:
                    f1.release()
            return out

        yield from _windowed(_chunks(pairs, size), submit, result, max_in_flight or 2 * n)
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()
