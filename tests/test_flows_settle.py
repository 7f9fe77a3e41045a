"""A run started right after copying an export loads it (issue 16): ``gaitwatch run``
waits, bounded, for files still inside the settle window; a file still being written at
the bound is left for the next run, named in one summary line, and loaded next time."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import duckdb
import pytest
from cli_support import age, cli_env, run_cli, write_config

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real" / "slalom007" / "strava_export"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
N_FILES = 30  # a slice of the real export: the behaviour, not the benchmark


def _export() -> list[Path]:
    files = sorted((REAL / "activities").glob("*")) if REAL.is_dir() else []
    if len(files) < N_FILES:
        pytest.skip("../shared/real/slalom007 missing")
    return files[:N_FILES]


def _loaded(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {r[0] for r in con.execute("SELECT DISTINCT source_file FROM ingest_log").fetchall()}


def test_run_right_after_copying_an_export_loads_it(prefect_harness: None, tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    files = _export()
    config = write_config(
        tmp_path / "gaitwatch.toml",
        {"inbox": "inbox", "database": "out/gw.duckdb", "reports": "out/reports",
         # A window longer than the command's start-up, so the files are still inside it
         # when the run looks: the run must wait for them, not leave them.
         "inbox_options": {"settle_seconds": 15, "settle_wait_seconds": 120}},
    )
    inbox = tmp_path / "inbox" / "slalom"
    inbox.mkdir(parents=True)
    for f in files:  # copied now: every file is inside the settle window
        shutil.copyfile(f, inbox / f.name)
    out = run_cli(["run", "--config", str(config)], cli_env(api_url=PREFECT_API_URL.value()))
    assert out.returncode in (0, 1), out.stdout + out.stderr
    lines = (out.stdout + out.stderr).splitlines()
    assert f"waiting for {N_FILES} files still being copied..." in lines
    assert len(lines) <= 40, lines
    assert _loaded(tmp_path / "out" / "gw.duckdb") == {f"slalom/{f.name}" for f in files}


def test_file_still_written_is_left_then_loaded(prefect_harness: None, tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    done_file = CORPUS / "fit" / "fenix5-run-dynamics-short.fit"
    growing_src = CORPUS / "fit" / "fr630-run-dynamics.fit"
    if not (done_file.exists() and growing_src.exists()):
        pytest.skip("corpus files missing")
    env = cli_env(api_url=PREFECT_API_URL.value())
    config = write_config(
        tmp_path / "gaitwatch.toml",
        {"inbox": "inbox", "database": "out/gw.duckdb", "reports": "out/reports",
         "inbox_options": {"settle_seconds": 1, "settle_wait_seconds": 3}},
    )
    inbox = tmp_path / "inbox" / "ana"
    inbox.mkdir(parents=True)
    shutil.copyfile(done_file, inbox / done_file.name)
    age([inbox / done_file.name])
    data = growing_src.read_bytes()
    growing = inbox / growing_src.name
    growing.write_bytes(data[:1000])
    stop = threading.Event()

    def append_slowly() -> None:  # a copy that goes on for the whole run
        pos = 1000
        while not stop.wait(0.2) and pos < len(data) - 1000:
            with growing.open("ab") as fh:
                fh.write(data[pos : pos + 50])
            pos += 50

    writer = threading.Thread(target=append_slowly, daemon=True)
    writer.start()
    try:
        first = run_cli(["run", "--config", str(config)], env)
    finally:
        stop.set()
        writer.join(timeout=30)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "1 file(s) still being copied, left for the next run: ana/fr630-run-dynamics.fit" in first.stdout
    assert _loaded(tmp_path / "out" / "gw.duckdb") == {f"ana/{done_file.name}"}  # nothing half-written

    growing.write_bytes(data)  # the copy completes
    age([growing])
    second = run_cli(["run", "--config", str(config)], env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert _loaded(tmp_path / "out" / "gw.duckdb") == {f"ana/{done_file.name}", f"ana/{growing.name}"}
