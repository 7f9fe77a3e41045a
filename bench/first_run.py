"""Issue 15 measurements: a user's first ``gaitwatch run`` (the real CLI in a subprocess:
ingest, metrics, data tests, every weekly report, publish) against a plain fitparse
decode of the same files, the nightly run with one new file, and the report rendering
share. Called as bench children by bench/backfill.py (``cli-first``, ``cli-nightly``,
``fitparse-plain``), so the parent measures the peak RSS of the whole process tree.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from data import write_run
from measure import tree_cpu_s


def _gaitwatch() -> str:
    return str(Path(sys.executable).with_name("gaitwatch"))


def link_inbox(files: list[tuple[Path, str]], inbox: Path) -> None:
    """The run's own inbox of hard links (the shared input folder is never written);
    names keep their folder so that two exports' files cannot collide. A file modified
    within the last hour would wait for the inbox's settle time: it is copied instead and
    the copy's mtime set an hour back (setting a hard link's would change the input's)."""
    if inbox.exists():
        shutil.rmtree(inbox)
    old = time.time() - 3600
    for i, (path, athlete) in enumerate(files):
        dest = inbox / athlete / f"{i:05d}-{path.name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        if path.stat().st_mtime > old:
            shutil.copyfile(path, dest)
            os.utime(dest, (old, old))
            continue
        try:
            os.link(path, dest)
        except OSError:
            shutil.copy2(path, dest)  # keeps the (old) mtime


def warm_prefect(work: Path) -> dict[str, Any]:
    """``gaitwatch run`` over an empty inbox: creates Prefect's home (its SQLite database
    and migrations) as the README's ``make run`` does once per machine, so the timed first
    run below measures gaitwatch over a history, not Prefect's one-time set-up."""
    if work.exists():
        shutil.rmtree(work)
    (work / "inbox").mkdir(parents=True)
    wall, _ = _cli(work, 1)
    shutil.rmtree(work, ignore_errors=True)
    return {"work_s": wall}


