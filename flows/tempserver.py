"""Prefect's temporary server, started as a command starts instead of when its flow does.

Without ``PREFECT_API_URL`` Prefect starts a temporary server as the first flow begins: its
client imports the whole server package (4-5 s on 2 cores), then waits while the server
process imports it again and opens its database (8-9 s; about 20 s in a new
``PREFECT_HOME``). Started here, before Prefect is imported, the same server process
(Prefect's own command: uvicorn, ``create_app``, ephemeral, no UI) boots on the other core
while the command imports Prefect, scans the inbox and starts its decoders.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from ingest.errors import GaitwatchError

_PORT_TAKEN = 3  # uvicorn's exit code when the port was taken meanwhile: retry (as Prefect)


class TemporaryServerError(GaitwatchError):
    """Prefect's temporary server did not start."""


def wanted() -> bool:
    """Prefect not imported yet (in-process callers such as tests bring their own server),
    no server or opt-out in the environment (one in a Prefect profile shows after import)."""
    return ("prefect" not in sys.modules and not os.environ.get("PREFECT_API_URL")
            and os.environ.get("PREFECT_SERVER_EPHEMERAL_ENABLED", "1").lower() not in ("0", "false"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the command dies, even by SIGKILL (Linux)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class TemporaryServer:
    """A Prefect API server process on a free local port, for this command only."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = self._spawn()
        # before Prefect's exit handlers, registered later: atexit runs them in reverse
        atexit.register(self.stop)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _spawn(self) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
                "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "error", "--lifespan", "on"]
        env = os.environ | {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                            "PREFECT__SERVER_FINAL": "1"}
        # preexec_fn is unsafe once threads run: only while this process has none
        hook = _die_with_parent if sys.platform == "linux" and threading.active_count() == 1 else None
        return subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, preexec_fn=hook)  # noqa: S603, PLW1509

    def wait_ready(self, timeout_s: float) -> None:
        """Until the server answers its health check, else :class:`TemporaryServerError`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code == _PORT_TAKEN:
                self.port = free_port()
                self.proc = self._spawn()
            elif code is not None:
                raise TemporaryServerError(
                    f"Prefect's temporary server exited with code {code} while starting (its "
                    "error is above); or set PREFECT_API_URL to a running `prefect server start`")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as r:  # noqa: S310 - ours, local
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise TemporaryServerError(f"Prefect's temporary server did not answer within {timeout_s:.0f} s "
                                   "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def drain_prefect() -> None:
    """Send Prefect's queued logs and events while the server runs (as Prefect's test
    harness does before it stops its server); at exit they would fail on the console."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)
    EventsWorker.drain_all(timeout=5)
