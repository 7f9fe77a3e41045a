"""The training journal: ``inbox/<athlete>/journal.csv`` (documented in docs/exports.md).

Columns (header names, any case, any order; only ``date`` and ``kind`` are required):
``date`` (the athlete's local day: :func:`parse_date`), ``kind`` (strength |
cross_training | pain | injury | illness | note, or a name in :data:`KIND_ALIASES`),
``minutes``, ``body_part``, ``side`` (left | right | both), ``severity`` (0-10 pain
scale), ``text``.

Read as a spreadsheet saves it: separated by ``,``, ``;`` or tab (the header decides);
UTF-16 with a BOM, else UTF-8 (BOM or not), else cp1252, else latin-1 (:func:`decode`);
a decimal comma (``45,5``) in files not separated by commas, and ``1.200`` / ``1,200``
refused as ambiguous in every file; LF, CRLF or CR line ends. Dates: year first
(``2025-03-05``, ``2025-3-5``, ``2025/3/5``, ``2025.3.5``, ``20250305``) or dotted day
first (``5.3.2025``); year-last slash dates (``05/03/2025``) as most of the file's rows
that tell read them (:func:`slash_order`), else the row is refused as ambiguous; from
the year 2000 to tomorrow (the activity loader's bounds, :class:`ingest.limits.Limits`).

Pure: :func:`parse_journal` turns bytes into valid :class:`JournalEntry` rows and one
:class:`ingest.exports.RowProblem` (line + reason in words) per bad row; the other rows
still load. :func:`format_entry` / :func:`append_entry` are what ``gaitwatch log`` uses.
"""

from __future__ import annotations

import calendar
import codecs
import csv
import hashlib
import io
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from ingest.exports import ExportListError, RowProblem, csv_rows
from ingest.limits import DEFAULT_LIMITS, JOURNAL_MAX_MINUTES, PAIN_SCALE_MAX, Limits

KINDS = ("strength", "cross_training", "pain", "injury", "illness", "note")
SESSION_KINDS = ("strength", "cross_training")  # also become summary-only activities
SIDES = ("left", "right", "both")
COLUMNS = ("date", "kind", "minutes", "body_part", "side", "severity", "text")
# The header decides which one separates the columns; "," first: it wins ties (the default).
DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}
_ALIASES = {"body part": "body_part", "bodypart": "body_part", "cross-training": "cross_training",
            "cross training": "cross_training", "crosstraining": "cross_training"}
# What people call a kind in their own logs, only where the meaning is certain (keys as
# _kind spells them: lower case, spaces and hyphens as "_"). "yoga", "run" or "rehab"
# could be more than one kind: they stay row problems naming the kinds.
KIND_ALIASES = {"strength_training": "strength", "weight_training": "strength",
                "weights": "strength", "gym": "strength", "injured": "injury",
                "sick": "illness", "ill": "illness"}


class JournalError(ExportListError):
    """A journal entry or file that cannot be used (the reason names file and line)."""


class BlankJournalError(JournalError):
    """A journal file with nothing in it, not even its header: a journal just created, or
    one whose content was lost (an editor or a sync that failed half-way)."""


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
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)")
# One to three digits, a point or a comma, then exactly three digits: "1.200" is 1200 where
# the point groups thousands (German) and 1.2 where it is the decimal mark; "1,200" is 1200
# in the US and 1.2 in Germany. The value cannot tell, and its file cannot either (a tab
# file comes from either kind of locale, and a hand-typed file follows its writer), so it
# is a row problem: read either way it could be a thousand times off. Any other number of
# digits after the mark cannot be a thousands group, so "45,5" and "1.25" stay plain decimals.
_THOUSANDS = re.compile(r"([+-]?)([0-9]{1,3})([.,])([0-9]{3})")


