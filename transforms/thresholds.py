"""Every number the gait analytics use, in one place, each with its reason or reference.

Overridable per deployment from ``gaitwatch.toml``::

    [thresholds]
    sprint_share_of_top_speed = 0.88
    acwr_high = 1.5

:func:`load_thresholds` validates names and types; an unknown name is an error, never
silently ignored. docs/metrics.md repeats each value with its reference.

References (short keys used in the comments below)
--------------------------------------------------
- Garmin RD: Garmin, "Running Dynamics" owner's-manual pages (Forerunner/fenix series):
  colour gauges from data of "many runners" -- cadence purple > 183, blue 174-183,
  green 164-173, orange 153-163, red < 153 spm (> 95th, 70-95th, 30-69th, 5-29th,
  < 5th percentile); GCT balance green 49.3-50.7 %, orange 50.8-52.2 % (or 47.8-49.2 %),
  red > 52.2 % (or < 47.8 %); vertical oscillation and ground-contact-time bands likewise.
- Foster 1998: Foster C. Monitoring training in athletes with reference to overtraining
  syndrome. Med Sci Sports Exerc 30(7):1164-8. Monotony = mean / SD of daily load over a
  week; strain = weekly load x monotony. Illness episodes followed load and strain above
  each athlete's *individual* threshold; 2.0 is not a validated population cut-off, so
  monotony is information only (never raises the risk level).
- Williams 2017: Williams S, et al. Better way to determine the acute:chronic workload
  ratio? Br J Sports Med 51(3):209-10. EWMA with lambda = 2 / (N + 1).
- Gabbett 2016: Gabbett TJ. The training-injury prevention paradox. Br J Sports Med
  50(5):273-80. ACWR "sweet spot" 0.8-1.3, "danger zone" > 1.5.
- Lolli 2019: Lolli L, et al. Mathematical coupling causes spurious correlation within the
  conventional acute-to-chronic workload ratio. Br J Sports Med 53(15):921-2.
- Impellizzeri 2021: Impellizzeri FM, et al. What role do chronic workloads play in the
  acute to chronic workload ratio? Time to dismiss ACWR and its underlying theory. Sports
  Med 51(3):581-92. -> ACWR is reported as a load *description*, not an injury predictor.
- Heiderscheit 2011: Heiderscheit BC, et al. Effects of step rate manipulation on joint
  mechanics during running. Med Sci Sports Exerc 43(2):296-302 (a 5-10 % step-rate
  increase reduces hip and knee loading).
- Nielsen 2014: Nielsen RO, et al. Excessive progression in weekly running distance and
  risk of running-related injuries. J Orthop Sports Phys Ther 44(10):739-47 (> 30 %
  progression over a 2-week period associated with distance-related injuries).
- Banister 1991 / Morton 1990: TRIMP = minutes x HRr x 0.64 x e^(1.92 HRr) (men's
  weighting; HRr = heart-rate reserve fraction).
- Daniels 2014: Daniels J. Daniels' Running Formula, 3rd ed. Human Kinetics 2014, chapter
  "Breaks from training" (coaching guidance, not an injury study): after 6-28 days off,
  run about 50 % of the previous load for the first half of the return and 75 % for the
  second; after longer breaks start at about 33 %, then 50 %, then 75 %.
- Malisoux 2024: Malisoux L, Gette P, Delattre N, Urhausen A, Theisen D. Gait asymmetry in
  spatiotemporal and kinetic variables does not increase running-related injury risk in
  lower limbs. BMJ Open Sport Exerc Med 10(1):e001787 (836 runners, 6 months: no higher
  injury risk with gait asymmetry) -> asymmetry is context, and only a persistent change
  against the runner's own baseline raises the level, never to "high".
- Toresdahl 2020: Toresdahl BG, et al. A randomized study of a strength training program
  to prevent injuries in runners of the New York City Marathon. Sports Health
  12(1):74-79 (720 first-time marathoners; 12-week quadriceps/hip/core programme, no fewer
  overuse injuries) -> strength advice is encouragement, never a reason for a risk level.
- Lenhart 2014: Lenhart RL, et al. Increasing running step rate reduces patellofemoral
  joint forces. Med Sci Sports Exerc 46(3):557-64.
- Robinson 1987: Robinson RO, et al. Use of force platform variables to quantify the
  effects of chiropractic manipulation on gait symmetry. J Manipulative Physiol Ther
  10(4):172-6 (symmetry index SI = (L - R) / (0.5 (L + R)) x 100).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    """All thresholds of ``transforms``. Field comments give the reason or reference."""

    # --- sample cleaning / classification (engineering choices, documented in metrics.md) ---
    max_sample_gap_s: float = 10.0  # a longer gap between samples is a pause (auto-pause / smart recording ~1-8 s)
    moving_speed_min_m_s: float = 1.0  # below this is standing/paused (slowest running ~1.7 m/s; GPS drift < 1 m/s)
    run_cadence_min_spm: float = 140.0  # below: walking break, excluded from gait metrics (Garmin RD red band < 153 spm)
    cadence_valid_min_spm: float = 60.0  # running cadence plausibility range (STYLE.md corpus invariant)
    cadence_valid_max_spm: float = 260.0
    step_length_valid_min_m: float = 0.2  # plausible step length range; outside -> null
    step_length_valid_max_m: float = 3.0
    grade_window_s: float = 10.0  # grade over the trailing 10 s of moving time (smooths altitude quantisation)
    grade_min_distance_m: float = 5.0  # no grade from less horizontal distance than this
    flat_grade_max_pct: float = 3.0  # |grade| <= 3 % counts as flat (gait changes measurably above ~3-5 %)
    steady_window_s: float = 30.0  # trailing window for pace steadiness
    steady_cv_max: float = 0.10  # speed SD / mean <= 10 % within the window = steady pace
    steady_min_s: float = 60.0  # a steady segment lasts at least this long
    steady_min_total_s: float = 120.0  # less steady time than this: medians fall back to all analysed samples

    # --- step length at a reference speed ---
    ref_speed_m_s: float = 3.0  # 5:33 min/km: inside most recreational runners' easy-to-steady range
    fit_min_speed_sd_m_s: float = 0.15  # below: speed too uniform for a slope; use the constant-cadence fallback
    fit_min_samples: int = 30  # fewer analysed samples: constant-cadence fallback

    # --- sprint exposure ---
    robust_max_window_s: float = 5.0  # robust max speed = max of a 5 s rolling median (kills GPS spikes)
    top_speed_window_days: int = 84  # athlete's top speed: trailing 12 weeks of runs
    top_speed_quantile: float = 0.9  # 90th percentile of per-run robust maxima in that window
    sprint_share_of_top_speed: float = 0.85  # sprint = >= 85 % of own top speed (brief: 85-90 %)
    sprint_min_over_typical: float = 1.3  # floor: sprint >= 1.3 x typical (median) run speed; strides ~1.4-1.8x easy pace
    sprint_min_effort_s: float = 5.0  # a counted effort lasts >= 5 s above the threshold (strides 10-30 s)

    # --- training load (Banister 1991 TRIMP; pace fallback documented in metrics.md) ---
    hr_rest_bpm: float = 60.0  # default resting HR when the athlete has none configured
    hr_max_default_bpm: float = 190.0  # default HRmax when the athlete has none configured
    trimp_weight_a: float = 0.64  # Banister/Morton men's weighting: 0.64 e^(1.92 x)
    trimp_weight_b: float = 1.92
    hr_min_share: float = 0.5  # less HR coverage of moving time than this: pace-duration load
    pace_hrr_at_ref_speed: float = 0.65  # assumed HRr at ref_speed for the pace fallback (easy-steady running)
    cross_training_hrr: float = 0.5  # assumed HRr for non-running sessions without heart rate

    # --- workload (Williams 2017 EWMA; Gabbett 2016 bands; Foster 1998) ---
    acute_days: int = 7  # EWMA acute time constant, days
    chronic_days: int = 28  # EWMA chronic time constant, days
    acwr_low: float = 0.8  # Gabbett 2016 lower bound of the usual range (in load_spike numbers, not flagged)
    acwr_moderate: float = 1.3  # Gabbett 2016 upper bound of the usual range -> load_spike (running ACWR, moderate)
    acwr_high: float = 1.5  # Gabbett 2016 upper band: "well above" in the wording only; a load rule alone is never high (Impellizzeri 2021)
    acwr_min_history_days: int = 28  # no ACWR flag before one chronic time constant of history
    distance_progression_max_pct: float = 30.0  # Nielsen 2014: > 30 % over 2 weeks
    distance_progression_min_m: float = 10_000.0  # ignore progressions on tiny volumes (< 10 km/week)
    monotony_high: float = 2.0  # Foster 1998 example value; information only (thresholds are individual)
    monotony_min_load_days: int = 3  # a week with fewer training days cannot be "monotonous"
    load_spike_compare_weeks: int = 4  # load_spike / distance_progression need more running than in each of the previous 4 weeks (implies above their mean)

    # --- returns from a break in running (Daniels 2014 return guidance) ---
    break_min_days: int = 14  # >= 14 days without a run: the next weeks are a return, not an ACWR spike
    return_long_break_days: int = 28  # longer breaks start lower and take one more step (Daniels 2014)
    return_share_short_1: float = 0.5  # break 14-28 days: week 1 up to 50 % of the pre-break weekly running time
    return_share_short_2: float = 0.75  # week 2 up to 75 %; then normal rules
    return_share_long_1: float = 0.33  # break > 28 days: week 1 up to 33 %
    return_share_long_2: float = 0.5  # week 2 up to 50 %
    return_share_long_3: float = 0.75  # week 3 up to 75 %; then normal rules
    return_prebreak_weeks: int = 4  # pre-break level: mean weekly running time of the last 4 weeks with runs
    return_prebreak_span_weeks: int = 8  # ... all within the 8 weeks up to the break: sparser running is no training level to return to
    return_no_acwr_weeks: int = 4  # no ACWR / progression rule for 4 weeks after a return (one chronic time constant)

    # --- compact gait vs own baseline ---
    baseline_weeks: int = 6  # trailing baseline: previous 6 weeks, current week excluded
    baseline_min_weeks: int = 3  # fewer weeks with gait data: insufficient_data
    baseline_max_lookback_weeks: int = 16  # eligible baseline weeks must lie within 16 weeks
    compact_moderate_z: float = 1.0  # mean signed z >= 1.0 -> moderate compact_gait
    compact_high_z: float = 2.0  # mean signed z >= 2.0 -> high compact_gait
    compact_z_clip: float = 3.0  # each z is clipped to +-3 so one metric alone cannot make the score
    compact_min_metrics: int = 2  # score needs at least 2 of the 4 z-scores
    change_persist_weeks: int = 2  # gait changes raise the level only when seen in 2 consecutive gait weeks (Malisoux 2024)
    device_quiet_weeks: int = 6  # no compact_gait within 6 weeks after a new watch/sensor: baselines rebuild
    # SD floors: week-to-week noise of the weekly value, so a very regular baseline does not
    # turn measurement noise into large z-scores.
    sd_floor_step_length_m: float = 0.02
    sd_floor_speed_range_m_s: float = 0.10
    sd_floor_sprint_s: float = 30.0
    sd_floor_vertical_oscillation_mm: float = 3.0

    # --- asymmetry (Garmin RD GCT balance zones; Robinson 1987 SI) ---
    balance_balanced_max_pct: float = 50.7  # max(L, 100 - L) <= 50.7 %: green
    balance_moderate_max_pct: float = 52.2  # <= 52.2 %: orange; above: red
    symmetry_drift_max_pct: float = 4.0  # |SI last third - first third| > 4 SI points (1 balance point)
    min_balance_share: float = 0.3  # weekly balance needs >= 30 % of analysed time with balance data
    balance_change_min_pct: float = 1.0  # own-baseline change: |balance - baseline| >= 1 point (one Garmin zone width ~1.4)
    sd_floor_balance_pct: float = 0.5  # and >= 2 SD of the baseline weeks, SD at least 0.5 points

    # --- absolute norms (Garmin RD cadence percentile bands; Heiderscheit 2011) ---
    cadence_band_red_max_spm: float = 153.0  # < 153 spm: below the 5th percentile
    cadence_band_orange_max_spm: float = 164.0  # 153-163: 5-29th percentile
    cadence_band_green_max_spm: float = 174.0  # 164-173: 30-69th percentile
    cadence_band_blue_max_spm: float = 184.0  # 174-183: 70-95th; >= 184 purple (> 95th)
    step_rate_increase_min_pct: float = 5.0  # Heiderscheit 2011: +5-10 % reduces hip/knee load
    step_rate_increase_max_pct: float = 10.0

    # --- back-test (transforms/evaluate.py; engineering choices, docs/metrics.md) ---
    episode_gap_days: int = 7  # pain/injury entries within 7 days of the previous one: one episode
    evaluate_window_days: int = 28  # a warning counts when its week ended 1-28 days before an episode

    # --- advice flags ---
    no_sprints_weeks: int = 2  # no sprint effort in this and the previous week -> no_sprints
    no_strength_weeks: int = 2  # no strength session in this and the previous week -> no_strength


# Names of the thresholds that are whole numbers (days, weeks, counts); the others are floats.
INTEGER_THRESHOLDS: frozenset[str] = frozenset(
    f.name for f in fields(Thresholds) if f.type in ("int", int)
)


def load_thresholds(overrides: dict[str, Any] | None = None) -> Thresholds:
    """Defaults with ``overrides`` applied (e.g. gaitwatch.toml ``[thresholds]``).

    Raises
    ------
    ValueError
        On an unknown name, a value of the wrong type, or an inconsistent combination.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - {f.name for f in fields(Thresholds)})
    if unknown:
        raise ValueError(f"unknown threshold(s): {', '.join(unknown)}")
    clean: dict[str, Any] = {}
    for name, value in overrides.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"threshold {name} must be a number, got {value!r}")
        if name in INTEGER_THRESHOLDS:
            if float(value) != int(value):
                raise ValueError(f"threshold {name} must be an integer, got {value!r}")
            clean[name] = int(value)
        else:
            clean[name] = float(value)
        if clean[name] < 0:
            raise ValueError(f"threshold {name} must not be negative, got {value!r}")
    th = dataclasses.replace(Thresholds(), **clean)
    _check(th)
    return th


