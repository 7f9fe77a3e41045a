"""Weekly load and risk on hand-built activity summaries; expected numbers are computed
by hand (or by an independent plain-Python loop) in each test."""

from __future__ import annotations

import json
import math
import statistics
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transforms_helpers import activities, athletes_frame

from transforms.load import ewma
from transforms.risk import (
    ASYMMETRY_LEVELS,
    FLAG_CODES,
    RISK_LEVELS,
    weekly_risk,
    weeks_to_recompute,
)
from transforms.schema import ACTIVITY_GAIT_SCHEMA, WEEKLY_RISK_SCHEMA
from transforms.thresholds import Thresholds

TH = Thresholds()
MON = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)  # Monday of 2026-W02
NO_GAIT = pl.DataFrame(schema=ACTIVITY_GAIT_SCHEMA)
ATH = athletes_frame([("a", "UTC", 190.0)])
# Banister weight of a session without HR: HRr 0.5 -> 0.5 x 0.64 e^(1.92 x 0.5) per minute
W_NO_HR = 0.5 * 0.64 * math.exp(0.96)


def gait_rows(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """activity_gait rows with plausible defaults for everything not given."""
    base = {
        "moving_s": 3600.0, "analysed_s": 3000.0, "distance_m": 10_000.0, "steady_share": 0.9,
        "cadence_median_spm": 170.0, "cadence_cv_pct": 2.0, "step_length_median_m": 1.05,
        "step_length_cv_pct": 3.0, "step_length_at_ref_speed_m": 1.05, "ref_speed_m_s": 3.0,
        "speed_p10_m_s": 2.7, "speed_p50_m_s": 3.0, "speed_p90_m_s": 3.3, "speed_range_m_s": 0.6,
        "max_speed_m_s": 6.5, "sprint_threshold_m_s": 5.5, "sprint_s": 90.0, "sprint_efforts": 6,
        "gct_balance_mean_left_pct": 50.2, "gct_balance_dev_pct": 0.2, "symmetry_index_pct": 0.8,
        "symmetry_drift_pct": 0.0, "stance_time_median_ms": 250.0,
        "vertical_oscillation_median_mm": 85.0, "vertical_ratio_median_pct": 8.0,
        "dynamics_share": 1.0, "balance_share": 1.0, "cadence_share": 1.0, "trimp": 60.0,
        "cadence_mean_spm": 168.0, "hr_share": 1.0, "load_method": "hr_trimp",
    }
    out = []
    for r in rows:
        row = {**base, **r}
        out.append({k: row.get(k) for k in ACTIVITY_GAIT_SCHEMA})
    return pl.DataFrame(out, schema=ACTIVITY_GAIT_SCHEMA)


def run_acts(gait: pl.DataFrame) -> pl.DataFrame:
    return activities(
        {
            "activity_id": r["activity_id"], "athlete_id": r["athlete_id"], "sport": "running",
            "started_at": r["started_at"], "duration_s": r["moving_s"],
            "distance_m": r["distance_m"],
        }
        for r in gait.iter_rows(named=True)
    )


def weekly_runs(weeks: int, per_week: dict[int, dict[str, Any]] | None = None,
                days: tuple[int, ...] = (0, 2, 4)) -> pl.DataFrame:
    """``weeks`` weeks of runs on the given weekdays; per_week[w] overrides fields."""
    rows = []
    for w in range(weeks):
        for d in days:
            rows.append({
                "activity_id": f"r{w}-{d}", "athlete_id": "a",
                "started_at": MON + timedelta(days=7 * w + d),
                **(per_week or {}).get(w, {}),
            })
    return gait_rows(rows)


def test_ewma_williams_bias_corrected() -> None:
    df = pl.DataFrame({"load": [10.0, 0.0, 0.0, 20.0]})
    out = df.select(ewma("load", 7))["load"].to_list()
    # lambda = 2 / (7 + 1) = 0.25, decay 0.75: weighted mean of the days so far
    assert out == pytest.approx([
        10.0,
        0.75 * 10 / (1 + 0.75),
        0.5625 * 10 / (1 + 0.75 + 0.5625),
        (0.421875 * 10 + 20) / (1 + 0.75 + 0.5625 + 0.421875),
    ])


def test_output_schema_and_empty_input() -> None:
    assert weekly_risk(activities([]), NO_GAIT, ATH).schema == pl.Schema(WEEKLY_RISK_SCHEMA)
    g = weekly_runs(2)
    assert weekly_risk(run_acts(g), g, ATH).schema == pl.Schema(WEEKLY_RISK_SCHEMA)


def test_week_is_the_athletes_local_iso_week() -> None:
    # Sunday 2026-03-01 23:30 UTC is Monday 00:30 in Berlin (W10), 18:30 Sunday in New York
    # (W09); a file's own local offset (+10 h) wins over the athlete's zone.
    t = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    acts = activities([
        {"activity_id": "b", "athlete_id": "ber", "sport": "training", "sub_sport": "strength_training", "started_at": t, "duration_s": 1800.0},
        {"activity_id": "n", "athlete_id": "nyc", "sport": "training", "sub_sport": "strength_training", "started_at": t, "duration_s": 1800.0},
        {"activity_id": "o", "athlete_id": "nyc2", "sport": "training", "sub_sport": "strength_training", "started_at": t, "duration_s": 1800.0, "local_offset_s": 36000},
    ])
    ath = athletes_frame([("ber", "Europe/Berlin", None), ("nyc", "America/New_York", None), ("nyc2", "America/New_York", None)])
    w = weekly_risk(acts, NO_GAIT, ath)
    got = dict(zip(w["athlete_id"], w["iso_week"], strict=True))
    assert got == {"ber": "2026-W10", "nyc": "2026-W09", "nyc2": "2026-W10"}
    assert w.filter(pl.col("athlete_id") == "ber")["week_start"].item() == date(2026, 3, 2)


def test_monotony_strain_and_session_counts() -> None:
    # strength 60 / 30 / 60 min on Mon, Wed, Fri; a ride and a swim without HR on Sat
    acts = activities([
        {"activity_id": "s1", "athlete_id": "a", "sport": "training", "sub_sport": "strength_training", "started_at": MON, "duration_s": 3600.0},
        {"activity_id": "s2", "athlete_id": "a", "sport": "training", "sub_sport": "strength_training", "started_at": MON + timedelta(days=2), "duration_s": 1800.0},
        {"activity_id": "s3", "athlete_id": "a", "sport": "training", "sub_sport": "strength_training", "started_at": MON + timedelta(days=4), "duration_s": 3600.0},
        {"activity_id": "c1", "athlete_id": "a", "sport": "cycling", "sub_sport": "road", "started_at": MON + timedelta(days=5), "duration_s": 0.0},
        {"activity_id": "c2", "athlete_id": "a", "sport": "swimming", "sub_sport": "lap_swimming", "started_at": MON + timedelta(days=5, hours=3), "duration_s": 0.0},
    ])
    r = weekly_risk(acts, NO_GAIT, ATH).row(0, named=True)
    assert (r["strength_sessions"], r["cross_training_sessions"], r["runs"]) == (3, 2, 0)
    minutes = [60, 0, 30, 0, 60, 0, 0]  # Foster: all 7 days, rest days as 0
    assert r["load"] == pytest.approx(150 * W_NO_HR)
    mono = statistics.mean(minutes) / statistics.stdev(minutes)  # scale-free
    assert r["monotony"] == pytest.approx(mono)
    assert r["strain"] == pytest.approx(150 * W_NO_HR * mono)
    assert r["risk_level"] == "insufficient_data"
    assert "no_runs" in r["missing_data"]


def test_run_totals() -> None:
    g = gait_rows([
        {"activity_id": "x1", "athlete_id": "a", "started_at": MON, "distance_m": 8000.0, "moving_s": 2400.0},
        {"activity_id": "x2", "athlete_id": "a", "started_at": MON + timedelta(days=6), "distance_m": 21000.0, "moving_s": 7000.0},
    ])
    r = weekly_risk(run_acts(g), g, ATH).row(0, named=True)
    assert (r["runs"], r["run_distance_m"], r["run_time_s"], r["long_run_m"]) == (2, 29000.0, 9400.0, 21000.0)
    assert r["load"] == pytest.approx(120.0)  # two runs of TRIMP 60
    assert r["sprint_s"] == 180.0 and r["sprint_efforts"] == 12


def test_weekly_gait_values_are_time_weighted() -> None:
    g = gait_rows([
        {"activity_id": "x1", "athlete_id": "a", "started_at": MON, "analysed_s": 1000.0, "moving_s": 2000.0,
         "cadence_median_spm": 160.0, "speed_range_m_s": 0.4, "gct_balance_mean_left_pct": 51.0,
         "vertical_oscillation_median_mm": 90.0},
        {"activity_id": "x2", "athlete_id": "a", "started_at": MON + timedelta(days=2), "analysed_s": 3000.0,
         "moving_s": 6000.0, "cadence_median_spm": 180.0, "speed_range_m_s": 0.8,
         "gct_balance_mean_left_pct": 53.0, "vertical_oscillation_median_mm": 80.0,
         "dynamics_share": 0.5},
    ])
    r = weekly_risk(run_acts(g), g, ATH).row(0, named=True)
    assert r["cadence_spm"] == pytest.approx((160 * 1000 + 180 * 3000) / 4000)  # analysed time
    assert r["speed_range_m_s"] == pytest.approx((0.4 * 2000 + 0.8 * 6000) / 8000)  # moving time
    assert r["gct_balance_left_pct"] == pytest.approx(52.5)
    # VO weighted by analysed time with dynamics: 1000 x 1.0 and 3000 x 0.5
    assert r["vertical_oscillation_mm"] == pytest.approx((90 * 1000 + 80 * 1500) / 2500)


@pytest.mark.parametrize(
    ("left", "level", "flagged"),
    [(50.5, "balanced", False), (49.3, "balanced", False), (51.5, "moderate", True),
     (48.0, "moderate", True), (53.0, "high", True), (47.0, "high", True)],
)
def test_asymmetry_garmin_zones_either_side(left: float, level: str, flagged: bool) -> None:
    g = gait_rows([{"activity_id": "x", "athlete_id": "a", "started_at": MON, "gct_balance_mean_left_pct": left}])
    r = weekly_risk(run_acts(g), g, ATH).row(0, named=True)
    assert r["asymmetry_level"] == level
    assert ("asymmetry" in r["flags"]) is flagged
    # SI from the weekly balance: (L - R) / (0.5 (L + R)) x 100 = 4 L - 200
    assert r["symmetry_index_pct"] == pytest.approx(4 * left - 200)
    # Garmin's population zones are context (Malisoux 2024): shown, never a risk level
    assert r["risk_level"] == "insufficient_data"
    if flagged:
        detail = next(f for f in json.loads(r["flag_details"]) if f["code"] == "asymmetry")
        assert detail["severity"] == "info"
        assert detail["numbers"]["max_side_pct"] == pytest.approx(max(left, 100 - left))
        assert detail["numbers"]["garmin_zone"] == level
        assert "clinician" in detail["recommendation"]


def test_asymmetry_never_guessed_without_balance() -> None:
    g = gait_rows([{"activity_id": "x", "athlete_id": "a", "started_at": MON, "gct_balance_mean_left_pct": None, "balance_share": 0.0,
                    "dynamics_share": 0.0, "vertical_oscillation_median_mm": None}])
    r = weekly_risk(run_acts(g), g, ATH).row(0, named=True)
    assert r["asymmetry_level"] is None and r["gct_balance_left_pct"] is None
    assert "asymmetry" not in r["flags"]
    assert {"no_gct_balance", "no_running_dynamics"} <= set(r["missing_data"])


def test_compact_gait_against_own_baseline() -> None:
    # weeks 0-6 normal (step length alternating 1.10 / 1.12), weeks 7 and 8 compact
    per = {w: {"step_length_at_ref_speed_m": 1.10 if w % 2 else 1.12} for w in range(7)}
    for wk in (7, 8):
        per[wk] = {"step_length_at_ref_speed_m": 1.00, "speed_range_m_s": 0.3, "sprint_s": 0.0,
                   "sprint_efforts": 0, "vertical_oscillation_median_mm": 75.0}
    g = weekly_runs(9, per)
    w = weekly_risk(run_acts(g), g, ATH)
    # baseline weeks with gait before each week: 0, 1, 2 -> insufficient; then up to 6
    # (week 7 is changed, so it stays out of week 8's baseline: weeks 1-6)
    assert w["baseline_weeks"].to_list() == [0, 1, 2, 3, 4, 5, 6, 6, 6]
    assert w["risk_level"].to_list()[:3] == ["insufficient_data"] * 3
    assert w["risk_level"].to_list()[3:7] == ["low"] * 4
    # one compact week is noted, not rated (a change must persist for more than one week)
    first = w.row(7, named=True)
    assert "compact_gait" in first["flags"] and first["risk_level"] == "low"
    assert json.loads(first["flag_details"])[0]["severity"] == "info"
    last = w.row(8, named=True)
    # z (compact sign), each clipped to 3: step length (1.11 - 1.00) / max(sd 0.011, floor 0.02)
    # = 5.5 -> 3; range (0.6 - 0.3) / floor 0.1 = 3; sprint (90 - 0) / floor 30 = 3;
    # VO (85 - 75) / floor 3 = 3.3 -> 3  => score 3
    assert last["compact_gait_score"] == pytest.approx(3.0)
    assert "compact_gait" in last["flags"] and last["risk_level"] == "high"
    detail = next(f for f in json.loads(last["flag_details"]) if f["code"] == "compact_gait")
    assert detail["severity"] == "high"
    assert detail["numbers"]["step_length_at_ref_speed_m_baseline"] == pytest.approx(1.11)
    # the change is described against the runner's own variation, with data coverage:
    # weeks 1-6 alternate 1.10 / 1.12 m: mean 1.11, SD sqrt(6 x 0.01^2 / 5) = 0.011
    assert "1.00 m against your usual 1.11 +- 0.01 m" in detail["reason"]
    assert "Gait data from 3 of 3 runs" in detail["reason"]
    for word in ("squats", "lunges", "step-ups", "Romanian deadlifts", "strides"):
        assert word in detail["recommendation"]


def test_flagged_weeks_stay_out_of_later_baselines() -> None:
    per = {wk: {"step_length_at_ref_speed_m": 1.10 if wk % 2 else 1.12} for wk in range(6)}
    for wk in (6, 7, 8):
        per[wk] = {"step_length_at_ref_speed_m": 1.00, "speed_range_m_s": 0.3, "sprint_s": 0.0,
                   "vertical_oscillation_median_mm": 75.0}
    g = weekly_runs(9, per)
    res = weekly_risk(run_acts(g), g, ATH)
    flagged = ["compact_gait" in f for f in res["flags"].to_list()]
    assert flagged == [False] * 6 + [True] * 3  # still flagged: baseline is weeks 0-5
    assert res["baseline_weeks"].to_list()[6:] == [6, 6, 6]


def _independent_acwr(daily: list[float]) -> float:
    """Uncoupled bias-corrected EWMA ratio by plain recursion of numerator and weight sums:
    acute on the last day over chronic 7 days earlier."""
    na = da = nc = dc = 0.0
    chronic = []
    for x in daily:
        na, da = x + 0.75 * na, 1 + 0.75 * da
        nc, dc = x + (1 - 2 / 29) * nc, 1 + (1 - 2 / 29) * dc
        chronic.append(nc / dc)
    return (na / da) / chronic[-8]


def test_load_spike_and_distance_progression() -> None:
    # six weeks of three 60-TRIMP 1 h runs (Mon/Wed/Fri), then a week of three 180-TRIMP 3 h runs
    per = {6: {"trimp": 180.0, "distance_m": 30_000.0, "moving_s": 10_800.0}}
    g = weekly_runs(7, per)
    w = weekly_risk(run_acts(g), g, ATH)
    daily: list[float] = []
    for wk in range(7):
        load = 180.0 if wk == 6 else 60.0
        daily += [load, 0, load, 0, load, 0, 0]
    last = w.row(6, named=True)
    # the data end on that Friday: a week in progress is read on its last observed day
    assert last["acwr"] == pytest.approx(_independent_acwr(daily[:-2]))
    assert w.row(5, named=True)["acwr"] == pytest.approx(_independent_acwr(daily[:-7]))
    assert last["acwr"] > 1.5
    assert last["run_acwr"] == pytest.approx(last["acwr"])  # all load is running here
    # a load rule alone is "moderate" at most: the ratio describes, it does not predict
    assert "load_spike" in last["flags"] and last["risk_level"] == "moderate"
    # 90 km vs the mean of 30 and 30 km: +200 %
    assert last["distance_progression_pct"] == pytest.approx(200.0)
    assert "distance_progression" in last["flags"]
    spike = next(f for f in json.loads(last["flag_details"]) if f["code"] == "load_spike")
    assert "not a prediction" in spike["reason"] and "20-30 % below" in spike["recommendation"]
    # before 28 days of history no load flag, however high the ratio
    assert all("load_spike" not in f for f in w["flags"].to_list()[:4])


def test_advice_flags_do_not_raise_the_risk_level() -> None:
    g = weekly_runs(6, {w: {"sprint_efforts": 0, "sprint_s": 0.0} for w in range(6)})
    w = weekly_risk(run_acts(g), g, ATH)
    last = w.row(5, named=True)
    assert {"no_sprints", "no_strength"} <= set(last["flags"])
    assert last["risk_level"] == "low"
    details = {f["code"]: f for f in json.loads(last["flag_details"])}
    assert details["no_sprints"]["severity"] == "info"
    assert "Romanian deadlifts" in details["no_strength"]["recommendation"]


def test_from_week_returns_the_same_rows_as_the_full_computation() -> None:
    g = weekly_runs(8, {5: {"trimp": 150.0}})
    acts = run_acts(g)
    full = weekly_risk(acts, g, ATH)
    part = weekly_risk(acts, g, ATH, from_week="2026-W07")
    assert part["iso_week"].to_list() == ["2026-W07", "2026-W08", "2026-W09"]
    assert part.equals(full.filter(pl.col("week_start") >= date(2026, 2, 9)))
    assert weekly_risk(acts, g, ATH, from_week=date(2026, 2, 11)).equals(part)


def test_weeks_to_recompute_are_the_affected_week_and_all_later() -> None:
    g = weekly_runs(5)
    acts = run_acts(g)
    ath = athletes_frame([("a", "Pacific/Auckland", None)])
    got = weeks_to_recompute(acts, ath, date(2026, 1, 20))
    assert got["iso_week"].to_list() == ["2026-W04", "2026-W05", "2026-W06"]
    # 2026-01-25 12:30 UTC is Monday 01:30 in Auckland (UTC+13): local week W05
    got = weeks_to_recompute(acts, ath, datetime(2026, 1, 25, 12, 30, tzinfo=UTC))
    assert got["iso_week"].to_list() == ["2026-W05", "2026-W06"]
    assert weeks_to_recompute(acts, ath, date(2026, 5, 1)).height == 0


def test_unknown_time_zone_is_a_clear_error() -> None:
    acts = activities([{"activity_id": "x", "athlete_id": "a", "sport": "cycling", "started_at": MON, "duration_s": 60.0}])
    with pytest.raises(ValueError, match="Mars/Olympus"):
        weekly_risk(acts, NO_GAIT, athletes_frame([("a", "Mars/Olympus", None)]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    weeks=st.lists(
        st.tuples(
            st.integers(0, 4),  # runs that week
            st.floats(0.8, 1.3),  # step length at reference speed
            st.one_of(st.none(), st.floats(45, 55)),  # balance
            st.floats(0, 400),  # TRIMP per run
            st.integers(0, 2),  # strength sessions
        ),
        min_size=1,
        max_size=12,
    )
)
def test_property_weekly_values_in_documented_ranges(weeks: list[tuple[int, float, float | None, float, int]]) -> None:
    runs, strength = [], []
    for w, (n, sl, bal, trimp, n_str) in enumerate(weeks):
        for i in range(n):
            runs.append({
                "activity_id": f"r{w}-{i}", "athlete_id": "a", "started_at": MON + timedelta(days=7 * w + i),
                "step_length_at_ref_speed_m": sl, "gct_balance_mean_left_pct": bal, "trimp": trimp,
                "balance_share": 0.0 if bal is None else 1.0,
            })
        for i in range(n_str):
            strength.append({"activity_id": f"s{w}-{i}", "athlete_id": "a", "sport": "training",
                             "sub_sport": "strength_training", "started_at": MON + timedelta(days=7 * w + 5 + i),
                             "duration_s": 1800.0})
    g = gait_rows(runs) if runs else NO_GAIT
    acts = pl.concat([run_acts(g), activities(strength)]) if runs else activities(strength)
    if acts.height == 0:
        return
    out = weekly_risk(acts, g, ATH)
    assert out.schema == pl.Schema(WEEKLY_RISK_SCHEMA)
    assert out["week_start"].is_sorted() and out["week_start"].dt.weekday().eq(1).all()
    for r in out.iter_rows(named=True):
        assert r["risk_level"] in RISK_LEVELS
        assert r["asymmetry_level"] in (None, *ASYMMETRY_LEVELS)
        assert set(r["flags"]) <= set(FLAG_CODES)
        details = json.loads(r["flag_details"])
        assert [d["code"] for d in details] == r["flags"]
        assert all(d["severity"] in ("info", "moderate", "high") and d["reason"] and d["recommendation"] for d in details)
        for c in ("load", "acute_load", "chronic_load", "acwr", "monotony", "strain"):
            assert r[c] is None or r[c] >= 0, c
        s = r["compact_gait_score"]
        assert s is None or -TH.compact_z_clip <= s <= TH.compact_z_clip
        assert 0 <= r["baseline_weeks"] <= TH.baseline_weeks
        if r["gct_balance_left_pct"] is None:
            assert r["asymmetry_level"] is None and "asymmetry" not in r["flags"]
        if r["runs"] == 0:
            assert "no_runs" in r["missing_data"]


# --- issue 14: running load apart, returns from a break, device changes -------------------


def _other(aid: str, sport: str, start: datetime, minutes: float, sub: str | None = None) -> dict[str, Any]:
    return {"activity_id": aid, "athlete_id": "a", "sport": sport, "sub_sport": sub,
            "started_at": start, "duration_s": minutes * 60.0}


def test_cross_training_never_raises_the_level() -> None:
    # six weeks of three 1 h runs, then a week of daily 2 h rides and no runs, then a week
    # of the same runs plus the rides: the total-load ratio spikes, the running one does not
    g = weekly_runs(6)
    rides = [_other(f"c{w}-{d}", "cycling", MON + timedelta(days=7 * w + d, hours=12), 120.0)
             for w in (6, 7) for d in range(7)]
    g2 = pl.concat([g, weekly_runs(8).filter(pl.col("activity_id").str.starts_with("r7-"))])
    acts = pl.concat([run_acts(g2), activities(rides)])
    w = weekly_risk(acts, g2, ATH)
    ride_week, mixed = w.row(6, named=True), w.row(7, named=True)
    assert ride_week["cross_training_sessions"] == 7 and ride_week["runs"] == 0
    # 7 rides x 120 min x the no-HR Banister weight; no running load at all
    assert ride_week["other_load"] == pytest.approx(7 * 120 * W_NO_HR)
    assert ride_week["run_load"] == 0.0
    assert mixed["acwr"] > TH.acwr_moderate  # all sports: a big rise ...
    assert mixed["run_load"] == pytest.approx(180.0)  # ... but running is as usual
    for r in (ride_week, mixed):
        assert r["risk_level"] not in ("moderate", "high"), r["flags"]
        assert "load_spike" not in r["flags"]
        # shown and encouraged, as information
        other = next(f for f in json.loads(r["flag_details"]) if f["code"] == "other_training")
        assert other["severity"] == "info" and "7 cross-training" in other["reason"]


def test_shin_splints_example_is_not_high() -> None:
    # six weeks of three 1 h runs, two weeks off, a week of five elliptical sessions,
    # then a week with two 2 km jogs
    g = weekly_runs(6)
    ell = [_other(f"e{d}", "fitness_equipment", MON + timedelta(days=7 * 8 + d), 45.0, "elliptical")
           for d in range(5)]
    jogs = gait_rows([
        {"activity_id": f"j{d}", "athlete_id": "a", "started_at": MON + timedelta(days=7 * 9 + d),
         "distance_m": 2000.0, "moving_s": 720.0, "trimp": 12.0}
        for d in (1, 4)
    ])
    g2 = pl.concat([g, jogs])
    w = weekly_risk(pl.concat([run_acts(g2), activities(ell)]), g2, ATH)
    assert "high" not in w["risk_level"].to_list()
    assert w.row(8, named=True)["risk_level"] not in ("moderate", "high")  # elliptical week
    jog = w.row(9, named=True)
    # last run Friday of week 5 (day 39), first jog Tuesday of week 9 (day 64): 24 days off
    assert (jog["days_off_before"], jog["return_week"]) == (24, 1)
    assert jog["prebreak_run_time_s"] == pytest.approx(3 * 3600.0)
    # 24 min is within 50 % of 180 min: noted as a return, no level
    assert "returning" in jog["flags"] and jog["risk_level"] == "low"
    detail = next(f for f in json.loads(jog["flag_details"]) if f["code"] == "returning")
    assert "Returning after 24 days off" in detail["reason"]


def test_return_after_a_break_is_judged_against_the_pre_break_level() -> None:
    # weeks 0-5: three 1 h runs; weeks 6-8 off; week 9: three 1 h runs again (100 % of the
    # pre-break level in return week 1); week 10: one 1 h run (33 %)
    g = pl.concat([weekly_runs(6), weekly_runs(11).filter(pl.col("activity_id").str.starts_with("r9-")),
                   weekly_runs(11).filter(pl.col("activity_id") == "r10-0")])
    w = weekly_risk(run_acts(g), g, ATH)
    back, next_week = w.row(9, named=True), w.row(10, named=True)
    # last run Friday week 5 (day 39), back Monday week 9 (day 63): 23 days off -> short
    # break, return week 1 may hold 50 % of 180 min
    assert (back["days_off_before"], back["return_week"]) == (23, 1)
    assert back["run_acwr"] > TH.acwr_high  # the ratio would call this a spike ...
    assert "load_spike" not in back["flags"]  # ... the return rule judges it instead
    ret = next(f for f in json.loads(back["flag_details"]) if f["code"] == "return_progression")
    assert ret["numbers"]["allowed_share"] == 0.5
    assert ret["numbers"]["prebreak_run_time_s"] == pytest.approx(10_800.0)
    assert back["risk_level"] == "moderate"
    # week 2: 60 min <= 75 % of 180 min
    assert next_week["return_week"] == 2 and "returning" in next_week["flags"]
    assert next_week["risk_level"] == "low"
    # configurable: a 30-day break rule sees no return here
    w30 = weekly_risk(run_acts(g), g, ATH, Thresholds(break_min_days=30, return_long_break_days=30))
    assert w30.row(9, named=True)["return_week"] is None
    assert "return_progression" not in w30.row(9, named=True)["flags"]


def test_sporadic_runs_are_no_pre_break_level() -> None:
    # one 1 h run every third week (weeks 0, 3, ..., 15): each is a return after 20 days
    # off, but no 4 weeks with runs lie within the 8 weeks before any break, so there is
    # no training level to return to: the returns are noted, never a level
    g = weekly_runs(16, days=(0,)).filter(
        pl.col("activity_id").str.extract(r"^r(\d+)-").cast(pl.Int32) % 3 == 0)
    w = weekly_risk(run_acts(g), g, ATH)
    back = w.filter(pl.col("return_week") == 1)
    assert back.height == 5 and back["days_off_before"].unique().to_list() == [20]
    assert back["prebreak_run_time_s"].null_count() == 5
    assert all("returning" in f and "return_progression" not in f for f in back["flags"])
    assert set(w["risk_level"]) <= {"low", "insufficient_data"}
    # the same four runs in four weeks in a row before a break are a level
    dense = pl.concat([weekly_runs(4, days=(0,)), weekly_runs(8, days=(0,)).filter(
        pl.col("activity_id") == "r7-0")])
    back = weekly_risk(run_acts(dense), dense, ATH).filter(pl.col("return_week") == 1).row(0, named=True)
    assert back["prebreak_run_time_s"] == pytest.approx(3600.0)
    assert "return_progression" in back["flags"]  # 60 min > 50 % of 60 min


def test_long_break_starts_at_a_third() -> None:
    # 40 days off (> 28): return week 1 may hold 33 % of the pre-break level
    g = pl.concat([weekly_runs(6), weekly_runs(13).filter(pl.col("activity_id") == "r12-0")])
    w = weekly_risk(run_acts(g), g, ATH)
    back = w.row(12, named=True)
    # last run day 39, back day 84: 44 days off; 60 min > 33 % of 180 min (59.4 min)
    assert back["days_off_before"] == 44
    ret = next(f for f in json.loads(back["flag_details"]) if f["code"] == "return_progression")
    assert ret["numbers"]["allowed_share"] == 0.33


def _with_device(acts: pl.DataFrame, serial_from_week: dict[int, int]) -> pl.DataFrame:
    """Garmin fenix runs; serial number by week (the latest key at or before the week)."""
    def serial(aid: str) -> int:
        wk = int(aid[1:].split("-")[0])
        return serial_from_week[max(k for k in serial_from_week if k <= wk)]
    return acts.with_columns(
        manufacturer=pl.lit("garmin"), product=pl.lit("fenix7"),
        serial_number=pl.col("activity_id").map_elements(serial, return_dtype=pl.Int64),
        has_running_dynamics=pl.lit(True), has_gct_balance=pl.lit(False),
    )


def test_new_watch_restarts_gait_baselines() -> None:
    # ten normal weeks on watch 1; from week 10 a new watch that measures 8 % shorter steps
    per = {wk: {"step_length_at_ref_speed_m": 1.10 if wk % 2 else 1.12} for wk in range(10)}
    for wk in range(10, 20):
        per[wk] = {"step_length_at_ref_speed_m": 1.02, "vertical_oscillation_median_mm": 75.0}
    g = weekly_runs(20, per)
    acts = _with_device(run_acts(g), {0: 111, 10: 222})
    w = weekly_risk(acts, g, ATH)
    change = MON.date() + timedelta(days=70)  # Monday of week 10
    assert w["device_changed_on"].to_list() == [None] * 10 + [change] * 10
    # the baseline restarts after the week of the change: 0 weeks in weeks 10 and 11
    assert w["baseline_weeks"].to_list()[10:15] == [0, 0, 1, 2, 3]
    # never compact gait in the six weeks after a device change
    for r in w.iter_rows(named=True):
        if r["device_changed_on"] is not None and (r["week_start"] - change).days <= 6 * 7:
            assert "compact_gait" not in r["flags"], r["iso_week"]
            assert "new_device_baseline" in r["missing_data"]
    first = next(f for f in json.loads(w.row(10, named=True)["flag_details"]) if f["code"] == "new_device")
    assert f"New watch (garmin fenix7) since {change}" in first["reason"]
    assert "rebuild over the next 7 week" in first["reason"]
    # without the device columns, the same data would be read as compact gait
    plain = weekly_risk(run_acts(g), g, ATH)
    assert any("compact_gait" in f for f in plain["flags"].to_list()[10:])
    # going back to an old watch is no new device
    back = _with_device(run_acts(g), {0: 111, 10: 222, 15: 111})
    assert weekly_risk(back, g, ATH)["device_changed_on"].to_list()[15:] == [change] * 5


def test_new_dynamics_sensor_is_a_change() -> None:
    g = weekly_runs(8)
    acts = _with_device(run_acts(g), {0: 111}).with_columns(
        has_gct_balance=pl.col("activity_id").str.starts_with("r5-")
        | pl.col("activity_id").str.starts_with("r6-") | pl.col("activity_id").str.starts_with("r7-")
    )
    w = weekly_risk(acts, g, ATH)
    assert w["device_changed_on"].to_list()[5] == MON.date() + timedelta(days=35)
    detail = next(f for f in json.loads(w.row(5, named=True)["flag_details"]) if f["code"] == "new_device")
    assert "strap or pod" in detail["reason"]


def test_asymmetry_change_against_own_baseline_must_persist() -> None:
    # balance 50.2 % for six weeks, then 51.8 % (Garmin "moderate") for three weeks
    per = {wk: {"gct_balance_mean_left_pct": 50.2} for wk in range(6)}
    for wk in (6, 7, 8):
        per[wk] = {"gct_balance_mean_left_pct": 51.8}
    g = weekly_runs(9, per)
    w = weekly_risk(run_acts(g), g, ATH)
    sev = [
        next((f["severity"] for f in json.loads(d) if f["code"] == "asymmetry"), None)
        for d in w["flag_details"].to_list()
    ]
    # 1.6 points away from the own baseline (>= 1 point and 2 x SD floor 0.5): week 6 is
    # one week (context), weeks 7 and 8 persist; never "high" (Malisoux 2024)
    assert sev[6:] == ["info", "moderate", "moderate"]
    assert w["risk_level"].to_list()[6:] == ["low", "moderate", "moderate"]
    assert w["asymmetry_level"].to_list()[6:] == ["moderate"] * 3


def test_monotony_is_information_only() -> None:
    # runs every day with the same load: monotony undefined (SD 0); six equal days + rest
    g = weekly_runs(6, days=(0, 1, 2, 3, 4, 5))
    w = weekly_risk(run_acts(g), g, ATH)
    last = w.row(5, named=True)
    # daily loads 60 x 6 and 0: mean 51.43, SD 22.68 -> 2.27 > 2.0
    assert last["monotony"] == pytest.approx(statistics.mean([60] * 6 + [0]) / statistics.stdev([60] * 6 + [0]))
    assert "monotony" in last["flags"] and last["risk_level"] == "low"


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    runs=st.lists(st.tuples(st.integers(0, 4), st.floats(0, 300), st.floats(600, 7200)), min_size=2, max_size=10),
    other=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 6), st.floats(10, 300),
                             st.sampled_from(["cycling", "swimming", "training"])), max_size=15),
)
def test_property_other_sports_never_change_the_level(
    runs: list[tuple[int, float, float]], other: list[tuple[int, int, float, str]]
) -> None:
    """Adding any cross-training or strength sessions to a running history changes no
    week's risk level and no moderate/high flag."""
    rows = [
        {"activity_id": f"r{w}-{i}", "athlete_id": "a", "started_at": MON + timedelta(days=7 * w + i),
         "trimp": trimp, "moving_s": secs, "distance_m": secs * 3.0}
        for w, (n, trimp, secs) in enumerate(runs) for i in range(n)
    ]
    if not rows:
        return
    g = gait_rows(rows)
    extra = activities(
        {"activity_id": f"o{k}", "athlete_id": "a", "sport": sport,
         "sub_sport": "strength_training" if sport == "training" else None,
         "started_at": MON + timedelta(days=7 * w + d, hours=15), "duration_s": minutes * 60.0}
        for k, (w, d, minutes, sport) in enumerate(other)
    )
    alone = weekly_risk(run_acts(g), g, ATH)
    mixed = weekly_risk(pl.concat([run_acts(g), extra]), g, ATH)

    def serious(details: str) -> list[str]:
        return [f["code"] for f in json.loads(details) if f["severity"] != "info"]

    both = alone.join(mixed, on="week_start", suffix="_mixed")
    assert both.height == alone.height  # every running week is still there
    for r in both.iter_rows(named=True):
        assert r["risk_level"] == r["risk_level_mixed"], r["iso_week"]
        assert serious(r["flag_details"]) == serious(r["flag_details_mixed"]), r["iso_week"]


def test_summary_only_runs_count_where_their_data_allows() -> None:
    # a manual run entry (no samples, no gait) in week 1 between file-recorded runs
    g = weekly_runs(1)
    manual = activities([{"activity_id": "m1", "athlete_id": "a", "sport": "running",
                          "started_at": MON + timedelta(days=8), "duration_s": 1800.0,
                          "distance_m": 5000.0}]).with_columns(summary_only=pl.lit(True))
    acts = pl.concat([run_acts(g).with_columns(summary_only=pl.lit(False)), manual])
    w = weekly_risk(acts, g, ATH)
    r = w.row(1, named=True)
    assert (r["runs"], r["run_distance_m"], r["run_time_s"]) == (1, 5000.0, 1800.0)
    # no HR: 30 minutes at the no-HR Banister weight, all of it running load
    assert r["run_load"] == pytest.approx(30 * W_NO_HR) and r["other_load"] == 0.0
    assert "no_gait_samples" in r["missing_data"]
