"""Activity lists of whole exports: Strava's ``activities.csv`` and Garmin Connect's
``DI_CONNECT/DI-Connect-Fitness/*summarizedActivities.json``.

Pure parsing (no DuckDB, no file system): bytes in, typed rows out, one
:class:`ListedActivity` per listed activity (with or without a file) and one
:class:`RowProblem` (line + reason in words) per row that cannot be used. The warehouse
(:mod:`warehouse.summaries`) links rows to the activities loaded from their files and
stores the others as summary-only activities. Real layouts and quirks: docs/exports.md.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ingest.errors import IngestError
from ingest.limits import DEFAULT_LIMITS, Limits

STRAVA_CSV = "strava_csv"
GARMIN_JSON = "garmin_json"
JOURNAL = "journal"


class ExportListError(IngestError):
    """An export's activity list (or a journal) cannot be read at all: not UTF-8, no
    header, required column missing, not the JSON layout Garmin writes."""


@dataclass(frozen=True)
class RowProblem:
    """One row that was not used, with the line it starts on (1 = CSV header)."""

    line: int
    reason: str


@dataclass(frozen=True)
class ListedActivity:
    """One activity as an export lists it. Units converted here, once."""

    source: str  # strava_csv | garmin_json
    external_id: str
    line: int  # CSV line where the row starts (1 = header) / 1-based JSON position
    started_at: datetime  # UTC
    sport: str  # FIT vocabulary
    sub_sport: str | None
    elapsed_s: float | None
    moving_s: float | None
    distance_m: float | None
    avg_heart_rate_bpm: float | None
    name: str | None
    description: str | None
    file_ref: str | None  # the file the list names, relative to the list's export root
    manual: bool  # the list says it was entered by hand (or names no file)


@dataclass
class ParsedList:
    source: str
    rows: list[ListedActivity]
    problems: list[RowProblem]


def list_kind(name: str) -> str | None:
    """Which list a dropped file is, by its name (``STRAVA_CSV``, ``GARMIN_JSON``,
    ``JOURNAL``), or None for anything else."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if base == "activities.csv":
        return STRAVA_CSV
    if base.endswith("summarizedactivities.json"):
        return GARMIN_JSON
    if base == "journal.csv":
        return JOURNAL
    return None


# ------------------------------------------------------------------ sport vocabulary

# Strava "Activity Type" -> (FIT sport, FIT sub_sport), the project's vocabulary.
STRAVA_SPORTS: dict[str, tuple[str, str | None]] = {
    "run": ("running", None),
    "trail run": ("running", "trail"),
    "virtual run": ("running", "virtual_activity"),
    "walk": ("walking", None),
    "hike": ("hiking", None),
    "ride": ("cycling", None),
    "virtual ride": ("cycling", "virtual_activity"),
    "e-bike ride": ("cycling", "e_bike_fitness"),
    "mountain bike ride": ("cycling", "mountain"),
    "e-mountain bike ride": ("cycling", "e_bike_mountain"),
    "gravel ride": ("cycling", "gravel_cycling"),
    "velomobile": ("cycling", None),
    "handcycle": ("cycling", "hand_cycling"),
    "swim": ("swimming", None),
    "weight training": ("training", "strength_training"),
    "crossfit": ("training", "strength_training"),
    "workout": ("training", None),
    "hiit": ("training", "cardio_training"),
    "yoga": ("training", "yoga"),
    "pilates": ("training", "pilates"),
    "elliptical": ("fitness_equipment", "elliptical"),
    "stair-stepper": ("fitness_equipment", "stair_climbing"),
    "stairstepper": ("fitness_equipment", "stair_climbing"),
    "rowing": ("rowing", None),
    "virtual row": ("rowing", "indoor_rowing"),
    "alpine ski": ("alpine_skiing", None),
    "backcountry ski": ("alpine_skiing", "backcountry"),
    "nordic ski": ("cross_country_skiing", None),
    "snowboard": ("snowboarding", None),
    "snowshoe": ("snowshoeing", None),
    "ice skate": ("ice_skating", None),
    "inline skate": ("inline_skating", None),
    "kayaking": ("kayaking", None),
    "canoeing": ("paddling", None),
    "stand up paddling": ("stand_up_paddleboarding", None),
    "rock climbing": ("rock_climbing", None),
    "surfing": ("surfing", None),
    "kitesurf": ("kitesurfing", None),
    "windsurf": ("windsurfing", None),
    "golf": ("golf", None),
    "soccer": ("soccer", None),
    "tennis": ("tennis", None),
    "wheelchair": ("wheelchair_push_run", None),
}

