"""Loading dropped files: one :class:`FileOutcome` per file, and the inbox file state
written in the same transaction as the file's rows.

The rules that decide a file's outcome (loaded, duplicate, unchanged, skipped, rejected)
live here, next to the loader whose per-input counts they read. Positions inside the
athlete's privacy zones are masked before anything is written, so they never reach the
working database, the published copy or a report.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ingest.batch import DecodedFile, InboxFile
from ingest.errors import IngestError, NotAnActivityError
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.reader import ReadResult
from transforms.privacy import PrivacyZone, mask_privacy_zones
from warehouse.store import InboxFileRow, LoadSummary, Warehouse

# Outcomes of one dropped file (an archive counts as one), in the order summaries list them.
OUTCOMES = ("loaded", "duplicate", "unchanged", "skipped", "rejected", "changed")


@dataclass
class FileOutcome:
    """What happened to one input file (a dropped file; an archive counts as one)."""

    rel: str  # name as dropped, relative to the inbox (or to the given path's folder)
    athlete_id: str
    status: str  # one of OUTCOMES
    reason: str = ""  # for rejected/skipped/changed: one line a runner can read
    activities: int = 0  # activities newly loaded from it
    members: int = 1  # leaf inputs read from it (archive members, or 1)
    members_rejected: int = 0


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    unchanged: int = 0  # skipped cheaply: same path, size and mtime as a file already done
    unsettled: list[str] = field(default_factory=list)  # still being copied, left for next run
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) never read

    @property
    def rejected(self) -> list[FileOutcome]:
        bad = [o for o in self.outcomes if o.status == "rejected" or o.members_rejected]
        bad += [FileOutcome(rel, "", "rejected", reason) for rel, reason in self.invalid]
        return bad

    @property
    def waiting(self) -> list[str]:
        """Files left for the next run because they were still being written."""
        return list(self.unsettled) + [o.rel for o in self.outcomes if o.status == "changed"]

    ORDER = ("loaded", "duplicate", "unchanged", "skipped", "rejected", "changed", "still copying")

    def counts(self) -> dict[str, int]:
        c = outcome_counts(self.outcomes)
        c["unchanged"] = c.get("unchanged", 0) + self.unchanged
        c["still copying"] = len(self.unsettled)
        c["rejected"] = c.get("rejected", 0) + len(self.invalid)
        return {k: c[k] for k in self.ORDER if c.get(k)}

    def one_line(self) -> str:
        counts = self.counts()
        return ", ".join(f"{v} {k}" for k, v in counts.items()) or "nothing new"

    def console_lines(self, max_files: int | None = 5) -> list[str]:
        """What ``gaitwatch watch`` prints for one pass: a line per file read, the first
        ``max_files`` of them (None: all, for ``-v``), then how many more with the totals;
        every rejected file with its reason, since each needs someone to act."""
        lines = []
        shown = [o for o in self.outcomes if o.status not in ("rejected", "changed")]
        for o in shown[: len(shown) if max_files is None else max_files]:
            n = o.activities
            acts = f" ({n} {'activity' if n == 1 else 'activities'})" if n else ""
            lines.append(f"{o.status}: {o.rel}{acts}" + (f": {o.reason}" if o.reason else ""))
        if len(lines) < len(shown):
            lines.append(f"... and {len(shown) - len(lines)} more files: {self.one_line()}")
        lines += [f"rejected: {o.rel}: {o.reason}" for o in self.rejected]
        if self.waiting:
            lines.append(f"waiting for {len(self.waiting)} file(s) still being copied")
        return lines


def outcome_counts(outcomes: Iterable[FileOutcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return counts


def changed(f: InboxFile) -> FileOutcome:
    return FileOutcome(f.rel, f.athlete_id, "changed", "still being written; left for the next run")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of the raw file, streamed (never the whole file in memory)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_decoded(
    wh: Warehouse,
    decoded: Iterable[DecodedFile],
    files: Sequence[InboxFile],
    zones: Mapping[str, Sequence[PrivacyZone]],
    batch_size: int,
    inbox: Path | None,
    limits: Limits = DEFAULT_LIMITS,
) -> Iterator[FileOutcome]:
    """Load decoded ``files``, ``batch_size`` files of one athlete per ``Warehouse.load``
    (one transaction); yield each file's outcome once it is committed.

    A file that changed while it was read is not loaded (``changed``). Files under
    ``inbox`` get their ``inbox_files`` row in the same transaction as their data.
    """
    wanted = {str(f.path): f for f in files}
    group: list[tuple[InboxFile, list[ReadResult]]] = []
    for item in decoded:
        f = wanted.get(str(item.path))
        if f is None:  # decoded by a shared stream but not part of this batch any more
            continue
        if not f.still_same():  # third look: it changed while we read it
            yield changed(f)
            continue
        if group and group[0][0].athlete_id != f.athlete_id:
            yield from load_group(wh, group, inbox, limits)
            group = []
        group.append((f, masked(f, list(item.results), zones.get(f.athlete_id, ()))))
        if len(group) >= batch_size:
            yield from load_group(wh, group, inbox, limits)
            group = []
    if group:
        yield from load_group(wh, group, inbox, limits)


def load_group(
    wh: Warehouse,
    group: Sequence[tuple[InboxFile, list[ReadResult]]],
    inbox: Path | None,
    limits: Limits = DEFAULT_LIMITS,
) -> list[FileOutcome]:
    """Load the files of one athlete with one ``Warehouse.load`` call; one outcome each."""
    athlete_id = group[0][0].athlete_id
    outcomes: list[FileOutcome] = []

    def finish(summary: LoadSummary) -> None:
        # Inside the load's last transaction: outcomes and file state commit with the rows.
        i = 0
        rows: list[InboxFileRow] = []
        for f, results in group:
            mine = summary.per_input[i : i + len(results)]
            i += len(results)
            s = LoadSummary(athlete_id=athlete_id, inputs=len(results))
            for counts in mine:
                for name in ("unchanged", "loaded", "replaced", "duplicates", "skipped",
                             "rejected", "samples"):
                    setattr(s, name, getattr(s, name) + getattr(counts, name))
            outcome = file_outcome(wh, f, results, s)
            outcomes.append(outcome)
            if inbox is not None and f.root == inbox:
                rows.append(InboxFileRow(f.rel, f.size, f.mtime_ns, sha256_file(f.path),
                                         outcome.status, outcome.reason, f.athlete_id))
        wh.record_inbox_files(rows)

    wh.load([r for _f, results in group for r in results], athlete_id, check=False,
            finish=finish, limits=limits)
    return outcomes


def masked(f: InboxFile, results: list[ReadResult], zones: Sequence[PrivacyZone]) -> list[ReadResult]:
    """Apply the athlete's privacy zones to every activity's samples; a file that yielded
    nothing at all is logged as skipped rather than forgotten."""
    if not results:
        err = NotAnActivityError(f.rel, "no activity file inside")
        return [ReadResult(source_file=f.rel, sha256=None, size_bytes=f.size, error=err)]
    if zones:
        for r in results:
            for act in r.activities:
                act.samples = mask_privacy_zones(act.samples, list(zones))
    return results


def file_outcome(
    wh: Warehouse, f: InboxFile, results: Sequence[ReadResult], s: LoadSummary
) -> FileOutcome:
    """One file's outcome from the warehouse's LoadSummary of its leaf inputs."""
    errors: list[IngestError] = [r.error for r in results if r.error is not None]
    members = len(results)
    new = int(s.loaded) + int(s.replaced)
    rejected = int(s.rejected)
    reason = ""
    if rejected:
        reason = _rejection_reason(wh, f, errors)
        if members > 1 or new or s.duplicates or s.skipped or s.unchanged:
            reason = f"{rejected} of {members} inside rejected, e.g. {reason}"
    if new:
        status = "loaded"
    elif s.duplicates:
        status, reason = "duplicate", reason or "same activity already loaded"
    elif s.unchanged:
        status, reason = "unchanged", reason or "already loaded with the same content"
    elif rejected:
        status = "rejected"
    else:
        status = "skipped"
        skipped = [e for e in errors if e.status == "skipped"]
        reason = (_why(skipped[0], f) if skipped
                  else _logged_reason(wh, f, "skipped") if s.skipped else "no activity in it")
    partial = rejected if status != "rejected" else 0
    return FileOutcome(f.rel, f.athlete_id, status, reason, new, members, partial)


def _why(e: IngestError, f: InboxFile) -> str:
    """The error's line without the file's own name in front (the caller prints it)."""
    text = e.one_line()
    return text[len(f.rel) + 2 :] if text.startswith(f.rel + ": ") else text


def _rejection_reason(wh: Warehouse, f: InboxFile, errors: Sequence[IngestError]) -> str:
    bad = [e for e in errors if e.status == "rejected"]
    if bad:
        return _why(bad[0], f)
    return _logged_reason(wh, f, "rejected")


def _logged_reason(wh: Warehouse, f: InboxFile, status: str) -> str:
    """The reason of a file's latest ``status`` row in ingest_log (this transaction's rows
    included): what the warehouse itself decided (samples outside the activity's time
    window, a start no clock could have set) is written only there."""
    row = wh.con.execute(
        "SELECT reason FROM ingest_log WHERE athlete_id = ? AND status = ? "
        "AND (source_file = ? OR starts_with(source_file, ?)) ORDER BY seen_at DESC LIMIT 1",
        [f.athlete_id, status, f.rel, f.rel + "/"],
    ).fetchall()
    return str(row[0][0]) if row and row[0][0] else f"{status} by the warehouse"


@dataclass
class Status:
    totals_columns: list[str]
    totals_rows: list[tuple[Any, ...]]
    files: list[dict[str, str]]


def ingest_status(wh: Warehouse, athlete: str | None = None) -> Status:
    """What ingest_log says: per athlete counts by status, and every input with its
    latest status and reason."""
    log = wh.ingest_log_frame(athlete)
    acts = wh.activities_frame(athlete)
    statuses = ["loaded", "duplicate", "skipped", "rejected", "replaced"]
    rows: list[tuple[Any, ...]] = []
    for athlete_id in sorted(set(log["athlete_id"].to_list())):
        mine = log.filter(pl.col("athlete_id") == athlete_id)
        counts = [mine.filter(pl.col("status") == st).height for st in statuses]
        a = acts.filter(pl.col("athlete_id") == athlete_id)
        km = (a["distance_m"].sum() or 0) / 1000 if a.height else 0.0
        first: Any = a["started_at"].min() if a.height else None
        last: Any = a["started_at"].max() if a.height else None
        span = f"{first:%Y-%m-%d} .. {last:%Y-%m-%d}" if first and last else "-"
        rows.append((athlete_id, a.height, f"{km:.1f}", span, *counts))
    files = [
        {
            "file": r["source_file"],
            "athlete": r["athlete_id"],
            "status": r["status"],
            "reason": r["reason"] or "",
            "when": f"{r['seen_at']:%Y-%m-%d %H:%M}",
        }
        for r in log.sort("seen_at").iter_rows(named=True)
    ]
    return Status(
        ["athlete", "activities", "km", "first .. last", *[f"{s} inputs" for s in statuses]],
        rows,
        files,
    )