def _number(name: str, text: str, decimal_comma: bool) -> float:
    """A plain decimal number (``45,5`` too when ``decimal_comma``); ValueError otherwise."""
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{name} {text!r} is not a number")
    if "," in text and not decimal_comma:
        # comma-separated files come from decimal-point locales, where "1,440" is 1440
        raise ValueError(f"{name} {text!r} is not a number (a decimal comma is read only in "
                         "files separated by semicolons or tabs)")
    if m := _THOUSANDS.fullmatch(text):
        sign, whole, mark, part = m.groups()
        thousands = f"{sign}{whole}{part}"
        decimal = f"{sign}{whole}{mark}{part.rstrip('0')}".rstrip(mark)
        word = "comma" if mark == "," else "point"
        raise ValueError(f"{name} {text!r} is ambiguous: {thousands} (a thousands separator) "
                         f"or {decimal} (a decimal {word})? write {thousands} or {decimal}")
    return float(text.replace(",", "."))


DATE_FORMS = "YYYY-MM-DD, YYYY-M-D, YYYY/M/D, YYYY.M.D, YYYYMMDD or D.M.YYYY"
# Year first, one separator throughout: 2025-03-05, 2025-3-5, 2025/3/5, 2025.3.5 (no
# convention puts the month before the day after a leading year).
_YEAR_FIRST = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})")
# ISO 8601's basic form, 20250305: unambiguous, and it loaded before the journal read
# spreadsheet dates (date.fromisoformat takes it). Its week dates (2025-W10-3), which
# fromisoformat took too, are not read: no spreadsheet writes them.
_BASIC = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
# Dots with the year last: day first, the German / Central European 5.3.2025.
_DOTS_YEAR_LAST = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})")
# Slashes with the year last: 05/03/2025 is 5 March in Britain, May 3 in the US.
_SLASHES_YEAR_LAST = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # not calendar's: locale-bound


@dataclass(frozen=True)
class SlashOrder:
    """How a file's year-last slash dates read (:func:`slash_order`)."""

    day_first: bool | None = None  # None: not settled
    why: str = "no slash date in the file has a day above 12 to tell"  # why not settled
    # (rows that are a real day only read day/month/year, only read month/day/year): the
    # reason a row of the smaller side is refused names them
    shown: tuple[int, int] = (0, 0)


def _real(year: int, month: int, day: int) -> bool:
    return year >= 1 and 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]


def slash_order(dates: Iterable[tuple[int, str]]) -> SlashOrder:
    """Settle the order of year-last slash dates from all of a file's ``(line, date)``.

    A slash date shows the order when it is a real day read only one way: 13/03/2025 only
    day/month/year, 03/13/2025 only month/day/year. The order more of the file's dates
    show wins (:func:`parse_date` then refuses only the rows that show the other one);
    not settled when none shows an order, or as many show one as the other. A majority,
    not "any disagreement unsettles the file": one US-style date typed into a day-first
    file refused every slash date of it, and entries loaded the run before disappeared.
    """
    shown: dict[bool, list[tuple[int, str]]] = {True: [], False: []}  # day_first -> rows
    for line, text in dates:
        if m := _SLASHES_YEAR_LAST.fullmatch(text.strip()):
            a, b, year = (int(g) for g in m.groups())
            if _real(year, b, a) != _real(year, a, b):
                shown[_real(year, b, a)].append((line, text.strip()))
    days, months = shown[True], shown[False]
    counts = (len(days), len(months))
    if not days and not months:
        return SlashOrder()
    if len(days) == len(months):
        (dl, dt), (ml, mt) = days[0], months[0]
        return SlashOrder(None, f"the file's slash dates disagree, {len(days)} against "
                                f"{len(months)}: {dt!r} (line {dl}) is only day/month/year, "
                                f"{mt!r} (line {ml}) only month/day/year", counts)
    return SlashOrder(len(days) > len(months), shown=counts)


def _day(text: str, year: int, month: int, day: int, how: str = "") -> date:
    """The date, or ValueError saying in words why there is no such day."""
    if year < 1:
        raise ValueError(f"bad date {text!r}{how}: there is no year 0")
    if not 1 <= month <= 12:
        raise ValueError(f"bad date {text!r}{how}: there is no month {month}")
    if not _real(year, month, day):
        raise ValueError(f"bad date {text!r}{how}: {_MONTHS[month - 1]} {year} has no day {day}")
    return date(year, month, day)


