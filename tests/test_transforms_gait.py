"""Per-sample and per-activity gait metrics on small frames whose expected values are
worked out by hand in each test (never by the code under test)."""

from __future__ import annotations

import math

import polars as pl
import pytest
from transforms_helpers import T0, samples

from transforms.gait import activity_gait, derive_samples, symmetry_index_pct, wquantile
from transforms.schema import ACTIVITY_GAIT_SCHEMA
from transforms.thresholds import Thresholds

TH = Thresholds()


def _derived(df: pl.DataFrame, lazy: bool) -> pl.DataFrame:
    return derive_samples(df.lazy() if lazy else df, TH).collect()


@pytest.mark.parametrize("lazy", [False, True])
def test_step_rate_and_step_length(lazy: bool) -> None:
    # rows: device step length / derived from speed and cadence / implausible cadence
    df = samples(
        4,
        speed_m_s=[3.0, 3.0, 3.0, 3.0],
        cadence_spm=[180.0, 180.0, 150.0, 300.0],
        step_length_m=[None, 1.1, None, None],
    )
    d = _derived(df, lazy)
    assert d["steps_per_min"].to_list() == [180.0, 180.0, 150.0, None]
    # 3.0 m/s at 180 steps/min = 3 steps/s -> 1.0 m; at 150 -> 2.5 steps/s -> 1.2 m
    sl = d["step_length_calc_m"].to_list()
    assert sl[0] == pytest.approx(1.0)
    assert sl[1] == pytest.approx(1.1)
    assert sl[2] == pytest.approx(1.2)
    assert sl[3] is None
    assert d["step_length_source"].to_list() == ["speed_cadence", "device", "speed_cadence", None]


def test_no_step_metrics_outside_running() -> None:
    # a cycling session's cadence is rpm: never a step rate
    d = _derived(samples(3, sport="cycling", speed_m_s=7.0, cadence_spm=90.0), lazy=False)
    assert d["steps_per_min"].null_count() == 3
    assert d["step_length_calc_m"].null_count() == 3
    assert not d["is_running"].any()


@pytest.mark.parametrize("lazy", [False, True])
def test_intervals_moving_and_gaps(lazy: bool) -> None:
    # 1 s, 1 s, 30 s gap (a pause: longer than max_sample_gap_s), 1 s; one slow sample
    df = samples(5, step_s=[1, 1, 30, 1], speed_m_s=[3.0, 3.0, 0.5, 3.0, 3.0])
    d = _derived(df, lazy)
    assert d["dt_s"].to_list() == [0.0, 1.0, 1.0, 0.0, 1.0]
    # first sample closes no interval; 0.5 m/s is below the 1.0 m/s moving threshold;
    # the sample after the gap closes no interval
    assert d["is_moving"].to_list() == [False, True, False, False, True]
    assert d["moving_clock_ms"].to_list() == [0, 1000, 1000, 1000, 2000]


def test_speed_from_distance_when_device_gives_none() -> None:
    d = _derived(samples(3, distance_m=[0.0, 2.5, 5.5]), lazy=False)
    assert d["speed_calc_m_s"].to_list()[1:] == pytest.approx([2.5, 3.0])


@pytest.mark.parametrize("lazy", [False, True])
def test_grade_and_flat(lazy: bool) -> None:
    # 2.5 m/s and +0.1 m altitude per second: 0.1 / 2.5 = 4 % uphill
    n = 15
    df = samples(
        n,
        speed_m_s=2.5,
        distance_m=[2.5 * i for i in range(n)],
        altitude_m=[100 + 0.1 * i for i in range(n)],
    )
    d = _derived(df, lazy)
    g = d["grade_pct"].to_list()
    # sample 1 has only 2.5 m in its window (< 5 m): no grade yet
    assert g[0] is None and g[1] is None
    assert g[2:] == pytest.approx([4.0] * (n - 2))
    assert d["is_flat"].to_list() == [True, True] + [False] * (n - 2)  # 4 % > 3 %


