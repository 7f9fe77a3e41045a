"""The nightly deployment for real: a local ``prefect server start``, ``prefect deploy``
from the repository's prefect.yaml, a process work pool and a worker, one triggered run
of ``nightly/nightly`` checked by the data it leaves, and the schedule's next run times
checked against the cron in its time zone (computed here with zoneinfo, not by Prefect).

Offline throughout: the server, the worker and the flow run all stay on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import httpx
import pytest
import yaml
from cli_support import GAITWATCH, age, cli_env, copy_files, write_config
from conftest import CORPUS, REPO

from flows.tempserver import free_port

PREFECT = str(Path(sys.executable).with_name("prefect"))
FILES = [
    "fit/fenix5-run-dynamics-short.fit",
    "fit/fr630-run-dynamics.fit",
    "gpx/garmin-connect-run-ns3-cad-hr-short.gpx",
    "bad/empty-zero-bytes.fit",
]


def _prefect(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60) -> str:
    done = subprocess.run(
        [PREFECT, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prefect server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    pytest.fail(f"prefect server not healthy after {timeout} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _expected_local_runs(cron: str, tz: str, after: datetime, n: int) -> list[datetime]:
    """The next ``n`` daily runs of a 'M H * * *' cron, as wall-clock times in ``tz``."""
    minute, hour, *rest = cron.split()
    assert rest == ["*", "*", "*"], "this check handles daily crons"
    zone = ZoneInfo(tz)
    day = after.astimezone(zone).date()
    out: list[datetime] = []
    while len(out) < n:
        t = datetime(day.year, day.month, day.day, int(hour), int(minute), tzinfo=zone)
        if t > after:
            out.append(t.astimezone(UTC))
        day += timedelta(days=1)
    return out


async def _deployment_facts(name: str) -> tuple[Any, list[datetime]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    async with get_client() as client:
        dep = await client.read_deployment_by_name(name)
        scheduled: list[datetime] = []
        for _ in range(40):  # the server's scheduler creates the upcoming runs within seconds
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
                ),
            )
            scheduled = sorted(r.expected_start_time for r in runs if r.expected_start_time)
            if len(scheduled) >= 3:
                break
            await asyncio.sleep(0.5)
        return dep, scheduled


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_nightly_deployment_runs_under_a_local_server(tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    nightly_spec = next(d for d in spec["deployments"] if d["name"] == "nightly")
    poll_spec = next(d for d in spec["deployments"] if d["name"] == "inbox-poll")
    cron = nightly_spec["schedules"][0]["cron"]
    tz = nightly_spec["schedules"][0]["timezone"]
    assert tz and tz != "UTC"  # an explicit zone: Prefect's default would be UTC

    # a small inbox and a config writing into tmp_path
    inbox = tmp_path / "inbox"
    for n in FILES:
        if not (CORPUS / n).exists():
            pytest.skip(f"corpus file {n} missing")
    age(copy_files([CORPUS / n for n in FILES[:3]], inbox / "ana"))
    age(copy_files([CORPUS / FILES[3]], inbox / "bob"))
    config = write_config(
        tmp_path / "gaitwatch.toml",
        {
            "inbox": "inbox",
            "database": "out/gw.duckdb",
            "published_database": "out/analyst.duckdb",
            "reports": "out/reports",
            "inbox_options": {"settle_seconds": 1},
            "athletes": [{"id": "ana", "timezone": "Europe/Madrid"}],
        },
    )

    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = cli_env(
        api_url=api,
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_UI_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="5",
        PREFECT_LOGGING_LEVEL="INFO",
    )
    server_log = tmp_path / "server.log"
    worker_log = tmp_path / "worker.log"
    server = worker = None
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    try:
        with server_log.open("wb") as out:
            server = subprocess.Popen(
                [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_healthy(api, server, server_log)
        timings["server ready"] = time.monotonic() - t0

        _prefect(["work-pool", "create", "gaitwatch", "--type", "process"], env, tmp_path)
        for name in ("nightly", "inbox-poll"):
            # from the repository: prefect.yaml's entrypoints and default pull step point here
            _prefect(
                ["--no-prompt", "deploy", "--name", name, "--param", f"config={config}"],
                env,
                REPO,
            )
        timings["deployed"] = time.monotonic() - t0

        with worker_log.open("wb") as out:
            worker = subprocess.Popen(
                [PREFECT, "worker", "start", "--pool", "gaitwatch", "--type", "process", "--limit", "1"],
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        run = subprocess.run(
            [PREFECT, "deployment", "run", "nightly/nightly", "--watch", "--watch-timeout", "120"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=150,
            check=False,
        )
        timings["run finished"] = time.monotonic() - t0
        assert "Completed" in run.stdout, (
            f"{run.stdout}\n{run.stderr}\nworker log:\n{worker_log.read_text()[-4000:]}"
        )

        # the data the run left: everything accounted for, reports, the analysts' file
        with duckdb.connect(str(tmp_path / "out" / "gw.duckdb"), read_only=True) as con:
            log = dict(con.execute("SELECT source_file, status FROM ingest_log").fetchall())
            acts = con.execute("SELECT count(*) FROM activities").fetchall()[0][0]
        assert log == {
            "ana/fenix5-run-dynamics-short.fit": "loaded",
            "ana/fr630-run-dynamics.fit": "loaded",
            "ana/garmin-connect-run-ns3-cad-hr-short.gpx": "loaded",
            "bob/empty-zero-bytes.fit": "rejected",
        }
        assert acts == 3
        assert (tmp_path / "out" / "analyst.duckdb").is_file()
        assert (tmp_path / "out" / "reports" / "index.html").is_file()

        # schedules as the server holds them, and the runs it scheduled

        with temporary_settings({PREFECT_API_URL: api}):
            dep, scheduled = asyncio.run(_deployment_facts("nightly/nightly"))
            poll, _ = asyncio.run(_deployment_facts("ingest-inbox/inbox-poll"))
        (sched,) = dep.schedules
        assert (sched.schedule.cron, sched.schedule.timezone) == (cron, tz)
        assert dep.parameters == {"config": str(config)}
        assert dep.work_pool_name == "gaitwatch"
        assert len(scheduled) >= 3
        expected = _expected_local_runs(cron, tz, after=scheduled[0] - timedelta(seconds=1), n=3)
        assert [s.astimezone(UTC) for s in scheduled[:3]] == expected
        for s in scheduled[:3]:  # 02:30 on the configured zone's clock, whatever UTC says
            local = s.astimezone(ZoneInfo(tz))
            assert (local.hour, local.minute) == (int(cron.split()[1]), int(cron.split()[0]))
        (poll_sched,) = poll.schedules
        assert poll_sched.schedule.interval == timedelta(seconds=poll_spec["schedules"][0]["interval"])
        timings["checked"] = time.monotonic() - t0

        # `gaitwatch serve` against the same server: its own deployments with the
        # configuration's schedule, whose runs it executes in its own process
        _stop(worker)
        worker = None
        doc = tomllib.loads(config.read_text())
        doc["schedule"] = {"nightly_cron": "15 4 * * *", "timezone": "America/Chicago"}
        write_config(config, doc)
        age(copy_files([CORPUS / "fit/fenix5-walk-dynamics.fit"], inbox / "ana"))
        serve_log = tmp_path / "serve.log"
        with serve_log.open("wb") as out:
            serving = subprocess.Popen(
                [*GAITWATCH, "serve", "--config", str(config)],
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            with temporary_settings({PREFECT_API_URL: api}):
                deadline = time.monotonic() + 60
                while True:  # until serve has registered its deployment
                    try:
                        served, _ = asyncio.run(_deployment_facts("nightly/nightly-served"))
                    except Exception:  # not registered yet
                        assert time.monotonic() < deadline, serve_log.read_text()[-3000:]
                        time.sleep(0.5)
                        continue
                    sched = served.schedules[0].schedule if served.schedules else None
                    if sched is not None and getattr(sched, "cron", None) == "15 4 * * *":
                        break
                    assert time.monotonic() < deadline, serve_log.read_text()[-3000:]
                    time.sleep(0.5)
            assert sched.timezone == "America/Chicago"
            run = subprocess.run(
                [PREFECT, "deployment", "run", "nightly/nightly-served", "--watch", "--watch-timeout", "120"],
                env=env, cwd=tmp_path, capture_output=True, text=True, timeout=150, check=False,
            )
            assert "Completed" in run.stdout, f"{run.stdout}\n{serve_log.read_text()[-4000:]}"
        finally:
            _stop(serving)  # type: ignore[arg-type]
        with duckdb.connect(str(tmp_path / "out" / "gw.duckdb"), read_only=True) as con:
            walk = con.execute(
                "SELECT status FROM ingest_log WHERE source_file = 'ana/fenix5-walk-dynamics.fit'"
            ).fetchall()
        assert walk == [("loaded",)]
        timings["served run"] = time.monotonic() - t0
    finally:
        _stop(worker)
        _stop(server)
    print("deployment test timings (s):", {k: round(v, 1) for k, v in timings.items()})


def test_prefect_yaml_matches_the_flows_and_sample_schedule() -> None:
    """Entry points exist, and the sample config's [schedule] (used by `gaitwatch serve`)
    says the same as prefect.yaml, so both ways of scheduling agree."""
    import importlib

    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    for d in spec["deployments"]:
        path, func = d["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, func)
        assert set(d["parameters"]) <= set(flow.parameters.properties)
        assert d["work_pool"]["name"] == "gaitwatch"
    sample = tomllib.loads((REPO / "sample_data" / "gaitwatch.toml").read_text())["schedule"]
    nightly = next(d for d in spec["deployments"] if d["name"] == "nightly")["schedules"][0]
    poll = next(d for d in spec["deployments"] if d["name"] == "inbox-poll")["schedules"][0]
    assert (nightly["cron"], nightly["timezone"]) == (sample["nightly_cron"], sample["timezone"])
    assert poll["interval"] == sample["inbox_poll_seconds"]


def test_serve_builds_both_deployments_from_the_configuration(tmp_path: Path) -> None:
    """`gaitwatch serve`'s deployments carry the configured cron, time zone and interval
    (building them needs no server; serving them does, see the test above)."""
    from flows.config import load_config
    from flows.serve import build_deployments

    config = write_config(
        tmp_path / "gaitwatch.toml",
        {"schedule": {"nightly_cron": "15 4 * * 1-5", "timezone": "America/Chicago", "inbox_poll_seconds": 120}},
    )
    nightly, poll = build_deployments(load_config(config))
    assert nightly.name == "nightly-served" and poll.name == "inbox-poll-served"
    (n_sched,) = nightly.schedules
    assert (n_sched.schedule.cron, n_sched.schedule.timezone) == ("15 4 * * 1-5", "America/Chicago")
    (p_sched,) = poll.schedules
    assert p_sched.schedule.interval == timedelta(seconds=120)
    assert nightly.parameters == {"config": str(config.resolve())}