def _check(th: Thresholds) -> None:
    problems = []
    if not th.acwr_low < th.acwr_moderate < th.acwr_high:
        problems.append("acwr_low < acwr_moderate < acwr_high")
    if not 50.0 <= th.balance_balanced_max_pct < th.balance_moderate_max_pct <= 100.0:
        problems.append("50 <= balance_balanced_max_pct < balance_moderate_max_pct <= 100")
    if not 0.0 < th.sprint_share_of_top_speed <= 1.0:
        problems.append("0 < sprint_share_of_top_speed <= 1")
    if not 0.0 < th.top_speed_quantile <= 1.0:
        problems.append("0 < top_speed_quantile <= 1")
    if not th.compact_moderate_z < th.compact_high_z:
        problems.append("compact_moderate_z < compact_high_z")
    if not th.cadence_valid_min_spm < th.cadence_valid_max_spm:
        problems.append("cadence_valid_min_spm < cadence_valid_max_spm")
    if th.acute_days < 1 or th.chronic_days <= th.acute_days:
        problems.append("1 <= acute_days < chronic_days")
    if th.baseline_weeks < 1 or th.baseline_min_weeks > th.baseline_weeks:
        problems.append("1 <= baseline_min_weeks <= baseline_weeks")
    if th.max_sample_gap_s <= 0 or th.steady_window_s <= 0 or th.grade_window_s <= 0:
        problems.append("window and gap lengths must be positive")
    shares = (th.return_share_short_1, th.return_share_short_2, th.return_share_long_1,
              th.return_share_long_2, th.return_share_long_3)
    if not all(0.0 < x <= 1.0 for x in shares):
        problems.append("0 < return_share_* <= 1")
    if th.break_min_days < 1 or th.return_long_break_days < th.break_min_days:
        problems.append("1 <= break_min_days <= return_long_break_days")
    if th.change_persist_weeks < 1:
        problems.append("change_persist_weeks >= 1")
    if problems:
        raise ValueError("inconsistent thresholds: " + "; ".join(problems))


DEFAULT_THRESHOLDS = Thresholds()


def threshold_values(th: Thresholds = DEFAULT_THRESHOLDS) -> dict[str, float]:
    """Every threshold of ``th`` by name, as a float (every field is a number), in field
    order: what the metrics stage records in the warehouse (``thresholds_in_use``)."""
    return {f.name: float(getattr(th, f.name)) for f in fields(Thresholds)}
