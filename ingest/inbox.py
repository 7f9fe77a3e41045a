"""The inbox convention: which dropped files are ready, whose they are, and what happens
to them after a run. Plain functions (no Prefect), used by the flows and the watcher;
the configuration hands them its :class:`InboxRules`.

- ``inbox/<athlete>/...``: the first folder names the athlete (normalised with
  :func:`ingest.safety.normalize_athlete_id`); deeper folders are free-form.
- Files at the top level belong to the configured default athlete.
- Hidden files and folders (``.name``) and the temporary names copy tools and browsers
  use (``*.part``, ``*.crdownload``, ``*.tmp``, ``*.partial``, ``~`` suffix) are not
  inputs yet: they are renamed when the copy completes.
- A file whose modification time is younger than ``settle_seconds`` is still being
  copied and is left for the next run (one dated minutes or more in the future by a clock
  set wrong is judged by its last change here, its ctime); the ingest step looks again
  (size and mtime) right before and right after reading, and drops what it read if the
  file changed.
- Which files are done (path, size, mtime, sha256, outcome) is kept in the warehouse's
  ``inbox_files`` table, written in the load transaction (warehouse.files).
- Inputs are never deleted. Processed and rejected files stay where they are or are moved
  to the configured ``processed``/``rejected`` folders, keeping their relative path.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.batch import InboxFile, default_workers, is_temporary, prewarm
from ingest.errors import GaitwatchError
from ingest.safety import text_name


@dataclass(frozen=True)
class InboxRules:
    """The inbox's settings (from gaitwatch.toml)."""

    inbox: Path
    default_athlete: str
    settle_seconds: float
    processed_dir: Path
    rejected_dir: Path
    on_processed: str = "leave"  # "leave" | "move"
    on_rejected: str = "leave"


@dataclass
class InboxScan:
    ready: list[InboxFile] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)  # rel paths left for the next run
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (rel, reason)
    unchanged: int = 0  # ready files already done with the same size and mtime

    def drop_done(self, done: dict[str, tuple[int, int]]) -> None:
        """Take out ready files whose (size, mtime_ns) equals ``done[rel]``: not read again."""
        keep = [f for f in self.ready if done.get(f.rel) != (f.size, f.mtime_ns)]
        self.unchanged += len(self.ready) - len(keep)
        self.ready = keep


# A modification time this far ahead of the clock was not made by a copy in progress here
# (which stamps the present): it is a time kept from a device or a copy, from a clock set
# wrong or a FAT volume's local time read as UTC (whole quarter hours, up to 14 h ahead).
# Such a file is judged by its last change here instead (ctime: a copy in progress moves
# it; setting a modification time sets it to the present). The slack covers a network
# share whose clock runs minutes ahead: within it, times count as the present.
_FUTURE_SLACK_S = 300.0
_LINKED_FOLDER = ("symbolic link to a folder, not followed (it could loop or lead anywhere): "
                  "copy the folder into the inbox, or link its files")


def athlete_for(folder_parts: tuple[str, ...], default_athlete: str) -> str:
    """Athlete of the files in a folder, from the folder's path relative to the inbox: the
    first folder names it, the inbox itself is the default athlete's (raises
    GaitwatchError)."""
    from ingest.safety import normalize_athlete_id

    if not folder_parts:
        return default_athlete
    name = folder_parts[0]
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        # not UTF-8 (Python kept the bytes as surrogates): read as Windows/Latin-1 text, so
        # that a "Jörg" folder is the configured athlete jorg (with his time zone and
        # privacy zones), not "jrg" with the letter dropped
        name = name.encode("utf-8", "surrogateescape").decode("cp1252", "replace")
    return normalize_athlete_id(name)


def scan_inbox(cfg: InboxRules, now: float | None = None) -> InboxScan:
    """List the inbox's input files, split into ready, still-being-copied and invalid.

    Folders configured for processed/rejected files are skipped when they lie inside
    the inbox. Symlinked folders are not followed (loops, and files outside the inbox).
    Every run scans the whole inbox, so the loop works on names and checks the athlete
    once per folder (a scan of 2,000 files took 0.1 s with a Path, a relative_to and an
    athlete check per file).
    """
    scan = InboxScan()
    inbox = cfg.inbox
    if not inbox.is_dir():
        return scan
    now = time.time() if now is None else now
    excluded = {cfg.processed_dir.resolve(), cfg.rejected_dir.resolve()}
    for dirpath, dirnames, filenames in os.walk(inbox, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and (here / d).resolve() not in excluded
        )
        parts = here.relative_to(inbox).parts
        prefix = "".join(f"{p}/" for p in parts)
        for d in dirnames:
            if os.path.islink(os.path.join(dirpath, d)):  # os.walk lists it, never enters it
                scan.invalid.append((text_name(f"{prefix}{d}/"), _LINKED_FOLDER))
        owner: str | GaitwatchError  # the folder's athlete, or why its name is not one
        try:
            owner = athlete_for(parts, cfg.default_athlete)
        except GaitwatchError as exc:
            owner = exc
        for name in sorted(filenames):
            if is_temporary(name):
                continue
            path = os.path.join(dirpath, name)
            rel = text_name(prefix + name)
            try:
                st = os.stat(path)
            except OSError:
                if os.path.islink(path):  # a link to nothing: it stays so until fixed
                    scan.invalid.append((rel, "broken symbolic link: nothing to read"))
                continue  # else vanished between listing and stat: next run sees it or not
            if not stat.S_ISREG(st.st_mode):
                # a named pipe would block the reader (and the run) for ever
                scan.invalid.append((rel, "not a regular file (named pipe, socket or device): nothing to read"))
                continue
            # a modification time from a wrong clock: the last change here (ctime) tells
            changed = st.st_ctime if st.st_mtime > now + _FUTURE_SLACK_S else st.st_mtime
            if -_FUTURE_SLACK_S < now - changed < cfg.settle_seconds:
                scan.unsettled.append(rel)
                continue
            if isinstance(owner, GaitwatchError):
                scan.invalid.append((rel, f"folder name is not a valid athlete id: {owner}"))
                continue
            scan.ready.append(InboxFile(Path(path), rel, owner, st.st_size, st.st_mtime_ns, inbox))
    _set_aside_name_collisions(scan)
    return scan


