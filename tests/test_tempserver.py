"""flows.tempserver's failure paths, with real processes standing in for the server: one
that exits while starting, one that never answers, and a port taken meanwhile (uvicorn
exits with 3; Prefect then starts again on another port, and so do we). The path where
Prefect's own server starts and answers runs in every CLI test without PREFECT_API_URL."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from flows.tempserver import TemporaryServer, TemporaryServerError

# A stand-in answering GET /api/health with 200 on the port it is given.
_HEALTHY = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


class _StandIn(TemporaryServer):
    """The real class; only the command it starts is another (``scripts``, in turn)."""

    def __init__(self, scripts: list[str]) -> None:
        self.scripts = scripts
        self.ports: list[int] = []
        super().__init__()

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.ports.append(self.port)
        script = self.scripts.pop(0)
        return subprocess.Popen([sys.executable, "-c", script, str(self.port)])


def test_a_server_that_exits_while_starting_is_one_clear_error() -> None:
    server = _StandIn(["import sys; sys.exit(7)"])
    with pytest.raises(TemporaryServerError, match="exited with code 7 while starting"):
        server.wait_ready(60)


def test_a_server_that_never_answers_is_stopped_at_the_bound() -> None:
    server = _StandIn(["import time; time.sleep(120)"])
    t = time.monotonic()
    with pytest.raises(TemporaryServerError, match="did not answer within 1 s"):
        server.wait_ready(1)
    assert time.monotonic() - t < 30
    assert server.proc.poll() is not None  # stopped, not left running


def test_a_port_taken_meanwhile_starts_it_again_on_another() -> None:
    server = _StandIn(["import sys; sys.exit(3)", _HEALTHY])
    try:
        server.wait_ready(60)
        assert len(server.ports) == 2
        assert server.api_url == f"http://127.0.0.1:{server.ports[1]}/api"
    finally:
        server.stop()
    assert server.proc.poll() is not None