def test_grade_unknown_without_altitude_counts_as_flat() -> None:
    d = _derived(samples(10, speed_m_s=3.0, distance_m=[3.0 * i for i in range(10)]), lazy=False)
    assert d["grade_pct"].null_count() == 10
    assert d["is_flat"].all()


def test_steady_segments() -> None:
    # constant 3 m/s for 100 s: the speed CV needs 3 moving samples in its window, so
    # samples 1-2 are not steady; samples 3..100 form one steady segment of 98 s (>= 60 s)
    d = _derived(samples(101, speed_m_s=3.0), lazy=False)
    steady = d["is_steady"].to_list()
    assert steady[:3] == [False, False, False]
    assert all(steady[3:])
    assert d["steady_segment"].drop_nulls().n_unique() == 1
    # 50 s only: the segment (48 s) is shorter than steady_min_s = 60 s
    d2 = _derived(samples(51, speed_m_s=3.0), lazy=False)
    assert not d2["is_steady"].any()
    assert activity_gait(samples(101, speed_m_s=3.0), TH)["steady_share"].item() == pytest.approx(0.98)


def test_cadence_medians_use_steady_segments_when_long_enough() -> None:
    # 200 s steady at 3 m/s and 170 spm, then 300 s alternating 2 / 4 m/s (speed CV 1/3,
    # unsteady) at 180 spm. Steady time (>= 197 s) exceeds 120 s, so the median is taken on
    # steady samples: 170, although most analysed time is at 180.
    speed = [3.0] * 200 + [2.0, 4.0] * 150
    cad = [170.0] * 200 + [180.0] * 300
    r = activity_gait(samples(500, speed_m_s=speed, cadence_spm=cad), TH).row(0, named=True)
    assert r["cadence_median_spm"] == 170.0
    # without the steady rule it would be 180: check the fallback with a higher minimum
    th = Thresholds(steady_min_total_s=1000.0)
    assert activity_gait(samples(500, speed_m_s=speed, cadence_spm=cad), th)["cadence_median_spm"].item() == 180.0


def test_weighted_quantile_is_the_lower_time_weighted_quantile() -> None:
    df = pl.DataFrame({"v": [5.0, 1.0, 3.0, None, 2.0], "w": [1.0, 1.0, 1.0, 5.0, 7.0]})
    out = df.select(
        q50=wquantile(pl.col("v"), pl.col("w"), 0.5),
        q10=wquantile(pl.col("v"), pl.col("w"), 0.1),
        q90=wquantile(pl.col("v"), pl.col("w"), 0.9),
    ).row(0)
    # sorted (value, weight): (1,1) (2,7) (3,1) (5,1); total 10; cumulative 1, 8, 9, 10
    # q50: first cumulative >= 5 -> 2; q10: >= 1 -> 1; q90: >= 9 -> 3
    assert out == (2.0, 1.0, 3.0)


def test_symmetry_index_formula() -> None:
    df = pl.DataFrame({"l": [50.0, 52.0, 48.0, 55.0]})
    si = df.select(symmetry_index_pct(pl.col("l")))["l"].to_list()
    # (L - R) / (0.5 (L + R)) x 100 with R = 100 - L: 52 -> 4 / 50 x 100 = 8
    assert si == pytest.approx([0.0, 8.0, -8.0, 20.0])


def _hand_run(lazy: bool) -> pl.DataFrame:
    """11 samples at 1 Hz, 3 m/s; sample 0 closes no interval (dt 0), so the gait metrics
    see samples 1-10 (10 s). Sample 0 carries absurd values that must not count."""
    cad = [100.0, 160, 162, 164, 166, 168, 170, 172, 174, 176, 178]
    bal = [99.0, 50, 50, 50, 51, 51, 51, 52, 52, 52, 52]
    df = samples(
        11,
        speed_m_s=3.0,
        distance_m=[3.0 * i for i in range(11)],
        cadence_spm=cad,
        gct_balance_left_pct=bal,
        stance_time_ms=[999.0, 250, 240, 260, 230, 270, 250, 245, 255, 235, 265],
        vertical_oscillation_mm=[1.0, 80, 82, 84, 86, 88, 90, 92, 94, 96, 98],
        vertical_ratio_pct=[50.0, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9],
        heart_rate_bpm=150.0,
    )
    return activity_gait(df.lazy() if lazy else df, TH)


