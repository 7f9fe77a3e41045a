"""The ``gaitwatch`` command as users run it (a subprocess), against the test harness's
Prefect server (so no temporary server is started per command): exit codes, one line per
rejected file, no tracebacks for our errors, status, ingest of an archive, report."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import duckdb
import pytest
from cli_support import GAITWATCH, age, cli_env, copy_files, run_cli, write_config
from conftest import CHILD_EXIT_WAIT_S, CORPUS, SAMPLE_DATA, descendants

# tests that need corpus files skip one by one (in _setup and below); the others still run
HANDLES_MISSING_CORPUS = True

GOOD = ["fit/fenix5-run-dynamics-short.fit", "gpx/garmin-connect-run-ns3-cad-hr-short.gpx"]
BAD = ["bad/empty-zero-bytes.fit", "bad/strava-scrape-unbound-ns-prefix.gpx"]


@pytest.fixture(scope="module")
def env(prefect_harness: None) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the harness runs a server"
    return cli_env(api_url=url)


def _setup(root: Path, files: list[str], athlete: str = "ana") -> Path:
    for n in files:
        if not (CORPUS / n).exists():
            pytest.skip(f"corpus file {n} missing")
    age(copy_files([CORPUS / n for n in files], root / "inbox" / athlete))
    return write_config(
        root / "gaitwatch.toml",
        {
            "inbox": "inbox",
            "database": "out/gw.duckdb",
            "published_database": "out/analyst.duckdb",
            "reports": "out/reports",
            "inbox_options": {"settle_seconds": 1},
        },
    )


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_run_exit_codes_rejected_then_nothing_new(env: dict[str, str], tmp_path: Path) -> None:
    config = _setup(tmp_path, GOOD + BAD)
    first = run_cli(["run", "--config", str(config)], env)
    assert first.returncode == 1, first.stderr
    assert "Traceback" not in first.stderr + first.stdout
    lines = first.stderr.strip().splitlines()  # exactly one line per rejected file
    assert len(lines) == 2 and all(line.startswith("rejected: ") for line in lines)
    assert all(len(line.split(": ", 2)[2]) > 5 for line in lines)  # with a reason
    assert {line.split(": ")[1] for line in lines} == {
        "ana/empty-zero-bytes.fit",
        "ana/strava-scrape-unbound-ns-prefix.gpx",
    }
    assert "2 loaded" in first.stdout and "2 rejected" in first.stdout
    published = tmp_path / "out" / "analyst.duckdb"
    assert published.is_file() and (tmp_path / "out" / "reports" / "index.html").is_file()

    second = run_cli(["run", "--config", str(config)], env)
    assert second.returncode == 0, second.stderr
    assert second.stderr.strip() == ""
    assert "4 unchanged" in second.stdout

    status = run_cli(["status", "--config", str(config)], env)
    assert status.returncode == 0, status.stderr
    assert "empty-zero-bytes.fit" in status.stdout and "empty" in status.stdout.lower()
    assert "fenix5-run-dynamics-short.fit" not in status.stdout  # only rejected ones by default
    full = run_cli(["status", "--all", "--config", str(config)], env)
    assert "fenix5-run-dynamics-short.fit" in full.stdout


def test_a_command_sends_its_last_logs_before_it_exits(env: dict[str, str], tmp_path: Path) -> None:
    """``gaitwatch`` exits without the interpreter's teardown (flows.cli.main), after the
    threads' exit hooks: Prefect sends the logs it still holds (it batches them) then.
    The run's last log line is on the server."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, LogFilter

    config = _setup(tmp_path, GOOD)
    done = run_cli(["run", "-v", "--config", str(config)], env | {"PREFECT_LOGGING_LEVEL": "INFO"})
    assert done.returncode == 0, done.stderr
    with get_client(sync_client=True) as client:
        runs = [r for r in client.read_flow_runs(flow_run_filter=FlowRunFilter())
                if (r.parameters or {}).get("config") == str(config)]
        assert len(runs) == 1 and runs[0].state is not None and runs[0].state.is_completed()
        logs = client.read_logs(log_filter=LogFilter(flow_run_id={"any_": [runs[0].id]}))
    assert any(log.message.startswith("nightly: 2 loaded") for log in logs), [
        log.message for log in logs]


def test_failed_data_test_exits_3_and_publishes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    config = _setup(tmp_path, GOOD)
    assert run_cli(["run", "--config", str(config)], env).returncode == 0
    published = tmp_path / "out" / "analyst.duckdb"
    before = _sha(published)
    index = tmp_path / "out" / "reports" / "index.html"
    index_before = index.stat().st_mtime_ns
    age(tmp_path.joinpath("inbox", "ana").iterdir(), 7200)  # touched: the run has work to do
    # damage the working database the way a bug would: a sample of no activity
    with duckdb.connect(str(tmp_path / "out" / "gw.duckdb")) as con:
        con.execute("INSERT INTO samples (activity_id, ts) VALUES ('no-such-activity', now())")
    failed = run_cli(["run", "--config", str(config)], env)
    assert failed.returncode == 3, failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr + failed.stdout
    assert "data test failed: samples -> activities" in failed.stderr
    assert "nothing was published" in failed.stderr
    assert _sha(published) == before
    assert index.stat().st_mtime_ns == index_before  # no report from a failing warehouse