def parse_date(text: str, slashes: SlashOrder = SlashOrder()) -> date:
    """A journal date in one of :data:`DATE_FORMS`, or a year-last slash date read as
    ``slashes`` says; ValueError with the reason in words."""
    t = text.strip()
    if m := _YEAR_FIRST.fullmatch(t):
        return _day(t, int(m[1]), int(m[3]), int(m[4]))
    if m := _BASIC.fullmatch(t):
        return _day(t, int(m[1]), int(m[2]), int(m[3]))
    if m := _DOTS_YEAR_LAST.fullmatch(t):
        return _day(t, int(m[3]), int(m[2]), int(m[1]))
    if m := _SLASHES_YEAR_LAST.fullmatch(t):
        a, b, year = (int(g) for g in m.groups())
        if slashes.day_first is not None:
            if slashes.day_first:
                order, other, month, day = "day/month/year", "month/day/year", b, a
            else:
                order, other, month, day = "month/day/year", "day/month/year", a, b
            if not _real(year, month, day) and _real(year, day, month):
                # a row of the smaller side: refused, not read its own way, since the file
                # mixing orders makes its writer's intent uncertain; it names the day it
                # would be so the fix is one edit
                ours, theirs = slashes.shown if slashes.day_first else slashes.shown[::-1]
                raise ValueError(f"bad date {t!r}: a day only read {other}, but the file's "
                                 f"slash dates are {order} ({ours} rows against {theirs}); "
                                 f"write {date(year, day, month).isoformat()} if that is the day")
            return _day(t, year, month, day, f" ({order}, as the file's other slash dates)")
        if a == b or not (_real(year, b, a) or _real(year, a, b)):
            return _day(t, year, a, b)  # the same day either way, or no day either way
        raise ValueError(f"ambiguous date {t!r}: day/month/year or month/day/year? "
                         f"{slashes.why} (accepted: {DATE_FORMS})")
    raise ValueError(f"bad date {t!r} (accepted: {DATE_FORMS})")


def _norm(value: str) -> str:
    v = " ".join(value.strip().lower().split())
    return _ALIASES.get(v, v.replace(" ", "_"))


def _kind(value: str) -> str:
    k = _norm(value).replace("-", "_")
    return KIND_ALIASES.get(k, k)


def _implausible(text: str, day: date, today: date,
                 limits: Limits = DEFAULT_LIMITS) -> str | None:
    """Why an entry's day is no day a journal can mean (None: it is). The bounds of the
    activity loader (:class:`ingest.limits.Limits`): a typo such as 5.3.2205 or 5.3.1925
    gave the athlete decades of empty weeks and a "return after a break" on real ones."""
    # The entry's day may start up to max_start_ahead_h after today began: 36 h lets in
    # tomorrow, the day of an athlete up to a day ahead of this machine's clock.
    broken = limits.start_bound_broken(datetime.combine(day, time()), datetime.combine(today, time()))
    if broken == "earliest_start_year":
        return (f"date {text.strip()!r} is before the year {limits.earliest_start_year} "
                "(earliest_start_year): a typo?")
    if broken == "max_start_ahead_h":
        return (f"date {text.strip()!r} is more than {limits.max_start_ahead_h:g} h after "
                f"today, {today.isoformat()} (max_start_ahead_h): a typo?")
    return None


