"""Folder drop: ``gaitwatch watch`` on an empty inbox; files copied in (one slowly, in
chunks) are loaded once each, and the slow one only after its copy has finished.

Nothing here depends on how fast the machine is: the test waits for the command's output
lines (polling with generous bounds), orders events by the position of a line in the
output rather than by clocks, and keeps the half-copied file's mtime in the future while
it is written, so a test process stalled between two chunks cannot make a partial file
look settled. "Nothing happens twice" is shown with a barrier file, not a sleep.
"""

from __future__ import annotations

import os
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
BARRIER = "gpx/movescount-run-gpxdata-cadence-hr.gpx"
SETTLE = 1.5
WAIT_S = 300.0  # bound on waiting for an expected line: a hang detector, not a speed check


class Lines:
    """Collects a subprocess's output lines in arrival order."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.items: list[str] = []
        self.lock = threading.Lock()
        assert proc.stdout is not None
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self.lock:
                self.items.append(line.rstrip("\n"))

    def count(self) -> int:
        with self.lock:
            return len(self.items)

    def find(self, prefix: str) -> list[tuple[int, str]]:
        """(position in the output, line) of every line starting with ``prefix``."""
        with self.lock:
            return [(i, line) for i, line in enumerate(self.items) if line.startswith(prefix)]

    def wait(self, prefix: str, count: int = 1, timeout: float = WAIT_S) -> list[tuple[int, str]]:
        bound = time.monotonic() + timeout
        while time.monotonic() < bound:
            found = self.find(prefix)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        with self.lock:
            text = "\n".join(self.items)
        pytest.fail(f"no {count} line(s) starting {prefix!r} within {timeout} s:\n{text}")


def test_watch_loads_dropped_files_once_after_they_settle(prefect_harness: None, tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    for n in [*QUICK, SLOW, BARRIER]:
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

        # the slow copy: six chunks with real writes (real filesystem events) in between;
        # after each one the mtime is set an hour ahead, so the partial file stays
        # "being copied" however long this process is held up between two chunks
        data = (CORPUS / SLOW).read_bytes()
        slow = inbox / "ana" / Path(SLOW).name
        step = len(data) // 6 + 1
        with slow.open("wb") as out:
            for i in range(0, len(data), step):
                out.write(data[i : i + step])
                out.flush()
                future = time.time() + 3600
                os.utime(slow, (future, future))
                time.sleep(SETTLE / 3)
        os.utime(slow)  # copy finished: the file settles from now on
        copy_done_at = lines.count()

        loaded = lines.wait("loaded: ", count=3)
        (slow_line,) = [item for item in loaded if item[1].startswith(f"loaded: ana/{slow.name}")]
        assert slow_line[0] >= copy_done_at  # read only after the copy had finished
        # nothing happens twice: one more file goes through a full scan of the inbox,
        # which would load the first three again if it were going to
        shutil.copyfile(CORPUS / BARRIER, inbox / "ana" / Path(BARRIER).name)
        lines.wait(f"loaded: ana/{Path(BARRIER).name}")
        assert len(lines.find("loaded: ")) == 4
        assert not lines.find("rejected: ")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    lines.thread.join(timeout=WAIT_S)
    assert lines.find("stopped")

    with duckdb.connect(str(tmp_path / "out" / "gw.duckdb"), read_only=True) as con:
        log = sorted(con.execute("SELECT source_file, status FROM ingest_log").fetchall())
        n_samples = con.execute(
            "SELECT n_samples FROM activities WHERE source_file = ?", [f"ana/{slow.name}"]
        ).fetchall()
    assert log == sorted([(f"ana/{Path(n).name}", "loaded") for n in [*QUICK, SLOW, BARRIER]])
    assert n_samples == [(821,)]  # the whole recording (MANIFEST: 821 records), not a prefix
