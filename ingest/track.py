"""Track helpers shared by the GPX and TCX readers: one place for what both formats need.

Timestamp repair, distance and speed from positions, cadence units, sport words and
inference, the vendor extension table and the session row (:func:`assemble_activity`).
:mod:`ingest.gpx` and :mod:`ingest.tcx` import from here, never from each other.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from ingest.errors import NotAnActivityError, ResourceLimitError
from ingest.limits import Limits
from ingest.schema import (
    EXTRA_SCHEMA,
    LAP_SCHEMA,
    SAMPLE_SCHEMA,
    SESSION_SCHEMA,
    ActivityMeta,
    ParsedActivity,
    conform,
    empty,
)

# Vendor extension tag (local name, lower-case) -> our column. One table, whatever the
# namespace: Garmin TrackPointExtension v1/v2 (hr, cad, atemp, v2 speed), cluetrust
# GPXDATA (hr, cadence, distance, speed), Garmin PowerExtension (PowerInWatts), TCX
# ActivityExtension (Speed, RunCadence, Watts) and bare tags (bpm, rpm, power, heartrate).
EXTENSION_FIELDS: dict[str, str] = {
    "hr": "heart_rate_bpm",
    "heartrate": "heart_rate_bpm",
    "heart_rate": "heart_rate_bpm",
    "heartratebpm": "heart_rate_bpm",
    "bpm": "heart_rate_bpm",
    "cad": "cadence",
    "cadence": "cadence",
    "rpm": "cadence",
    "runcadence": "cadence",
    "atemp": "temperature_c",
    "temp": "temperature_c",
    "temperature": "temperature_c",
    "power": "power_w",
    "powerinwatts": "power_w",
    "watts": "power_w",
    "speed": "speed_m_s",
    "distance": "distance_m",
}

# Sport words (GPX <type>, TCX Sport, track names) -> FIT sport vocabulary. Matched as
# whole words or word prefixes after lower-casing; first match wins, so more specific
# entries come first.
SPORT_WORDS: tuple[tuple[str, str], ...] = (
    ("trail_running", "running"),
    ("treadmill", "running"),
    ("running", "running"),
    ("run", "running"),
    ("jog", "running"),
    ("cycling", "cycling"),
    ("biking", "cycling"),
    ("bike", "cycling"),
    ("ride", "cycling"),
    ("mtb", "cycling"),
    ("hiking", "hiking"),
    ("hike", "hiking"),
    ("walking", "walking"),
    ("walk", "walking"),
    ("swimming", "swimming"),
    ("swim", "swimming"),
)

# Strava writes its activity type as a number in GPX <type>. Only codes we are sure of.
STRAVA_TYPE_CODES: dict[str, str] = {"1": "cycling", "4": "hiking", "9": "running", "10": "walking"}

# Per-foot vs steps/min, decided per file from the median of non-zero cadence values.
# Running per-foot cadence is ~75-100 strides/min, steps/min ~150-200 (FIT profile;
# Garmin "cad" is strides/min); walking ~50-65 vs ~100-130. A median under the limit
# means per-foot values, which are doubled.
PER_FOOT_MEDIAN_LIMIT: dict[str, float] = {"running": 120.0, "walking": 80.0, "hiking": 80.0}

# Sport inference from moving speed when the file does not say (m/s). Typical speeds:
# walking < 1.9 (6.8 km/h), running 1.9-4.7 (17 km/h), cycling above; between 4.7 and
# 6.5 only a steps/min cadence (>= 130) says running. A p90 above 8 m/s is not on foot.
INFER_WALK_MAX_M_S = 1.9
INFER_RUN_MAX_M_S = 4.7
INFER_FAST_RUN_MAX_M_S = 6.5
INFER_FOOT_P90_MAX_M_S = 8.0
INFER_RUN_SPM_MIN = 130.0
MOVING_MIN_M_S = 0.5  # below this a sample counts as standing still

# Speeds computed from GPS positions above this are glitches, not human-powered motion.
MAX_PLAUSIBLE_SPEED_M_S = 50.0
SPEED_WINDOW = 2  # samples either side for the centred difference that smooths GPS speed

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)

# Words in a GPX <type> / TCX sport that name a FIT sub_sport
SUB_SPORT_WORDS: tuple[tuple[str, str], ...] = (
    ("treadmill", "treadmill"),
    ("trail", "trail"),
    ("track", "track"),
    ("indoor", "indoor_cycling"),
    ("virtual", "virtual_activity"),
    ("mountain", "mountain"),
    ("gravel", "gravel_cycling"),
)



def parse_float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        v = float(text.strip())
    except ValueError:
        return None
    return v if math.isfinite(v) else None



# --------------------------------------------------------------------------- shared track helpers


@dataclass
class TrackData:
    """Raw per-point columns of one recorded track, in file order."""

    ts: list[datetime | None] = field(default_factory=list)
    lat: list[float | None] = field(default_factory=list)
    lon: list[float | None] = field(default_factory=list)
    altitude_m: list[float | None] = field(default_factory=list)
    distance_m: list[float | None] = field(default_factory=list)
    speed_m_s: list[float | None] = field(default_factory=list)
    heart_rate_bpm: list[float | None] = field(default_factory=list)
    cadence: list[float | None] = field(default_factory=list)
    power_w: list[float | None] = field(default_factory=list)
    temperature_c: list[float | None] = field(default_factory=list)
    segment: list[int] = field(default_factory=list)
    _seg: int = -1

    def new_segment(self) -> None:
        self._seg += 1

    def add(
        self,
        ts: datetime | None,
        lat: float | None,
        lon: float | None,
        altitude_m: float | None,
        values: dict[str, float | None],
    ) -> None:
        if self._seg < 0:
            self._seg = 0
        self.ts.append(ts)
        self.lat.append(_finite(lat))
        self.lon.append(_finite(lon))
        self.altitude_m.append(_finite(altitude_m))
        for column in ("distance_m", "speed_m_s", "heart_rate_bpm", "cadence", "power_w", "temperature_c"):
            getattr(self, column).append(_finite(values.get(column)))
        self.segment.append(self._seg)

    def __len__(self) -> int:
        return len(self.ts)


def _finite(v: float | None) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def to_utc(ts: datetime) -> datetime:
    """GPX/TCX times are UTC by specification; a time without a zone is taken as UTC."""
    if ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def _repair_times(track: TrackData, source: str) -> tuple[list[int], list[str]]:
    """Indices of the points kept: timestamped, strictly increasing in file order.

    Points without a time, going backwards or repeating the previous time are dropped
    (GPS units and apps do write them; a duplicate time would collide with the sample
    key downstream) and each kind is counted in a warning.
    """
    keep: list[int] = []
    warnings: list[str] = []
    no_time = backwards = duplicate = 0
    last: datetime | None = None
    for i, raw in enumerate(track.ts):
        if raw is None:
            no_time += 1
            continue
        try:
            ts = to_utc(raw)
        except (OverflowError, ValueError):
            no_time += 1
            continue
        if last is not None and ts <= last:
            if ts == last:
                duplicate += 1
            else:
                backwards += 1
            continue
        track.ts[i] = ts
        keep.append(i)
        last = ts
    if not keep:
        raise NotAnActivityError(source, "track points have no timestamps: a drawn route, not a recording")
    if no_time:
        warnings.append(f"{no_time} track points without a timestamp dropped")
    if backwards:
        warnings.append(f"{backwards} track points with a backward timestamp dropped (time went backwards)")
    if duplicate:
        warnings.append(f"{duplicate} track points repeating the previous timestamp dropped")
    return keep, warnings


def _pick(values: Sequence[float | None], keep: Sequence[int]) -> list[float | None]:
    return [values[i] for i in keep]


def haversine_m(lat1: pl.Expr, lon1: pl.Expr, lat2: pl.Expr, lon2: pl.Expr) -> pl.Expr:
    """Great-circle distance between two WGS84 points, metres (haversine formula on a
    sphere of the mean Earth radius; error under 0.5 % versus the ellipsoid)."""
    p1, p2 = lat1.radians(), lat2.radians()
    dphi = p2 - p1
    dlmb = (lon2 - lon1).radians()
    a = (dphi / 2).sin() ** 2 + p1.cos() * p2.cos() * (dlmb / 2).sin() ** 2
    return 2 * EARTH_RADIUS_M * a.clip(0.0, 1.0).sqrt().arcsin()


def _mostly_present(values: Sequence[float | None], share: float = 0.5) -> bool:
    return bool(values) and sum(v is not None for v in values) >= share * len(values)


def decide_cadence(
    values: Sequence[float | None], sport: str, fmt: str, always_per_foot: bool = False
) -> tuple[float, str, str | None]:
    """(factor, cadence_source, warning) for turning a file's cadence into ``cadence_spm``.

    On foot, a median of non-zero values under :data:`PER_FOOT_MEDIAN_LIMIT` means the
    file holds strides/min for one foot (Garmin ``cad``, TCX ``RunCadence``): x2. Other
    sports keep the device's rpm as written.
    """
    nonzero = [v for v in values if v is not None and v > 0]
    if not nonzero:
        return 1.0, "none", None
    limit = PER_FOOT_MEDIAN_LIMIT.get(sport)
    if limit is None:
        return 1.0, f"{fmt}_spm", None
    if always_per_foot:
        return 2.0, f"{fmt}_per_foot", None
    median = statistics.median(nonzero)
    if median < limit:
        return 2.0, f"{fmt}_per_foot", (
            f"cadence read as per-foot strides/min (median {median:.0f} < {limit:.0f} for {sport}) and doubled"
        )
    return 1.0, f"{fmt}_spm", None


def sport_from_words(text: str | None) -> str | None:
    """FIT sport for a type/sport/name text, or None when it names no sport we know."""
    if not text:
        return None
    t = text.strip()[:200].lower()  # a sport is said in a few words; bound the work on hostile text
    if t in STRAVA_TYPE_CODES:
        return STRAVA_TYPE_CODES[t]
    words = re.findall(r"[a-z_]+", t)
    for key, sport in SPORT_WORDS:
        for w in words:
            if w == key or (len(key) >= 4 and w.startswith(key)) or (key in w.split("_")):
                return sport
    return None


def sub_sport_from_words(text: str | None) -> str | None:
    """FIT sub_sport named in a type text (``trail_running`` -> ``trail``), else None."""
    if not text:
        return None
    words = re.findall(r"[a-z]+", text.strip()[:200].lower())
    for key, sub in SUB_SPORT_WORDS:
        if key in words:
            return sub
    return None


def infer_sport(speeds: Sequence[float | None], cadence: Sequence[float | None]) -> str | None:
    """Guess running/cycling/walking from moving speed (and cadence in the overlap).

    Returns None when there is too little movement to tell.
    """
    moving = sorted(v for v in speeds if v is not None and v >= MOVING_MIN_M_S)
    if len(moving) < 10:
        return None
    median = moving[len(moving) // 2]
    p90 = moving[min(len(moving) - 1, int(len(moving) * 0.9))]
    cad = [c for c in cadence if c is not None and c > 0]
    cad_median = statistics.median(cad) if cad else None
    if median >= INFER_FAST_RUN_MAX_M_S or p90 > INFER_FOOT_P90_MAX_M_S:
        return "cycling"
    if median >= INFER_RUN_MAX_M_S:
        return "running" if cad_median is not None and cad_median >= INFER_RUN_SPM_MIN else "cycling"
    if median >= INFER_WALK_MAX_M_S:
        return "running"
    return "walking"


def assemble_activity(
    source_file: str,
    sha256: str,
    *,
    fmt: str,
    track: TrackData,
    sport_hint: str | None,
    name: str | None,
    device: str | None,
    limits: Limits,
    sport_is_authoritative: bool = False,
    cadence_always_per_foot: bool = False,
    laps: pl.DataFrame | None = None,
    session_overrides: dict[str, object] | None = None,
    extra_warnings: Sequence[str] = (),
) -> ParsedActivity:
    """Turn raw track columns into one :class:`ParsedActivity` (one session, index 0)."""
    if len(track) > limits.max_records:
        raise ResourceLimitError(source_file, f"more than {limits.max_records} track points (max_records)")
    keep, warnings = _repair_times(track, source_file)
    warnings = list(extra_warnings) + warnings
    ts: list[datetime] = [t for i in keep if (t := track.ts[i]) is not None]
    seg = [track.segment[i] for i in keep]

    df = pl.DataFrame(
        {
            "ts": ts,
            "seg": seg,
            "lat_deg": _pick(track.lat, keep),
            "lon_deg": _pick(track.lon, keep),
            "altitude_m": _pick(track.altitude_m, keep),
            "distance_ext": _pick(track.distance_m, keep),
            "speed_ext": _pick(track.speed_m_s, keep),
            "heart_rate_bpm": _pick(track.heart_rate_bpm, keep),
            "cadence_raw": _pick(track.cadence, keep),
            "power_w": _pick(track.power_w, keep),
            "temperature_c": _pick(track.temperature_c, keep),
        },
        schema={
            "ts": pl.Datetime("us", "UTC"),
            "seg": pl.Int32(),
            "lat_deg": pl.Float64(),
            "lon_deg": pl.Float64(),
            "altitude_m": pl.Float64(),
            "distance_ext": pl.Float64(),
            "speed_ext": pl.Float64(),
            "heart_rate_bpm": pl.Float64(),
            "cadence_raw": pl.Float64(),
            "power_w": pl.Float64(),
            "temperature_c": pl.Float64(),
        },
    )
    # positions outside WGS84 ranges are garbage, not places
    bad_pos = (pl.col("lat_deg").abs() > 90) | (pl.col("lon_deg").abs() > 180)
    df = df.with_columns(
        pl.when(bad_pos).then(None).otherwise(pl.col(c)).alias(c) for c in ("lat_deg", "lon_deg")
    )

    # distance: the file's own cumulative distance when most points carry one, else
    # haversine summed within segments (a gap between segments is a pause, not a path)
    use_file_distance = _mostly_present(df["distance_ext"].to_list())
    if use_file_distance:
        back = int(df.select((pl.col("distance_ext").drop_nulls().diff() < -1.0).sum()).item() or 0)
        if back:
            use_file_distance = False
            warnings.append(f"file distance goes backwards {back} times; distance recomputed from positions")
    if use_file_distance:
        # small backward jitter (< 1 m) is rounding: keep the running maximum
        df = df.with_columns(pl.col("distance_ext").cum_max().alias("distance_m"))
    else:
        step = haversine_m(
            pl.col("lat_deg").shift(1).over("seg"),
            pl.col("lon_deg").shift(1).over("seg"),
            pl.col("lat_deg"),
            pl.col("lon_deg"),
        ).fill_null(0.0).fill_nan(0.0)
        has_pos = df["lat_deg"].is_not_null().any()
        df = df.with_columns(
            (step.cum_sum() if has_pos else pl.lit(None, dtype=pl.Float64())).alias("distance_m")
        )

    # speed: the device's when present; else a centred difference over +-SPEED_WINDOW
    # samples within the segment, which smooths GPS jitter without lagging
    k = SPEED_WINDOW
    secs = pl.col("ts").dt.epoch("us").cast(pl.Float64()) / 1e6
    d_hi = pl.coalesce([pl.col("distance_m").shift(-j).over("seg") for j in range(k, 0, -1)] + [pl.col("distance_m")])
    d_lo = pl.coalesce([pl.col("distance_m").shift(j).over("seg") for j in range(k, 0, -1)] + [pl.col("distance_m")])
    t_hi = pl.coalesce([secs.shift(-j).over("seg") for j in range(k, 0, -1)] + [secs])
    t_lo = pl.coalesce([secs.shift(j).over("seg") for j in range(k, 0, -1)] + [secs])
    computed = pl.when((t_hi - t_lo) > 0).then((d_hi - d_lo) / (t_hi - t_lo)).otherwise(None)
    df = df.with_columns(computed.alias("speed_calc"))
    glitches = int(df.select((pl.col("speed_calc") > MAX_PLAUSIBLE_SPEED_M_S).sum()).item() or 0)
    if glitches:
        warnings.append(f"{glitches} GPS speeds above {MAX_PLAUSIBLE_SPEED_M_S:g} m/s set to null")
    df = df.with_columns(
        pl.when((pl.col("speed_calc") < 0) | (pl.col("speed_calc") > MAX_PLAUSIBLE_SPEED_M_S))
        .then(None)
        .otherwise(pl.col("speed_calc"))
        .alias("speed_calc")
    )
    if _mostly_present(df["speed_ext"].to_list()):
        df = df.with_columns(pl.col("speed_ext").alias("speed_m_s"))
    else:
        df = df.with_columns(pl.col("speed_calc").alias("speed_m_s"))

    # sport: what the file says, else inferred (and said so)
    sport = sport_from_words(sport_hint)
    if sport is None and name and not sport_is_authoritative:
        sport = sport_from_words(name)
        if sport is not None:
            warnings.append(f"sport '{sport}' inferred from the activity name (the file states no sport)")
    if sport is None:
        guess = infer_sport(df["speed_m_s"].to_list(), df["cadence_raw"].to_list())
        if guess is not None:
            sport = guess
            warnings.append(f"sport '{sport}' inferred from speed and cadence (the file states no sport)")
        else:
            sport = "generic"
            if sport_hint:
                warnings.append(f"unknown sport type {sport_hint[:40]!r}; recorded as 'generic'")

    sub_sport = sub_sport_from_words(sport_hint) if sport_from_words(sport_hint) == sport else None
    factor, cadence_source, cad_warning = decide_cadence(
        df["cadence_raw"].to_list(), sport, fmt, always_per_foot=cadence_always_per_foot
    )
    if cad_warning:
        warnings.append(cad_warning)

    # zeros are what devices write for "no sensor" / paused: nulls, not zeros (schema)
    samples = df.with_columns(
        pl.lit(0, dtype=pl.Int32()).alias("session_index"),
        pl.lit(sport).alias("sport"),
        pl.when(pl.col("heart_rate_bpm") > 0).then(pl.col("heart_rate_bpm")).otherwise(None).alias("heart_rate_bpm"),
        pl.when(pl.col("cadence_raw") > 0).then(pl.col("cadence_raw") * factor).otherwise(None).alias("cadence_spm"),
    )
    samples = conform(samples, SAMPLE_SCHEMA)

    started = ts[0]
    ended = ts[-1]
    # timer time: sum of steps inside segments (a segment break is a pause)
    timer = float(
        df.select(
            (pl.col("ts").diff().over("seg").dt.total_microseconds().cast(pl.Float64()) / 1e6).sum()
        ).item()
        or 0.0
    )
    dist_series = samples["distance_m"].drop_nulls()
    session: dict[str, object] = {
        "session_index": 0,
        "sport": sport,
        "sub_sport": sub_sport,
        "started_at": started,
        "total_elapsed_s": (ended - started).total_seconds(),
        "total_timer_s": timer,
        "total_distance_m": float(dist_series.max()) if len(dist_series) else None,  # type: ignore[arg-type]
    }
    if session_overrides:
        session.update({k2: v for k2, v in session_overrides.items() if v is not None})
    sessions = conform(pl.DataFrame([session], schema={k2: SESSION_SCHEMA[k2] for k2 in session}), SESSION_SCHEMA)

    meta = ActivityMeta(
        source_file=source_file,
        sha256=sha256,
        format=fmt,
        started_at=started,
        sport=sport,
        sub_sport=sub_sport,
        device=device,
        name=name,
        cadence_source=cadence_source,
        warnings=warnings,
    )
    lap_frame = conform(laps, LAP_SCHEMA) if laps is not None and laps.height else empty(LAP_SCHEMA)
    if lap_frame.height:
        lap_frame = lap_frame.with_columns(
            pl.col("sport").fill_null(sport), pl.lit(0, dtype=pl.Int32()).alias("session_index")
        )
    return ParsedActivity(meta=meta, samples=samples, sessions=sessions, laps=lap_frame, extras=empty(EXTRA_SCHEMA))
