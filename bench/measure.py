"""Measuring helpers for the benchmarks: peak memory of a process tree, machine facts.

Peak memory is measured two ways, because each misses something:
- ``psutil`` sampling (every 20 ms) of the *sum* of RSS over the child process and all
  its descendants (worker processes included): what the machine actually had to hold.
- ``getrusage`` ``RUSAGE_SELF`` + ``RUSAGE_CHILDREN`` max RSS reported by the child
  itself: exact peaks, but ``RUSAGE_CHILDREN`` is the largest single waited-for child,
  not a sum, so it can under-count concurrent workers.
The benchmark reports the larger of the two.

CPU seconds (user + system, whole process tree) are reported next to wall time: on a
shared machine wall time includes waiting for other processes' turns, CPU time does not.
The 1-minute load average before and after each measurement is recorded for that reason.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil


def rusage_peak_mb() -> dict[str, float]:
    """Max RSS (MB) of this process and of its largest waited-for child (Linux: KB units)."""
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"self_mb": self_kb / 1024, "children_mb": child_kb / 1024}


@dataclass
class ChildRun:
    result: dict[str, Any]
    wall_s: float
    peak_tree_mb: float
    cpu_s: float = 0.0  # user + system CPU of the child and every descendant it waited for
    peak_main_mb: float = 0.0  # the child process alone (without its workers)
    load_before: float = 0.0  # 1-minute load average when it started
    load_after: float = 0.0

    @property
    def peak_mb(self) -> float:
        ru = self.result.get("rusage", {})
        return max(self.peak_tree_mb, ru.get("self_mb", 0.0) + ru.get("children_mb", 0.0))


def _tree_rss(proc: psutil.Process) -> tuple[int, int]:
    """(sum of RSS over the process and its descendants, RSS of the process alone)."""
    total = main = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0
    for p in procs:
        try:
            rss = p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
        total += rss
        if p.pid == proc.pid:
            main = rss
    return total, main


def run_child(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 3600) -> ChildRun:
    """Run ``cmd`` (a bench child printing one JSON object as its last stdout line),
    sampling the RSS of its whole process tree. Raises with stderr if it fails."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    ps = psutil.Process(proc.pid)
    peak = peak_main = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_main
        while not stop.is_set():
            tree, main = _tree_rss(ps)
            peak, peak_main = max(peak, tree), max(peak_main, main)
            stop.wait(0.02)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        stop.set()
        th.join()
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"bench child failed ({' '.join(cmd[-4:])}):\n{err[-4000:]}")
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"bench child printed no result:\n{out[-2000:]}\n{err[-2000:]}")
    return ChildRun(
        json.loads(lines[-1]),
        wall,
        peak / 2**20,
        cpu,
        peak_main / 2**20,
        load0,
        os.getloadavg()[0],
    )


def machine() -> dict[str, Any]:
    """nproc, RAM, CPU model and library versions, for the record in docs/performance.md."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str] = {"python": platform.python_version()}
    from importlib.metadata import PackageNotFoundError, version

    for pkg in (
        "polars",
        "duckdb",
        "pyarrow",
        "fitparse",
        "fitfast",
        "prefect",
        "distributed",
        "prefect-dask",
    ):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = "-"
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "versions": versions,
        "executable": sys.executable,
    }


def print_json(obj: dict[str, Any]) -> None:
    """The child's result: one JSON line, last on stdout."""
    obj = {**obj, "rusage": rusage_peak_mb()}
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def tree_cpu_s() -> float:
    """CPU seconds (user + system) of this process, its reaped children and its live
    descendants (a cached worker pool is only reaped at exit)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        total += ru.ru_utime + ru.ru_stime
    for p in psutil.Process().children(recursive=True):
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total
