"""One gate: a data test made to fail (a row corrupted with SQL in the database file)
blocks publishing and the reports for ``gaitwatch run``, ``ingest`` and ``watch``; and
the default published copy sits beside its working database."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest
from cli_support import GAITWATCH, age, cli_env, copy_files, run_cli, write_config
from conftest import CORPUS

FIRST = "fit/fenix5-run-dynamics-short.fit"
LATER = ["gpx/garmin-connect-run-ns3-cad-hr-short.gpx", "fit/fr630-run-dynamics.fit"]


def _files(*names: str) -> list[Path]:
    for n in names:
        if not (CORPUS / n).exists():
            pytest.skip(f"corpus file {n} missing")
    return [CORPUS / n for n in names]


def _corrupt(db: Path) -> None:
    """An activity that ends before it starts: the "started_at <= ended_at" test fails."""
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE activities SET ended_at = started_at - INTERVAL 1 HOUR")


@pytest.fixture(scope="module")
def broken_template(
    prefect_harness: None, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    """A workspace after one good run, then corrupted; published copy and reports removed.
    Built once per module; each test gets its own copy (``broken``)."""
    from prefect.settings import PREFECT_API_URL

    env = cli_env(api_url=PREFECT_API_URL.value())
    root = tmp_path_factory.mktemp("broken") / "ws"
    age(copy_files(_files(FIRST), root / "inbox" / "ana"))
    config = write_config(
        root / "gaitwatch.toml",
        {"inbox": "inbox", "database": "out/gw.duckdb", "reports": "out/reports",
         "inbox_options": {"settle_seconds": 0.5}},
    )
    first = run_cli(["run", "--config", str(config)], env)
    assert first.returncode == 0, first.stdout + first.stderr
    published = root / "out" / "gw-published.duckdb"  # default: beside the database
    assert published.is_file() and (root / "out" / "reports" / "index.html").is_file()
    _corrupt(root / "out" / "gw.duckdb")
    published.unlink()
    shutil.rmtree(root / "out" / "reports")
    return root, env


@pytest.fixture
def broken(
    broken_template: tuple[Path, dict[str, str]], tmp_path: Path
) -> tuple[Path, Path, dict[str, str]]:
    """This test's copy of the corrupted workspace (the config's paths are relative to it)."""
    template, env = broken_template
    root = tmp_path / "ws"
    shutil.copytree(template, root, symlinks=True)
    age(p for p in (root / "inbox").rglob("*") if p.is_file())
    return root, root / "gaitwatch.toml", env


def _blocked(root: Path) -> None:
    assert not (root / "out" / "gw-published.duckdb").exists()
    assert not (root / "out" / "reports" / "index.html").exists()


def test_run_is_blocked(broken: tuple[Path, Path, dict[str, str]]) -> None:
    root, config, env = broken
    age(copy_files(_files(LATER[0]), root / "inbox" / "ana"))
    out = run_cli(["run", "--config", str(config)], env)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "data test failed: activities started_at <= ended_at" in out.stderr
    _blocked(root)


def test_ingest_is_blocked(broken: tuple[Path, Path, dict[str, str]], tmp_path: Path) -> None:
    root, config, env = broken
    extra = copy_files(_files(LATER[0]), tmp_path / "given")
    out = run_cli(["ingest", "--config", str(config), "--athlete", "ana", str(extra[0])], env)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "data test failed: activities started_at <= ended_at" in out.stderr
    _blocked(root)


def test_watch_is_blocked(broken: tuple[Path, Path, dict[str, str]]) -> None:
    root, config, env = broken
    proc = subprocess.Popen(
        [*GAITWATCH, "watch", "--config", str(config), "--full"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().startswith("watching ")
        age(copy_files(_files(LATER[0]), root / "inbox" / "ana"))
        lines: list[str] = []
        deadline = time.monotonic() + 240  # generous: a bound, not a timing assertion
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("error: "):
                break
        assert any("activities started_at <= ended_at" in x for x in lines if x.startswith("error: ")), lines
        _blocked(root)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def test_two_databases_from_one_folder_publish_apart(prefect_harness: None, tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    env = cli_env(api_url=PREFECT_API_URL.value())
    inbox = tmp_path / "inbox"
    age(copy_files(_files(FIRST), inbox / "ana"))
    cwd = tmp_path / "here"
    cwd.mkdir()
    for name in ("a", "b"):
        out = run_cli(
            ["run", "--inbox", str(inbox), "--db", f"{name}/w.duckdb", "--reports", f"{name}/r"],
            env, cwd=cwd,
        )
        assert out.returncode == 0, out.stdout + out.stderr
    assert (cwd / "a" / "w-published.duckdb").is_file()
    assert (cwd / "b" / "w-published.duckdb").is_file()
    assert not list(cwd.glob("*.duckdb"))  # nothing published into the current folder
