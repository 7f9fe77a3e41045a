"""Turn a simulated :class:`~synth.model.Activity` into FIT bytes, summarising laps and the
session from the written records the way a device does.

Summary definitions (what tests/test_synth.py checks against the parsed records):
- weights: each record stands for the timer seconds since the previous record
  (``w_i = timer_i - timer_{i-1}``: the time since the previous record minus the wall
  time between a timer ``stop_all`` event and the next ``start`` event; the first record
  weighs 0). An auto-pause stops the timer at a record and restarts it 1 s before the next;
- ``total_timer_time`` = sum of weights; ``total_elapsed_time`` = last - first timestamp;
- ``total_distance`` = distance at the last record minus at the first;
  ``avg_speed`` = total_distance / total_timer_time; ``max_speed`` = max record speed;
- ``total_cycles`` (running: total strides) = round(sum w_i x strides/min_i / 60), with
  strides/min = ``cadence + fractional_cadence``; ``avg_running_cadence`` +
  ``avg_fractional_cadence`` = exact total strides / timer minutes (zeros while standing
  count, as on Garmin devices);
- ``avg_heart_rate`` = round(weighted mean); running-dynamics averages (step length, stance
  time, balance, VO, vertical ratio, stance time %) = weighted mean over records with a
  non-zero value (standing zeros excluded).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from synth import fit_writer as fw
from synth.model import Activity

# How canonical columns map onto FIT record fields (physical unit -> profile unit).
_RECORD_MAP = {
    "altitude_m": ("enhanced_altitude", "altitude"),
    "distance_m": ("distance",),
    "speed_m_s": ("enhanced_speed", "speed"),
    "heart_rate_bpm": ("heart_rate",),
    "step_length_mm": ("step_length",),
    "stance_time_ms": ("stance_time",),
    "stance_time_pct": ("stance_time_percent",),
    "gct_balance_left_pct": ("stance_time_balance",),
    "vertical_oscillation_mm": ("vertical_oscillation",),
    "vertical_ratio_pct": ("vertical_ratio",),
    "power_w": ("power",),
    "temperature_c": ("temperature",),
}

_DYNAMICS_AVG = {
    "step_length_mm": "avg_step_length",
    "stance_time_ms": "avg_stance_time",
    "stance_time_pct": "avg_stance_time_percent",
    "gct_balance_left_pct": "avg_stance_time_balance",
    "vertical_oscillation_mm": "avg_vertical_oscillation",
    "vertical_ratio_pct": "avg_vertical_ratio",
}


def record_columns(act: Activity, enhanced: bool) -> dict[str, np.ndarray]:
    """FIT record columns (profile units) in a fixed order."""
    c = act.cols
    out: dict[str, np.ndarray] = {"timestamp": (act.ts - fw.FIT_EPOCH_UNIX).astype(np.float64)}
    if "lat_deg" in c:
        out["position_lat"] = fw.semicircles(c["lat_deg"])
        out["position_long"] = fw.semicircles(c["lon_deg"])
    for col, names in _RECORD_MAP.items():
        if col not in c:
            continue
        name = names[0] if (enhanced or len(names) == 1) else names[1]
        out[name] = c[col]
    if "cadence_spm" in c:
        if act.sport == "running":
            # FIT running cadence is strides/min for one foot: spm = 2 x (cadence + fractional).
            strides = c["cadence_spm"] / 2.0
            out["cadence"] = np.floor(strides)
            out["fractional_cadence"] = strides - np.floor(strides)
        else:
            out["cadence"] = c["cadence_spm"]  # rpm
    return out


def _weights(act: Activity, lo: int, hi: int) -> np.ndarray:
    """Timer seconds each record lo..hi stands for (record lo weighs 0)."""
    w = np.zeros(hi - lo + 1)
    w[1:] = np.diff(act.timer_s[lo : hi + 1])
    return w


def _wmean(x: np.ndarray, w: np.ndarray, nonzero: bool = False) -> float | None:
    m = w > 0
    if nonzero:
        m &= x > 0
    if not m.any() or w[m].sum() <= 0:
        return None
    return float(np.sum(x[m] * w[m]) / np.sum(w[m]))


def strides_per_min(cadence: np.ndarray, fractional: np.ndarray) -> np.ndarray:
    return cadence + fractional


def summarise(
    act: Activity, rec: dict[str, np.ndarray], lo: int, hi: int
) -> dict[str, float | int | None]:
    """Lap/session summary over records lo..hi (inclusive), see module docstring."""
    w = _weights(act, lo, hi)
    timer = float(w.sum())
    elapsed = float(act.ts[hi] - act.ts[lo])
    c = act.cols
    out: dict[str, float | int | None] = {
        "start_time": int(act.ts[lo] - fw.FIT_EPOCH_UNIX),
        "timestamp": int(act.ts[hi] - fw.FIT_EPOCH_UNIX),
        "total_elapsed_time": elapsed,
        "total_timer_time": timer,
    }
    if "lat_deg" in c:
        out["start_position_lat"] = int(rec["position_lat"][lo])
        out["start_position_long"] = int(rec["position_long"][lo])
    if "distance_m" in c:
        d = float(c["distance_m"][hi] - c["distance_m"][lo])
        out["total_distance"] = d
        avg = d / timer if timer > 0 else 0.0
        vmax = float(np.max(c["speed_m_s"][lo : hi + 1]))
        out["avg_speed"] = avg
        out["max_speed"] = vmax
        out["enhanced_avg_speed"] = avg
        out["enhanced_max_speed"] = vmax
    if "altitude_m" in c:
        da = np.diff(c["altitude_m"][lo : hi + 1])
        out["total_ascent"] = int(round(float(da[da > 0].sum())))
        out["total_descent"] = int(round(float(-da[da < 0].sum())))
    hr = c["heart_rate_bpm"][lo : hi + 1]
    ahr = _wmean(hr, w)
    out["avg_heart_rate"] = None if ahr is None else int(round(ahr))
    out["max_heart_rate"] = int(hr.max())
    if "cadence" in rec:
        cad = rec["cadence"][lo : hi + 1]
        if act.sport == "running":
            spm_foot = strides_per_min(cad, rec["fractional_cadence"][lo : hi + 1])
            strides = float(np.sum(w * spm_foot) / 60.0)
            out["total_cycles"] = int(round(strides))
            avg_c = strides * 60.0 / timer if timer > 0 else 0.0
            whole = math.floor(avg_c)
            frac = round((avg_c - whole) * 128)
            if frac == 128:
                whole, frac = whole + 1, 0
            out["avg_cadence"] = whole
            out["avg_fractional_cadence"] = frac / 128
            out["max_cadence"] = int(cad.max())
        else:
            out["avg_cadence"] = int(round(_wmean(cad, w, nonzero=True) or 0))
            out["max_cadence"] = int(cad.max())
    for col, name in _DYNAMICS_AVG.items():
        if col in c:
            out[name] = _wmean(c[col][lo : hi + 1], w, nonzero=True)
    if "power_w" in c:
        p = _wmean(c["power_w"][lo : hi + 1], w)
        out["avg_power"] = None if p is None else int(round(p))
    minutes = timer / 60
    if act.sport == "running":
        kcal = 1.0 * 70 * float(out.get("total_distance") or 0) / 1000
    elif act.sport == "cycling":
        kcal = 8.0 * minutes
    else:
        kcal = 6.0 * minutes
    out["total_calories"] = int(round(kcal))
    return out


def lap_bounds(act: Activity) -> list[int]:
    """Record indices where laps end (auto-lap every 1 km running, 5 km cycling)."""
    n = len(act.ts)
    if "distance_m" not in act.cols or act.kind == "strength":
        return [n - 1]
    step = 1000.0 if act.sport == "running" else 5000.0
    d = act.cols["distance_m"]
    ks = np.arange(step, float(d[-1]), step)
    b = np.searchsorted(d, ks).tolist()
    b = sorted({int(x) for x in b if 0 < x < n - 1})
    return [*b, n - 1]


def _segments(n: int, cuts: list[int]) -> Iterator[tuple[int, int]]:
    prev = 0
    for c in sorted(set(cuts)):
        yield prev, c
        prev = c + 1
    if prev < n:
        yield prev, n - 1


def encode_fit(act: Activity, product_override: int | None = None) -> bytes:
    """Encode one activity as a FIT activity file (file_id, device_info, events, records,
    laps, session, activity)."""
    dev = act.device
    enhanced = dev.product not in _LEGACY_PRODUCTS
    rec = record_columns(act, enhanced)
    n = len(act.ts)
    t0 = int(act.ts[0] - fw.FIT_EPOCH_UNIX)
    t_end = int(act.ts[-1] - fw.FIT_EPOCH_UNIX)
    w = fw.FitWriter()
    w.message(
        "file_id",
        {
            "type": fw.FILE_ACTIVITY,
            "manufacturer": dev.manufacturer,
            "product": product_override or dev.product,
            "serial_number": act.serial_number,
            "time_created": t0,
        },
    )
    w.message(
        "device_info",
        {
            "timestamp": t0,
            "device_index": 0,
            "manufacturer": dev.manufacturer,
            "serial_number": act.serial_number,
            "product": product_override or dev.product,
            "software_version": dev.software_version,
        },
    )
    if dev.running_dynamics and act.sport == "running":
        # The chest strap / pod that measures running dynamics (ANT+ HR strap, device type 120).
        w.message(
            "device_info",
            {
                "timestamp": t0,
                "device_index": 1,
                "device_type": 120,
                "manufacturer": 1,
                "serial_number": (act.serial_number * 7 + 13) % 4_000_000_000 + 1,
            },
        )
    w.message(
        "event",
        {
            "timestamp": t0,
            "event": fw.EVENT_TIMER,
            "event_type": fw.EVENT_TYPE_START,
            "data": fw.TIMER_TRIGGER_MANUAL,
            "event_group": 0,
        },
    )

    laps = lap_bounds(act)
    pause_after = {a for a, _ in act.pauses}
    cuts = sorted(set(laps) | pause_after)
    lap_lo = 0
    lap_msgs = 0
    sport = fw.SPORT[act.sport]
    sub = fw.SUB_SPORT[act.sub_sport]
    for lo, hi in _segments(n, cuts):
        w.records("record", {k: v[lo : hi + 1] for k, v in rec.items()})
        if hi in pause_after:
            ts = int(act.ts[hi] - fw.FIT_EPOCH_UNIX)
            w.message(
                "event",
                {
                    "timestamp": ts,
                    "event": fw.EVENT_TIMER,
                    "event_type": fw.EVENT_TYPE_STOP_ALL,
                    "data": fw.TIMER_TRIGGER_AUTO,
                    "event_group": 0,
                },
            )
            # The timer restarts one second before the next record (that record then stands
            # for 1 s of timer time, see the module docstring).
            ts2 = int(act.ts[hi + 1] - fw.FIT_EPOCH_UNIX) - 1
            w.message(
                "event",
                {
                    "timestamp": ts2,
                    "event": fw.EVENT_TIMER,
                    "event_type": fw.EVENT_TYPE_START,
                    "data": fw.TIMER_TRIGGER_AUTO,
                    "event_group": 0,
                },
            )
        if hi in laps:
            if hi == n - 1:
                w.message(
                    "event",
                    {
                        "timestamp": t_end,
                        "event": fw.EVENT_TIMER,
                        "event_type": fw.EVENT_TYPE_STOP_ALL,
                        "data": fw.TIMER_TRIGGER_MANUAL,
                        "event_group": 0,
                    },
                )
            s = summarise(act, rec, lap_lo, hi)
            lap = {
                "timestamp": s.pop("timestamp"),
                "message_index": lap_msgs,
                "event": fw.EVENT_LAP,
                "event_type": fw.EVENT_TYPE_STOP,
            }
            lap.update(s)
            if "lat_deg" in act.cols:
                lap["end_position_lat"] = int(rec["position_lat"][hi])
                lap["end_position_long"] = int(rec["position_long"][hi])
            lap["lap_trigger"] = (
                fw.LAP_TRIGGER_SESSION_END if hi == n - 1 else fw.LAP_TRIGGER_DISTANCE
            )
            lap["sport"] = sport
            lap["sub_sport"] = sub
            w.message("lap", lap)
            lap_msgs += 1
            lap_lo = hi
    s = summarise(act, rec, 0, n - 1)
    session = {
        "timestamp": s.pop("timestamp"),
        "message_index": 0,
        "event": fw.EVENT_SESSION,
        "event_type": fw.EVENT_TYPE_STOP,
        "sport": sport,
        "sub_sport": sub,
    }
    session.update(s)
    session.update(
        {"first_lap_index": 0, "num_laps": lap_msgs, "trigger": fw.SESSION_TRIGGER_ACTIVITY_END}
    )
    w.message("session", session)
    w.message(
        "activity",
        {
            "timestamp": t_end,
            "total_timer_time": s["total_timer_time"],
            "num_sessions": 1,
            "type": fw.ACTIVITY_MANUAL,
            "event": fw.EVENT_ACTIVITY,
            "event_type": fw.EVENT_TYPE_STOP,
            # local time = UTC + the device's offset at the end of the activity
            "local_timestamp": t_end + act.local_offset_s,
        },
    )
    return w.to_bytes()


# Older watches write the 16-bit ``speed``/``altitude`` fields instead of the enhanced ones.
_LEGACY_PRODUCTS = {2431, 2157, 2153}  # fr235, fr230, fr225
