"""A run killed midway (SIGKILL after the third file is committed: no cleanup, no flush)
loses nothing and duplicates nothing: the next ``gaitwatch run`` ends with exactly what
one clean run over the same files gives.

The kill comes from test code only: ``tests/crashhook/sitecustomize.py`` is put on the
subprocess's PYTHONPATH and kills it after the N-th committed load group."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cli_support import age, cli_env, copy_files, run_cli, write_config
from conftest import CORPUS

HOOK = Path(__file__).resolve().parent / "crashhook"

FILES = [
    "fit/fenix5-run-dynamics-short.fit",
    "fit/fenix5-walk-dynamics.fit",
    "fit/fenix5-bike-short.fit",
    "fit/fr630-run-dynamics.fit",
    "fit/edge510-settings.fit",
    "gpx/garmin-connect-run-ns3-cad-hr-short.gpx",
    "gpx/route-only.gpx",
    "bad/bad-crc-activity.fit",
]


def _workspace(root: Path) -> Path:
    for n in FILES:
        if not (CORPUS / n).exists():
            pytest.skip(f"corpus file {n} missing")
    folder = root / "inbox" / "ana"
    age(copy_files([CORPUS / n for n in FILES if not n.startswith("bad/")], folder))
    for n in FILES:  # damaged files sort last: the kill comes before them
        if n.startswith("bad/"):
            dest = folder / f"zz-{Path(n).name}"
            shutil.copyfile(CORPUS / n, dest)
            age([dest])
    return write_config(
        root / "gaitwatch.toml",
        {
            "inbox": "inbox",
            "database": "out/gw.duckdb",
            "published_database": "out/analyst.duckdb",
            "reports": "out/reports",
            "inbox_options": {"settle_seconds": 1},
            "ingest": {"batch_size": 1},  # one file per load group: the kill lands between files
        },
    )


def _snapshot(db: Path) -> dict[str, Any]:
    with duckdb.connect(str(db), read_only=True) as con:
        def q(sql: str) -> list[tuple[Any, ...]]:
            return sorted(con.execute(sql).fetchall())

        return {
            "log": q("SELECT athlete_id, source_file, sha256, part, status, reason FROM ingest_log"),
            "activities": q("SELECT activity_id, sport, started_at, n_samples FROM activities"),
            "samples": q("SELECT activity_id, count(*), count(DISTINCT ts) FROM samples GROUP BY 1"),
            "sessions": q("SELECT activity_id, count(*) FROM sessions GROUP BY 1"),
            "gait": q("SELECT activity_id FROM activity_gait"),
            "weeks": q("SELECT athlete_id, iso_week, runs FROM weekly_risk"),
        }


def test_killed_run_then_rerun_equals_one_clean_run(prefect_harness: None, tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    env = cli_env(api_url=PREFECT_API_URL.value())
    crashed = _workspace(tmp_path / "crashed")
    hook = {
        "GAITWATCH_TEST_KILL_AFTER_GROUPS": "3",
        "PYTHONPATH": os.pathsep.join([str(HOOK), env["PYTHONPATH"]]),
    }
    killed = run_cli(["run", "--config", str(crashed)], {**env, **hook})
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    with duckdb.connect(str(tmp_path / "crashed" / "out" / "gw.duckdb"), read_only=True) as con:
        done_before_kill = con.execute("SELECT count(DISTINCT source_file) FROM ingest_log").fetchall()
    assert done_before_kill == [(3,)]  # killed midway: 3 of 8 files committed
    assert not (tmp_path / "crashed" / "out" / "analyst.duckdb").exists()

    resumed = run_cli(["run", "--config", str(crashed)], env)
    assert resumed.returncode == 1, resumed.stderr  # the bad file, reported once
    assert resumed.stderr.count("rejected: ") == 1

    clean = _workspace(tmp_path / "clean")
    reference = run_cli(["run", "--config", str(clean)], env)
    assert reference.returncode == 1, reference.stderr

    got = _snapshot(tmp_path / "crashed" / "out" / "gw.duckdb")
    want = _snapshot(tmp_path / "clean" / "out" / "gw.duckdb")
    assert got == want
    assert len(got["log"]) == len(FILES)  # every file once, nothing logged twice
    assert all(n == distinct for _, n, distinct in got["samples"])  # no sample twice
    assert (tmp_path / "crashed" / "out" / "analyst.duckdb").is_file()
    # State lives in the warehouse: nothing but DuckDB files beside the working database.
    for run in ("crashed", "clean"):
        beside = sorted(p.name for p in (tmp_path / run / "out").iterdir() if p.is_file())
        assert all(n.endswith((".duckdb", ".duckdb.wal")) for n in beside), beside
