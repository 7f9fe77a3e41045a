"""Shared test setup.

Prefect is configured before anything imports it (FACTS.md): an isolated PREFECT_HOME,
analytics off, no telemetry, and one session-scoped test harness for flow tests.

Hypothesis runs from the fixed-seed ``gaitwatch`` profile (derandomized, no deadline, no
example database): every run of the suite tries the same inputs. Open-ended fuzzing is
``make fuzz`` (bench/fuzz_long.py), not part of the suite.

The shared data (``../shared``: corpus, real exports) is optional: tests that need it skip,
saying why, when it is missing. ``GAITWATCH_SHARED`` points elsewhere (and
``GAITWATCH_CORPUS`` at another corpus).

The session fails if any process it started outlives it (see ``pytest_sessionfinish``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Each test process gets its own Prefect home (its temporary servers keep an SQLite file
# there): under pytest-xdist, workers inherit the controller's environment, so a home
# this file made in the controller (marked by _OWN_HOME_VAR, for _OWNER_VAR's process) is
# replaced, not shared. A process a test starts that imports this file (the crash tests'
# children) keeps its parent's: it may die by SIGKILL or os._exit, and a home of its own
# would be left behind (7 empty folders in /tmp per suite run). A home the user set is kept.
_OWN_HOME_VAR = "GAITWATCH_TEST_PREFECT_HOME"
_OWNER_VAR = "GAITWATCH_TEST_PREFECT_HOME_OWNER"
_ME = os.environ.get("PYTEST_XDIST_WORKER", "controller")
_PREFECT_HOME: str | None = None
if "PREFECT_HOME" not in os.environ or (
    os.environ["PREFECT_HOME"] == os.environ.get(_OWN_HOME_VAR) and os.environ.get(_OWNER_VAR) != _ME
):
    _PREFECT_HOME = tempfile.mkdtemp(prefix="gaitwatch-prefect-")
    os.environ["PREFECT_HOME"] = os.environ[_OWN_HOME_VAR] = _PREFECT_HOME
    os.environ[_OWNER_VAR] = _ME
    # Removed at exit, not at the end of the session: Prefect stops the temporary servers
    # it started in this process from its own exit handlers, and one still running could
    # write there while the folder was removed. Handlers run last-in, first-out: this
    # one, registered before Prefect is imported, runs after Prefect's.
    atexit.register(shutil.rmtree, _PREFECT_HOME, True)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# Prefect waits 20-30 s for a temporary server to start, which a loaded 2-core machine
# exceeds ("Timed out while attempting to connect to ephemeral Prefect API server"): a
# generous bound for every server the tests start, in this process or in a subprocess
SERVER_STARTUP_TIMEOUT_S = 600
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", str(SERVER_STARTUP_TIMEOUT_S))

# Fixed seed: derandomize draws each test's examples from a seed derived from the test
# itself; no database, so a local .hypothesis/ directory cannot change what runs; no
# deadline, because no property here is about time (a loaded 2-core machine made the
# default 200 ms deadline fail a CRC property).
settings.register_profile("gaitwatch", derandomize=True, database=None, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("GAITWATCH_HYPOTHESIS_PROFILE", "gaitwatch"))

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GAITWATCH_SHARED", REPO.parent / "shared"))
CORPUS = Path(os.environ.get("GAITWATCH_CORPUS", SHARED / "corpus"))
SAMPLE_DATA = REPO / "sample_data"
ARTIFACTS = REPO / "test-artifacts"

# True once collection is over: corpus_files() may skip from then on (inside a test or
# fixture), never while modules are imported (a skip there errors the module).
_COLLECTED = False


def corpus_missing_reason(kind: str | None = None) -> str | None:
    """Why corpus tests cannot run (None when the corpus folder is present)."""
    folder = CORPUS / kind if kind else CORPUS
    if folder.is_dir():
        return None
    return f"corpus folder {folder} not present (../shared missing? set GAITWATCH_SHARED)"


def corpus_files(kind: str) -> list[Path]:
    """All files of one corpus folder (``fit``, ``gpx`` or ``bad``), sorted.

    Without the corpus: an empty list while modules are collected (a parametrize over it
    is then reported as skipped), a skip inside a test or fixture.
    """
    reason = corpus_missing_reason(kind)
    if reason is not None:
        if not _COLLECTED:
            return []
        pytest.skip(reason)
    return sorted(p for p in (CORPUS / kind).iterdir() if p.is_file())


# Modules that take longest, with their seconds under pytest-xdist on a busy 2-core
# machine (whole module: setup, calls, its worker's Prefect harness start if first).
# They run first, so that the session does not end waiting for one long module that
# started last (xdist --dist loadfile hands whole modules to workers in collection
# order). Only the order depends on this; a module missing here runs after them.
SLOW_MODULES_S = {
    "test_cli.py": 100, "test_deploy.py": 86, "test_ingest_fit.py": 68,
    "test_flags_real.py": 66, "test_exports.py": 66, "test_flows_inbox.py": 64,
    "test_ingest_real.py": 61, "test_flows_gate.py": 60, "test_parallel.py": 58,
    "test_fit_differential.py": 54, "test_flows_settle.py": 47,
    "test_parallel_bench_smoke.py": 42, "test_flows_nightly.py": 32,
    "test_e2e_restart.py": 31, "test_e2e_watch.py": 29, "test_reports_e2e.py": 27,
}


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: absent under -p no:xdist
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than the cores this process may use. Many tests wait
    (Prefect servers starting, CLI subprocesses, settle windows, a stopped worker's
    deadline): with one worker per core, a core idles during each wait. Measured on the
    busy 2-core machine: 2 workers 555 s at 99 % CPU, 3 workers 474 s at 133 %."""
    return len(os.sched_getaffinity(0)) + 1 if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1) + 1


