"""Shared test setup.

Prefect is configured before anything imports it (FACTS.md): an isolated PREFECT_HOME,
analytics off, no telemetry, and one session-scoped test harness for flow tests.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_PREFECT_HOME = tempfile.mkdtemp(prefix="gaitwatch-prefect-")
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("GAITWATCH_CORPUS", REPO.parent / "shared" / "corpus"))
SAMPLE_DATA = REPO / "sample_data"
ARTIFACTS = REPO / "test-artifacts"


def corpus_files(kind: str) -> list[Path]:
    """All files of one corpus folder (``fit``, ``gpx`` or ``bad``), sorted."""
    folder = CORPUS / kind
    if not folder.is_dir():
        pytest.skip(f"corpus folder {folder} not present")
    return sorted(p for p in folder.iterdir() if p.is_file())


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def sample_data_dir() -> Path:
    return SAMPLE_DATA


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test harness for the whole session (about 7 s once), heartbeat off."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


_EXIT_STATUS = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _EXIT_STATUS
    _EXIT_STATUS = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without running atexit handlers.

    A worker SIGKILLed by the parallel-decoding tests can leave CPython's
    ProcessPoolExecutor management thread blocked on a half-written result; its atexit
    join would then hang the finished test run for ever (seen about one run in five).
    Every fixture has been torn down by now, so exiting directly loses nothing.
    """
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_EXIT_STATUS)
