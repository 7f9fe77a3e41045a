"""Decoder-independent FIT building: :class:`RawSegment` list -> :class:`ParsedActivity`.

Converts units once (:mod:`ingest.fit.fields`), turns the device's placeholder zeros into
nulls, repairs clock jumps and attributes each sample to the session (sport) it falls in.
Both decoders (reference and fast) feed the same code here, so a damaged clock is
repaired the same way whichever decoded the file.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from ingest.errors import CorruptFileError, EmptyFileError, NotAnActivityError
from ingest.fit.fields import (
    ACTIVITY_FILE_TYPES,
    DEV_POWER_NAMES,
    FIT_EPOCH_S,
    FIT_MIN_WALL_TIME,
    RECORD_FIELDS,
    RECORD_POWER_FIELD_NUM,
    RECORD_SOURCE_FIELDS,
    RUNNING_CADENCE_SPM,
    SUMMARY_CADENCE_FIELDS,
    SUMMARY_CYCLES_FIELDS,
    SUMMARY_FIELDS,
    DevColumn,
    RawSegment,
    enum_name,
    is_foot_sport,
)
from ingest.schema import (
    EXTRA_SCHEMA,
    LAP_SCHEMA,
    SAMPLE_SCHEMA,
    SESSION_SCHEMA,
    UTC_TS,
    ActivityMeta,
    ParsedActivity,
    conform,
)

#: A forward clock step is a jump (device clock reset, GPS time fix) only when it is
#: longer than the whole activity's elapsed time and at least this long, and does not
#: land on a session start. Real pauses and "resume later" gaps are inside elapsed time.
MIN_CLOCK_JUMP_S = 3600.0
#: Devices write a last record a few seconds after the session's end (stop event); only
#: records later than this are worth a warning.
RECORDS_AFTER_END_TOLERANCE_S = 60.0
#: How close (s) the sample after a gap must be to a session start_time to be a new session.
SESSION_START_TOLERANCE_S = 120.0
#: UTC offsets run from -12 h to +14 h; a larger local_timestamp offset is a device bug.
MAX_LOCAL_OFFSET_S = 14 * 3600
#: Manufacturers whose product numbers are FIT ``garmin_product`` values.
_GARMIN_FAMILY = frozenset({"garmin", "dynastream", "dynastream_oem", "tacx"})


# --------------------------------------------------------------------------------------
# Chained files: which FIT files form one activity


def group_segments(source_file: str, raw: list[RawSegment], warnings: list[str]) -> list[list[RawSegment]]:
    """Group chained FIT files into activities.

    A FIT file without file_id continues the previous one (Garmin multisport chains write
    one file_id); one with the same serial number and time_created too. A different
    activity file_id starts a new activity; a non-activity file (settings chained after
    an activity) is skipped with a warning.
    """
    groups: list[list[RawSegment]] = []
    current_key: tuple[Any, Any] | None = None
    skipped: list[str] = []
    for seg in raw:
        fid = seg.file_id
        if fid is not None and str(fid.get("type")) not in ACTIVITY_FILE_TYPES:
            skipped.append(str(fid.get("type")))
            current_key = None
            continue
        key = (fid.get("serial_number"), fid.get("time_created")) if fid else None
        if groups and (fid is None or key == current_key):
            groups[-1].append(seg)
            continue
        groups.append([seg])
        current_key = key
    if not groups:
        kind = skipped[0] if skipped else "unknown"
        raise NotAnActivityError(source_file, f"FIT {kind} file, not an activity")
    if skipped:
        warnings.append(f"chained non-activity FIT file(s) skipped: {', '.join(skipped)}")
    kept = [g for g in groups if any(s.n_records or s.sessions for s in g)]
    if not kept:
        raise EmptyFileError(source_file, "FIT activity file holds no records and no sessions")
    if len(kept) < len(groups):
        warnings.append(f"{len(groups) - len(kept)} chained FIT file(s) without records or sessions skipped")
    return kept


# --------------------------------------------------------------------------------------
# Building the canonical frames


def _merge(group: list[RawSegment]) -> RawSegment:
    if len(group) == 1:
        return group[0]
    merged = RawSegment(file_id=next((s.file_id for s in group if s.file_id), None))
    merged.activity = next((s.activity for s in reversed(group) if s.activity), None)
    offset = 0
    columns: dict[str, list[np.ndarray]] = {}
    total = sum(s.n_records for s in group)
    for seg in group:
        merged.sessions.extend(seg.sessions)
        merged.laps.extend(seg.laps)
        merged.dev_summary.extend(seg.dev_summary)
        for name in RECORD_SOURCE_FIELDS:
            col = seg.records.get(name)
            columns.setdefault(name, []).append(col if col is not None else np.full(seg.n_records, np.nan))
        for dev in seg.dev_records:
            values = np.full(total, np.nan)
            values[offset : offset + seg.n_records] = dev.values
            merged.dev_records.append(
                DevColumn(dev.source, dev.name, dev.units, dev.native_field_num, values)
            )
        offset += seg.n_records
    merged.n_records = total
    merged.records = {
        name: np.concatenate(parts)
        for name, parts in columns.items()
        if any(np.isfinite(p).any() for p in parts)
    }
    return merged


def _num(d: dict[str, Any], *names: str) -> float | None:
    for name in names:
        v = d.get(name)
        # math.isfinite, not np.isfinite: same answer for an int or float, ~1.3 us less per
        # call (a one-hour file's sessions and laps make ~280 calls)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            return float(v)
    return None


def _session_starts(sessions: list[dict[str, Any]]) -> list[float | None]:
    starts: list[float | None] = []
    for s in sessions:
        start = _num(s, "start_time")
        if start is None:
            end, elapsed = _num(s, "timestamp"), _num(s, "total_elapsed_time")
            start = end - elapsed if end is not None and elapsed is not None else None
        starts.append(start)
    return starts


def _repair_timestamps(ts: np.ndarray, sessions: list[dict[str, Any]], warnings: list[str]) -> np.ndarray:
    """Non-decreasing timestamps, keeping every record.

    - missing/invalid (device-relative) times take the previous record's time;
    - a backward step, or a forward step longer than the activity's whole elapsed time
      (and >= MIN_CLOCK_JUMP_S) that does not land on a session start, is a clock jump:
      the records after it are shifted to continue one typical step after the record
      before it. Anchored on the first records, which match the session start_time.
    """
    ts = ts.astype(np.float64, copy=True)
    invalid = ~np.isfinite(ts) | (ts < FIT_EPOCH_S + FIT_MIN_WALL_TIME)
    if invalid.all():
        return ts  # caller decides (no usable time at all)
    if invalid.any():
        idx = np.where(~invalid, np.arange(len(ts)), 0)
        np.maximum.accumulate(idx, out=idx)
        first_valid = int(np.argmax(~invalid))
        idx[:first_valid] = first_valid
        ts = ts[idx]
        warnings.append(f"{int(invalid.sum())} record(s) without a valid timestamp took the neighbouring record's time")
    if len(ts) < 2:
        return ts
    d = np.diff(ts)
    pos = d[d > 0]
    step = float(np.median(pos)) if len(pos) else 1.0
    elapsed = sum(_num(s, "total_elapsed_time") or 0.0 for s in sessions)
    threshold = max(elapsed, MIN_CLOCK_JUMP_S)
    starts = np.array([s for s in _session_starts(sessions) if s is not None], dtype=np.float64)
    backward = d < 0
    forward = d > threshold
    if forward.any() and len(starts):
        after = ts[1:][forward]
        near_start = (np.abs(after[:, None] - starts[None, :]) <= SESSION_START_TOLERANCE_S).any(axis=1)
        fwd_idx = np.where(forward)[0]
        forward[fwd_idx[near_start]] = False
    elif forward.any() and not len(starts):
        forward[:] = False  # no session summary to judge a long gap against: keep it
    jumps = backward | forward
    if not jumps.any():
        return ts
    corr = np.zeros_like(ts)
    corr[1:][jumps] = step - d[jumps]
    ts = ts + np.cumsum(corr)
    for i in np.where(jumps)[0][:5]:
        warnings.append(
            f"clock jump of {d[i]:+.0f} s after record {int(i)} repaired: "
            f"later records shifted by {step - d[i]:+.0f} s"
        )
    if int(jumps.sum()) > 5:
        warnings.append(f"... {int(jumps.sum()) - 5} more clock jumps repaired")
    return ts


_WALL_TIME_MIN = FIT_EPOCH_S + FIT_MIN_WALL_TIME  # Unix seconds


def _note_records_after_end(ts: np.ndarray, sessions: list[dict[str, Any]], warnings: list[str]) -> None:
    """Records after the last session's end (long ski days on a fenix 7 Pro: 44 min) are
    kept and belong to the last session (:func:`_assign_sessions`); say so."""
    ends = [
        start + elapsed
        for start, s in zip(_session_starts(sessions), sessions, strict=True)
        if start is not None and (elapsed := _num(s, "total_elapsed_time")) is not None
    ]
    if not ends or not len(ts):
        return
    end = max(ends)
    after = ts > end + RECORDS_AFTER_END_TOLERANCE_S
    if after.any():
        warnings.append(
            f"{int(after.sum())} record(s) up to {float(ts[after].max()) - end:.0f} s after the last "
            "session's end kept, attributed to the last session"
        )


def _place_relative_times(raw: RawSegment, ts: np.ndarray, warnings: list[str]) -> np.ndarray:
    """Devices whose clock was never set write seconds since power-up (FIT date_time
    below 0x10000000). When the activity message holds a real local time for the same
    instant, move every relative time by that difference (time zone unknown, so the
    result is local time labelled UTC, off by at most the UTC offset; said in warnings).
    """
    finite = ts[np.isfinite(ts)]
    if not len(finite) or (finite >= _WALL_TIME_MIN).mean() > 0.5:
        return ts
    act = raw.activity or {}
    t, local = act.get("timestamp"), act.get("local_timestamp")
    if t is None or local is None or t >= _WALL_TIME_MIN or local < _WALL_TIME_MIN:
        warnings.append("device clock not set: times are relative to device power-up (near 1990)")
        return ts
    shift = float(local - t)
    warnings.append(
        "device clock not set: device-relative times placed with the activity's local time "
        "(time zone unknown, up to 14 h off)"
    )
    for msg in (*raw.sessions, *raw.laps, raw.file_id or {}, act):
        for key in ("start_time", "timestamp", "time_created"):
            v = msg.get(key)
            if isinstance(v, (int, float)) and v < _WALL_TIME_MIN:
                msg[key] = v + shift
    act.pop("local_timestamp", None)  # no offset to tell
    return np.where(ts < _WALL_TIME_MIN, ts + shift, ts)


def _assign_sessions(ts: np.ndarray, starts: list[float | None]) -> np.ndarray:
    """Session index per sample: the last session whose start_time is <= the sample."""
    if len(starts) <= 1:
        return np.zeros(len(ts), dtype=np.int32)
    known = [(s, i) for i, s in enumerate(starts) if s is not None]
    if not known:
        return np.zeros(len(ts), dtype=np.int32)
    known.sort()
    sorted_starts = np.array([s for s, _ in known])
    order = np.array([i for _, i in known], dtype=np.int32)
    pos = np.searchsorted(sorted_starts, ts, side="right") - 1
    pos = np.clip(pos, 0, len(known) - 1)
    return order[pos]


def _col(records: dict[str, np.ndarray], n: int, *names: str) -> np.ndarray:
    """First present source column, NaN where absent; falls back per row to later names."""
    out = np.full(n, np.nan)
    for name in reversed(names):
        col = records.get(name)
        if col is not None:
            out = np.where(np.isfinite(col), col, out)
    return out


def _to_ts(seconds: np.ndarray) -> pl.Series:
    micros = np.round(seconds * 1e6).astype(np.int64)
    # Int64 -> Datetime("us", "UTC") in one cast: microseconds since the epoch are UTC
    # (the same values as via a naive Datetime and replace_time_zone, ~8x cheaper)
    return pl.Series("ts", micros, dtype=pl.Int64).cast(UTC_TS)


def _utc(seconds: float | None) -> datetime | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def _summary_frame(
    rows: list[dict[str, Any]], index: list[dict[str, int]], schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    """One row per session/lap message, ``index`` giving each row's index columns.

    Built as one dict per row with the frame's exact schema: polars builds a few-row frame
    from row dicts in ~0.2 ms, from a dict of Python lists (a Series per column) in ~1 ms,
    and the frame then needs no conform pass."""
    out: list[dict[str, Any]] = []
    for r, idx, start in zip(rows, index, _session_starts(rows), strict=True):
        sport, sub = r.get("sport"), r.get("sub_sport")
        row: dict[str, Any] = {**idx, "sport": sport, "sub_sport": sub, "started_at": _utc(start)}
        for fm in SUMMARY_FIELDS:
            v = _num(r, *fm.sources)
            if v is not None and fm.zero_is_null and v == 0:
                v = None
            row[fm.column] = None if v is None else v * fm.scale
        foot = is_foot_sport(sport, sub)
        c = _num(r, *SUMMARY_CADENCE_FIELDS)
        if c is not None and c > 0:
            c = c + (_num(r, "avg_fractional_cadence") or 0.0)
            # FIT running cadence is strides/min of one foot: spm = 2 x (cadence + fractional)
            row["avg_cadence_spm"] = 2 * c if foot else c
        else:
            row["avg_cadence_spm"] = None
        cycles = _num(r, *SUMMARY_CYCLES_FIELDS)
        row["total_strides"] = cycles if foot and cycles else None  # cycling cycles are not strides
        out.append(row)
    return pl.from_dicts(out, schema=schema)


def build(source_file: str, sha: str, group: list[RawSegment], warnings: list[str]) -> ParsedActivity:
    raw = _merge(group)
    n = raw.n_records
    sessions = raw.sessions
    if not sessions:
        warnings.append("no session message: one session assumed, sport unknown ('generic')")
        sessions = [{"sport": "generic"}]
    starts = _session_starts(sessions)

    ts = raw.records.get("timestamp", np.full(n, np.nan))
    # a FIT date_time is unsigned: a time before the FIT epoch was read from a damaged
    # definition (declared signed), not written by a device (issue #11: 1943-08-21)
    before_epoch = ts < FIT_EPOCH_S
    if before_epoch.any():
        warnings.append(f"{int(before_epoch.sum())} record time(s) before the FIT epoch (1989-12-31) ignored")
        ts = np.where(before_epoch, np.nan, ts)
    ts = _place_relative_times(raw, ts, warnings)
    ts = _repair_timestamps(ts, raw.sessions, warnings)
    if n and not np.isfinite(ts).all():
        fallback = next((s for s in starts if s is not None), None)
        if fallback is None:
            raise CorruptFileError(source_file, "FIT records carry no usable timestamps")
        ts = np.where(np.isfinite(ts), ts, fallback)
        warnings.append("records without any valid timestamp placed at the session start")
    sess_idx = _assign_sessions(ts, starts)
    _note_records_after_end(ts, raw.sessions, warnings)
    sess_sport = [str(s.get("sport") or "generic") for s in sessions]
    sess_foot = np.array(
        [is_foot_sport(s.get("sport"), s.get("sub_sport")) for s in sessions], dtype=bool
    )
    foot = sess_foot[sess_idx] if n else np.zeros(0, dtype=bool)

    # per session, then gathered per sample (a Python lookup per sample cost ~1 ms/hour);
    # one session (most files): repeated, ~0.15 ms cheaper than a gather
    sport = pl.Series("sport", sess_sport, dtype=pl.String)
    cols: dict[str, pl.Series] = {
        "ts": _to_ts(ts),
        "session_index": pl.Series("session_index", sess_idx, dtype=pl.Int32),
        "sport": sport.new_from_index(0, n) if len(sess_sport) == 1 else sport.gather(sess_idx),
    }
    floats: dict[str, np.ndarray] = {}
    for fm in RECORD_FIELDS:
        v = _col(raw.records, n, *fm.sources) * fm.scale
        if fm.zero_is_null:
            v = np.where(v == 0, np.nan, v)
        floats[fm.column] = v
    # FIT running cadence is strides/min of one foot: spm = 2 x (cadence + fractional).
    # Other sports keep the device's cadence (rpm, strokes/min). A foot cadence of 0 is a
    # pause or a missing sensor ("no steps"): null. A pedalling cadence of 0 is coasting: kept.
    cad = _col(raw.records, n, "cadence") + np.nan_to_num(_col(raw.records, n, "fractional_cadence"))
    cad = np.where(foot, 2 * cad, cad)
    cad = np.where(foot & (cad == 0), np.nan, cad)
    # a running "cadence" outside a human step rate is a footpod/wrist estimate ramping
    # up or down at a stop, not a gait cadence
    running = np.array([s == "running" for s in sess_sport], dtype=bool)[sess_idx]
    lo, hi = RUNNING_CADENCE_SPM
    implausible = running & ((cad < lo) | (cad > hi))
    if implausible.any():
        warnings.append(
            f"{int(implausible.sum())} running cadence value(s) outside {lo:g}-{hi:g} spm set to null"
        )
        cad = np.where(implausible, np.nan, cad)
    floats["cadence_spm"] = cad
    floats["power_w"] = _power(raw, n, warnings)
    for name, values in floats.items():
        cols[name] = pl.Series(name, values, dtype=pl.Float64, nan_to_null=True)

    # one frame in SAMPLE_SCHEMA's column order, NaN made null while each Series is built:
    # no fill_nan and no reordering select (~1.4 ms per one-hour file); conform then
    # only checks the schema
    samples = conform(pl.DataFrame([cols[name] for name in SAMPLE_SCHEMA]), SAMPLE_SCHEMA)

    session_df = _summary_frame(sessions, [{"session_index": i} for i in range(len(sessions))], SESSION_SCHEMA)
    lap_starts = np.array([s if s is not None else np.nan for s in _session_starts(raw.laps)])
    lap_sess: list[int] = (
        [int(i) for i in _assign_sessions(np.nan_to_num(lap_starts, nan=-np.inf), starts)]
        if raw.laps
        else []
    )
    lap_df = _summary_frame(
        raw.laps, [{"session_index": s, "lap_index": i} for i, s in enumerate(lap_sess)], LAP_SCHEMA
    )
    extras = _extras(raw, ts)

    # primary sport: the longest session
    durations = [_num(s, "total_elapsed_time", "total_timer_time") or 0.0 for s in sessions]
    main = int(np.argmax(durations)) if durations else 0
    fid = raw.file_id or {}
    if raw.file_id is None:
        warnings.append("no file_id message: device unknown")
    manufacturer = fid.get("manufacturer")
    product = _product_label(manufacturer, fid.get("product"), fid.get("product_name"))
    started = (
        _utc(float(ts[0])) if n else _utc(next((s for s in starts if s is not None), None))
    )
    if started is None:
        raise CorruptFileError(source_file, "FIT activity has neither records nor a session start time")
    act = raw.activity or {}
    local_offset = None
    if "local_timestamp" in act and "timestamp" in act:
        local_offset = int(act["local_timestamp"] - act["timestamp"])
        if abs(local_offset) > MAX_LOCAL_OFFSET_S:
            warnings.append(f"activity local_timestamp offset of {local_offset} s ignored (not a time zone)")
            local_offset = None
    meta = ActivityMeta(
        source_file=source_file,
        sha256=sha,
        format="fit",
        started_at=started,
        sport=sess_sport[main],
        sub_sport=sessions[main].get("sub_sport"),
        manufacturer=manufacturer,
        product=product,
        serial_number=fid.get("serial_number"),
        time_created=_utc(fid.get("time_created")),
        device=" ".join(p for p in (manufacturer, product) if p) or None,
        local_offset_s=local_offset,
        cadence_source="fit_per_foot" if samples["cadence_spm"].null_count() < n else "none",
        warnings=warnings,
    )
    return ParsedActivity(meta=meta, samples=samples, sessions=session_df, laps=lap_df, extras=extras)


def _product_label(manufacturer: str | None, product: Any, product_name: Any) -> str | None:
    if isinstance(product_name, str) and product_name.strip():
        return product_name.strip()
    if product is None:
        return None
    if manufacturer in _GARMIN_FAMILY:
        return enum_name("garmin_product", product)
    return str(product)


def _power(raw: RawSegment, n: int, warnings: list[str]) -> np.ndarray:
    """Native power when the file has any; else one developer power field (never both,
    never mixed within one activity). 0 W is kept: standing still produces no power."""
    native = raw.records.get("power")
    if native is not None and np.isfinite(native).any():
        return native
    candidates = sorted(
        (
            d
            for d in raw.dev_records
            if d.native_field_num == RECORD_POWER_FIELD_NUM or d.name.strip().lower() in DEV_POWER_NAMES
        ),
        key=lambda d: (d.native_field_num != RECORD_POWER_FIELD_NUM, d.name),
    )
    for dev in candidates:
        if np.isfinite(dev.values).any():
            warnings.append(f"power_w from developer field '{dev.name}' ({dev.source}); no native power")
            return dev.values
    return np.full(n, np.nan)


def _extras(raw: RawSegment, ts: np.ndarray) -> pl.DataFrame:
    frames: list[pl.DataFrame] = []
    # one order whatever the decoder met first: by source, then field name
    for dev in sorted(raw.dev_records, key=lambda d: (d.source, d.name)):
        keep = np.isfinite(dev.values)
        if not keep.any():
            continue
        k = int(keep.sum())
        frames.append(
            pl.DataFrame(
                {
                    "ts": _to_ts(ts[keep]),
                    "source": pl.Series([dev.source] * k, dtype=pl.String),
                    "field": pl.Series([dev.name] * k, dtype=pl.String),
                    "value": pl.Series(dev.values[keep], dtype=pl.Float64),
                    "unit": pl.Series([dev.units] * k, dtype=pl.String),
                }
            )
        )
    if raw.dev_summary:
        t, src, name, val, unit = zip(*raw.dev_summary, strict=True)
        frames.append(
            pl.DataFrame(
                {
                    "ts": _to_ts(np.array(t, dtype=np.float64)),
                    "source": pl.Series(src, dtype=pl.String),
                    "field": pl.Series(name, dtype=pl.String),
                    "value": pl.Series(val, dtype=pl.Float64),
                    "unit": pl.Series(unit, dtype=pl.String),
                }
            )
        )
    if not frames:
        return pl.DataFrame(schema=EXTRA_SCHEMA)
    return conform(pl.concat(frames, how="vertical"), EXTRA_SCHEMA)