# Garmin Connect activityType typeKey -> (FIT sport, FIT sub_sport).
GARMIN_SPORTS: dict[str, tuple[str, str | None]] = {
    "running": ("running", None),
    "street_running": ("running", "street"),
    "track_running": ("running", "track"),
    "trail_running": ("running", "trail"),
    "treadmill_running": ("running", "treadmill"),
    "indoor_running": ("running", "indoor_running"),
    "virtual_run": ("running", "virtual_activity"),
    "walking": ("walking", None),
    "casual_walking": ("walking", "casual_walking"),
    "speed_walking": ("walking", "speed_walking"),
    "hiking": ("hiking", None),
    "cycling": ("cycling", None),
    "road_biking": ("cycling", "road"),
    "mountain_biking": ("cycling", "mountain"),
    "gravel_cycling": ("cycling", "gravel_cycling"),
    "indoor_cycling": ("cycling", "indoor_cycling"),
    "virtual_ride": ("cycling", "virtual_activity"),
    "e_bike_fitness": ("cycling", "e_bike_fitness"),
    "lap_swimming": ("swimming", "lap_swimming"),
    "open_water_swimming": ("swimming", "open_water"),
    "swimming": ("swimming", None),
    "strength_training": ("training", "strength_training"),
    "indoor_cardio": ("training", "cardio_training"),
    "hiit": ("training", "cardio_training"),
    "yoga": ("training", "yoga"),
    "pilates": ("training", "pilates"),
    "breathwork": ("training", "breathing"),
    "elliptical": ("fitness_equipment", "elliptical"),
    "stair_climbing": ("fitness_equipment", "stair_climbing"),
    "indoor_rowing": ("rowing", "indoor_rowing"),
    "rowing": ("rowing", None),
    "resort_skiing_snowboarding_ws": ("alpine_skiing", "resort"),
    "resort_skiing": ("alpine_skiing", "resort"),
    "backcountry_skiing": ("alpine_skiing", "backcountry"),
    "cross_country_skiing_ws": ("cross_country_skiing", None),
    "skate_skiing_ws": ("cross_country_skiing", "skate_skiing"),
    "multi_sport": ("multisport", None),
    "other": ("generic", None),
}


def strava_sport(activity_type: str) -> tuple[str, str | None]:
    """FIT (sport, sub_sport) for a Strava "Activity Type"; unknown types are ``generic``."""
    return STRAVA_SPORTS.get(" ".join(activity_type.lower().split()), ("generic", None))


def garmin_sport(type_key: str) -> tuple[str, str | None]:
    """FIT (sport, sub_sport) for a Garmin Connect activity type key."""
    key = type_key.strip().lower()
    if key in GARMIN_SPORTS:
        return GARMIN_SPORTS[key]
    for suffix, sport in (("_running", "running"), ("_cycling", "cycling"),
                          ("_biking", "cycling"), ("_swimming", "swimming")):
        if key.endswith(suffix):  # e.g. obstacle_running, bmx_biking: keep the family
            return sport, None
    return "generic", None


# ------------------------------------------------------------------ Strava activities.csv

