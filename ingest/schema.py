"""The one canonical schema every reader (FIT, GPX, TCX) returns.

Units are converted once, in the readers, and every column name carries its unit.
Timestamps are UTC (``Datetime("us", "UTC")``). A value the device did not measure is
null, never 0: FIT writes zeros during pauses and when no sensor is attached.

Grain:
- ``SAMPLE_SCHEMA``: one row per recorded sample (FIT ``record`` message, GPX/TCX
  trackpoint), attributed to the session (sport) it falls in.
- ``SESSION_SCHEMA``: one row per session as the device summarised it (a GPX/TCX file
  gets one session whose device averages are null unless the file carries them).
- ``LAP_SCHEMA``: one row per lap as the device summarised it.
- ``EXTRA_SCHEMA``: developer fields (Stryd, RunScribe, Moxy, CORE...) in long form,
  one row per sample timestamp per field, kept even when unknown to us.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

UTC_TS = pl.Datetime("us", "UTC")

SAMPLE_SCHEMA: dict[str, pl.DataType] = {
    "ts": UTC_TS,  # sample time, UTC
    "session_index": pl.Int32(),  # 0-based index of the session the sample belongs to
    "sport": pl.String(),  # that session's sport, lower-case FIT vocabulary ("running", "cycling", ...)
    "lat_deg": pl.Float64(),  # WGS84 latitude, degrees
    "lon_deg": pl.Float64(),  # WGS84 longitude, degrees
    "altitude_m": pl.Float64(),  # metres above sea level (FIT enhanced_altitude preferred)
    "distance_m": pl.Float64(),  # cumulative distance from start, metres
    "speed_m_s": pl.Float64(),  # metres per second (FIT enhanced_speed preferred)
    "heart_rate_bpm": pl.Float64(),  # beats per minute
    # foot sports (running/walking/hiking/mountaineering, treadmill sub-sports): steps/min =
    # 2 x (cadence + fractional); other sports: device cadence unchanged (rpm, strokes/min);
    # 0 -> null for foot sports only
    "cadence_spm": pl.Float64(),
    "step_length_m": pl.Float64(),  # metres per step (FIT step_length is mm)
    "stance_time_ms": pl.Float64(),  # ground contact time, milliseconds
    "gct_balance_left_pct": pl.Float64(),  # % of ground contact time on the left foot (FIT stance_time_balance)
    "vertical_oscillation_mm": pl.Float64(),  # millimetres
    "vertical_ratio_pct": pl.Float64(),  # vertical oscillation / step length, %
    "power_w": pl.Float64(),  # watts (native field preferred; developer power only when no native)
    "temperature_c": pl.Float64(),  # degrees Celsius (device or sensor)
}

_SUMMARY_COLUMNS: dict[str, pl.DataType] = {
    "sport": pl.String(),  # lower-case FIT sport ("running", "cycling", "training", ...)
    "sub_sport": pl.String(),  # lower-case FIT sub_sport ("treadmill", "strength_training", ...) or null
    "started_at": UTC_TS,
    "total_elapsed_s": pl.Float64(),  # wall time including pauses, seconds
    "total_timer_s": pl.Float64(),  # timer time (moving/recording), seconds
    "total_distance_m": pl.Float64(),
    "total_ascent_m": pl.Float64(),
    "total_descent_m": pl.Float64(),
    "total_calories_kcal": pl.Float64(),
    "avg_speed_m_s": pl.Float64(),
    "max_speed_m_s": pl.Float64(),
    "avg_heart_rate_bpm": pl.Float64(),
    "max_heart_rate_bpm": pl.Float64(),
    # device's own averages, converted to our units; null when the device wrote 0 or nothing
    "avg_cadence_spm": pl.Float64(),  # running: steps/min = 2 x (avg_running_cadence + avg_fractional_cadence)
    "avg_step_length_m": pl.Float64(),
    "avg_stance_time_ms": pl.Float64(),
    "avg_gct_balance_left_pct": pl.Float64(),
    "avg_vertical_oscillation_mm": pl.Float64(),
    "avg_vertical_ratio_pct": pl.Float64(),
    "avg_power_w": pl.Float64(),
    "total_strides": pl.Float64(),  # FIT total_cycles for running (strides = steps / 2)
}

SESSION_SCHEMA: dict[str, pl.DataType] = {
    "session_index": pl.Int32(),
    **_SUMMARY_COLUMNS,
}

LAP_SCHEMA: dict[str, pl.DataType] = {
    "session_index": pl.Int32(),
    "lap_index": pl.Int32(),  # 0-based over the whole file
    **_SUMMARY_COLUMNS,
}

EXTRA_SCHEMA: dict[str, pl.DataType] = {
    "ts": UTC_TS,
    "source": pl.String(),  # developer app / sensor, e.g. "stryd", "runscribe", or developer_data_index
    "field": pl.String(),  # field name as the developer wrote it, e.g. "Form Power"
    "value": pl.Float64(),
    "unit": pl.String(),  # units string as written in the file (may be null or unknown)
}

# What the values in ActivityMeta.cadence_source mean.
CADENCE_SOURCES = ("fit_per_foot", "gpx_per_foot", "gpx_spm", "tcx_per_foot", "tcx_spm", "none")


@dataclass
class ActivityMeta:
    """File identity and activity-level facts, as read from the file.

    ``source_file`` is the file's name as dropped, with the path inside an archive
    included (``export.zip/activities/123.fit.gz``). ``sha256`` is of the decoded
    (decompressed) activity bytes, so the same FIT file dropped raw and gzipped is one file.
    """

    source_file: str
    sha256: str
    format: str  # "fit" | "gpx" | "tcx"
    started_at: datetime  # tz-aware UTC: first sample time (or session start)
    sport: str  # primary sport: of the longest session
    sub_sport: str | None = None
    manufacturer: str | None = None
    product: str | None = None  # device product name or number as text
    serial_number: int | None = None  # FIT file_id.serial_number
    time_created: datetime | None = None  # FIT file_id.time_created, UTC
    device: str | None = None  # human label, e.g. "garmin fenix5" or GPX creator
    local_offset_s: int | None = None  # FIT activity.local_timestamp - timestamp, seconds
    name: str | None = None  # activity name (GPX/TCX), untrusted text
    cadence_source: str = "none"  # one of CADENCE_SOURCES: how cadence_spm was derived
    warnings: list[str] = field(default_factory=list)  # repairs made, e.g. "3 backward timestamps dropped"
    #: which FIT decoder read the file ("fast", or "reference" with the fast path's reason
    #: for refusing it); None for GPX/TCX. Not part of equality: both decoders give the
    #: same activity. For the benchmark's share of files on the fast path.
    decoder: str | None = field(default=None, compare=False)


@dataclass
class ParsedActivity:
    """Everything one activity file yields. Frames conform exactly to the schemas above
    (same columns, same order, same dtypes): use :func:`conform` to build them."""

    meta: ActivityMeta
    samples: pl.DataFrame
    sessions: pl.DataFrame
    laps: pl.DataFrame
    extras: pl.DataFrame


def conform(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Return ``df`` with exactly ``schema``'s columns, in order, cast; missing columns null."""
    if df.schema == schema:
        # already conforming (names, order and exact dtypes: Schema.__eq__ is ordered and
        # strict): the select with a cast per column costs ~0.3-0.5 ms per frame for nothing
        return df
    cols = [
        (pl.col(name).cast(dtype) if name in df.columns else pl.lit(None, dtype=dtype)).alias(name)
        for name, dtype in schema.items()
    ]
    if df.width == 0:
        return pl.DataFrame(schema=schema)
    return df.select(cols)


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)