def _slowest_modules_first(items: list[pytest.Item]) -> None:
    first_seen: dict[str, int] = {}
    for i, item in enumerate(items):
        first_seen.setdefault(item.path.name, i)
    order = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda it: (-SLOW_MODULES_S.get(it.path.name, 0), first_seen[it.path.name],
                               order[id(it)]))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slowest modules first (see SLOW_MODULES_S). Without the corpus, skip the tests of
    every module that reads it.

    A module reads the corpus if it imported ``CORPUS``, ``SHARED`` or ``corpus_files``
    from here; one that copes with a missing corpus test by test says so with
    ``HANDLES_MISSING_CORPUS = True``. Skipping whole modules is coarse, but it names the
    reason, where tests left to run would fail on files that are not there.
    """
    _slowest_modules_first(items)
    reason = corpus_missing_reason()
    if reason is None:
        return
    modules = {m.__name__: m for m in (getattr(i, "module", None) for i in items) if m is not None}
    readers = {name for name, m in modules.items() if _imports_corpus(m)}
    # also modules that import helpers from a reading module (test_fit_differential takes
    # FIT_FILES and decoded() from test_ingest_fit): until nothing changes
    while True:
        more = {
            name
            for name, m in modules.items()
            if name not in readers
            and any(getattr(v, "__module__", None) in readers for v in vars(m).values() if callable(v))
        }
        if not more:
            break
        readers |= more
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        module = getattr(item, "module", None)
        if module is None or getattr(module, "HANDLES_MISSING_CORPUS", False):
            continue
        if module.__name__ in readers:
            item.add_marker(skip)


def _imports_corpus(module: object) -> bool:
    ours = (CORPUS, SHARED, corpus_files)
    return any(any(v is o for o in ours) for v in vars(module).values())


def pytest_collection_finish(session: pytest.Session) -> None:
    global _COLLECTED
    _COLLECTED = True


def pytest_report_header(config: pytest.Config) -> list[str]:
    reason = corpus_missing_reason()
    lines = [f"hypothesis profile: {settings._current_profile}"]
    if reason is not None:
        lines.append(f"gaitwatch: {reason}: tests that read it are skipped")
    return lines


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    reason = corpus_missing_reason()
    if reason is not None:
        pytest.skip(reason)
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

    with (
        prefect_test_harness(server_startup_timeout=SERVER_STARTUP_TIMEOUT_S),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


# --------------------------------------------------------------------------- no process left

# Generous: processes that were told to stop get this long to be gone (a loaded machine
# can take seconds to reap a spawn worker); it bounds the wait, it is not a speed check.
CHILD_EXIT_WAIT_S = 60.0


def _become_subreaper() -> None:
    """Adopt orphans: a process whose parent exits (a decode worker of a ``gaitwatch``
    subprocess, say) is re-parented to this one instead of init, so the check at the end
    of the session still sees it. Linux only; elsewhere the check sees direct children."""
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_child_subreaper = 36  # <linux/prctl.h>
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


_become_subreaper()


def _ppids() -> dict[int, int]:
    """pid -> parent pid of every process we can see (Linux /proc)."""
    out: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":  # a zombie has exited; only its parent's wait() is missing
            out[int(entry)] = int(fields[1])
    return out


def descendants(pid: int | None = None) -> list[int]:
    """Living (non-zombie) processes below ``pid`` (default: this one), sorted."""
    root = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    for child, parent in _ppids().items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    todo = [root]
    while todo:
        for c in children.get(todo.pop(), []):
            found.append(c)
            todo.append(c)
    return sorted(found)


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:200]


def _stop_session_helpers() -> None:
    """Stop what lives for the whole process by design, not as a leak of one test: the
    decode pools ingest.batch keeps between calls, and multiprocessing's resource
    tracker (started with the first spawn worker; it would end at our exit, when its
    pipe closes: closing the pipe now ends it the same way)."""
    parallel = sys.modules.get("ingest.batch")
    shutdown = getattr(parallel, "shutdown_pools", None)
    if callable(shutdown):
        shutdown()
    from multiprocessing import resource_tracker

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)  # Python >= 3.11
    if callable(stop):
        stop()


def _leftover_problems() -> list[str]:
    """Stop the session helpers, then list (and kill) every process this one started
    that is still alive after a bounded wait; empty when nothing is left."""
    import multiprocessing
    import signal
    import threading

    problems: list[str] = []
    stopper = threading.Thread(target=_stop_session_helpers, name="stop-session-helpers", daemon=True)
    stopper.start()
    stopper.join(CHILD_EXIT_WAIT_S)
    if stopper.is_alive():
        problems.append(f"stopping the decode pools did not finish within {CHILD_EXIT_WAIT_S:g} s")
    bound = time.monotonic() + CHILD_EXIT_WAIT_S
    left = descendants()
    while left and time.monotonic() < bound:
        multiprocessing.active_children()  # reaps finished multiprocessing children
        time.sleep(0.2)
        left = descendants()
    if left:
        problems.append(f"{len(left)} process(es) started by the test session outlived it (now killed):")
        problems += [f"  pid {pid}: {_cmdline(pid)}" for pid in left]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return problems


# Problems found by pytest-xdist workers, reported by the controller (a worker has no
# terminal of its own): filled by pytest_testnodedown, read by pytest_sessionfinish.
_WORKER_PROBLEMS: list[str] = []
_WORKER_PROBLEMS_KEY = "gaitwatch_leftover_problems"


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: absent under -p no:xdist
def pytest_testnodedown(node: object, error: object) -> None:
    """(controller side) Keep what a finished worker found left over."""
    output = getattr(node, "workeroutput", None) or {}
    name = getattr(getattr(node, "gateway", None), "id", "worker")
    _WORKER_PROBLEMS.extend(f"[{name}] {line}" for line in output.get(_WORKER_PROBLEMS_KEY, []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session loudly if any process started by it is still alive, or if the
    decode pools cannot be stopped (this process's Prefect home goes at exit).

    Runs after every fixture has been torn down. Survivors are listed, then killed, so a
    failing ``make test`` still leaves nothing behind (and a pool management thread
    blocked on a dead worker's pipe sees EOF and lets the interpreter exit). Under
    pytest-xdist every worker checks its own children (each is a subreaper) and hands
    what it found to the controller, which reports it and fails the session.
    """
    problems = _leftover_problems() if sys.platform == "linux" else []
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller reports
        workeroutput[_WORKER_PROBLEMS_KEY] = problems
        if problems:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    problems += _WORKER_PROBLEMS
    if not problems:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")
        reporter.write_sep("!", "processes left by the test session", red=True, bold=True)
        for line in problems:
            reporter.write_line(line, red=True)
    else:
        print(*problems, sep="\n", file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
