"""Decode-only benchmark children: the same files decoded in one process, on a local
process pool, on Dask ``distributed`` directly, and through prefect-dask's DaskTaskRunner.

Each returns ``{"seconds": ..., "samples": ..., "activities": ..., "setup_s": ...}`` where
``setup_s`` is cluster / flow start-up that is included in ``seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ingest.batch import auto_chunk_size, decode_chunk, decode_paths, decode_results
from ingest.limits import DEFAULT_LIMITS


def _count(decoded: Any) -> tuple[int, int, int]:
    samples = acts = errors = 0
    for df in decoded:
        for r in df.results:
            if r.error is not None:
                errors += 1
            for a in r.activities:
                acts += 1
                samples += a.samples.height
    return samples, acts, errors


def run(mode: str, files: Sequence[tuple[Path, str]], workers: int) -> dict[str, Any]:
    paths = [p for p, _ in files]
    athletes = [a for _, a in files]
    t0 = time.perf_counter()
    setup = 0.0
    if mode == "single":
        s, a, e = _count(decode_paths(paths, athletes, workers=1))
    elif mode == "local":
        s, a, e = _count(decode_paths(paths, athletes, workers=workers))
    elif mode == "dask":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        client.run(lambda: __import__("ingest.reader"))  # warm the workers' imports
        setup = time.perf_counter() - t0
        try:
            s, a, e = _count(decode_paths(paths, athletes, dask_client=client))
        finally:
            client.close()
            cluster.close()
    elif mode == "prefect-dask":
        s, a, e, setup = _prefect_dask(paths, athletes, workers)
    else:
        raise ValueError(mode)
    return {
        "seconds": time.perf_counter() - t0,
        "setup_s": setup,
        "samples": s,
        "activities": a,
        "errors": e,
    }


def _prefect_dask(
    paths: list[Path], athletes: list[str], workers: int
) -> tuple[int, int, int, float]:
    """The same chunks as Prefect tasks on a DaskTaskRunner (one task per chunk)."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect_dask import DaskTaskRunner

    t0 = time.perf_counter()
    size = auto_chunk_size(len(paths), workers)
    pairs = [(str(p), a) for p, a in zip(paths, athletes, strict=True)]
    chunks = [pairs[i : i + size] for i in range(0, len(pairs), size)]

    decode_task = task(cache_policy=NO_CACHE, persist_result=False)(decode_chunk)
    counts: dict[str, float] = {}

    runner: Any = DaskTaskRunner(
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        }
    )

    @flow(task_runner=runner, persist_result=False)
    def decode_flow() -> tuple[int, int, int]:
        counts["flow_start"] = time.perf_counter() - t0
        # Bounded window, as in ingest.batch: at most 2 x workers chunks in flight.
        s = a = e = 0
        window: list[Any] = []
        for chunk in chunks:
            window.append(decode_task.submit(chunk, DEFAULT_LIMITS, None))
            if len(window) >= 2 * workers:
                ds, da, de = _count(decode_results(window.pop(0).result()))
                s, a, e = s + ds, a + da, e + de
        for fut in window:
            ds, da, de = _count(decode_results(fut.result()))
            s, a, e = s + ds, a + da, e + de
        return s, a, e

    s, a, e = decode_flow()
    return s, a, e, counts.get("flow_start", 0.0)