def validate(
    raw: dict[str, str], athlete_id: str, source_file: str, line: int, *,
    decimal_comma: bool = False, slashes: SlashOrder = SlashOrder(), today: date | None = None,
) -> JournalEntry:
    """One row's text values -> an entry; ValueError with the reason in words.
    ``decimal_comma``: the file is not comma-separated, so ``45,5`` is a number;
    ``slashes``: how the file's year-last slash dates read; ``today``: the day the
    entry's date is checked against (default ``date.today()``), so tests fix it."""
    day = parse_date(raw.get("date") or "", slashes)
    if why := _implausible(raw.get("date") or "", day,
                           date.today() if today is None else today):
        raise ValueError(why)
    kind = _kind(raw.get("kind") or "")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {raw.get('kind', '')!r} (expected one of {', '.join(KINDS)})")
    minutes: float | None = None
    if (m := (raw.get("minutes") or "").strip()):
        minutes = _number("minutes", m, decimal_comma)
        if not 0 < minutes <= JOURNAL_MAX_MINUTES:
            raise ValueError(f"minutes {m} out of range (0 < minutes <= {JOURNAL_MAX_MINUTES:g})")
    side = _norm(raw.get("side") or "") or None
    if side is not None and side not in SIDES:
        raise ValueError(f"unknown side {raw.get('side')!r} (expected left, right or both)")
    severity: int | None = None
    if (s := (raw.get("severity") or "").strip()):
        sev = _number("severity", s, decimal_comma)
        if sev != int(sev) or not 0 <= sev <= PAIN_SCALE_MAX:
            raise ValueError(f"severity {s} out of range (a whole number 0-{PAIN_SCALE_MAX})")
        severity = int(sev)
    body = " ".join((raw.get("body_part") or "").split()) or None
    text = (raw.get("text") or "").strip() or None
    return JournalEntry(athlete_id, day, kind, minutes, body, side, severity, text,
                        source_file, line)


_UTF16_BOMS = ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def decode(data: bytes) -> tuple[str, str]:
    """A journal's text and the codec it was read with (``utf-16-le``, ``utf-16-be``,
    ``utf-8``, ``cp1252``, ``latin-1``); a byte-order mark is dropped.

    Never fails. A journal is typed in a spreadsheet, and Excel on Windows saves "CSV" in
    the ANSI code page, cp1252 in Western Europe (``Knöchel`` as byte 0xF6, not UTF-8):
    refusing such files lost every entry for one umlaut. So: UTF-16 when the file starts
    with its BOM (Excel's "Unicode Text" export: UTF-16 with a BOM, tab-separated; ASCII
    text never starts with bytes FF FE or FE FF); UTF-8 when the bytes are valid UTF-8,
    which text in another encoding almost never is; else cp1252; else latin-1, which takes
    any byte (cp1252 leaves five undefined). A file that mixes UTF-8 and cp1252 reads as
    cp1252: its UTF-8 letters come out garbled, its rows load. Damaged UTF-16 (half a
    character at the end) reads with U+FFFD in its place, so the other rows still load.
    """
    for bom, codec in _UTF16_BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(codec, errors="replace"), codec
    body = data.removeprefix(codecs.BOM_UTF8)
    for codec in ("utf-8", "cp1252"):
        try:
            return body.decode(codec), codec
        except UnicodeDecodeError:
            continue
    return body.decode("latin-1"), "latin-1"


@dataclass(frozen=True)
class _Table:
    """A journal's CSV as read: the separator, header names (normalised) and rows."""

    delimiter: str
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (line the row starts on, its values)
    unreadable: list[RowProblem]  # a row the csv module could not read ends the file


def _read_table(source_file: str, text: str) -> _Table:
    """Find the separator (the one whose header has the most of date and kind; "," on a
    tie) and read the rows. JournalError when the header lacks date or kind."""
    if not text.strip():  # nothing, or only line breaks and spaces
        raise BlankJournalError(source_file, "empty file: no header (date,kind,minutes,...)")
    found: list[tuple[int, str, list[str]]] = []
    error = ""
    for delimiter in DELIMITERS:
        try:
            names = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error as exc:
            error = str(exc)
            continue
        header = [_norm(h) for h in names]
        found.append((sum(c in header for c in ("date", "kind")), delimiter, header))
    if not found:
        raise JournalError(source_file, f"unreadable CSV header: {error}", 1)
    _n, delimiter, header = max(found, key=lambda f: f[0])  # max keeps the first of a tie
    missing = [c for c in ("date", "kind") if c not in header]
    if missing:
        raise JournalError(source_file, f"no column {', '.join(missing)} in the header "
                                        f"(expected {','.join(COLUMNS)}, separated by "
                                        "commas, semicolons or tabs)", 1)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    next(reader)
    unreadable: list[RowProblem] = []
    rows = list(csv_rows(reader, unreadable))
    return _Table(delimiter, header, rows, unreadable)