@pytest.mark.parametrize("lazy", [False, True])
def test_activity_gait_by_hand(lazy: bool) -> None:
    g = _hand_run(lazy)
    assert g.schema == pl.Schema(ACTIVITY_GAIT_SCHEMA)
    r = g.row(0, named=True)
    assert r["started_at"] == T0
    assert r["moving_s"] == 10.0
    assert r["analysed_s"] == 10.0  # flat (no altitude), cadence >= 140
    assert r["distance_m"] == pytest.approx(30.0)
    # only 10 s steady (< steady_min_total_s): medians over all analysed samples.
    # cadences 160..178 step 2, equal weights: lower median = 5th value = 168
    assert r["cadence_median_spm"] == 168.0
    cads = [160 + 2 * i for i in range(10)]
    mean = sum(cads) / 10
    sd = math.sqrt(sum((c - mean) ** 2 for c in cads) / 10)
    assert r["cadence_cv_pct"] == pytest.approx(sd / mean * 100)
    # step length = 3 m/s / (cadence / 60) = 180 / cadence; lower median (ascending) = 180/170
    assert r["step_length_median_m"] == pytest.approx(180 / 170)
    # speed SD 0 < 0.15: constant-step-rate fallback = ref x sum(L) / sum(v) = mean(L) at 3 m/s
    assert r["step_length_at_ref_speed_m"] == pytest.approx(sum(180 / c for c in cads) / 10)
    assert (r["speed_p10_m_s"], r["speed_p50_m_s"], r["speed_p90_m_s"]) == (3.0, 3.0, 3.0)
    assert r["speed_range_m_s"] == 0.0
    assert r["max_speed_m_s"] == 3.0
    # threshold = max(0.85 x 3.0, 1.3 x 3.0) = 3.9: nothing above
    assert r["sprint_threshold_m_s"] == pytest.approx(3.9)
    assert r["sprint_s"] == 0.0 and r["sprint_efforts"] == 0
    # balance: 3 x 50, 3 x 51, 4 x 52 -> 51.1; SI = (51.1 - 48.9) / 50 x 100 = 4.4
    assert r["gct_balance_mean_left_pct"] == pytest.approx(51.1)
    assert r["gct_balance_dev_pct"] == pytest.approx(1.1)
    assert r["symmetry_index_pct"] == pytest.approx(4.4)
    # thirds by moving time: samples 1-3 (50 %) and 7-10 (52 %): SI 0 -> 8
    assert r["symmetry_drift_pct"] == pytest.approx(8.0)
    # stance sorted: 230 235 240 245 250 250 255 260 265 270 -> lower median 250
    assert r["stance_time_median_ms"] == 250.0
    assert r["vertical_oscillation_median_mm"] == 88.0
    assert r["vertical_ratio_median_pct"] == 8.0
    assert (r["dynamics_share"], r["balance_share"], r["cadence_share"]) == (1.0, 1.0, 1.0)
    # Banister: HRr = (150 - 60) / (190 - 60); TRIMP = 10/60 min x HRr x 0.64 e^(1.92 HRr)
    hrr = 90 / 130
    assert r["trimp"] == pytest.approx(10 / 60 * hrr * 0.64 * math.exp(1.92 * hrr))
    assert r["load_method"] == "hr_trimp" and r["hr_share"] == 1.0
    # steps / timer time: the 10 s intervals carry 160..178 -> mean 169
    assert r["cadence_mean_spm"] == pytest.approx(169.0)


