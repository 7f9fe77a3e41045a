"""``gaitwatch watch``: folder drop. Open-source Prefect has no filesystem event source
(FACTS.md), so a watchdog observer watches the inbox and runs the ``ingest_inbox`` flow
(then ``compute_metrics`` and the data-test gate) once files have settled.

Each file is loaded exactly once: ingestion is idempotent (unchanged files are skipped
by path, size and mtime; known content by sha256), and a file still being copied is never
read (settle window, plus size and mtime checked again before and after reading). Every
event pushes the next run to ``settle_seconds`` after it; a slow poll catches missed
events (network filesystems do not always deliver them).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from flows.config import Config
from ingest.errors import GaitwatchError


class _Trigger:
    """When to run next: ``settle`` seconds after the latest filesystem event."""

    def __init__(self, settle: float) -> None:
        self.settle = settle
        self.lock = threading.Lock()
        self.due: float | None = time.monotonic()  # run once at start: files already there

    def poke(self, delay: float | None = None) -> None:
        with self.lock:
            at = time.monotonic() + (self.settle if delay is None else delay) + 0.2
            self.due = at if self.due is None else max(self.due, at)

    def take(self) -> bool:
        with self.lock:
            if self.due is not None and time.monotonic() >= self.due:
                self.due = None
                return True
            return False


def watch_inbox(
    cfg: Config,
    full: bool = False,
    echo: Callable[[str], Any] = print,
    stop: threading.Event | None = None,
    poll_seconds: float | None = None,
    verbose: bool = False,
) -> int:
    """Watch ``cfg.inbox`` until SIGINT/SIGTERM (or ``stop`` is set); returns 0."""
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    from flows.flows import compute_metrics, ingest_inbox, nightly
    from flows.pipeline import is_transient_io_error, run_gate

    stop = stop or threading.Event()
    poll = poll_seconds if poll_seconds is not None else cfg.schedule.inbox_poll_seconds
    cfg.inbox.mkdir(parents=True, exist_ok=True)
    trigger = _Trigger(cfg.settle_seconds)

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.event_type in ("opened", "closed_no_write"):
                return  # reads (including our own) are not changes
            trigger.poke()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    observer = Observer()
    observer.schedule(Handler(), str(cfg.inbox), recursive=True)
    observer.start()
    echo(f"watching {cfg.inbox} (settle {cfg.settle_seconds:g} s); Ctrl-C to stop")
    last_run = 0.0
    params: dict[str, Any] = {"config": cfg.source, "database": cfg.database}
    try:
        while not stop.is_set():
            stop.wait(0.25)
            if not trigger.take() and time.monotonic() - last_run < poll:
                continue
            last_run = time.monotonic()
            try:
                if full:
                    run = nightly(inbox=cfg.inbox, reports_dir=cfg.reports_dir, **params)
                    report = run.ingest
                else:
                    report = ingest_inbox(inbox=cfg.inbox, **params)
                    if any(o.activities for o in report.outcomes):
                        compute_metrics(**params)
                        run_gate(cfg)  # the metrics changed the warehouse too
            except Exception as exc:
                if is_transient_io_error(exc):
                    echo(f"database busy, retrying in {max(cfg.settle_seconds, 5):g} s")
                    trigger.poke(max(cfg.settle_seconds, 5))
                    continue
                if not isinstance(exc, GaitwatchError):
                    raise  # a bug: let it show
                echo(f"error: {' '.join(str(exc).split())}")
                continue
            for line in report.console_lines(None if verbose else 5):  # a big drop: a summary
                echo(line)
            if report.waiting:
                trigger.poke()
    finally:
        observer.stop()
        observer.join(timeout=5)
        echo("stopped")
    return 0