@contextmanager
def prefect_server() -> Iterator[str]:
    """A local ``prefect server start`` (this process's PREFECT_HOME), as the nightly
    deployment runs against; yields its API URL. Runs given ``PREFECT_API_URL`` start no
    temporary server of their own."""
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    api = f"http://127.0.0.1:{port}/api"
    prefect = str(Path(sys.executable).with_name("prefect"))
    proc = subprocess.Popen([prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env=os.environ | {"PREFECT_UI_ENABLED": "false"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{api}/health", timeout=2):  # noqa: S310 - local
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("prefect server did not start") from None
                time.sleep(0.5)
        yield api
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cli(work: Path, workers: int, api_url: str | None = None,
         verbose: bool = False) -> tuple[float, str]:
    env = dict(os.environ)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    if verbose:  # the bench's children run with Prefect at WARNING, which -v does not override
        env["PREFECT_LOGGING_LEVEL"] = "INFO"
    cmd = [
        _gaitwatch(), "run", "--inbox", str(work / "inbox"), "--db", str(work / "gaitwatch.duckdb"),
        "--reports", str(work / "reports"), "--published-db", str(work / "published.duckdb"),
        "--workers", str(workers), *(["-v"] if verbose else []),
    ]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work, timeout=7200, env=env)
    wall = time.perf_counter() - t
    # A run that rejected some files (real exports have a few) exits non-zero but finishes
    # the job; only a run that did not publish failed.
    if proc.returncode != 0 and "published:" not in proc.stdout:
        raise RuntimeError(f"gaitwatch run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return wall, proc.stdout + proc.stderr


def _render_share(work: Path) -> dict[str, Any]:
    """Every report again from the finished warehouse, into an empty folder, timed on its
    own (the CLI does not time its steps): the report part of the first run."""
    from reports.render import render_reports

    out = work / "reports-again"
    c0, t = time.process_time(), time.perf_counter()
    written = render_reports(work / "gaitwatch.duckdb", out)
    n = len(written)
    weeks = sum(1 for p in written if p.suffix == ".html" and p.parent != out)
    wall = time.perf_counter() - t
    shutil.rmtree(out, ignore_errors=True)
    return {"reports_s": wall, "reports_cpu_s": time.process_time() - c0,
            "report_files": n, "athlete_weeks": weeks}


def first(files: list[tuple[Path, str]], work: Path, workers: int) -> dict[str, Any]:
    """A fresh working folder, then ``gaitwatch run`` over all files."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    link_inbox(files, work / "inbox")
    cpu0 = tree_cpu_s()
    wall, output = _cli(work, workers)
    cpu = tree_cpu_s() - cpu0
    out: dict[str, Any] = {"work_s": wall, "cli_cpu_s": cpu, "files": len(files),
                           "output_lines": len(output.splitlines()),
                           "warning_lines": sum("warning" in ln.lower() or "findfont" in ln
                                                for ln in output.splitlines())}
    out.update(_render_share(work))
    return out


_LOG_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d\.\d+) \| ")


def flow_seconds(output: str) -> float | None:
    """The nightly flow run's own duration, from the ``-v`` log's first and last flow-run
    lines ("Beginning flow run" to "Finished in state"): the run without the process's
    start (interpreter, imports, server connection), which varies by tenths of a second
    from one run to the next on a shared 2-core machine."""
    times = []
    for line in output.splitlines():
        m = _LOG_TIME.match(line)
        if m and "Flow run '" in line and ("Beginning flow run" in line or "Finished in state" in line):
            h, mi, s = m.groups()
            times.append(int(h) * 3600 + int(mi) * 60 + float(s))
    if len(times) < 2:
        return None
    span = times[-1] - times[0]
    return span + 86400 if span < 0 else span  # across midnight


def nightly(work: Path, workers: int, pairs: int = 3, api_url: str | None = None) -> dict[str, Any]:
    """On the first run's folder, ``pairs`` times: ``gaitwatch run`` with nothing new (the
    fixed cost of a process: interpreter, imports, Prefect's temporary server, scan), then
    with one new one-hour run. Work = the difference, wall and CPU (the whole process
    tree), as the median over the pairs: one pair is within the noise of a loaded machine.
    With ``api_url`` the runs talk to that running server (as the nightly deployment
    does) instead of starting a temporary one, whose start-up (4-6 s, varying by seconds
    between runs) otherwise dominates both runs of a pair."""
    import statistics

    import duckdb

    rows = []
    flows = []  # (idle flow s, +1 flow s)
    for k in range(pairs):
        c0 = tree_cpu_s()
        idle, idle_out = _cli(work, workers, api_url, verbose=True)
        c1 = tree_cpu_s()
        with duckdb.connect(str(work / "gaitwatch.duckdb"), read_only=True) as con:
            athlete, last = con.execute(
                "SELECT athlete_id, max(started_at) FROM activities GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
            ).fetchall()[0]
        start = last.astimezone(UTC) + timedelta(days=1)
        new = work / "inbox" / athlete / f"{start:%Y-%m-%d-%H%M}-nightly-new-{k}.fit"
        write_run(new, start, seed=987_654 + k, serial=4242)
        old = datetime.now(UTC).timestamp() - 3600
        os.utime(new, (old, old))
        c2 = tree_cpu_s()
        one, output = _cli(work, workers, api_url, verbose=True)
        c3 = tree_cpu_s()
        rows.append((idle, one, c1 - c0, c3 - c2))
        flows.append((flow_seconds(idle_out), flow_seconds(output)))
    med = statistics.median
    flow_work = [b - a for a, b in flows if a is not None and b is not None]
    return {"idle_s": med(r[0] for r in rows), "with_new_s": med(r[1] for r in rows),
            "work_s": med(max(r[1] - r[0], 0.0) for r in rows),
            "work_cpu_s": med(r[3] - r[2] for r in rows), "pairs": pairs,
            "flow_work_s": med(flow_work) if flow_work else None,
            "flow_idle_s": med(a for a, _ in flows if a is not None) if flow_work else None,
            "all_pairs": rows, "all_flows": flows,
            "output": [ln for ln in output.strip().splitlines() if not _LOG_TIME.match(ln)][-4:]}


def fitparse_plain(files: list[tuple[Path, str]], budget_s: float) -> dict[str, Any]:
    """A plain fitparse decode (every message, ``get_values()``), gunzipping ``.gz``, on an
    evenly spaced sample of the FIT files within ``budget_s``, extrapolated linearly in
    decompressed bytes to all of them. GPX/TCX files are not FIT and are not counted."""
    import fitparse

    def raw(p: Path) -> bytes:
        data = p.read_bytes()
        return gzip.decompress(data) if p.name.endswith(".gz") else data

    fit = [p for p, _ in files if p.name.lower().endswith((".fit", ".fit.gz"))]
    total_bytes = sum(len(raw(p)) for p in fit)
    # Evenly spaced, deterministic order: any prefix covers the whole set.
    order = [fit[(i * 7919) % len(fit)] for i in range(len(fit))] if fit else []
    seen: set[Path] = set()
    done_bytes = errors = 0
    t = time.perf_counter()
    for p in order:
        if p in seen:
            continue
        seen.add(p)
        data = raw(p)
        try:
            for msg in fitparse.FitFile(data).get_messages():
                msg.get_values()
        except Exception:  # noqa: BLE001 - fitparse refuses some valid files; still timed
            errors += 1
        done_bytes += len(data)
        if time.perf_counter() - t > budget_s:
            break
    secs = time.perf_counter() - t
    scale = total_bytes / done_bytes if done_bytes else 1.0
    return {"seconds": secs * scale, "measured_s": secs, "files": len(seen), "fit_files": len(fit),
            "scale": scale, "fitparse_errors": errors}