# "Activity Date" is UTC in the account's locale (FACTS.md: `Apr 16, 2021, 10:58:25 PM`
# in one export, `16 Apr 2014, 17:34:54` in another). Month names are English in every
# export seen; other formats are tried in order.
STRAVA_DATE_FORMATS = (
    "%b %d, %Y, %I:%M:%S %p",
    "%b %d, %Y, %H:%M:%S",
    "%d %b %Y, %H:%M:%S",
    "%d %b %Y, %I:%M:%S %p",
    "%B %d, %Y, %I:%M:%S %p",
    "%d %B %Y, %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S",
    "%d.%m.%Y, %H:%M:%S",
    "%d/%m/%Y, %H:%M:%S",
    "%m/%d/%Y, %I:%M:%S %p",
)
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


def parse_strava_date(text: str) -> datetime:
    """A Strava "Activity Date" (UTC) -> aware datetime; ValueError naming the text."""
    clean = _SPACES.sub(" ", text).strip()
    clean = re.sub(r"\bSept\b", "Sep", clean)  # en-GB abbreviation Python does not know
    clean = re.sub(r"\b([ap])\.?m\.?$", lambda m: m.group(1).upper() + "M", clean,
                   flags=re.IGNORECASE)
    for fmt in STRAVA_DATE_FORMATS:
        try:
            return datetime.strptime(clean, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"unrecognised date {text!r}")


def check_start(started: datetime, now: datetime, limits: Limits = DEFAULT_LIMITS) -> datetime:
    """``started`` (UTC) when a plausible start, else ValueError in words: the activity
    loader's bounds (:class:`ingest.limits.Limits`). A list row dated 1970 (a missing
    timestamp read as 0) or years ahead would give the athlete decades of empty weeks and
    a "return after a break" flag on real ones, as an unset watch clock did."""
    broken = limits.start_bound_broken(started, now)
    if broken == "earliest_start_year":
        raise ValueError(f"start {started:%Y-%m-%d %H:%M} UTC is before the year "
                         f"{limits.earliest_start_year} (earliest_start_year); row not used")
    if broken == "max_start_ahead_h":
        raise ValueError(f"start {started:%Y-%m-%d %H:%M} UTC is more than "
                         f"{limits.max_start_ahead_h:g} h after loading (max_start_ahead_h); "
                         "row not used")
    return started


