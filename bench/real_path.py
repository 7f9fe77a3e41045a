"""The gaitwatch path the benchmark measures: the functions the ``nightly`` flow's tasks
wrap one-to-one (flows.pipeline), called without Prefect so each stage can be timed:
scan the inbox -> decode + load (per batch of 25 files of one athlete, decoding on
``workers`` processes) -> gait metrics and weekly risk -> data tests -> publish.

Reports are not part of the issue 7 goal and are not run here.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from data import write_run
from measure import tree_cpu_s


def _config(work: Path, workers: int) -> Any:
    from flows.config import config_from_dict

    cfg = config_from_dict(
        {
            "inbox": "inbox",
            "database": "gaitwatch.duckdb",
            "published_database": "published/gaitwatch.duckdb",
            "reports": "reports",
        },
        base_dir=work,
    )
    # Files were just generated: nothing is "still being copied".
    return replace(cfg, settle_seconds=0.0, workers=workers)


def _link_inbox(files: list[tuple[Path, str]], inbox: Path) -> None:
    """The run's own inbox: hard links to the inputs (so subsets and the incremental
    file never touch the shared input folder)."""
    if inbox.exists():
        shutil.rmtree(inbox)
    for path, athlete in files:
        dest = inbox / athlete / path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, dest)
        except OSError:
            shutil.copyfile(path, dest)


def _samples(cfg: Any) -> int:
    from warehouse.migrate import connect

    con = connect(cfg.database, read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM samples").fetchall()[0][0])
    finally:
        con.close()


def _run_stages(cfg: Any, workers: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Run the nightly steps in order, timing each. A failing step is recorded (and the
    later steps still run) so one broken stage does not hide the others' numbers."""
    from flows import pipeline

    st: dict[str, float] = {}
    info: dict[str, Any] = {"failed": {}, "cpu": {}}

    def ingest() -> Any:
        scan = pipeline.scan_new_files(cfg)
        outcomes = []
        for _athlete, batch in pipeline.batches(scan.ready, cfg.batch_size):
            outcomes.extend(pipeline.ingest_files(cfg, batch, workers=workers))
        return pipeline.outcome_counts(outcomes)

    steps = [
        ("decode+load", ingest),
        ("derive+weekly", lambda: pipeline.compute_metrics(cfg, full=False)),
        ("data tests", lambda: pipeline.run_data_tests(cfg)),
        ("publish", lambda: pipeline.publish(cfg)),
    ]
    for name, fn in steps:
        t = time.perf_counter()
        c = tree_cpu_s()
        try:
            out = fn()
        except Exception as exc:  # noqa: BLE001 - reported in the table
            info["failed"][name] = f"{type(exc).__name__}: {exc}"[:300]
            out = None
        st[name] = time.perf_counter() - t
        info["cpu"][name] = tree_cpu_s() - c
        info[name] = out.one_line() if hasattr(out, "one_line") else str(out)[:300]
    return st, info


def backfill(files: list[tuple[Path, str]], work: Path, workers: int) -> dict[str, Any]:
    """Full backfill into a fresh warehouse."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    cfg = _config(work, workers)
    t = time.perf_counter()
    _link_inbox(files, cfg.inbox)
    setup = time.perf_counter() - t
    t0 = time.perf_counter()
    stages, info = _run_stages(cfg, workers)
    work_s = time.perf_counter() - t0
    from ingest.batch import shutdown_pools

    shutdown_pools()
    return {
        "stages": stages,
        "work_s": work_s,
        "setup_s": setup,
        "samples": _samples(cfg),
        "files": len(files),
        **info,
    }


def incremental(files: list[tuple[Path, str]], work: Path) -> dict[str, Any]:
    """One new run dropped into the backfilled inbox, then the nightly steps.

    ``startup_s`` is this process's life until the work starts (interpreter + imports);
    ``work_s`` is the rest, publishing included. Decoding runs in-process (workers=1):
    a worker pool's start-up would cost more than decoding one file.
    """
    import psutil

    from flows import pipeline  # noqa: F401 - imported before timing: start-up
    from warehouse.migrate import connect

    cfg = _config(work, 1)
    con = connect(cfg.database, read_only=True)
    athlete, last = con.execute(
        "SELECT athlete_id, max(started_at) FROM activities GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    ).fetchall()[0]
    con.close()
    start = last + timedelta(days=1)
    new = cfg.inbox / athlete / f"{start:%Y-%m-%d-%H%M}-nightly-new.fit"
    write_run(new, start, seed=987_654, serial=4242)
    t0 = time.perf_counter()
    startup = time.time() - psutil.Process().create_time()
    try:
        stages, info = _run_stages(cfg, 1)
        work_s = time.perf_counter() - t0
    finally:
        new.unlink(missing_ok=True)
    return {
        "stages": stages,
        "work_s": work_s,
        "startup_s": startup,
        "samples": 3600,
        **info,
    }


QUERIES = {
    "weekly_risk, one athlete, all weeks": (
        "SELECT * FROM v_weekly_risk WHERE athlete_id = $a ORDER BY iso_week"
    ),
    "weekly_risk, latest week, all athletes": (
        "SELECT athlete_id, iso_week, risk_level, flags FROM v_weekly_risk "
        "WHERE iso_week = (SELECT max(iso_week) FROM v_weekly_risk)"
    ),
    "weekly_risk, flag counts": (
        "SELECT risk_level, count(*) FROM v_weekly_risk GROUP BY ALL ORDER BY ALL"
    ),
    "runs, one athlete, last 20": (
        "SELECT * FROM v_runs WHERE athlete_id = $a ORDER BY started_at DESC LIMIT 20"
    ),
    "one activity: run + its samples": (
        "SELECT count(*), avg(cadence_spm), avg(gct_balance_left_pct) FROM samples "
        "WHERE activity_id = (SELECT max(activity_id) FROM activities WHERE athlete_id = $a)"
    ),
}


def queries(work: Path, repeats: int = 7) -> dict[str, Any]:
    """Analyst queries on the published database: median of ``repeats`` after one warm-up."""
    from warehouse.migrate import connect

    published = _config(work, 1).published_database
    con = connect(published, read_only=True)
    athlete = con.execute("SELECT min(athlete_id) FROM activities").fetchall()[0][0]
    out: dict[str, float] = {}
    cold: dict[str, float] = {}
    for name, sql in QUERIES.items():
        params = {"a": athlete} if "$a" in sql else {}
        t = time.perf_counter()
        con.execute(sql, params).fetchall()
        cold[name] = time.perf_counter() - t
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            con.execute(sql, params).fetchall()
            times.append(time.perf_counter() - t)
        out[name] = statistics.median(times)
    con.close()
    return {"queries": out, "cold": cold}
