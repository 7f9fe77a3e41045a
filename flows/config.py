"""gaitwatch.toml: one file says where things are, who the athletes are and what to
override. Every ``gaitwatch`` CLI option can also come from it.

Relative paths are resolved against the configuration file's own directory, so a config
file works whatever the current directory is. Problems are reported as one
:class:`ConfigError` line naming the key, never as a traceback.

The layout, every key and its default: docs/operations.md ("Configuration"). When
``published_database`` is not set, the analysts' copy is ``<database stem>-published.duckdb``
beside the working database (also when ``--db`` moves it).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingest.errors import GaitwatchError
from ingest.inbox import InboxRules
from ingest.limits import DEFAULT_LIMITS, Limits
from transforms.privacy import PrivacyZone  # one zone type: config and masking share it

DEFAULT_CONFIG_NAME = "gaitwatch.toml"
FileAction = Literal["leave", "move"]


class ConfigError(GaitwatchError):
    """The configuration (file or command-line option) is invalid; one readable line."""


@dataclass(frozen=True)
class AthleteConfig:
    athlete_id: str
    name: str
    timezone: str
    height_m: float | None = None
    max_hr_bpm: float | None = None
    privacy_zones: tuple[PrivacyZone, ...] = ()


@dataclass(frozen=True)
class ScheduleConfig:
    nightly_cron: str = "30 2 * * *"
    timezone: str = "UTC"
    inbox_poll_seconds: float = 300.0


@dataclass(frozen=True)
class Config:
    """The validated configuration. Paths are absolute."""

    base_dir: Path
    inbox: Path
    database: Path
    published_database: Path
    reports_dir: Path
    default_athlete: str
    athletes: tuple[AthleteConfig, ...] = ()
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    limits: Limits = DEFAULT_LIMITS
    strip_coordinates: bool = False
    settle_seconds: float = 5.0
    # `gaitwatch run` waits at most this long for files still inside the settle window.
    settle_wait_seconds: float = 120.0
    on_processed: FileAction = "leave"
    on_rejected: FileAction = "leave"
    processed_dir: Path = Path("processed")
    rejected_dir: Path = Path("rejected")
    schedule: ScheduleConfig = ScheduleConfig()
    workers: int = 0  # decoding processes; 0 = one per usable CPU, 1 = in the running process
    batch_size: int = 50  # files per Prefect task (>= 1 DuckDB row group: docs/performance.md)
    source: Path | None = None  # the file read, None when running on defaults
    # True when published_database was not configured: it then follows the database
    # (``<db dir>/<db stem>-published.duckdb``), also when --db moves it.
    published_follows_database: bool = False

    @property
    def rules(self) -> InboxRules:
        """What the inbox functions (ingest.inbox) need."""
        return InboxRules(self.inbox, self.default_athlete, self.settle_seconds,
                          self.processed_dir, self.rejected_dir, self.on_processed,
                          self.on_rejected)

    def athlete(self, athlete_id: str) -> AthleteConfig | None:
        return next((a for a in self.athletes if a.athlete_id == athlete_id), None)

    def with_paths(
        self,
        inbox: Path | None = None,
        database: Path | None = None,
        reports_dir: Path | None = None,
        published_database: Path | None = None,
    ) -> Config:
        """Command-line overrides (relative to the current directory, as users expect)."""
        changes: dict[str, Any] = {}
        for key, value in (
            ("inbox", inbox),
            ("database", database),
            ("reports_dir", reports_dir),
            ("published_database", published_database),
        ):
            if value is not None:
                changes[key] = Path(value).expanduser().resolve()
        if published_database is not None:
            changes["published_follows_database"] = False
        elif "database" in changes and self.published_follows_database:
            changes["published_database"] = published_beside(changes["database"])
        return replace(self, **changes) if changes else self


def published_beside(database: Path) -> Path:
    """The default analysts' copy: beside the working database, so two databases run from
    one folder never share (and overwrite) one published file."""
    return database.with_name(f"{database.stem}-published.duckdb")


_TOP_KEYS = {"inbox", "database", "published_database", "reports", "default_athlete", "athletes",
             "thresholds", "limits", "publish", "inbox_options", "schedule", "ingest"}


def load_config(path: Path | str | None = None, *, must_exist: bool = False) -> Config:
    """Read and validate a gaitwatch.toml.

    ``path=None`` looks for ``./gaitwatch.toml``; when there is none the defaults apply
    relative to the current directory. A path given explicitly (``must_exist=True``)
    must exist.
    """
    if path is None:
        candidate = Path.cwd() / DEFAULT_CONFIG_NAME
        if not candidate.is_file():
            return config_from_dict({}, Path.cwd(), source=None)
        path = candidate
        must_exist = True
    path = Path(path).expanduser()
    if not path.is_file():
        if must_exist:
            raise ConfigError(f"configuration file not found: {path}")
        return config_from_dict({}, path.parent.resolve(), source=None)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        return config_from_dict(raw, path.resolve().parent, source=path.resolve())
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def config_from_dict(raw: Mapping[str, Any], base_dir: Path, source: Path | None = None) -> Config:
    """Validate a parsed TOML document; relative paths are taken from ``base_dir``."""
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"unknown key(s): {', '.join(sorted(unknown))}")

    def path_of(key: str, default: str, table: Mapping[str, Any] = raw) -> Path:
        value = table.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"'{key}' must be a non-empty path string")
        p = Path(value).expanduser()
        return (p if p.is_absolute() else base_dir / p).resolve()

    athletes = tuple(_athlete(i, a) for i, a in enumerate(_list(raw, "athletes")))
    ids = [a.athlete_id for a in athletes]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"athlete id(s) listed twice: {', '.join(dupes)}")

    default_raw = raw.get("default_athlete", athletes[0].athlete_id if athletes else "me")
    if not isinstance(default_raw, str):
        raise ConfigError("'default_athlete' must be a string")
    default_athlete = _athlete_id(default_raw, "default_athlete")

    publish = _table(raw, "publish", {"strip_coordinates"})
    strip = publish.get("strip_coordinates", False)
    if not isinstance(strip, bool):
        raise ConfigError("'publish.strip_coordinates' must be true or false")

    opts = _table(
        raw,
        "inbox_options",
        {"settle_seconds", "settle_wait_seconds", "processed", "rejected", "processed_dir",
         "rejected_dir"},
    )
    settle = _number(opts, "settle_seconds", 5.0, "inbox_options.", minimum=0.0)
    settle_wait = _number(opts, "settle_wait_seconds", 120.0, "inbox_options.", minimum=0.0)
    on_processed = _action(opts, "processed")
    on_rejected = _action(opts, "rejected")

    sched = _table(raw, "schedule", {"nightly_cron", "timezone", "inbox_poll_seconds"})
    cron = sched.get("nightly_cron", ScheduleConfig.nightly_cron)
    if not isinstance(cron, str) or len(cron.split()) not in (5, 6):
        raise ConfigError("'schedule.nightly_cron' must be a cron string such as \"30 2 * * *\"")
    tz = sched.get("timezone", "UTC")
    _check_tz(tz, "schedule.timezone")
    poll = _number(sched, "inbox_poll_seconds", 300.0, "schedule.", minimum=1.0)

    ing = _table(raw, "ingest", {"workers", "batch_size"})
    workers = _integer(ing, "workers", 0, "ingest.", 0, 256)
    batch_size = _integer(ing, "batch_size", 50, "ingest.", 1, 10_000)

    thresholds = _table(raw, "thresholds", None)
    _check_thresholds(thresholds)
    limits_raw = _table(raw, "limits", None)
    try:
        limits = DEFAULT_LIMITS.with_overrides(dict(limits_raw))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"[limits]: {exc}") from None

    return Config(
        base_dir=base_dir,
        inbox=path_of("inbox", "inbox"),
        database=path_of("database", "gaitwatch.duckdb"),
        published_database=(
            path_of("published_database", "")
            if "published_database" in raw
            else published_beside(path_of("database", "gaitwatch.duckdb"))
        ),
        published_follows_database="published_database" not in raw,
        reports_dir=path_of("reports", "reports"),
        default_athlete=default_athlete,
        athletes=athletes,
        thresholds=dict(thresholds),
        limits=limits,
        strip_coordinates=strip,
        settle_seconds=settle,
        settle_wait_seconds=settle_wait,
        on_processed=on_processed,
        on_rejected=on_rejected,
        processed_dir=path_of("processed_dir", "processed", opts),
        rejected_dir=path_of("rejected_dir", "rejected", opts),
        schedule=ScheduleConfig(nightly_cron=cron, timezone=tz, inbox_poll_seconds=poll),
        workers=workers,
        batch_size=batch_size,
        source=source,
    )


def _athlete_id(raw: str, where: str) -> str:
    from ingest.safety import normalize_athlete_id

    try:
        return normalize_athlete_id(raw)
    except GaitwatchError as exc:
        raise ConfigError(f"'{where}': invalid athlete id {raw!r}: {exc}") from None


def _athlete(index: int, raw: Any) -> AthleteConfig:
    where = f"athletes[{index}]"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"'{where}' must be a table ([[athletes]])")
    allowed = {"id", "name", "timezone", "height_m", "max_hr_bpm", "privacy_zones"}
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigError(f"'{where}': unknown key(s): {', '.join(sorted(unknown))}")
    if not isinstance(raw.get("id"), str):
        raise ConfigError(f"'{where}.id' is required (a string)")
    athlete_id = _athlete_id(raw["id"], f"{where}.id")
    name = raw.get("name", athlete_id)
    if not isinstance(name, str):
        raise ConfigError(f"'{where}.name' must be a string")
    tz = raw.get("timezone", "UTC")
    _check_tz(tz, f"{where}.timezone")
    height = _optional_number(raw, "height_m", where, 0.5, 2.8)
    max_hr = _optional_number(raw, "max_hr_bpm", where, 100.0, 250.0)
    zones_raw = raw.get("privacy_zones", [])
    if not isinstance(zones_raw, list):
        raise ConfigError(f"'{where}.privacy_zones' must be a list of {{lat, lon, radius_m}}")
    zones = tuple(_zone(f"{where}.privacy_zones[{j}]", z) for j, z in enumerate(zones_raw))
    return AthleteConfig(athlete_id, name, tz, height, max_hr, zones)


def _zone(where: str, raw: Any) -> PrivacyZone:
    if not isinstance(raw, Mapping) or set(raw) != {"lat", "lon", "radius_m"}:
        raise ConfigError(f"'{where}' must have exactly lat, lon and radius_m")
    lat = _number(raw, "lat", None, where + ".", minimum=-90.0, maximum=90.0)
    lon = _number(raw, "lon", None, where + ".", minimum=-180.0, maximum=180.0)
    radius = _number(raw, "radius_m", None, where + ".", minimum=1.0, maximum=100_000.0)
    return PrivacyZone(lat, lon, radius)


def _list(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"'{key}' must be an array of tables ([[{key}]])")
    return value


def _table(raw: Mapping[str, Any], key: str, allowed: set[str] | None) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"'{key}' must be a table ([{key}])")
    if allowed is not None:
        unknown = set(value) - allowed
        if unknown:
            raise ConfigError(f"[{key}]: unknown key(s): {', '.join(sorted(unknown))}")
    return value


def _number(raw: Mapping[str, Any], key: str, default: float | None, prefix: str = "",
            minimum: float | None = None, maximum: float | None = None) -> float:
    value = raw.get(key, default)
    if value is None:
        raise ConfigError(f"'{prefix}{key}' is required")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"'{prefix}{key}' must be a number, got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f"'{prefix}{key}' = {value} is outside [{minimum}, {maximum}]")
    return float(value)


def _integer(
    raw: Mapping[str, Any], key: str, default: int, prefix: str, minimum: int, maximum: int
) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"'{prefix}{key}' must be an integer, got {value!r}")
    if not minimum <= value <= maximum:
        raise ConfigError(f"'{prefix}{key}' = {value} is outside [{minimum}, {maximum}]")
    return value


def _optional_number(
    raw: Mapping[str, Any], key: str, where: str, lo: float, hi: float
) -> float | None:
    if raw.get(key) is None:
        return None
    return _number(raw, key, None, where + ".", minimum=lo, maximum=hi)


def _action(opts: Mapping[str, Any], key: str) -> FileAction:
    value = opts.get(key, "leave")
    if value == "leave":
        return "leave"
    if value == "move":
        return "move"
    raise ConfigError(f"'inbox_options.{key}' must be \"leave\" or \"move\", got {value!r}")


def _check_tz(value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise ConfigError(f"'{where}' must be an IANA time zone name such as \"Europe/Zurich\"")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"'{where}': unknown time zone {value!r}") from None


def _check_thresholds(overrides: Mapping[str, Any]) -> None:
    """Let the transforms layer validate threshold overrides now, not mid-run."""
    if not overrides:
        return
    try:
        from transforms.thresholds import load_thresholds
    except ImportError:  # transforms not installed: validated when metrics run
        return
    try:
        load_thresholds(dict(overrides))
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"[thresholds]: {exc}") from None