def _slashes(table: _Table) -> SlashOrder:
    return slash_order((line, dict(zip(table.header, row, strict=False)).get("date") or "")
                       for line, row in table.rows)


def _decimal_comma(table: _Table) -> bool:
    """Whether the file's numbers may have a decimal comma: in files separated by ";" or
    tab. ";" is the list separator of decimal-comma locales. Tab files come from both
    kinds of locale (Excel's "Text (Tab delimited)" and "Unicode Text" in every one), but
    there a comma can only be a decimal comma or a thousands separator, and the second is
    followed by exactly three digits: those values are refused as ambiguous (_THOUSANDS),
    so "45,5" is read as the German file means it and no US "1,200" is read as 1.2."""
    return table.delimiter != ","


def parse_journal(source_file: str, data: bytes, athlete_id: str, *,
                  today: date | None = None) -> ParsedJournal:
    """Every row of a journal.csv; bad rows become problems with their line. ``today``:
    what an entry's date is checked against (default ``date.today()``)."""
    text, _codec = decode(data)
    table = _read_table(source_file, text)
    header = table.header
    slashes = _slashes(table)
    today = date.today() if today is None else today
    entries: list[JournalEntry] = []
    problems: list[RowProblem] = []
    for start, row in table.rows:
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            problems.append(RowProblem(start, f"{len(row)} values for {len(header)} columns "
                                              "(quote text that holds "
                                              f"{_DELIMITER_NAMES[table.delimiter]})"))
            continue
        raw = dict(zip(header, row, strict=False))
        try:
            entries.append(validate(raw, athlete_id, source_file, start, today=today,
                                    decimal_comma=_decimal_comma(table), slashes=slashes))
        except ValueError as exc:
            problems.append(RowProblem(start, str(exc)))
    return ParsedJournal(entries, problems + table.unreadable)


def format_entry(entry: dict[str, str], columns: Sequence[str] = COLUMNS, delimiter: str = ",",
                 newline: str = "\n") -> str:
    """One CSV line (with ``newline``): the values of ``columns``, in that order."""
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator=newline).writerow(
        [entry.get(c, "") for c in columns])
    return buf.getvalue()


def new_entry(kind: str, day: str, minutes: float | None = None, body_part: str | None = None,
              side: str | None = None, severity: int | None = None,
              text: str | None = None) -> dict[str, str]:
    """A journal row (column -> text) from typed values, as ``gaitwatch log`` takes them."""
    # fixed-point, trailing zeros dropped: "{:g}" writes 1e+06, which is not a number here
    mins = "" if minutes is None else f"{minutes:f}".rstrip("0").rstrip(".")
    if _THOUSANDS.fullmatch(mins):
        # 1.125 would be refused as ambiguous (1125 with a thousands separator?); a fourth
        # decimal digit makes it a plain decimal with the same value
        mins += "0"
    return {"date": day, "kind": kind, "minutes": mins,
            "body_part": body_part or "", "side": side or "",
            "severity": "" if severity is None else str(severity), "text": text or ""}


_NUMBER_COLUMNS = ("minutes", "severity")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _decimal_mark(table: _Table) -> str:
    """The decimal mark to write numbers with in this file: the one its own minutes and
    severity show more often; when they show neither (or as many of each), "," where a
    decimal comma is read (files separated by ";" or tab: :func:`_decimal_comma`), else
    ".". German Excel reads "30.5" as a date (30 May), so a decimal-comma file must not
    get one; a tab file whose rows already hold "45.5" comes from a decimal-point locale."""
    if not _decimal_comma(table):
        return "."
    marks = {",": 0, ".": 0}
    cols = [i for i, name in enumerate(table.header) if name in _NUMBER_COLUMNS]
    for _line, row in table.rows:
        for i in cols:
            v = row[i].strip() if i < len(row) else ""
            if _NUMBER.fullmatch(v) and not _THOUSANDS.fullmatch(v):
                for mark in marks:
                    marks[mark] += mark in v
    if marks["."] > marks[","]:
        return "."
    return ","