def _set_aside_name_collisions(scan: InboxScan) -> None:
    """A name escaped to text (:func:`ingest.safety.text_name`) can equal another file's
    real name (``caf\\xe9.fit`` typed with a backslash): one key in inbox_files for two
    files would stop the athlete's whole batch. The escaped one is reported instead."""
    if len({f.rel for f in scan.ready}) == len(scan.ready):
        return
    escaped = {id(f) for f in scan.ready if f.path.relative_to(f.root).as_posix() != f.rel}
    real = {f.rel for f in scan.ready if id(f) not in escaped}
    keep: list[InboxFile] = []
    kept: set[str] = set()
    for f in scan.ready:
        if id(f) in escaped and (f.rel in real or f.rel in kept):
            scan.invalid.append((f.rel, "its name, not valid UTF-8, reads the same as another "
                                        "file's: rename it"))
        else:
            keep.append(f)
            kept.add(f.rel)
    scan.ready = keep


def new_since(
    cfg: InboxRules, since_ns: int | None, limit: int, ready: Iterable[InboxFile] | None = None
) -> int:
    """How many ready inbox files (counting stops at ``limit``) may be new since
    ``since_ns``, the warehouse's last write (None: no warehouse yet, all are): modified,
    or moved or linked in (ctime), after it. A hint from ``stat`` alone, to start
    decoders early; the scan against the warehouse's ``inbox_files`` decides what loads.
    ``ready``: the ready files of a scan the caller just made (else the inbox is scanned)."""
    n = 0
    for f in scan_inbox(cfg).ready if ready is None else ready:
        if n >= limit:
            break
        if since_ns is None:
            n += 1
            continue
        try:
            st = f.path.stat()
        except OSError:  # gone meanwhile
            continue
        n += max(st.st_mtime_ns, st.st_ctime_ns) > since_ns
    return n


def prewarm_decoders(
    cfg: InboxRules, database: Path, workers: int, files: int | None = None,
    scan: InboxScan | None = None,
) -> None:
    """Start decode workers before a run needs them (:func:`ingest.batch.prewarm`), so
    their start-up overlaps the caller's (Prefect's server): one per file that may be new
    (``files``, else :func:`new_since` the last write of ``database`` or its WAL, over
    ``scan`` when the caller has just scanned), at most one per worker (``workers``; 0:
    one per CPU)."""
    limit = workers or default_workers()
    if files is None:
        wal = database.with_name(database.name + ".wal")
        stamps = [p.stat().st_mtime_ns for p in (database, wal) if p.exists()]
        ready = scan.ready if scan is not None else None
        files = new_since(cfg, max(stamps) if stamps else None, limit, ready)
    prewarm(workers, min(files, limit))


def wait_to_settle(
    cfg: InboxRules, max_wait: float, say: Callable[[str], object], poll: float = 0.5
) -> InboxScan:
    """For a person at the keyboard (issue 16): when the inbox holds files still inside the
    settle window (just copied, or still being copied), wait until they settle (size and
    mtime unchanged for ``settle_seconds``), at most ``max_wait`` seconds, saying so in one
    line. Returns the last scan: its ``unsettled`` files are still changing at the bound
    (the run leaves them for the next run and counts them in its summary)."""
    scan = scan_inbox(cfg)
    if not scan.unsettled or max_wait <= 0:
        return scan
    say(f"waiting for {len(scan.unsettled)} files still being copied...")
    deadline = time.monotonic() + max_wait
    while scan.unsettled and time.monotonic() < deadline:
        time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
        scan = scan_inbox(cfg)
    return scan


def dispose(cfg: InboxRules, files: Iterable[tuple[InboxFile, str]]) -> list[tuple[str, Path]]:
    """Move processed/rejected files when configured; never delete. Returns (rel, new path).

    ``files`` holds ``(file, disposition)`` with disposition ``"processed"`` or
    ``"rejected"``. An existing file of the same name at the destination is kept: the
    moved file gets a numbered suffix.
    """
    moved: list[tuple[str, Path]] = []
    for f, disposition in files:
        action = cfg.on_processed if disposition == "processed" else cfg.on_rejected
        if action != "move":
            continue
        root = cfg.processed_dir if disposition == "processed" else cfg.rejected_dir
        real = f.path.relative_to(f.root)  # rel is text: a name not in UTF-8 is escaped
        dest = root / real
        dest.parent.mkdir(parents=True, exist_ok=True)
        n = 1
        while dest.exists():
            dest = dest.with_name(f"{real.stem}.{n}{real.suffix}")
            n += 1
        try:
            shutil.move(str(f.path), dest)
        except OSError:
            continue  # left in place: the unchanged-file check skips it next time
        moved.append((f.rel, dest))
    return moved