def test_sprint_efforts_by_hand() -> None:
    # 3 m/s with a 20 s burst at 5 m/s (samples 200-219). Top speed 5.0 ->
    # threshold max(0.85 x 5, 1.3 x 3) = 4.25. The 5 s rolling median is 5 on samples
    # 202-221 (3 or more of the 5 samples in its window at 5 m/s): 20 s, one effort.
    speed = [3.0] * 400
    speed[200:220] = [5.0] * 20
    g = activity_gait(samples(400, speed_m_s=speed), TH).row(0, named=True)
    assert g["max_speed_m_s"] == 5.0
    assert g["sprint_threshold_m_s"] == pytest.approx(4.25)
    assert g["sprint_s"] == 20.0
    assert g["sprint_efforts"] == 1
    # p10/p50 are 3.0; p90: 379 s at 3.0 of 399 s -> 95 % -> still 3.0
    assert g["speed_p90_m_s"] == 3.0


def test_sprint_threshold_uses_the_athletes_history() -> None:
    # earlier runs with a robust max of 6 m/s: threshold 0.85 x 6 = 5.1 > 5.0, no sprint
    speed = [3.0] * 400
    speed[200:220] = [5.0] * 20
    ref = pl.DataFrame(
        {
            "athlete_id": ["ath"] * 3,
            "started_at": [T0.replace(day=d) for d in (1, 2, 3)],
            "max_speed_m_s": [6.0, 6.0, 6.0],
        }
    )
    g = activity_gait(samples(400, speed_m_s=speed), TH, sprint_ref=ref).row(0, named=True)
    # 90th percentile (linear) of [6, 6, 6, 5] = 6
    assert g["sprint_threshold_m_s"] == pytest.approx(5.1)
    assert g["sprint_s"] == 0.0 and g["sprint_efforts"] == 0


def test_step_length_at_reference_speed_from_the_fit() -> None:
    # speeds alternate 2.5 / 3.5 m/s in 60 s blocks; step length = 0.3 + 0.25 v exactly,
    # so the fit evaluated at 3.0 m/s gives 0.3 + 0.75 = 1.05 m
    speed = ([2.5] * 60 + [3.5] * 60) * 3
    sl = [0.3 + 0.25 * v for v in speed]
    g = activity_gait(
        samples(len(speed), speed_m_s=speed, step_length_m=sl, cadence_spm=170.0), TH
    ).row(0, named=True)
    assert g["step_length_at_ref_speed_m"] == pytest.approx(1.05)


def test_walking_breaks_hills_and_other_sports_are_not_analysed() -> None:
    run = samples(21, speed_m_s=3.0, cadence_spm=[170.0] * 11 + [120.0] * 10)
    ride = samples(21, activity_id="ride", sport="cycling", speed_m_s=8.0, cadence_spm=90.0)
    g = activity_gait(pl.concat([run, ride]), TH)
    assert g["activity_id"].to_list() == ["a1"]  # the ride has no gait row
    r = g.row(0, named=True)
    assert r["moving_s"] == 20.0
    assert r["analysed_s"] == 10.0  # samples 1-10; 11-20 are a walking break (120 spm)
    assert r["cadence_median_spm"] == 170.0


def test_missing_dynamics_and_balance_are_null_not_zero() -> None:
    r = activity_gait(samples(30, speed_m_s=3.0, cadence_spm=170.0), TH).row(0, named=True)
    assert r["gct_balance_mean_left_pct"] is None
    assert r["symmetry_index_pct"] is None
    assert r["stance_time_median_ms"] is None
    assert r["dynamics_share"] == 0.0 and r["balance_share"] == 0.0
    assert r["load_method"] == "pace_duration"  # no heart rate
    # pace intensity: HRr = 0.65 x 3.0 / 3.0 = 0.65 for 29 s
    assert r["trimp"] == pytest.approx(29 / 60 * 0.65 * 0.64 * math.exp(1.92 * 0.65))


def test_step_rate_from_device_step_length_when_no_cadence() -> None:
    # 3.0 m/s with 1.0 m steps = 3 steps/s = 180 steps/min; 2.5 m/s with 1.25 m -> 120
    d = _derived(samples(3, speed_m_s=[3.0, 3.0, 2.5], step_length_m=[1.0, None, 1.25]), lazy=False)
    got = d["steps_per_min"].to_list()
    assert got[0] == pytest.approx(180.0) and got[1] is None and got[2] == pytest.approx(120.0)
