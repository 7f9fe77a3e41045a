"""The sample athletes and their weekly plans, with the planted patterns.

Four athletes over 14 ISO weeks (2026-W34 .. 2026-W47, the athlete's local weeks):

- ``control``: stable gait, weekly strides, 1-2 strength sessions, +3 %/week volume.
- ``compact``: from week 8 on, step length at a given speed shrinks (-1.5 % .. -9.5 %),
  vertical oscillation drops (to -10 %), within-run speed range narrows, strides and
  strength stop.
- ``asymmetry``: GCT balance drifts from 50.2 % left to 53.5 % from week 7 on, with a
  within-run drift (the later in a run, the more left-dominant).
- ``spike``: steady volume, then week 11 about 2.4x the previous 4-week mean; a wrist-only
  watch (no running dynamics) and some runs exported as GPX.

Week numbers here are 1-based (week 1 = 2026-W34).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from synth.fit_writer import MANUFACTURER_GARMIN
from synth.model import Athlete, Device

FIRST_WEEK = (2026, 34)
N_WEEKS = 14


def iso_week_label(week_no: int) -> str:
    y, w = FIRST_WEEK
    monday = date.fromisocalendar(y, w, 1)
    d = date.fromordinal(monday.toordinal() + 7 * (week_no - 1))
    iy, iw, _ = d.isocalendar()
    return f"{iy}-W{iw:02d}"


def week_monday(week_no: int) -> date:
    y, w = FIRST_WEEK
    monday = date.fromisocalendar(y, w, 1)
    return date.fromordinal(monday.toordinal() + 7 * (week_no - 1))


FENIX5 = Device(
    "garmin fenix5",
    MANUFACTURER_GARMIN,
    2697,
    running_dynamics=True,
    smart_recording=True,
    software_version=24.0,
)
FR935 = Device(
    "garmin fr935",
    MANUFACTURER_GARMIN,
    2691,
    running_dynamics=True,
    power=True,
    smart_recording=True,
    software_version=21.1,
)
FENIX5S = Device(
    "garmin fenix5s",
    MANUFACTURER_GARMIN,
    2544,
    running_dynamics=True,
    power=True,
    smart_recording=True,
    software_version=24.0,
)
FR235 = Device(
    "garmin fr235",
    MANUFACTURER_GARMIN,
    2431,
    running_dynamics=False,
    smart_recording=True,
    software_version=7.9,
)

ATHLETES: list[Athlete] = [
    Athlete(
        "control",
        "Casey Control",
        "control",
        "Europe/London",
        51.4791,
        -0.1566,
        8.0,
        FENIX5,
        3_951_200_101,
        easy_speed=3.0,
        top_speed=7.0,
        step_a=0.30,
        step_b=0.25,
        gct_ref_ms=250,
        vo_ref_mm=85,
        hr_rest=52,
        hr_max=188,
        threshold_speed=4.0,
        mass_kg=68,
        height_m=1.76,
        loop_m=3200,
        run_time_of_day=(6, 45),
    ),
    Athlete(
        "compact",
        "Morgan Compact",
        "compact",
        "America/New_York",
        40.7812,
        -73.9665,
        35.0,
        FR935,
        3_951_200_202,
        easy_speed=3.2,
        top_speed=7.3,
        step_a=0.32,
        step_b=0.25,
        gct_ref_ms=245,
        vo_ref_mm=90,
        hr_rest=50,
        hr_max=190,
        threshold_speed=4.2,
        mass_kg=72,
        height_m=1.82,
        loop_m=3800,
        run_time_of_day=(18, 10),
    ),
    Athlete(
        "asymmetry",
        "Alex Asymmetry",
        "asymmetry",
        "Europe/Berlin",
        52.5145,
        13.3501,
        35.0,
        FENIX5S,
        3_951_200_303,
        easy_speed=2.9,
        top_speed=6.6,
        step_a=0.28,
        step_b=0.25,
        gct_ref_ms=255,
        vo_ref_mm=80,
        hr_rest=55,
        hr_max=185,
        threshold_speed=3.8,
        mass_kg=60,
        height_m=1.68,
        loop_m=3000,
        run_time_of_day=(7, 5),
    ),
    Athlete(
        "spike",
        "Sam Spike",
        "spike",
        "Australia/Sydney",
        -33.8985,
        151.2336,
        40.0,
        FR235,
        3_951_200_404,
        easy_speed=3.1,
        top_speed=7.0,
        step_a=0.30,
        step_b=0.25,
        gct_ref_ms=250,
        vo_ref_mm=85,
        hr_rest=48,
        hr_max=192,
        threshold_speed=4.1,
        mass_kg=75,
        height_m=1.85,
        loop_m=3500,
        run_time_of_day=(6, 0),
    ),
]

# --- planted patterns (week_no -> value) ---------------------------------------------------

COMPACT_ONSET_WEEK = 8
# step length at a given speed, % change vs weeks 1-7
COMPACT_STEP_CHANGE = {8: -1.5, 9: -3.0, 10: -4.5, 11: -6.0, 12: -7.5, 13: -8.5, 14: -9.5}
# vertical oscillation, % change (reaches -10 %)
COMPACT_VO_CHANGE = {w: round(c * 10 / 9.5, 2) for w, c in COMPACT_STEP_CHANGE.items()}
# within-run pace variation amplitude (1 = normal speed range)
COMPACT_PACE_WAVE = {8: 0.8, 9: 0.65, 10: 0.5, 11: 0.4, 12: 0.35, 13: 0.3, 14: 0.3}

ASYM_ONSET_WEEK = 7
ASYM_BASE = 50.2
# planted weekly mean GCT balance, % left
ASYM_BALANCE = {7: 50.5, 8: 51.1, 9: 51.7, 10: 52.5, 11: 52.9, 12: 53.2, 13: 53.4, 14: 53.5}

SPIKE_WEEK = 11


@dataclass
class Session:
    """One planned activity (local date/time; duration in minutes)."""

    kind: str  # "run" | "strength" | "ride"
    day: date
    hour: int
    minute: int
    minutes: float
    run_kind: str = "easy"  # easy | long | strides
    spec: dict[str, float | int | bool] = field(default_factory=dict)
    fmt: str = "fit"  # fit | fit.gz | gpx_garmin | gpx_strava_gz | zip_strava | zip_garmin


_PATTERNS = {
    3: [(1, "easy"), (3, "strides"), (6, "long")],
    4: [(1, "easy"), (2, "strides"), (4, "easy"), (6, "long")],
    5: [(0, "easy"), (1, "easy"), (2, "strides"), (4, "easy"), (6, "long")],
}
_SPIKE_PATTERN = [(0, "easy"), (2, "strides"), (4, "easy"), (6, "long")]
_SPIKE_WEEK_PATTERN = [(0, "easy"), (2, "strides"), (4, "easy"), (5, "easy"), (6, "long")]


def weekly_run_minutes(ath: Athlete, week_no: int) -> float:
    """Planned running minutes of the week (before per-run jitter)."""
    if ath.role == "control":
        return 165.0 * 1.03 ** (week_no - 1)  # +3 %/week, below the 10 % rule of thumb
    if ath.role == "compact":
        return 190.0
    if ath.role == "asymmetry":
        return 175.0 * 1.02 ** (week_no - 1)
    if ath.role == "spike":
        return 400.0 if week_no == SPIKE_WEEK else 160.0
    raise ValueError(ath.role)


def runs_in_week(ath: Athlete, week_no: int) -> int:
    if ath.role == "control":
        return 5 if week_no % 3 == 0 else 4
    if ath.role == "compact":
        return 4 if week_no >= COMPACT_ONSET_WEEK or week_no % 2 else 5
    if ath.role == "asymmetry":
        return 3 if week_no in (2, 9) else 4
    return 5 if week_no == SPIKE_WEEK else 4


def strength_in_week(ath: Athlete, week_no: int) -> int:
    if ath.role == "control":
        return 1 if week_no % 4 == 0 else 2
    if ath.role == "compact":
        return 0 if week_no >= COMPACT_ONSET_WEEK else (2 if week_no % 2 else 1)
    return 1


def sprints_in_week(ath: Athlete, week_no: int) -> bool:
    return not (ath.role == "compact" and week_no >= COMPACT_ONSET_WEEK)


def plan_week(ath: Athlete, week_no: int, rng: np.random.Generator) -> list[Session]:
    """Sessions of one local ISO week (local dates and wall-clock times)."""
    monday = week_monday(week_no)
    n_runs = runs_in_week(ath, week_no)
    pattern = _SPIKE_PATTERN if (ath.role == "spike" and n_runs == 4) else _PATTERNS[n_runs]
    if ath.role == "spike" and week_no == SPIKE_WEEK:
        pattern = _SPIKE_WEEK_PATTERN
    total = weekly_run_minutes(ath, week_no) * rng.uniform(0.97, 1.03)
    compact_late = ath.role == "compact" and week_no >= COMPACT_ONSET_WEEK
    spike_week = ath.role == "spike" and week_no == SPIKE_WEEK
    if spike_week:
        # back-loaded: the big days come at the end of the week
        shares = np.array([45, 60, 85, 95, 115], dtype=float)
        mins = shares / shares.sum() * total
    else:
        long_share = 0.25 if compact_late else 0.32
        long = min(long_share * total, 72.0)
        others = n_runs - 1
        w = rng.uniform(0.92, 1.08, others)
        mins = np.concatenate([(total - long) * w / w.sum(), [long]])
        mins = np.clip(mins, 25.0, 72.0)
    sessions: list[Session] = []
    h0, m0 = ath.run_time_of_day
    for (dow, kind), minutes in zip(pattern, mins.tolist(), strict=True):
        day = date.fromordinal(monday.toordinal() + dow)
        if kind == "strides" and not sprints_in_week(ath, week_no):
            kind = "easy"
        if dow >= 5:
            if ath.role == "compact" and week_no <= 6:
                hour, minute = 20, 15  # Sunday evening long runs cross midnight UTC (EDT)
            else:
                hour, minute = 8, int(rng.integers(0, 50))
        else:
            hour, minute = h0, m0 + int(rng.integers(-5, 20))
            if minute < 0:
                hour, minute = hour - 1, minute + 60
            if minute >= 60:
                hour, minute = hour + 1, minute - 60
        spec: dict[str, float | int | bool] = {
            "pace_factor": 0.94
            if kind == "long" and not compact_late
            else float(rng.uniform(0.97, 1.04)),
            "stops": int(rng.integers(0, 3)),
            "auto_pause": bool(rng.uniform() < 0.25),
        }
        if compact_late:
            spec["pace_factor"] = float(rng.uniform(0.99, 1.01))
        spec.update(gait_spec(ath, week_no, rng))
        if kind == "strides":
            spec["n_strides"] = int(rng.integers(6, 9))
            spec["stride_s"] = int(rng.integers(12, 21))
        sessions.append(Session("run", day, hour, minute, round(float(minutes), 1), kind, spec))
    # Strength goes on easy-run days (a "double day"), keeping rest days free: otherwise
    # similar daily minutes every day would plant a Foster monotony signal by accident.
    easy_days = [dow for dow, kind in pattern if kind == "easy"]
    for i in range(strength_in_week(ath, week_no)):
        dow = easy_days[-1 - i] if i < len(easy_days) else easy_days[0]
        day = date.fromordinal(monday.toordinal() + dow)
        hour = 7 if h0 >= 12 else 18  # not at the usual run time
        sessions.append(
            Session(
                "strength",
                day,
                hour,
                30 + int(rng.integers(0, 20)),
                round(float(rng.uniform(30, 45)), 1),
            )
        )
    if ath.role == "spike" and week_no % 2 == 0:
        day = date.fromordinal(monday.toordinal() + 5)
        sessions.append(
            Session("ride", day, 9, int(rng.integers(0, 30)), round(float(rng.uniform(45, 60)), 1))
        )
    sessions.sort(key=lambda s: (s.day, s.hour, s.minute))
    return sessions


def gait_spec(
    ath: Athlete, week_no: int, rng: np.random.Generator
) -> dict[str, float | int | bool]:
    """Planted per-run gait parameters (RunSpec fields) for the athlete's role and week."""
    out: dict[str, float | int | bool] = {}
    if ath.role == "asymmetry":
        mean = ASYM_BALANCE.get(week_no, ASYM_BASE)
        out["balance_mean_pct"] = round(mean + float(rng.normal(0, 0.05)), 3)
        # left dominance grows during the run: drift (last - first) = 60 % of the excess
        out["balance_drift_pct"] = round(0.6 * (mean - ASYM_BASE), 3)
    else:
        # stable, 50.0-50.5 % left
        out["balance_mean_pct"] = round(50.25 + float(rng.normal(0, 0.06)), 3)
    if ath.role == "compact" and week_no >= COMPACT_ONSET_WEEK:
        out["step_length_factor"] = 1 + COMPACT_STEP_CHANGE[week_no] / 100
        out["vo_factor"] = 1 + COMPACT_VO_CHANGE[week_no] / 100
        out["pace_wave"] = COMPACT_PACE_WAVE[week_no]
    return out