def _decode_text(source: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExportListError(source, f"not UTF-8 text (byte {exc.start})") from None


def _columns(header: Sequence[str]) -> dict[str, list[int]]:
    """Header name (lower-case, trimmed) -> every position it appears at."""
    cols: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        cols.setdefault(" ".join(name.strip().lower().split()), []).append(i)
    return cols


def _number(text: str) -> float | None:
    t = text.strip().replace(",", "")
    if not t:
        return None
    return float(t)


def csv_rows(reader: Any, problems: list[RowProblem]) -> Iterator[tuple[int, list[str]]]:
    """The non-blank rows of a ``csv.reader`` with the line each starts on (a quoted
    field may span lines). An unreadable row is recorded in ``problems`` and ends the
    file: the csv module cannot resynchronise after a broken quote."""
    line = reader.line_num + 1  # where the next record starts
    while True:
        start = line
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.append(RowProblem(start, f"unreadable CSV row: {exc}"))
            return
        line = reader.line_num + 1
        if any(c.strip() for c in row):
            yield start, row


def parse_strava_csv(source: str, data: bytes) -> ParsedList:
    """Every row of a Strava ``activities.csv``.

    Columns are found by header name, never by position: the layout differs between
    export dates. Quirks handled: two ``Distance`` columns (the first in the account's
    display unit, km for metric accounts; the later one, when present, in metres: it
    wins), two ``Elapsed Time`` columns (seconds, first used), quoted multi-line
    descriptions. Raises :class:`ExportListError` when the file is not such a list.
    """
    text = _decode_text(source, data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ExportListError(source, "empty file: no CSV header") from None
    except csv.Error as exc:
        raise ExportListError(source, f"unreadable CSV header: {exc}") from None
    cols = _columns(header)
    need = ("activity id", "activity date", "activity type")
    missing = [c for c in need if c not in cols]
    if missing:
        raise ExportListError(
            source, "not a Strava activities.csv: no column " + ", ".join(repr(c) for c in missing), 1
        )

    def first(row: list[str], name: str) -> str:
        for i in cols.get(name, ()):
            if i < len(row) and row[i].strip():
                return row[i]
        return ""

    rows: list[ListedActivity] = []
    problems: list[RowProblem] = []
    seen: set[str] = set()
    now = datetime.now(UTC)
    distance_cols = cols.get("distance", [])
    for start, row in csv_rows(reader, problems):
        try:
            ext_id = first(row, "activity id").strip()
            if not ext_id:
                raise ValueError("no Activity ID")
            if ext_id in seen:
                raise ValueError(f"Activity ID {ext_id} listed twice; first row kept")
            started = check_start(parse_strava_date(first(row, "activity date")), now)
            sport, sub = strava_sport(first(row, "activity type"))
            elapsed = _number(first(row, "elapsed time"))
            moving = _number(first(row, "moving time"))
            distance: float | None = None
            if len(distance_cols) > 1:
                # the later "Distance" is metres (observed: 3519.4 next to 3.52 km)
                for i in reversed(distance_cols[1:]):
                    if i < len(row) and row[i].strip():
                        distance = _number(row[i])
                        break
            if distance is None and distance_cols and distance_cols[0] < len(row):
                km = _number(row[distance_cols[0]])
                distance = None if km is None else km * 1000.0
            hr = _number(first(row, "average heart rate"))
        except ValueError as exc:
            problems.append(RowProblem(start, str(exc)))
            continue
        seen.add(ext_id)
        filename = first(row, "filename").strip() or None
        trainer = first(row, "trainer").strip().lower() in ("true", "1")
        if trainer and sport == "running" and sub is None:
            sub = "treadmill"
        if elapsed is not None and moving is not None and moving > elapsed:
            elapsed = moving  # manual entries can carry moving > elapsed
        rows.append(ListedActivity(
            source=STRAVA_CSV, external_id=ext_id, line=start, started_at=started,
            sport=sport, sub_sport=sub, elapsed_s=elapsed, moving_s=moving,
            distance_m=distance, avg_heart_rate_bpm=hr,
            name=first(row, "activity name").strip() or None,
            description=first(row, "activity description").strip() or None,
            file_ref=posixpath.normpath(filename.replace("\\", "/")) if filename else None,
            manual=filename is None,
        ))
    return ParsedList(STRAVA_CSV, rows, problems)


# ------------------------------------------------------------------ Garmin summarizedActivities.json


def _garmin_records(source: str, payload: Any) -> list[Any]:
    """The export wraps the list: ``[{"summarizedActivitiesExport": [...]}]``."""
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        raise ExportListError(source, "not a Garmin summarizedActivities list (JSON is not a list)")
    out: list[Any] = []
    for chunk in payload:
        if isinstance(chunk, dict) and "summarizedActivitiesExport" in chunk:
            inner = chunk["summarizedActivitiesExport"]
            if not isinstance(inner, list):
                raise ExportListError(source, "summarizedActivitiesExport is not a list")
            out.extend(inner)
        elif isinstance(chunk, dict) and "activityId" in chunk:
            out.append(chunk)
        else:
            raise ExportListError(source, "not a Garmin summarizedActivities list "
                                          "(no summarizedActivitiesExport)")
    return out


def _ms(value: Any) -> float | None:
    return None if value is None else float(value) / 1000.0


def parse_garmin_json(source: str, data: bytes) -> ParsedList:
    """Every activity of a Garmin Connect ``*summarizedActivities.json``.

    Units of the export: times in ms since the epoch (``beginTimestamp`` / ``startTimeGmt``
    UTC), durations in ms, distance in centimetres. Multisport parents are skipped (their
    legs are listed on their own, so counting both would count the day twice).
    """
    text = _decode_text(source, data)
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportListError(source, f"malformed JSON: {exc.msg}", exc.lineno) from None
    records = _garmin_records(source, payload)
    rows: list[ListedActivity] = []
    problems: list[RowProblem] = []
    seen: set[str] = set()
    now = datetime.now(UTC)
    for pos, rec in enumerate(records, start=1):
        try:
            if not isinstance(rec, dict):
                raise ValueError("entry is not an object")
            if rec.get("parent") is True or rec.get("isMultiSportParent") is True:
                continue
            ext = rec.get("activityId")
            if ext is None:
                raise ValueError("no activityId")
            ext_id = str(int(ext))
            if ext_id in seen:
                raise ValueError(f"activityId {ext_id} listed twice; first entry kept")
            begin = rec.get("beginTimestamp", rec.get("startTimeGmt"))
            if not isinstance(begin, int | float):
                raise ValueError("no beginTimestamp (ms since 1970, UTC)")
            started = check_start(
                datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=float(begin)), now)
            type_key = rec.get("activityType")
            if isinstance(type_key, dict):  # newer layouts nest it: {"typeKey": ...}
                type_key = type_key.get("typeKey")
            sport, sub = garmin_sport(str(type_key or "other"))
            elapsed = _ms(rec.get("elapsedDuration", rec.get("duration")))
            moving = _ms(rec.get("movingDuration", rec.get("duration")))
            if elapsed is not None and moving is not None and moving > elapsed:
                elapsed = moving
            dist_cm = rec.get("distance")
            hr = rec.get("avgHr")
        except (TypeError, ValueError, OverflowError) as exc:
            problems.append(RowProblem(pos, str(exc)))
            continue
        seen.add(ext_id)
        name = rec.get("name")
        desc = rec.get("description")
        rows.append(ListedActivity(
            source=GARMIN_JSON, external_id=ext_id, line=pos, started_at=started,
            sport=sport, sub_sport=sub, elapsed_s=elapsed, moving_s=moving,
            distance_m=None if dist_cm is None else float(dist_cm) / 100.0,
            avg_heart_rate_bpm=None if hr is None else float(hr),
            name=str(name).strip() or None if name is not None else None,
            description=str(desc).strip() or None if desc is not None else None,
            file_ref=None,  # the uploaded files carry no link back: matched by start time
            manual=bool(rec.get("manualActivity", False)),
        ))
    return ParsedList(GARMIN_JSON, rows, problems)


def parse_list(source: str, data: bytes) -> ParsedList:
    """Parse an export list by its kind (:func:`list_kind` of ``source``)."""
    kind = list_kind(source)
    if kind == STRAVA_CSV:
        return parse_strava_csv(source, data)
    if kind == GARMIN_JSON:
        return parse_garmin_json(source, data)
    raise ExportListError(source, "not an export activity list (activities.csv or "
                                  "*summarizedActivities.json)")


def read_zip_lists(path: Path, archive_name: str, max_bytes: int) -> dict[str, bytes]:
    """The export lists directly inside a zip as users download it (Strava
    ``export_<id>.zip``: ``activities.csv``; Garmin: ``DI_CONNECT/DI-Connect-Fitness/
    *summarizedActivities.json``): input name (``archive_name/member``, as
    :mod:`ingest.archive` names members) -> bytes.

    Only read, never extracted. A member that cannot be read here (encrypted, over
    ``max_bytes``, damaged) is left out: the reader's own result for it stays in the log.
    """
    out: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir() or list_kind(info.filename) not in (STRAVA_CSV, GARMIN_JSON):
                    continue
                if info.flag_bits & 0x1 or info.file_size > max_bytes:
                    continue
                with zf.open(info) as fh:
                    data = fh.read(max_bytes + 1)  # the declared size may lie
                if len(data) <= max_bytes:
                    out[f"{archive_name}/{info.filename}"] = data
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
        return {}
    return out
