"""Folder drop: ``gaitwatch watch`` on an empty inbox; files copied in (one slowly, in
chunks) are loaded once each, and the slow one only after its copy has finished."""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import duckdb
import pytest
from cli_support import GAITWATCH, cli_env, write_config
from conftest import CORPUS

QUICK = ["fit/fenix5-run-dynamics-short.fit", "gpx/garmin-connect-run-ns3-cad-hr-short.gpx"]
SLOW = "fit/fr630-run-dynamics.fit"
SETTLE = 1.5


class Lines:
    """Collects a subprocess's output lines with the time each arrived."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.items: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        assert proc.stdout is not None
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self.lock:
                self.items.append((time.time(), line.rstrip("\n")))

    def find(self, prefix: str) -> list[tuple[float, str]]:
        with self.lock:
            return [(t, line) for t, line in self.items if line.startswith(prefix)]

    def wait(self, prefix: str, count: int = 1, timeout: float = 90) -> list[tuple[float, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.find(prefix)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        with self.lock:
            text = "\n".join(line for _, line in self.items)
        pytest.fail(f"no {count} line(s) starting {prefix!r} within {timeout} s:\n{text}")


def test_watch_loads_dropped_files_once_after_they_settle(prefect_harness: None, tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    for n in [*QUICK, SLOW]:
        if not (CORPUS / n).exists():
            pytest.skip(f"corpus file {n} missing")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    config = write_config(tmp_path / "gaitwatch.toml", {"inbox": "inbox", "database": "out/gw.duckdb"})
    proc = subprocess.Popen(
        [*GAITWATCH, "watch", "--config", str(config), "--settle", str(SETTLE)],
        env=cli_env(api_url=PREFECT_API_URL.value()),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = Lines(proc)
    try:
        lines.wait("watching")
        (inbox / "ana").mkdir()
        for n in QUICK:
            shutil.copyfile(CORPUS / n, inbox / "ana" / Path(n).name)

        # the slow copy: six chunks, each well inside the settle time of the previous one
        data = (CORPUS / SLOW).read_bytes()
        slow = inbox / "ana" / Path(SLOW).name
        step = len(data) // 6 + 1
        with slow.open("wb") as out:
            for i in range(0, len(data), step):
                out.write(data[i : i + step])
                out.flush()
                time.sleep(SETTLE / 3)
        copy_done = time.time()

        loaded = lines.wait("loaded: ", count=3)
        (slow_line,) = [item for item in loaded if item[1].startswith(f"loaded: ana/{slow.name}")]
        assert slow_line[0] > copy_done  # read only after the copy had finished
        # nothing happens twice: let a few more settle periods pass
        time.sleep(3 * SETTLE)
        assert len(lines.find("loaded: ")) == 3
        assert not lines.find("rejected: ")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0
    lines.thread.join(timeout=5)
    assert lines.find("stopped")

    with duckdb.connect(str(tmp_path / "out" / "gw.duckdb"), read_only=True) as con:
        log = sorted(con.execute("SELECT source_file, status FROM ingest_log").fetchall())
        n_samples = con.execute(
            "SELECT n_samples FROM activities WHERE source_file = ?", [f"ana/{slow.name}"]
        ).fetchall()
    assert log == sorted(
        [(f"ana/{Path(n).name}", "loaded") for n in QUICK] + [(f"ana/{slow.name}", "loaded")]
    )
    assert n_samples == [(821,)]  # the whole recording (MANIFEST: 821 records), not a prefix
