"""The training journal: ``inbox/<athlete>/journal.csv`` (documented in docs/exports.md).

Columns (header names, any order; only ``date`` and ``kind`` are required):
``date`` (YYYY-MM-DD, the athlete's local day), ``kind`` (strength | cross_training |
pain | injury | illness | note), ``minutes``, ``body_part``, ``side`` (left | right |
both), ``severity`` (0-10 pain scale), ``text``.

Pure: :func:`parse_journal` turns bytes into valid :class:`JournalEntry` rows and one
:class:`ingest.exports.RowProblem` (line + reason in words) per bad row; the other rows
still load. :func:`format_entry` / :func:`append_entry` are what ``gaitwatch log`` uses.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ingest.exports import ExportListError, RowProblem, csv_rows
from ingest.limits import JOURNAL_MAX_MINUTES, PAIN_SCALE_MAX

KINDS = ("strength", "cross_training", "pain", "injury", "illness", "note")
SESSION_KINDS = ("strength", "cross_training")  # also become summary-only activities
SIDES = ("left", "right", "both")
COLUMNS = ("date", "kind", "minutes", "body_part", "side", "severity", "text")
_ALIASES = {"body part": "body_part", "bodypart": "body_part", "cross-training": "cross_training",
            "cross training": "cross_training", "crosstraining": "cross_training"}


class JournalError(ExportListError):
    """A journal entry or file that cannot be used (the reason names file and line)."""


@dataclass(frozen=True)
class JournalEntry:
    athlete_id: str
    entry_date: date
    kind: str
    minutes: float | None
    body_part: str | None
    side: str | None
    severity: int | None
    text: str | None
    source_file: str
    source_line: int

    @property
    def entry_id(self) -> str:
        """hash of (athlete, source file, line): an edited line keeps its id."""
        key = f"{self.athlete_id}|{self.source_file}|{self.source_line}"
        return hashlib.sha256(key.encode()).hexdigest()[:24]


@dataclass
class ParsedJournal:
    entries: list[JournalEntry]
    problems: list[RowProblem]


# Digits with at most one decimal point: float() alone would also take "inf", "nan",
# "1e3" and "1_000", none of which a journal means (and int(inf) raised OverflowError).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def _number(name: str, text: str) -> float:
    """A plain decimal number; ValueError naming the column otherwise."""
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{name} {text!r} is not a number")
    return float(text)


def _norm(value: str) -> str:
    v = " ".join(value.strip().lower().split())
    return _ALIASES.get(v, v.replace(" ", "_"))


def validate(
    raw: dict[str, str], athlete_id: str, source_file: str, line: int
) -> JournalEntry:
    """One row's text values -> an entry; ValueError with the reason in words."""
    date_text = (raw.get("date") or "").strip()
    try:
        day = date.fromisoformat(date_text)
    except ValueError:
        raise ValueError(f"bad date {date_text!r} (expected YYYY-MM-DD)") from None
    kind = _norm(raw.get("kind") or "")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {raw.get('kind', '')!r} (expected one of {', '.join(KINDS)})")
    minutes: float | None = None
    if (m := (raw.get("minutes") or "").strip()):
        minutes = _number("minutes", m)
        if not 0 < minutes <= JOURNAL_MAX_MINUTES:
            raise ValueError(f"minutes {m} out of range (0 < minutes <= {JOURNAL_MAX_MINUTES:g})")
    side = _norm(raw.get("side") or "") or None
    if side is not None and side not in SIDES:
        raise ValueError(f"unknown side {raw.get('side')!r} (expected left, right or both)")
    severity: int | None = None
    if (s := (raw.get("severity") or "").strip()):
        sev = _number("severity", s)
        if sev != int(sev) or not 0 <= sev <= PAIN_SCALE_MAX:
            raise ValueError(f"severity {s} out of range (a whole number 0-{PAIN_SCALE_MAX})")
        severity = int(sev)
    body = " ".join((raw.get("body_part") or "").split()) or None
    text = (raw.get("text") or "").strip() or None
    return JournalEntry(athlete_id, day, kind, minutes, body, side, severity, text,
                        source_file, line)


def parse_journal(source_file: str, data: bytes, athlete_id: str) -> ParsedJournal:
    """Every row of a journal.csv; bad rows become problems with their line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JournalError(source_file, f"not UTF-8 text (byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [_norm(h) for h in next(reader)]
    except StopIteration:
        raise JournalError(source_file, "empty file: no header (date,kind,minutes,...)") from None
    except csv.Error as exc:
        raise JournalError(source_file, f"unreadable CSV header: {exc}", 1) from None
    missing = [c for c in ("date", "kind") if c not in header]
    if missing:
        raise JournalError(source_file, f"no column {', '.join(missing)} in the header "
                                        f"(expected {','.join(COLUMNS)})", 1)
    entries: list[JournalEntry] = []
    problems: list[RowProblem] = []
    for start, row in csv_rows(reader, problems):
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            problems.append(RowProblem(start, f"{len(row)} values for {len(header)} columns "
                                              "(quote text that holds commas)"))
            continue
        raw = dict(zip(header, row, strict=False))
        try:
            entries.append(validate(raw, athlete_id, source_file, start))
        except ValueError as exc:
            problems.append(RowProblem(start, str(exc)))
    return ParsedJournal(entries, problems)


def format_entry(entry: dict[str, str]) -> str:
    """One CSV line (with newline) in :data:`COLUMNS` order."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([entry.get(c, "") for c in COLUMNS])
    return buf.getvalue()


def new_entry(kind: str, day: str, minutes: float | None = None, body_part: str | None = None,
              side: str | None = None, severity: int | None = None,
              text: str | None = None) -> dict[str, str]:
    """A journal row (column -> text) from typed values, as ``gaitwatch log`` takes them."""
    # fixed-point, trailing zeros dropped: "{:g}" writes 1e+06, which is not a number here
    mins = "" if minutes is None else f"{minutes:f}".rstrip("0").rstrip(".")
    return {"date": day, "kind": kind, "minutes": mins,
            "body_part": body_part or "", "side": side or "",
            "severity": "" if severity is None else str(severity), "text": text or ""}


def append_entry(path: Path, entry: dict[str, str], athlete_id: str) -> int:
    """Validate ``entry`` (column -> text) and append it to the journal at ``path``,
    creating it with a header. Returns the line number written.

    Atomic: the new content is written to a temporary file beside it, fsynced and renamed
    over the journal, so a reader (the next run) never sees half a line.
    """
    old = path.read_bytes() if path.exists() else b""
    head = old if old else format_entry({c: c for c in COLUMNS}).encode()
    if head and not head.endswith(b"\n"):
        head += b"\n"
    line = head.count(b"\n") + 1  # multi-line quoted text is rare; next run re-validates
    validate(entry, athlete_id, str(path), line)  # raises ValueError with the reason
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        fh.write(head + format_entry(entry).encode())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return line