def append_entry(path: Path, entry: dict[str, str], athlete_id: str, *,
                 today: date | None = None) -> int:
    """Validate ``entry`` (column -> text) and append it to the journal at ``path``,
    creating it with a header. Returns the line number written. ``today``: what the
    entry's date is checked against (default ``date.today()``).

    An existing journal keeps its own layout: the row is written in its header's column
    order, with its separator, encoding (UTF-16 too, in the file's byte order) and line
    ending, and numbers with its decimal mark (:func:`_decimal_mark`), so a spreadsheet's
    file stays one the spreadsheet reads. A line break inside a value becomes a space: a
    journal row is one line, and a break the file's line ends do not use made the row not
    read back as its own. A new file, or one holding only white space or a byte-order mark,
    gets a header: UTF-8 (keeping a UTF-8 BOM, which tells Excel the file is UTF-8),
    commas, LF. Refused, with nothing written: JournalError when the reader refuses the
    file, its header lacks a column the entry fills, or the file would not read back with
    the new row as a row of its own (an unclosed quote above it, damaged UTF-16);
    ValueError when the entry is invalid or holds a character the file's encoding has not.

    Atomic: the new content is written to a temporary file beside it, fsynced and renamed
    over the journal, so a reader (the next run) never sees half a line.
    """
    entry = {c: _LINE_BREAK.sub(" ", v) for c, v in entry.items()}
    old = path.read_bytes() if path.exists() else b""
    text, codec = decode(old)
    if text.strip():
        table = _read_table(str(path), text)
        # Excel writes CRLF on Windows; "CSV (Macintosh)" ends lines with CR alone
        newline = ("\r\n" if "\r\n" in text
                   else "\r" if "\r" in text and "\n" not in text else "\n")
        if not text.endswith(("\n", "\r")):
            text, old = text + newline, old + newline.encode(codec)
        lost = [c for c in COLUMNS if (entry.get(c) or "").strip() and c not in table.header]
        if lost:
            raise JournalError(str(path), f"no column {', '.join(lost)} in the header for "
                                          "this entry: add it to the header first", 1)
    else:  # new, blank, or only a byte-order mark: nothing to keep but a UTF-8 BOM
        bom = codecs.BOM_UTF8 if old.startswith(codecs.BOM_UTF8) else b""
        text, codec, newline = format_entry({c: c for c in COLUMNS}), "utf-8", "\n"
        table = _read_table(str(path), text)
        old = bom + text.encode()
    if _decimal_mark(table) == ",":
        entry = {c: v.replace(".", ",") if c in _NUMBER_COLUMNS and _NUMBER.fullmatch(v.strip())
                 else v for c, v in entry.items()}
    row = format_entry(entry, table.header, table.delimiter, newline)
    try:
        new = row.encode(codec)
    except UnicodeEncodeError as exc:
        raise ValueError(f"the journal is {codec} text, which has no "
                         f"{row[exc.start:exc.end]!r} (save it as CSV UTF-8 to write any "
                         "character)") from None
    # Read it back from the bytes, as the next run will. Decoded: appending to damaged
    # UTF-16 (an odd number of bytes) would shift every character after it. Parsed: the
    # csv module ends an unclosed quote at the end of the file without an error, so the
    # new row would vanish into the field above it.
    if decode(old + new)[0] != text + row:
        raise JournalError(str(path), f"the journal would not read back with the new row: its "
                                      f"{codec} text is damaged (half a character at the "
                                      "end?); save it again from the spreadsheet first")
    after = _read_table(str(path), text + row)
    if (after.unreadable or len(after.rows) != len(table.rows) + 1
            or after.rows[-1][1] != [entry.get(c, "") for c in table.header]):
        bad = after.unreadable[0].line if after.unreadable else after.rows[-1][0]
        raise JournalError(str(path), f"the new row would not read as a row of its own: "
                                      f"fix line {bad} first (an unclosed quote?)", bad)
    line = after.rows[-1][0]
    validate(entry, athlete_id, str(path), line, today=today,  # ValueError with the reason
             decimal_comma=_decimal_comma(table), slashes=_slashes(after))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        fh.write(old + new)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return line