def test_usage_and_configuration_errors_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    bad = write_config(tmp_path / "bad.toml", {"inbox": "inbox", "athletes": [{"id": "x", "timezone": "Nowhere/Land"}]})
    done = run_cli(["run", "--config", str(bad)], env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "unknown time zone 'Nowhere/Land'" in done.stderr
    assert "Traceback" not in done.stderr

    missing = run_cli(["run", "--config", str(tmp_path / "nope.toml")], env)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr

    week = run_cli(["report", "--week", "2026-47", "--config", str(bad)], env)
    assert week.returncode == 2 and "2026-W47" in week.stderr

    # a path that is not UTF-8 cannot be a flow's parameter (Prefect sends them as JSON):
    # one line, before any work; it was a traceback from Prefect's client
    latin = os.fsencode(tmp_path) + b"/J\xf6rg"
    os.makedirs(latin + b"/inbox")
    (tmp_path / "run.fit").write_bytes(b"")
    os.rename(tmp_path / "run.fit", latin + b"/run.fit")
    for args in (["ingest", os.fsdecode(latin + b"/run.fit")], ["run", "--inbox", os.fsdecode(latin + b"/inbox")]):
        odd = run_cli([*args, "--db", str(tmp_path / "gw.duckdb")], env, cwd=tmp_path)
        assert odd.returncode == 2, odd.stderr
        assert odd.stderr.count("\n") == 1 and "J\\xf6rg" in odd.stderr and "not valid UTF-8" in odd.stderr
        assert "Traceback" not in odd.stderr

    no_server = cli_env()  # no PREFECT_API_URL: schedules cannot work
    no_server.pop("PREFECT_API_URL", None)
    serve = run_cli(["serve"], no_server, cwd=tmp_path)
    assert serve.returncode == 2 and "PREFECT_API_URL" in serve.stderr


def test_ingest_an_archive_for_a_named_athlete_then_report(env: dict[str, str], tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "gaitwatch.toml",
        {
            "database": "out/gw.duckdb",
            "reports": "out/reports",
            # moving applies to the inbox only, never to files named on the command line
            "inbox_options": {"processed": "move", "rejected": "move"},
            "athletes": [{"id": "jane-doe", "timezone": "Europe/Paris"}],
        },
    )
    for n in GOOD + BAD[:1]:
        if not (CORPUS / n).exists():
            pytest.skip(f"corpus file {n} missing")
    export = tmp_path / "downloads" / "export.zip"
    export.parent.mkdir()
    with zipfile.ZipFile(export, "w") as zf:
        for n in GOOD + BAD[:1]:
            zf.write(CORPUS / n, f"activities/{Path(n).name}")
    done = run_cli(["ingest", str(export), "--athlete", "Jane Doe", "--config", str(config)], env)
    assert done.returncode == 1, done.stdout + done.stderr  # one member is an empty file
    assert done.stderr.strip().startswith("rejected: export.zip")
    with duckdb.connect(str(tmp_path / "out" / "gw.duckdb"), read_only=True) as con:
        log = sorted(con.execute("SELECT athlete_id, source_file, status FROM ingest_log").fetchall())
        week = con.execute(
            "SELECT iso_week FROM weekly_risk WHERE athlete_id = 'jane-doe' AND runs > 0 LIMIT 1"
        ).fetchall()
    assert log == [
        ("jane-doe", "export.zip/activities/empty-zero-bytes.fit", "rejected"),
        ("jane-doe", "export.zip/activities/fenix5-run-dynamics-short.fit", "loaded"),
        ("jane-doe", "export.zip/activities/garmin-connect-run-ns3-cad-hr-short.gpx", "loaded"),
    ]
    assert week, "ingest updates the metrics"
    assert export.is_file() and not (tmp_path / "processed").exists()
    iso_week = week[0][0]
    report = run_cli(
        ["report", "--athlete", "jane-doe", "--week", iso_week, "--config", str(config)], env
    )
    assert report.returncode == 0, report.stderr
    written = [Path(line) for line in report.stdout.split() if line.endswith((".html", ".md"))]
    assert any(iso_week in p.name for p in written)
    assert all(p.is_file() for p in written)


# "About 40 lines" for `make run` (issue 11): a summary, one line per rejected file.
MAX_RUN_LINES = 40
# "error": e.g. Prefect's "--- Error logging to API ---" when its server stops before the
# last logs were sent
NOISE = re.compile(r"warning|findfont|traceback|error", re.IGNORECASE)


def _newcomer_env(home: Path) -> dict[str, str]:
    """The environment of someone who just cloned the project: this one minus what the
    test session adds (its Prefect server and settings), with an empty HOME, Prefect home
    and matplotlib cache. Nothing that would hide output (no warning filters)."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != "DO_NOT_TRACK"}
    env.update(HOME=str(home), MPLCONFIGDIR=str(home / "mpl"), PREFECT_HOME=str(home / "prefect"))
    # Prefect gives its temporary server 20 s to start, which a loaded 2-core machine can
    # exceed (seen: "Timed out while attempting to connect to ephemeral Prefect API
    # server"); a generous bound, so that this test measures output, not speed
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "600"
    return env


HEARTBEAT = (
    "from flows.cli import _no_heartbeat_wait\n"
    "from prefect.settings import get_current_settings\n"
    "with _no_heartbeat_wait():\n"
    "    print(get_current_settings().flows.heartbeat_frequency)\n"
    "print(get_current_settings().flows.heartbeat_frequency)\n"
)


def test_commands_run_flows_without_heartbeats_unless_the_operator_sets_them() -> None:
    """Prefect joins its heartbeat thread, which sleeps in whole seconds, at the end of
    every flow run: a command's runs have none (0-1 s saved per run) unless
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY says otherwise; outside them, Prefect's default."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")}
    for setting, inside, outside in ((None, "None", "180"), ("60", "60", "60")):
        run_env = env | ({"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": setting} if setting else {})
        out = subprocess.run([sys.executable, "-c", HEARTBEAT], env=run_env, capture_output=True,
                             text=True, timeout=300, check=True)
        assert out.stdout.split() == [inside, outside], out.stderr


@pytest.mark.slow
def test_run_on_sample_data_is_quiet_whatever_fonts_are_installed(tmp_path: Path) -> None:
    """`gaitwatch run` as `make run` runs it (its own temporary Prefect server, a fresh
    matplotlib cache) prints a short summary: no warning, no findfont line, no traceback,
    and writes the reports (the index and a page per week).

    On this machine the system fonts may or may not include the families a chart asks
    for; the output must not depend on it (issue 11: 28,436 findfont warnings). One
    athlete of sample_data keeps it short; every chart type is drawn for one athlete.
    (This test also holds what tests/test_reports.py's quiet run on all of sample_data
    checked: the two started the same command on the same data.)
    """
    if not (SAMPLE_DATA / "gaitwatch.toml").is_file():
        pytest.skip(f"{SAMPLE_DATA} missing: run make sample-data")
    work = tmp_path / "project"
    shutil.copytree(SAMPLE_DATA, work / "sample_data", ignore=shutil.ignore_patterns("inbox"))
    shutil.copytree(SAMPLE_DATA / "inbox" / "compact", work / "sample_data" / "inbox" / "compact")
    done = run_cli(
        ["run", "--config", "sample_data/gaitwatch.toml"], _newcomer_env(tmp_path / "home"), cwd=work, timeout=900
    )
    output = (done.stdout + done.stderr).splitlines()
    noise = [line for line in output if NOISE.search(line)]
    assert not noise, f"{len(noise)} warning lines, first: {noise[:3]}"
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert len(output) <= MAX_RUN_LINES, "\n".join(output[:60])
    assert any(line.startswith("reports: ") for line in done.stdout.splitlines())
    reports = work / "out" / "reports"
    assert (reports / "index.html").is_file()
    assert len(list(reports.glob("*/*.html"))) > 10  # the athlete's weeks (14 in sample_data)


def _gone(pid: int) -> bool:
    """Whether ``pid`` has ended (reaping it when it became this process's child)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid
    except ChildProcessError:  # not ours: ended, or alive elsewhere
        try:
            return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"
        except OSError:
            return True


@pytest.mark.skipif(sys.platform != "linux", reason="the server dies with its parent on Linux only")
def test_a_killed_command_takes_its_temporary_prefect_server_with_it(tmp_path: Path) -> None:
    """Without a Prefect server, `gaitwatch run` starts a temporary one as it starts
    (flows/tempserver.py), not when its flow begins. Killed outright (SIGKILL: no atexit,
    no finally), the command leaves no server running: the kernel stops it with its parent."""
    config = _setup(tmp_path, GOOD)
    proc = subprocess.Popen([*GAITWATCH, "run", "--config", str(config)], env=_newcomer_env(tmp_path / "home"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = None
    deadline = time.monotonic() + 120
    try:
        while server is None and proc.poll() is None and time.monotonic() < deadline:
            server = next((p for p in descendants(proc.pid)
                           if b"prefect.server.api.server:create_app" in Path(f"/proc/{p}/cmdline").read_bytes()),
                          None)
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert server is not None, "no temporary Prefect server was started"
    deadline = time.monotonic() + CHILD_EXIT_WAIT_S
    while not _gone(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(server), f"the temporary server {server} outlived its killed command"
