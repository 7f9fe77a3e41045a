"""Loading export activity lists and the training journal into the warehouse.

- :func:`load_export_list`: a Strava ``activities.csv`` or Garmin
  ``*summarizedActivities.json`` -> ``export_activities`` (one row per listed activity,
  the list's latest version), bad rows -> ``ingest_log`` ``rejected`` with their line.
- :func:`reconcile`: links every listed activity to the activity loaded from its file
  (by the file's input name, else a start within :data:`MATCH_START_S`), which gets the
  list's name, description and id; listed activities without a loaded file become
  summary-only ``activities`` rows (no samples), removed again once their file loads.
  Order-independent and idempotent: the pipeline calls it after every ingest batch.
- :func:`load_journal`: ``journal.csv`` -> ``journal``; strength and cross-training
  entries also become summary-only activities (source ``journal``).

Every write is one transaction per file. Summary-only activities are logged in
``ingest_log`` as ``loaded`` under the list file, ``part`` = the row's line, so the data
tests' "one loaded log row per activity" holds for them too.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ingest.batch import DecodedFile, InboxFile
from ingest.exports import (
    GARMIN_JSON,
    JOURNAL,
    STRAVA_CSV,
    ExportListError,
    ListedActivity,
    RowProblem,
    list_kind,
    parse_list,
    read_zip_lists,
    strava_sport,
)
from ingest.journal import SESSION_KINDS, BlankJournalError, JournalEntry, parse_journal
from ingest.schema import UTC_TS
from warehouse.files import FileOutcome, sha256_file
from warehouse.store import InboxFileRow

if TYPE_CHECKING:
    from warehouse.store import Warehouse

# A listed activity and a recorded one are the same when their starts differ by at most
# this much (the same window the loader uses for a FIT file and its GPX export).
MATCH_START_S = 120.0
SUMMARY_FORMAT = "summary"
# Recorded activities before a listed start that may still be running at it (sorted by
# start, a long activity is rarely followed by more than a few short ones inside it).
_LOOKBACK = 8
# Journal entries carry a day only: stored at local noon (offset 0), so the local date is
# the entry's day whatever the athlete's time zone.
JOURNAL_TIME = time(12, 0)

_EXPORT_SCHEMA: dict[str, pl.DataType] = {
    "athlete_id": pl.String(), "source": pl.String(), "external_id": pl.String(),
    "source_file": pl.String(), "source_line": pl.Int32(), "sha256": pl.String(),
    "file_ref": pl.String(), "file_present": pl.Boolean(), "sport": pl.String(),
    "sub_sport": pl.String(), "started_at": UTC_TS, "elapsed_s": pl.Float64(),
    "moving_s": pl.Float64(), "distance_m": pl.Float64(), "avg_heart_rate_bpm": pl.Float64(),
    "name": pl.String(), "description": pl.String(), "activity_id": pl.String(),
}
_ACTIVITY_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(), "athlete_id": pl.String(), "sport": pl.String(),
    "sub_sport": pl.String(), "started_at": UTC_TS, "ended_at": UTC_TS,
    "local_offset_s": pl.Int32(), "duration_s": pl.Float64(), "elapsed_s": pl.Float64(),
    "distance_m": pl.Float64(), "avg_heart_rate_bpm": pl.Float64(), "format": pl.String(),
    "name": pl.String(), "n_samples": pl.Int64(), "n_sessions": pl.Int32(),
    "n_laps": pl.Int32(), "n_extras": pl.Int64(), "n_data_columns": pl.Int32(),
    "has_gps": pl.Boolean(), "has_running_dynamics": pl.Boolean(),
    "has_gct_balance": pl.Boolean(), "source_file": pl.String(), "sha256": pl.String(),
    "loaded_at": UTC_TS, "description": pl.String(), "summary_only": pl.Boolean(),
    "source": pl.String(), "external_id": pl.String(),
}
_LOG_SCHEMA: dict[str, pl.DataType] = {
    "athlete_id": pl.String(), "source_file": pl.String(), "sha256": pl.String(),
    "part": pl.Int32(), "size_bytes": pl.Int64(), "status": pl.String(),
    "reason": pl.String(), "error_type": pl.String(), "activity_id": pl.String(),
    "first_seen_at": UTC_TS, "seen_at": UTC_TS, "status_changed_at": UTC_TS,
}
_JOURNAL_SCHEMA: dict[str, pl.DataType] = {
    "entry_id": pl.String(), "athlete_id": pl.String(), "entry_date": pl.Date(),
    "kind": pl.String(), "minutes": pl.Float64(), "body_part": pl.String(),
    "side": pl.String(), "severity": pl.Int32(), "text": pl.String(),
    "source_file": pl.String(), "source_line": pl.Int32(),
}
# What decides whether a stored summary-only activity must be rewritten.
_CONTENT = ("sport", "sub_sport", "started_at", "duration_s", "elapsed_s", "distance_m",
            "avg_heart_rate_bpm", "name", "description", "source_file", "sha256")


@dataclass
class ListOutcome:
    """What loading one list file (export list or journal) did."""

    source_file: str
    athlete_id: str
    status: str  # loaded | unchanged | rejected
    rows: int = 0  # rows (listed activities, journal entries) read
    problems: list[RowProblem] = field(default_factory=list)
    reason: str = ""

    def problem_lines(self) -> list[str]:
        return [f"{self.source_file} line {p.line}: {p.reason}" for p in self.problems]


@dataclass
class ReconcileSummary:
    linked: int = 0  # listed activities linked to a recorded one
    summary_only: int = 0  # listed activities stored as summary-only activities
    pending: int = 0  # listed with a file that is not read yet
    written: int = 0  # summary-only activities inserted or rewritten
    removed: int = 0  # summary-only activities deleted (their file loaded, or unlisted)
    renamed: int = 0  # recorded activities given a list's name / description / id


def _hash_id(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:24]


def summary_activity_id(athlete_id: str, source: str, external_id: str) -> str:
    """Deterministic id of a summary-only activity: stable across re-exports."""
    return _hash_id("summary", athlete_id, source, external_id)


def _insert(wh: Warehouse, table: str, rows: list[dict[str, Any]],
            schema: dict[str, pl.DataType]) -> None:
    if not rows:
        return
    data = pl.DataFrame(rows, schema=schema).to_arrow()
    name = f"_gw_sum_{table}"
    wh.con.register(name, data)
    try:
        wh.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")  # noqa: S608
    finally:
        wh.con.unregister(name)


def _ensure_athlete(wh: Warehouse, athlete_id: str, now: datetime) -> None:
    wh.con.execute(
        "INSERT INTO athletes (athlete_id, updated_at) SELECT ?, ? "
        "WHERE NOT EXISTS (SELECT 1 FROM athletes WHERE athlete_id = ?)",
        [athlete_id, now, athlete_id],
    )


def _log_row(athlete_id: str, source_file: str, sha: str, part: int, size: int, status: str,
             reason: str | None, error_type: str | None, activity_id: str | None,
             now: datetime) -> dict[str, Any]:
    return {"athlete_id": athlete_id, "source_file": source_file, "sha256": sha, "part": part,
            "size_bytes": size, "status": status, "reason": reason, "error_type": error_type,
            "activity_id": activity_id, "first_seen_at": now, "seen_at": now,
            "status_changed_at": now}


def _replace_log(wh: Warehouse, rows: list[dict[str, Any]]) -> None:
    """Write log rows, replacing any with the same (athlete, file, sha256, part)."""
    for r in rows:
        wh.con.execute(
            "DELETE FROM ingest_log WHERE athlete_id = ? AND source_file = ? "
            "AND sha256 IS NOT DISTINCT FROM ? AND part = ?",
            [r["athlete_id"], r["source_file"], r["sha256"], r["part"]],
        )
    _insert(wh, "ingest_log", rows, _LOG_SCHEMA)


def _reject_file(wh: Warehouse, athlete_id: str, source_file: str, sha: str, size: int,
                 exc: ExportListError, now: datetime) -> ListOutcome:
    with wh._transaction():
        _ensure_athlete(wh, athlete_id, now)
        _replace_log(wh, [_log_row(athlete_id, source_file, sha, 0, size, "rejected",
                                   exc.one_line(), type(exc).__name__, None, now)])
    return ListOutcome(source_file, athlete_id, "rejected", reason=exc.one_line())


def _problem_rows(athlete_id: str, source_file: str, sha: str, size: int,
                  problems: Sequence[RowProblem], now: datetime) -> list[dict[str, Any]]:
    return [
        _log_row(athlete_id, source_file, sha, p.line, size, "rejected",
                 f"line {p.line}: {p.reason}; row not loaded", "ExportListError", None, now)
        for p in problems
    ]


# ------------------------------------------------------------------ export lists


def load_export_list(
    wh: Warehouse,
    athlete_id: str,
    source_file: str,
    data: bytes,
    file_exists: Callable[[str], bool],
    export_root: str,
) -> ListOutcome:
    """Store one export list's rows (replacing the rows of its earlier version).

    ``export_root`` is the input name of the folder the list's file names are relative
    to (``ann/strava_export`` for ``ann/strava_export/activities.csv``), and
    ``file_exists(file_ref)`` says whether that file was dropped beside the list. Call
    :func:`reconcile` afterwards (the pipeline does, after every batch).
    """
    sha = hashlib.sha256(data).hexdigest()
    now = datetime.now(UTC)
    known = wh.con.execute(
        "SELECT count(*) FROM export_activities WHERE athlete_id = ? AND source_file = ? "
        "AND sha256 = ?", [athlete_id, source_file, sha]).fetchall()[0][0]
    if known:
        return ListOutcome(source_file, athlete_id, "unchanged")
    try:
        parsed = parse_list(source_file, data)
    except ExportListError as exc:
        return _reject_file(wh, athlete_id, source_file, sha, len(data), exc, now)
    rows: list[dict[str, Any]] = []
    for r in parsed.rows:
        ref = f"{export_root}/{r.file_ref}" if export_root and r.file_ref else r.file_ref
        rows.append(_export_row(athlete_id, source_file, sha, r, ref,
                                ref is not None and file_exists(ref)))
    with wh._transaction():
        _ensure_athlete(wh, athlete_id, now)
        wh.con.execute("DELETE FROM export_activities WHERE athlete_id = ? AND source_file = ?",
                       [athlete_id, source_file])
        # A list re-exported later (or under another name) lists the same activities:
        # the latest read wins for each activity.
        ids = [(r["source"], r["external_id"]) for r in rows]
        if ids:
            wh.con.register("_gw_ext", pl.DataFrame(
                {"source": [i[0] for i in ids], "external_id": [i[1] for i in ids]},
                schema={"source": pl.String(), "external_id": pl.String()}).to_arrow())
            try:
                wh.con.execute(
                    "DELETE FROM export_activities AS e WHERE athlete_id = ? AND EXISTS "
                    "(SELECT 1 FROM _gw_ext AS n WHERE n.source = e.source "
                    "AND n.external_id = e.external_id)", [athlete_id])
            finally:
                wh.con.unregister("_gw_ext")
        _insert(wh, "export_activities", rows, _EXPORT_SCHEMA)
        wh.con.execute(
            "DELETE FROM ingest_log WHERE athlete_id = ? AND source_file = ? "
            "AND status = 'rejected'", [athlete_id, source_file])
        _replace_log(wh, _problem_rows(athlete_id, source_file, sha, len(data),
                                       parsed.problems, now))
    return ListOutcome(source_file, athlete_id, "loaded", len(parsed.rows), parsed.problems)


def _export_row(athlete_id: str, source_file: str, sha: str, r: ListedActivity,
                ref: str | None, present: bool) -> dict[str, Any]:
    return {
        "athlete_id": athlete_id, "source": r.source, "external_id": r.external_id,
        "source_file": source_file, "source_line": r.line, "sha256": sha, "file_ref": ref,
        "file_present": present, "sport": r.sport, "sub_sport": r.sub_sport,
        "started_at": r.started_at, "elapsed_s": r.elapsed_s, "moving_s": r.moving_s,
        "distance_m": r.distance_m, "avg_heart_rate_bpm": r.avg_heart_rate_bpm,
        "name": r.name, "description": r.description, "activity_id": None,
    }


def has_export_rows(wh: Warehouse, athlete_id: str) -> bool:
    row = wh.con.execute("SELECT count(*) FROM export_activities WHERE athlete_id = ?",
                         [athlete_id]).fetchall()
    return bool(row[0][0])


def reconcile(wh: Warehouse, athlete_id: str) -> ReconcileSummary:
    """Link listed activities to recorded ones; keep summary-only activities exactly for
    the listed activities that have no recorded activity (one transaction)."""
    out = ReconcileSummary()
    con = wh.con
    listed = con.execute(
        f"SELECT {', '.join(_EXPORT_SCHEMA)} FROM export_activities "  # noqa: S608
        "WHERE athlete_id = ? ORDER BY started_at, source, external_id", [athlete_id]
    ).fetchall()
    if not listed:
        return out
    cols = list(_EXPORT_SCHEMA)
    entries = [dict(zip(cols, v, strict=True)) for v in listed]
    recorded = con.execute(
        "SELECT activity_id, started_at, name, description, external_id, ended_at "
        "FROM activities WHERE athlete_id = ? AND NOT summary_only "
        "ORDER BY started_at, activity_id", [athlete_id]
    ).fetchall()
    starts = [r[1] for r in recorded]
    current = {r[0]: r for r in recorded}
    by_file = dict(con.execute(
        "SELECT l.source_file, any_value(l.activity_id) FROM ingest_log AS l "
        "JOIN activities AS a ON a.activity_id = l.activity_id AND NOT a.summary_only "
        "WHERE l.athlete_id = ? AND l.status IN ('loaded', 'duplicate') "
        "GROUP BY l.source_file", [athlete_id]).fetchall())
    read_files = {r[0] for r in con.execute(
        "SELECT DISTINCT source_file FROM ingest_log WHERE athlete_id = ?", [athlete_id]
    ).fetchall()}
    stored = {
        r[0]: r for r in con.execute(
            f"SELECT activity_id, {', '.join(_CONTENT)} FROM activities "  # noqa: S608
            "WHERE athlete_id = ? AND summary_only AND source IN (?, ?)",
            [athlete_id, STRAVA_CSV, GARMIN_JSON]).fetchall()
    }
    annotate: list[tuple[str, dict[str, Any]]] = []
    links: list[tuple[str | None, str, str]] = []
    wanted: dict[str, dict[str, Any]] = {}
    # recorded activity -> (|start difference| s, entry) of the entry whose name it takes
    best: dict[str, tuple[float, dict[str, Any]]] = {}
    for e in entries:
        match = by_file.get(e["file_ref"]) if e["file_ref"] else None
        if match is None:
            match = _recorded_at(recorded, starts, e["started_at"])
        if match is not None:
            out.linked += 1
            links.append((match, e["source"], e["external_id"]))
            gap = abs((current[match][1] - e["started_at"]).total_seconds())
            if match not in best or gap < best[match][0]:
                best[match] = (gap, e)
            continue
        if e["file_ref"] and e["file_present"] and e["file_ref"] not in read_files:
            out.pending += 1  # its file is in the inbox but not read yet
            links.append((None, e["source"], e["external_id"]))
            continue
        aid = summary_activity_id(athlete_id, e["source"], e["external_id"])
        wanted[aid] = e
        links.append((aid, e["source"], e["external_id"]))
        out.summary_only += 1
    for match, (_gap, e) in best.items():
        cur = current[match]
        if (cur[2], cur[3], cur[4]) != (e["name"], e["description"], e["external_id"]):
            annotate.append((match, e))
    now = datetime.now(UTC)
    new_acts: list[dict[str, Any]] = []
    new_logs: list[dict[str, Any]] = []
    for aid, e in wanted.items():
        act = _summary_row(aid, athlete_id, e, now)
        old = stored.get(aid)
        if old is not None and tuple(old[1:]) == tuple(act[c] for c in _CONTENT):
            continue
        new_acts.append(act)
        reason = ("summary only: " + ("manual entry, no file" if not e["file_ref"]
                  else f"file {e['file_ref']} not loaded"))
        new_logs.append(_log_row(athlete_id, e["source_file"], e["sha256"],
                                 int(e["source_line"] or 0), 0, "loaded", reason, None, aid, now))
    gone = [aid for aid in stored if aid not in wanted]
    rewrite = [a["activity_id"] for a in new_acts if a["activity_id"] in stored]
    if not (new_acts or gone or annotate or _links_changed(entries, links)):
        return out
    with wh._transaction():
        _ensure_athlete(wh, athlete_id, now)
        for aid in gone + rewrite:
            con.execute("DELETE FROM activities WHERE activity_id = ?", [aid])
            con.execute("DELETE FROM ingest_log WHERE activity_id = ? AND status = 'loaded'",
                        [aid])
            if aid in gone:
                # other log rows (duplicate) pointed at it: nothing left to point at
                con.execute("UPDATE ingest_log SET activity_id = NULL, status = 'skipped', "
                            "reason = 'summary of an activity no longer listed', seen_at = ? "
                            "WHERE activity_id = ?", [now, aid])
        _insert(wh, "activities", new_acts, _ACTIVITY_SCHEMA)
        _replace_log(wh, new_logs)
        # set-based: one UPDATE each, not one per row (row-wise UPDATEs in one DuckDB
        # transaction slow every later scan, see warehouse/store.py)
        if annotate:
            names = pl.DataFrame(
                {"activity_id": [a for a, _e in annotate],
                 "name": [e["name"] for _a, e in annotate],
                 "description": [e["description"] for _a, e in annotate],
                 "external_id": [e["external_id"] for _a, e in annotate]},
                schema={"activity_id": pl.String(), "name": pl.String(),
                        "description": pl.String(), "external_id": pl.String()})
            con.register("_gw_names", names.to_arrow())
            try:
                con.execute("UPDATE activities SET name = n.name, description = n.description, "
                            "external_id = n.external_id FROM _gw_names AS n "
                            "WHERE activities.activity_id = n.activity_id")
            finally:
                con.unregister("_gw_names")
        linked = pl.DataFrame(
            {"activity_id": [a for a, _s, _x in links], "source": [s for _a, s, _x in links],
             "external_id": [x for _a, _s, x in links]},
            schema={"activity_id": pl.String(), "source": pl.String(), "external_id": pl.String()})
        con.register("_gw_links", linked.to_arrow())
        try:
            con.execute("UPDATE export_activities SET activity_id = n.activity_id "
                        "FROM _gw_links AS n WHERE export_activities.athlete_id = ? "
                        "AND export_activities.source = n.source "
                        "AND export_activities.external_id = n.external_id "
                        "AND export_activities.activity_id IS DISTINCT FROM n.activity_id",
                        [athlete_id])
        finally:
            con.unregister("_gw_links")
    out.written = len(new_acts)
    out.renamed = len(annotate)
    out.removed = len(gone)
    return out


def _recorded_at(
    recorded: Sequence[tuple[Any, ...]], starts: list[datetime], at: datetime
) -> str | None:
    """The recorded activity a listed start belongs to: the nearest start within
    :data:`MATCH_START_S`, else one running at that moment (a multisport file holds the
    legs a Garmin list names one by one). ``recorded`` is sorted by start."""
    window = timedelta(seconds=MATCH_START_S)
    lo = bisect.bisect_left(starts, at - window)
    hi = bisect.bisect_right(starts, at + window)
    if hi > lo:
        return str(min(recorded[lo:hi], key=lambda r: abs(r[1] - at))[0])
    # started before the window and still running at ``at``: look back a few activities
    for r in reversed(recorded[max(0, lo - _LOOKBACK):lo]):
        if r[1] <= at <= r[5]:
            return str(r[0])
    return None


def _links_changed(entries: list[dict[str, Any]], links: list[tuple[str | None, str, str]]) -> bool:
    old = {(e["source"], e["external_id"]): e["activity_id"] for e in entries}
    return any(old.get((s, x)) != aid for aid, s, x in links)


def _summary_row(aid: str, athlete_id: str, e: dict[str, Any], now: datetime) -> dict[str, Any]:
    elapsed = e["elapsed_s"] if e["elapsed_s"] is not None else e["moving_s"]
    moving = e["moving_s"] if e["moving_s"] is not None else elapsed
    started: datetime = e["started_at"]
    return {
        "activity_id": aid, "athlete_id": athlete_id, "sport": e["sport"],
        "sub_sport": e["sub_sport"], "started_at": started,
        "ended_at": started + timedelta(seconds=float(elapsed or 0.0)),
        "local_offset_s": None, "duration_s": moving, "elapsed_s": elapsed,
        "distance_m": e["distance_m"], "avg_heart_rate_bpm": e["avg_heart_rate_bpm"],
        "format": SUMMARY_FORMAT, "name": e["name"], "n_samples": 0, "n_sessions": 0,
        "n_laps": 0, "n_extras": 0, "n_data_columns": 0, "has_gps": False,
        "has_running_dynamics": False, "has_gct_balance": False,
        "source_file": e["source_file"], "sha256": e["sha256"], "loaded_at": now,
        "description": e["description"], "summary_only": True, "source": e["source"],
        "external_id": e["external_id"],
    }


# ------------------------------------------------------------------ journal


def _journal_sport(entry: JournalEntry) -> tuple[str, str | None]:
    if entry.kind == "strength":
        return "training", "strength_training"
    # cross-training: a sport named first in the text ("Swim: 2 km", "elliptical") counts
    # as that sport, else generic
    words = (entry.text or "").replace(":", " ").replace(",", " ").split()
    for n in (2, 1):
        if len(words) >= n:
            sport = strava_sport(" ".join(words[:n]))
            if sport[0] != "generic":
                return sport
    return "generic", None


def load_journal(wh: Warehouse, athlete_id: str, source_file: str, data: bytes) -> ListOutcome:
    """Replace the journal rows (and journal-derived activities) of ``source_file`` with its
    current content, in one transaction. Bad rows are logged ``rejected`` with their line;
    the other rows load. Unchanged activities keep their ``loaded_at``."""
    sha = hashlib.sha256(data).hexdigest()
    now = datetime.now(UTC)
    try:
        parsed = parse_journal(source_file, data, athlete_id)
    except BlankJournalError:
        # Just created: as a journal with its header and no entry (nothing to load, no
        # complaint). Emptied after entries were loaded from it: refused, and the entries
        # kept; more likely a failed save than a wish (a journal emptied on purpose keeps
        # its header line).
        row = wh.con.execute("SELECT count(*) FROM journal WHERE athlete_id = ? AND source_file = ?",
                             [athlete_id, source_file]).fetchall()
        n = int(row[0][0])
        if n == 0:
            return ListOutcome(source_file, athlete_id, "unchanged", 0)
        kept = BlankJournalError(source_file, f"empty file: the {n} entries loaded from it "
                                              "before are kept (an emptied journal keeps its "
                                              "header line: date,kind,minutes,...)")
        return _reject_file(wh, athlete_id, source_file, sha, len(data), kept, now)
    except ExportListError as exc:
        return _reject_file(wh, athlete_id, source_file, sha, len(data), exc, now)
    journal_rows = [
        {"entry_id": e.entry_id, "athlete_id": athlete_id, "entry_date": e.entry_date,
         "kind": e.kind, "minutes": e.minutes, "body_part": e.body_part, "side": e.side,
         "severity": e.severity, "text": e.text, "source_file": source_file,
         "source_line": e.source_line}
        for e in parsed.entries
    ]
    old_journal = wh.con.execute(
        f"SELECT {', '.join(_JOURNAL_SCHEMA)} FROM journal WHERE athlete_id = ? "  # noqa: S608
        "AND source_file = ? ORDER BY entry_id", [athlete_id, source_file]).fetchall()
    old_sha = wh.con.execute(
        "SELECT DISTINCT sha256 FROM ingest_log WHERE athlete_id = ? AND source_file = ?",
        [athlete_id, source_file]).fetchall()
    new_journal = sorted(tuple(r.values()) for r in journal_rows)
    if new_journal == [tuple(r) for r in old_journal] and (
            old_sha == [(sha,)] or (not old_sha and not parsed.problems
                                    and not any(e.kind in SESSION_KINDS for e in parsed.entries))):
        return ListOutcome(source_file, athlete_id, "unchanged", len(parsed.entries))
    acts: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    for e in parsed.entries:
        if e.kind not in SESSION_KINDS:
            continue
        aid = _hash_id("journal", e.entry_id)
        sport, sub = _journal_sport(e)
        started = datetime.combine(e.entry_date, JOURNAL_TIME, tzinfo=UTC)
        seconds = None if e.minutes is None else e.minutes * 60.0
        acts.append({
            "activity_id": aid, "athlete_id": athlete_id, "sport": sport, "sub_sport": sub,
            "started_at": started, "ended_at": started + timedelta(seconds=seconds or 0.0),
            "local_offset_s": 0, "duration_s": seconds, "elapsed_s": seconds,
            "distance_m": None, "avg_heart_rate_bpm": None, "format": SUMMARY_FORMAT,
            "name": f"{e.kind.replace('_', ' ')} (journal)", "n_samples": 0, "n_sessions": 0,
            "n_laps": 0, "n_extras": 0, "n_data_columns": 0, "has_gps": False,
            "has_running_dynamics": False, "has_gct_balance": False,
            "source_file": source_file, "sha256": sha, "loaded_at": now,
            "description": e.text, "summary_only": True, "source": JOURNAL,
            "external_id": e.entry_id,
        })
        logs.append(_log_row(athlete_id, source_file, sha, e.source_line, len(data), "loaded",
                             f"journal line {e.source_line}: {e.kind}", None, aid, now))
    logs += _problem_rows(athlete_id, source_file, sha, len(data), parsed.problems, now)
    stored = {r[0]: r[1:] for r in wh.con.execute(
        f"SELECT activity_id, {', '.join(c for c in _CONTENT if c != 'sha256')} "  # noqa: S608
        "FROM activities WHERE athlete_id = ? AND source = ? AND source_file = ?",
        [athlete_id, JOURNAL, source_file]).fetchall()}
    keep = {a["activity_id"] for a in acts
            if stored.get(a["activity_id"]) == tuple(a[c] for c in _CONTENT if c != "sha256")}
    with wh._transaction():
        _ensure_athlete(wh, athlete_id, now)
        wh.con.execute("DELETE FROM journal WHERE athlete_id = ? AND source_file = ?",
                       [athlete_id, source_file])
        _insert(wh, "journal", journal_rows, _JOURNAL_SCHEMA)
        # the file's log rows are rewritten for its current content
        wh.con.execute("DELETE FROM ingest_log WHERE athlete_id = ? AND source_file = ?",
                       [athlete_id, source_file])
        for aid in stored:
            if aid not in keep:
                wh.con.execute("DELETE FROM activities WHERE activity_id = ?", [aid])
        if keep:  # unchanged activities: same row, the new file version's sha256
            for aid in keep:
                wh.con.execute("UPDATE activities SET sha256 = ? WHERE activity_id = ?",
                               [sha, aid])
        _insert(wh, "activities", [a for a in acts if a["activity_id"] not in keep],
                _ACTIVITY_SCHEMA)
        _insert(wh, "ingest_log", logs, _LOG_SCHEMA)
    return ListOutcome(source_file, athlete_id, "loaded", len(parsed.entries), parsed.problems)


def load_list_file(
    wh: Warehouse,
    athlete_id: str,
    source_file: str,
    data: bytes,
    kind: str,
    file_exists: Callable[[str], bool],
) -> ListOutcome:
    """Load one list file of ``kind`` (:func:`ingest.exports.list_kind`)."""
    if kind == JOURNAL:
        return load_journal(wh, athlete_id, source_file, data)
    root = source_file.rsplit("/", 1)[0] if "/" in source_file else ""
    if kind == GARMIN_JSON:
        # DI_CONNECT/DI-Connect-Fitness/x_summarizedActivities.json: no file names inside
        root = ""
    return load_export_list(wh, athlete_id, source_file, data, file_exists, root)


# ------------------------------------------------------------------ inbox integration


def divert_lists(
    decoded: Iterable[DecodedFile],
    files: Mapping[str, InboxFile],
    max_bytes: int,
    found: list[tuple[str, str, bytes, set[str]]],
) -> Iterator[DecodedFile]:
    """Pass decoded files through, taking an archive's export lists (a Strava or Garmin
    export zip dropped whole) out of its results: they go to :func:`load_lists` instead of
    being logged as "not an activity". ``files`` maps a decoded path to its input file;
    ``found`` collects (athlete, member name, bytes, names of the archive's results)."""
    for item in decoded:
        f = files.get(str(item.path))
        names = {r.source_file for r in item.results}
        if f is not None and any(list_kind(n) for n in names if n != f.rel):
            lists = read_zip_lists(f.path, f.rel, max_bytes)
            for name, raw in lists.items():
                found.append((f.athlete_id, name, raw, names))
            item = DecodedFile(item.path, item.athlete_id,
                               [r for r in item.results if r.source_file not in lists])
        yield item


def load_lists(
    wh: Warehouse,
    lists: Sequence[InboxFile],
    inside: Sequence[tuple[str, str, bytes, set[str]]],
    athletes: Iterable[str],
    inbox: Path | None,
) -> list[FileOutcome]:
    """Export activity lists and journals dropped as files (one outcome each, their
    ``inbox_files`` row in the same transaction) or found inside archives (the archive's
    own outcome covers them); then link every listed activity of ``athletes`` to its
    recorded one (order-independent, idempotent)."""
    outcomes: list[FileOutcome] = []
    with wh.transaction():
        for athlete_id, name, raw, names in inside:
            load_list_file(wh, athlete_id, name, raw, list_kind(name) or "", names.__contains__)
        rows: list[InboxFileRow] = []
        for f in lists:
            root = f.root

            def beside(ref: str, root: Path = root) -> bool:
                return (root / ref).is_file()

            done = load_list_file(wh, f.athlete_id, f.rel, f.path.read_bytes(),
                                  list_kind(f.rel) or "", beside)
            reason = done.reason
            if done.problems:
                reason = (f"{len(done.problems)} of {done.rows + len(done.problems)} rows "
                          f"rejected, e.g. {done.problem_lines()[0]}")
            outcomes.append(FileOutcome(f.rel, f.athlete_id, done.status, reason, 0, 1,
                                        len(done.problems)))
            if inbox is not None and f.root == inbox:
                rows.append(InboxFileRow(f.rel, f.size, f.mtime_ns, sha256_file(f.path),
                                         done.status, reason, f.athlete_id))
        for athlete_id in sorted(set(athletes)):
            if has_export_rows(wh, athlete_id):
                reconcile(wh, athlete_id)
        wh.record_inbox_files(rows)
    return outcomes


def journal_frame(wh: Warehouse, athlete_id: str) -> pl.DataFrame:
    """The athlete's journal entries (``transforms.evaluate.JOURNAL_SCHEMA`` columns)."""
    from transforms.evaluate import JOURNAL_SCHEMA

    cols = ", ".join(JOURNAL_SCHEMA)
    got = pl.from_arrow(
        wh.con.sql(
            f"SELECT {cols} FROM journal WHERE athlete_id = $a ORDER BY entry_date",  # noqa: S608
            params={"a": athlete_id},
        ).to_arrow_table()
    )
    assert isinstance(got, pl.DataFrame)
    return got.select([pl.col(c).cast(t) for c, t in JOURNAL_SCHEMA.items()])
