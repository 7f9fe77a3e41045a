"""Physiological model behind the synthetic activities: one athlete, one run, 1 Hz.

Everything is vectorised numpy driven by a ``numpy.random.Generator``, so the same seed
gives the same arrays. Values are in physical units; the writers (FIT, GPX) quantise them
the way devices do.

Model (per run):
- speed: warm-up ramp to the run's target pace, slow pace waves and noise, optional
  strides (10-20 s efforts near top speed with jog recoveries), standing stops (speed 0,
  running dynamics written as 0, as devices do) and at most one auto-pause (timer stopped,
  no records).
- step length (m) = (a + b x speed) x run factor; cadence (steps/min) = 60 x speed / step length.
  With a = 0.30, b = 0.25: 1.05 m and ~171 spm at 3.0 m/s.
- ground contact time (ms) = gct_ref x (3.0 / speed)^0.6: ~250 ms at 3 m/s, ~160 ms sprinting.
- vertical oscillation (mm) ~ 85 at 3 m/s; vertical ratio (%) = VO / step length x 100.
- GCT balance (% left) = run mean + within-run drift x (t/T - 0.5) + noise.
- heart rate: first-order lag (tau 25 s) towards a speed-dependent target plus cardiac drift.
- route: a "lollipop" from home (stem out, 1+ loops, stem back), so every run starts and
  ends at home; altitude from gentle hills over the map (grades of a few %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

EARTH_R = 6_371_000.0


@dataclass(frozen=True)
class Device:
    """A recording device. ``running_dynamics`` means an HRM-Run/pod style sensor is paired."""

    name: str  # human label, e.g. "garmin fenix5"
    manufacturer: int  # FIT manufacturer id
    product: int  # FIT product id
    running_dynamics: bool
    power: bool = False  # writes native running power
    smart_recording: bool = False  # variable 1-4 s record interval instead of 1 Hz
    software_version: float = 10.0


@dataclass
class RunSpec:
    """What to simulate for one run (all planted parameters live here)."""

    duration_s: int  # elapsed seconds
    kind: str  # "easy" | "long" | "strides"
    pace_factor: float = 1.0  # x athlete easy speed
    pace_wave: float = 1.0  # amplitude factor of within-run pace variation (speed range)
    step_length_factor: float = 1.0  # x step length at a given speed (compact gait < 1)
    vo_factor: float = 1.0  # x vertical oscillation
    balance_mean_pct: float = 50.2  # run mean GCT balance, % left
    balance_drift_pct: float = 0.0  # last minus first sample of the within-run drift line
    n_strides: int = 0  # number of fast efforts
    stride_s: int = 15  # seconds per effort
    stride_intensity: float = 0.9  # x athlete top speed
    stops: int = 0  # standing stops (timer running, zeros written)
    auto_pause: bool = False  # one stop where the timer is stopped (no records)


@dataclass
class Athlete:
    athlete_id: str
    name: str
    role: str
    timezone: str
    home_lat: float
    home_lon: float
    home_alt: float
    device: Device
    serial_number: int
    easy_speed: float  # m/s
    top_speed: float  # m/s
    step_a: float  # m
    step_b: float  # s (m per m/s)
    gct_ref_ms: float  # at 3.0 m/s
    vo_ref_mm: float  # at 3.0 m/s
    hr_rest: float
    hr_max: float
    threshold_speed: float  # m/s, speed at ~88 % HRmax
    mass_kg: float
    height_m: float
    loop_m: float  # favourite loop length
    run_time_of_day: tuple[int, int]  # local hour, minute of weekday runs


@dataclass
class Activity:
    """One simulated activity as the device would record it (record arrays, physical units).

    ``ts`` are UTC unix seconds of the written records; ``timer_s`` is the device timer at
    each record (stops during auto-pause). Columns absent from ``cols`` are not recorded.
    """

    athlete_id: str
    kind: str  # "run" | "strength" | "ride"
    sport: str  # FIT sport name
    sub_sport: str  # FIT sub_sport name
    ts: np.ndarray  # int64 unix seconds
    timer_s: np.ndarray  # int64 seconds of timer time
    cols: dict[str, np.ndarray]
    device: Device
    serial_number: int
    local_offset_s: int
    pauses: list[tuple[int, int]] = field(default_factory=list)  # (last index before, first after)
    planted: dict[str, float] = field(default_factory=dict)

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(int(self.ts[0]), tz=UTC)

    @property
    def end(self) -> datetime:
        return datetime.fromtimestamp(int(self.ts[-1]), tz=UTC)


# --- small numeric helpers ---------------------------------------------------------------


def smooth_noise(rng: np.random.Generator, n: int, sd: float, tau_s: float) -> np.ndarray:
    """Stationary AR(1)-like noise with standard deviation ``sd`` and time constant ``tau_s``
    (white noise convolved with a truncated exponential kernel: fast and deterministic)."""
    if n == 0:
        return np.zeros(0)
    k = np.exp(-np.arange(int(6 * tau_s) + 1) / tau_s)
    e = rng.normal(0.0, 1.0, n + len(k) - 1)
    x = np.convolve(e, k, mode="valid")
    return x * (sd / math.sqrt(float(np.sum(k * k))))


def lag(x: np.ndarray, tau_s: float, x0: float) -> np.ndarray:
    """First-order lag (exponential smoothing at 1 Hz) of ``x`` starting from ``x0``."""
    phi = math.exp(-1.0 / tau_s)
    k = (1 - phi) * phi ** np.arange(int(10 * tau_s) + 1)
    n = len(x)
    y = np.convolve(x, k)[:n]
    # weight not yet covered by the samples seen so far stays on the starting value
    covered = np.cumsum(k)
    cov = np.concatenate([covered[: min(n, len(k))], np.full(max(0, n - len(k)), covered[-1])])
    return y + (1 - cov) * x0


def ramp_mask(n: int, start: int, stop: int, ramp: int) -> np.ndarray:
    """1 inside [start, stop), 0 outside, with cosine ramps of ``ramp`` s on both sides."""
    t = np.arange(n, dtype=np.float64)
    up = np.clip((t - (start - ramp)) / ramp, 0, 1)
    down = np.clip(((stop + ramp) - t) / ramp, 0, 1)
    m = np.minimum(up, down)
    return 0.5 - 0.5 * np.cos(np.pi * m)


# --- route --------------------------------------------------------------------------------


def _loop_shape(rng: np.random.Generator, circumference: float) -> np.ndarray:
    """Closed polyline (x, y metres), starting and ending at (0, 0), of the given length."""
    th = np.linspace(0, 2 * np.pi, 721)
    p1, p2 = rng.uniform(0, 2 * np.pi, 2)
    r = 1 + 0.15 * np.sin(2 * th + p1) + 0.08 * np.cos(3 * th + p2)
    x = r * np.cos(th)
    y = 0.65 * r * np.sin(th)
    x, y = x - x[0], y - y[0]
    rot = rng.uniform(0, 2 * np.pi)
    c, s = math.cos(rot), math.sin(rot)
    pts = np.stack([c * x - s * y, s * x + c * y], axis=1)
    per = np.sum(np.hypot(*np.diff(pts, axis=0).T))
    return pts * (circumference / per)


def _along(pts: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    seg = np.hypot(*np.diff(pts, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    return np.interp(s, cum, pts[:, 0]), np.interp(s, cum, pts[:, 1])


def route_xy(
    rng: np.random.Generator, dist: np.ndarray, total: float, loop_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (x east, y north, metres from home) at cumulative distances ``dist``."""
    stem = min(600.0, 0.15 * total)
    heading = rng.uniform(0, 2 * np.pi)
    loop_total = max(total - 2 * stem, 1.0)
    laps = max(1, round(loop_total / loop_m))
    circ = loop_total / laps
    loop = _loop_shape(rng, circ)
    sx, sy = math.cos(heading) * stem, math.sin(heading) * stem
    x = np.empty_like(dist)
    y = np.empty_like(dist)
    out_ = dist < stem
    back = dist >= stem + loop_total
    mid = ~(out_ | back)
    x[out_] = np.cos(heading) * dist[out_]
    y[out_] = np.sin(heading) * dist[out_]
    rem = np.clip(total - dist[back], 0, None)
    x[back] = np.cos(heading) * rem
    y[back] = np.sin(heading) * rem
    lx, ly = _along(loop, np.mod(dist[mid] - stem, circ))
    x[mid] = sx + lx
    y[mid] = sy + ly
    return x, y


