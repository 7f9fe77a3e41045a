"""Smoke test of the issue 7 benchmark (bench/backfill.py) on 5 generated runs: it runs the
real pipeline end to end in its child processes and reports every stage. Timings are
not asserted (they belong to the benchmark, not the test suite); what the benchmark
counted is checked against an independent decoder.

The benchmark's ``gaitwatch run`` children use the session's Prefect server
(``PREFECT_API_URL``) instead of starting a temporary server each: three server start-ups
were three quarters of this test's time, and the temporary server has tests of its own
(tests/test_cli.py's quiet run on sample data)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_bench_backfill_runs_5(prefect_harness: None, tmp_path: Path) -> None:
    fitfast = pytest.importorskip("fitfast")
    from prefect.settings import PREFECT_API_URL

    from synth.generate import generate_backfill

    paths = generate_backfill(tmp_path / "in", n_runs=5, minutes=60, seed=1)
    records = sum(fitfast.message_counts(str(p)).get("record", 0) for p in paths)
    out = tmp_path / "bench.json"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"),
           "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "backfill.py"),
            "--data",
            str(tmp_path / "in"),
            "--work",
            str(tmp_path / "work"),
            "--skip",
            "baseline,decode,dask,prefect,scaling",
            "--nightly-pairs",
            "1",
            "--json",
            str(out),
            "--markdown",
            str(tmp_path / "bench.md"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=280,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    backfill = res["runs"]["backfill"]["result"]
    assert backfill["failed"] == {}
    assert backfill["samples"] == records  # every record of every file reached the warehouse
    assert set(backfill["stages"]) == {"decode+load", "derive+weekly", "data tests", "publish"}
    assert res["runs"]["incremental"]["result"]["failed"] == {}
    assert len(res["runs"]["queries"]["result"]["queries"]) >= 5
    assert "goals" in res and "| stage |" in (tmp_path / "bench.md").read_text()
    assert "backfill 5: TOTAL work" in proc.stdout
    # the first `gaitwatch run` (the CLI) and the nightly run with one new file
    first = res["first_run"]["generated 5"]
    assert first["run"]["files"] == 5 and first["run"]["warning_lines"] == 0
    assert "ingest: 1 loaded, 5 unchanged" in first["nightly"]["output"]
    # the flow run's own time, read from the -v log: both runs of the pair have one
    assert all(a is not None and b is not None and 0 < a < b
               for a, b in first["nightly"]["all_flows"])
    assert "| generated 5 | 5 |" in proc.stdout