def to_latlon(
    lat0: float, lon0: float, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    lat = lat0 + np.degrees(y / EARTH_R)
    lon = lon0 + np.degrees(x / (EARTH_R * math.cos(math.radians(lat0))))
    return lat, lon


def hills(ath: Athlete, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Altitude (m) of the athlete's neighbourhood: gentle waves, home at ``home_alt``."""
    seed = abs(hash_str(ath.athlete_id))
    p1 = (seed % 628) / 100.0
    p2 = ((seed // 628) % 628) / 100.0

    def f(xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
        return 9.0 * np.sin(xx / 520.0 + p1) + 6.0 * np.sin(yy / 380.0 + p2)

    return ath.home_alt + f(x, y) - f(np.zeros(1), np.zeros(1))[0]


def hash_str(s: str) -> int:
    """Stable small hash (Python's ``hash`` is salted per process)."""
    h = 2166136261
    for ch in s.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


# --- activities ---------------------------------------------------------------------------


def simulate_run(
    ath: Athlete,
    spec: RunSpec,
    start_unix: int,
    local_offset_s: int,
    rng: np.random.Generator,
    force_1hz: bool = False,
) -> Activity:
    """Simulate one run at 1 Hz and return what the athlete's device records."""
    n = int(spec.duration_s)
    t = np.arange(n, dtype=np.float64)
    base = ath.easy_speed * spec.pace_factor
    # Within-run pace waves (hills, effort) and noise; pace_wave scales the speed range.
    waves = (
        0.045 * spec.pace_wave * np.sin(2 * np.pi * t / rng.uniform(500, 900) + rng.uniform(0, 6.3))
    )
    waves += (
        0.03 * spec.pace_wave * np.sin(2 * np.pi * t / rng.uniform(150, 260) + rng.uniform(0, 6.3))
    )
    v = base * (1 + waves + smooth_noise(rng, n, 0.015 * max(spec.pace_wave, 0.3), 8.0))
    warm = int(rng.uniform(150, 300))
    v *= 0.82 + 0.18 * np.clip(t / warm, 0, 1)
    v[:3] *= np.array([0.4, 0.7, 0.9])

    # Strides: short efforts near top speed after a 15-20 min warm-up, jog recoveries.
    effort = np.zeros(n)
    efforts_done = 0
    if spec.n_strides:
        first = int(rng.uniform(900, 1200))
        period = spec.stride_s + int(rng.uniform(60, 90))
        for k in range(spec.n_strides):
            s0 = first + k * period
            if s0 + spec.stride_s + 60 > n - 300:
                break
            top = ath.top_speed * spec.stride_intensity * rng.uniform(0.97, 1.02)
            m = ramp_mask(n, s0 + 2, s0 + spec.stride_s - 2, 3)
            effort = np.maximum(effort, m * top)
            rec = ramp_mask(n, s0 + spec.stride_s + 2, s0 + period - 4, 4)
            v *= 1 - 0.15 * rec
            efforts_done += 1
    v = np.maximum(v, effort)

    # Standing stops (traffic lights): timer runs, speed 0, dynamics written as 0.
    stopped = np.zeros(n, dtype=bool)
    paused = np.zeros(n, dtype=bool)
    stop_windows: list[tuple[int, int]] = []
    for k in range(spec.stops + (1 if spec.auto_pause else 0)):
        dur = int(rng.uniform(12, 45)) if k < spec.stops else int(rng.uniform(30, 120))
        s0 = int(rng.uniform(400, max(401, n - 400 - dur)))
        if any(s0 < b + 60 and s0 + dur > a - 60 for a, b in stop_windows):
            continue
        if spec.n_strides and 800 < s0 < 900 + spec.n_strides * 120:
            continue
        stop_windows.append((s0, s0 + dur))
        v *= 1 - ramp_mask(n, s0, s0 + dur, 3)
        stopped[s0 : s0 + dur] = True
        if k >= spec.stops:
            paused[s0 : s0 + dur] = True
    v = np.where(stopped, 0.0, np.maximum(v, 0.0))

    dist = np.concatenate([[0.0], np.cumsum((v[1:] + v[:-1]) / 2)])
    total = float(dist[-1])
    x, y = route_xy(rng, dist, total, ath.loop_m)
    # GPS error: a few metres of slowly wandering offset.
    gx = x + smooth_noise(rng, n, 1.8, 20.0)
    gy = y + smooth_noise(rng, n, 1.8, 20.0)
    lat, lon = to_latlon(ath.home_lat, ath.home_lon, gx, gy)
    alt = hills(ath, x, y) + smooth_noise(rng, n, 0.4, 30.0)

    # Below 1 m/s (stopping, shuffling off) the device sees no running cadence: zeros.
    moving = v >= 1.0
    vm = np.where(moving, v, 3.0)
    step = (ath.step_a + ath.step_b * vm) * spec.step_length_factor
    step *= 1 + smooth_noise(rng, n, 0.012, 6.0) + rng.normal(0, 0.006, n)
    spm = np.where(moving, 60.0 * vm / step, 0.0)
    gct = (
        ath.gct_ref_ms
        * (3.0 / vm) ** 0.6
        * (1 + smooth_noise(rng, n, 0.015, 6.0) + rng.normal(0, 0.01, n))
    )
    vo = ath.vo_ref_mm * spec.vo_factor * (1 + 0.05 * (vm - 3.0))
    vo = vo * (1 + smooth_noise(rng, n, 0.02, 6.0) + rng.normal(0, 0.015, n))
    frac = t / max(n - 1, 1)
    bal = spec.balance_mean_pct + spec.balance_drift_pct * (frac - 0.5)
    bal = bal + smooth_noise(rng, n, 0.2, 5.0) + rng.normal(0, 0.3, n)

    intensity = np.clip(vm / ath.threshold_speed, 0, 1.25)
    hr_target = ath.hr_rest + (ath.hr_max - ath.hr_rest) * (0.3 + 0.52 * intensity)
    hr_target = np.where(moving, hr_target, ath.hr_rest + 0.45 * (ath.hr_max - ath.hr_rest))
    hr_target += 5.0 * t / 3600.0  # cardiac drift
    hr = lag(hr_target, 25.0, ath.hr_rest + 25) + rng.normal(0, 1.0, n)

    temp = 22.0 + 5.0 * (1 - np.exp(-t / 600.0)) + smooth_noise(rng, n, 0.6, 120.0)

    cols: dict[str, np.ndarray] = {
        "lat_deg": lat,
        "lon_deg": lon,
        "altitude_m": alt,
        "distance_m": dist,
        "speed_m_s": v,
        "heart_rate_bpm": hr,
        "cadence_spm": spm,
        "temperature_c": temp,
    }
    if ath.device.running_dynamics:
        cols["step_length_mm"] = np.where(moving, step * 1000.0, 0.0)
        cols["stance_time_ms"] = np.where(moving, gct, 0.0)
        cols["gct_balance_left_pct"] = np.where(moving, bal, 0.0)
        cols["vertical_oscillation_mm"] = np.where(moving, vo, 0.0)
    if ath.device.power:
        grade = np.gradient(hills(ath, x, y)) / np.maximum(v, 0.5)
        pw = (
            ath.mass_kg
            * v
            * (1.04 + 4.0 * np.clip(grade, -0.04, 0.06))
            * (1 + rng.normal(0, 0.03, n))
        )
        cols["power_w"] = np.where(moving, np.maximum(pw, 0), 0.0)

    keep = ~paused
    if ath.device.smart_recording and not force_1hz:
        keep &= smart_mask(v, rng)
    if paused.any():
        # the device writes a record when the timer stops and when it restarts
        pz = np.flatnonzero(paused)
        keep[max(int(pz[0]) - 1, 0)] = True
        keep[min(int(pz[-1]) + 1, n - 1)] = True
    idx = np.flatnonzero(keep)
    timer = np.cumsum(~paused) - 1
    pauses: list[tuple[int, int]] = []
    if paused.any():
        # record indices (in the kept series) around the auto-pause
        p0 = int(np.flatnonzero(paused)[0])
        before = int(np.searchsorted(idx, p0) - 1)
        pauses.append((before, before + 1))
    act = Activity(
        athlete_id=ath.athlete_id,
        kind="run",
        sport="running",
        sub_sport="generic",
        ts=(start_unix + t[idx]).astype(np.int64),
        timer_s=timer[idx].astype(np.int64),
        cols={k: c[idx] for k, c in cols.items()},
        device=ath.device,
        serial_number=ath.serial_number,
        local_offset_s=local_offset_s,
        pauses=pauses,
        planted={
            "sprint_efforts": efforts_done,
            "balance_mean_pct": spec.balance_mean_pct,
            "step_length_factor": spec.step_length_factor,
        },
    )
    return quantise_run(act)


def smart_mask(v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Garmin-like smart recording: a record when speed changed noticeably, else every 2-5 s."""
    n = len(v)
    keep = np.zeros(n, dtype=bool)
    i = 0
    gaps = rng.integers(2, 6, size=n)
    vl = v.tolist()
    while i < n:
        keep[i] = True
        j = i + 1
        limit = i + int(gaps[i])
        while j < n and j < limit and abs(vl[j] - vl[i]) < 0.35:
            j += 1
        i = j
    keep[-1] = True
    return keep


def quantise_run(act: Activity) -> Activity:
    """Round values to what a device writes: whole steps/min (cadence per foot in halves),
    step length to mm, GCT to ms, balance to 0.01 %, VO to 0.5 mm; dependent fields
    (step length, stance time %, vertical ratio) follow from the rounded values."""
    c = act.cols
    spm = np.round(c["cadence_spm"])
    c["cadence_spm"] = spm
    c["speed_m_s"] = np.round(c["speed_m_s"], 3)
    c["heart_rate_bpm"] = np.round(c["heart_rate_bpm"])
    c["temperature_c"] = np.round(c["temperature_c"])
    c["distance_m"] = np.round(c["distance_m"], 2)
    c["altitude_m"] = np.round(c["altitude_m"] * 5) / 5
    if "step_length_mm" in c:
        moving = spm > 0
        safe = np.where(moving, spm, 1.0)
        # The device derives step length from speed and cadence.
        c["step_length_mm"] = np.where(moving, np.round(c["speed_m_s"] * 60000.0 / safe), 0.0)
        c["stance_time_ms"] = np.where(moving, np.round(c["stance_time_ms"]), 0.0)
        c["gct_balance_left_pct"] = np.where(moving, np.round(c["gct_balance_left_pct"], 2), 0.0)
        c["vertical_oscillation_mm"] = np.where(
            moving, np.round(c["vertical_oscillation_mm"] * 2) / 2, 0.0
        )
        sl = np.where(moving, c["step_length_mm"], 1.0)
        c["vertical_ratio_pct"] = np.where(
            moving, np.round(c["vertical_oscillation_mm"] / sl * 100, 2), 0.0
        )
        # GCT as % of the stride (two steps): 100 x GCT / (120000 / spm) ms.
        c["stance_time_pct"] = np.where(
            moving, np.round(c["stance_time_ms"] * safe / 1200.0 * 4) / 4, 0.0
        )
    if "power_w" in c:
        c["power_w"] = np.round(c["power_w"])
    return act


def simulate_strength(
    ath: Athlete, duration_s: int, start_unix: int, local_offset_s: int, rng: np.random.Generator
) -> Activity:
    """A strength session: heart rate only, sets of ~45 s with rests (sport training)."""
    n = int(duration_s)
    t = np.arange(n, dtype=np.float64)
    work = np.zeros(n)
    s = 240
    while s < n - 120:
        d = int(rng.uniform(35, 60))
        work[s : s + d] = 1.0
        s += d + int(rng.uniform(60, 120))
    target = ath.hr_rest + (ath.hr_max - ath.hr_rest) * (0.25 + 0.35 * work)
    hr = np.round(lag(target, 20.0, ath.hr_rest + 15) + rng.normal(0, 1.0, n))
    idx = np.arange(0, n, 1 if not ath.device.smart_recording else 3)
    if idx[-1] != n - 1:
        idx = np.append(idx, n - 1)
    temp = np.round(24.0 + 4.0 * (1 - np.exp(-t / 600.0)))
    return Activity(
        athlete_id=ath.athlete_id,
        kind="strength",
        sport="training",
        sub_sport="strength_training",
        ts=(start_unix + t[idx]).astype(np.int64),
        timer_s=idx.astype(np.int64),
        cols={"heart_rate_bpm": hr[idx], "temperature_c": temp[idx]},
        device=ath.device,
        serial_number=ath.serial_number,
        local_offset_s=local_offset_s,
    )


def simulate_ride(
    ath: Athlete, duration_s: int, start_unix: int, local_offset_s: int, rng: np.random.Generator
) -> Activity:
    """An easy road ride (cross-training): no running dynamics, cadence in rpm."""
    n = int(duration_s)
    t = np.arange(n, dtype=np.float64)
    v = 7.0 * (1 + 0.08 * np.sin(2 * np.pi * t / 700) + smooth_noise(rng, n, 0.04, 15.0))
    v *= np.clip(t / 120.0, 0.2, 1)
    v = np.round(np.maximum(v, 0.0), 3)
    dist = np.concatenate([[0.0], np.cumsum((v[1:] + v[:-1]) / 2)])
    x, y = route_xy(rng, dist, float(dist[-1]), ath.loop_m * 4)
    lat, lon = to_latlon(ath.home_lat, ath.home_lon, x, y)
    alt = np.round(hills(ath, x, y) * 5) / 5
    rpm = np.round(np.where(v > 1, 85 + smooth_noise(rng, n, 4.0, 20.0), 0))
    hr = np.round(
        lag(
            ath.hr_rest + (ath.hr_max - ath.hr_rest) * (0.45 + 0.02 * np.sin(t / 300)),
            30.0,
            ath.hr_rest + 10,
        )
    )
    idx = np.arange(n)
    return Activity(
        athlete_id=ath.athlete_id,
        kind="ride",
        sport="cycling",
        sub_sport="road",
        ts=(start_unix + t).astype(np.int64),
        timer_s=idx.astype(np.int64),
        cols={
            "lat_deg": lat,
            "lon_deg": lon,
            "altitude_m": alt,
            "distance_m": np.round(dist, 2),
            "speed_m_s": v,
            "heart_rate_bpm": hr,
            "cadence_spm": rpm,  # rpm for cycling
            "temperature_c": np.round(20.0 + 0 * t),
        },
        device=ath.device,
        serial_number=ath.serial_number,
        local_offset_s=local_offset_s,
    )
