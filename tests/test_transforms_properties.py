"""Property tests (hypothesis) of the gait metrics' symmetries and documented ranges."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transforms_helpers import T0, samples

from transforms.gait import activity_gait
from transforms.thresholds import Thresholds

TH = Thresholds()
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# every activity_gait column that must not change when a pause is inserted
MOVING_ONLY = [
    "moving_s", "analysed_s", "distance_m", "steady_share", "cadence_median_spm",
    "cadence_cv_pct", "step_length_median_m", "step_length_cv_pct",
    "step_length_at_ref_speed_m", "speed_p10_m_s", "speed_p50_m_s", "speed_p90_m_s",
    "speed_range_m_s", "max_speed_m_s", "sprint_threshold_m_s", "sprint_s", "sprint_efforts",
    "gct_balance_mean_left_pct", "gct_balance_dev_pct", "symmetry_index_pct",
    "symmetry_drift_pct", "stance_time_median_ms", "vertical_oscillation_median_mm",
    "vertical_ratio_median_pct", "dynamics_share", "balance_share", "cadence_share", "trimp",
    "hr_share", "load_method",
]


@st.composite
def runs(draw: st.DrawFn, min_n: int = 40, max_n: int = 160) -> dict[str, list[Any]]:
    """A plausible 1 Hz run: speed blocks with optional bursts, cadence, balance, hills."""
    n = draw(st.integers(min_n, max_n))
    speed: list[float] = []
    while len(speed) < n:
        v = draw(st.floats(1.5, 6.5))
        speed += [v] * draw(st.integers(5, 40))
    speed = speed[:n]
    jitter = draw(st.lists(st.floats(-0.2, 0.2), min_size=n, max_size=n))
    speed = [max(1.2, v + j) for v, j in zip(speed, jitter, strict=True)]
    cad = draw(st.lists(st.floats(130, 200), min_size=n, max_size=n))
    bal = draw(st.lists(st.one_of(st.none(), st.floats(44, 56)), min_size=n, max_size=n))
    alt0 = draw(st.floats(0, 500))
    slope = draw(st.lists(st.floats(-0.06, 0.06), min_size=n, max_size=n))
    dist = [0.0]
    alt = [alt0]
    for i in range(1, n):
        dist.append(dist[-1] + speed[i])
        alt.append(alt[-1] + slope[i] * speed[i])
    hr = draw(st.one_of(st.none(), st.floats(90, 185)))
    return {
        "speed_m_s": speed, "cadence_spm": cad, "gct_balance_left_pct": bal,
        "distance_m": dist, "altitude_m": alt,
        "stance_time_ms": [250.0] * n, "vertical_oscillation_mm": [80.0 + i % 7 for i in range(n)],
        "heart_rate_bpm": [hr] * n,
    }


def _gait(cols: dict[str, list[Any]]) -> dict[str, Any]:
    n = len(cols["speed_m_s"])
    g = activity_gait(samples(n, **cols), TH)
    assert g.height == 1
    return g.row(0, named=True)


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


@SETTINGS
@given(run=runs())
def test_swapping_left_and_right_flips_the_symmetry_index(run: dict[str, list[Any]]) -> None:
    g = _gait(run)
    swapped = {**run, "gct_balance_left_pct": [None if b is None else 100.0 - b for b in run["gct_balance_left_pct"]]}
    s = _gait(swapped)
    if g["symmetry_index_pct"] is None:
        assert s["symmetry_index_pct"] is None
        return
    assert s["symmetry_index_pct"] == pytest.approx(-g["symmetry_index_pct"], abs=1e-9)
    assert s["gct_balance_dev_pct"] == pytest.approx(g["gct_balance_dev_pct"], abs=1e-9)
    if g["symmetry_drift_pct"] is not None:
        assert s["symmetry_drift_pct"] == pytest.approx(-g["symmetry_drift_pct"], abs=1e-9)


@SETTINGS
@given(
    speeds=st.lists(st.floats(2.5, 5.0), min_size=30, max_size=120),
    cad=st.floats(150, 200),
    k=st.floats(0.6, 1.5),
)
def test_scaling_speed_and_step_length_together_keeps_cadence(speeds: list[float], cad: float, k: float) -> None:
    # no device cadence: the step rate comes from speed / step length
    sl = [60.0 * v / cad for v in speeds]
    base = _gait({"speed_m_s": speeds, "step_length_m": sl})
    scaled = _gait({"speed_m_s": [v * k for v in speeds], "step_length_m": [x * k for x in sl]})
    for col in ("cadence_median_spm", "cadence_mean_spm"):
        assert base[col] == pytest.approx(cad, rel=1e-9)
        assert scaled[col] == pytest.approx(base[col], rel=1e-9)
    assert scaled["cadence_cv_pct"] == pytest.approx(base["cadence_cv_pct"], abs=1e-6)


@SETTINGS
@given(run=runs(), data=st.data())
def test_a_paused_stretch_changes_no_moving_only_metric(run: dict[str, list[Any]], data: st.DataObject) -> None:
    n = len(run["speed_m_s"])
    at = data.draw(st.integers(1, n - 1))  # the pause starts after sample ``at - 1``
    k = data.draw(st.integers(1, 120))
    paused: dict[str, list[Any]] = {}
    for c, v in run.items():
        fill: Any = None
        if c in ("distance_m", "altitude_m"):
            fill = v[at - 1]  # standing still: same place
        elif c == "speed_m_s":
            fill = 0.0
        elif c == "heart_rate_bpm":
            fill = v[at - 1]
        paused[c] = v[:at] + [fill] * k + v[at:]
    a = _gait(run)
    b = _gait(paused)
    bad = {c: (a[c], b[c]) for c in MOVING_ONLY if not _close(a[c], b[c])}
    assert bad == {}
    assert b["started_at"] == a["started_at"] == T0


@SETTINGS
@given(run=runs(min_n=5, max_n=120))
def test_metrics_stay_in_documented_ranges(run: dict[str, list[Any]]) -> None:
    g = _gait(run)
    for c in ("steady_share", "dynamics_share", "balance_share", "cadence_share", "hr_share"):
        assert g[c] is None or 0.0 <= g[c] <= 1.0, c
    assert 0.0 <= g["analysed_s"] <= g["moving_s"]
    assert g["distance_m"] >= 0.0 and g["trimp"] >= 0.0
    assert g["sprint_s"] is None or 0.0 <= g["sprint_s"] <= g["moving_s"]
    for c in ("cadence_median_spm", "cadence_mean_spm"):
        assert g[c] is None or 0.0 <= g[c] <= TH.cadence_valid_max_spm, c
    if g["cadence_median_spm"] is not None:
        assert g["cadence_median_spm"] >= TH.run_cadence_min_spm  # walking breaks excluded
    for c in ("step_length_median_m", "step_length_at_ref_speed_m"):
        assert g[c] is None or TH.step_length_valid_min_m <= g[c] <= TH.step_length_valid_max_m
    if g["speed_p10_m_s"] is not None:
        assert g["speed_p10_m_s"] <= g["speed_p50_m_s"] <= g["speed_p90_m_s"]
        assert g["speed_range_m_s"] >= 0.0
    if g["gct_balance_mean_left_pct"] is not None:
        assert 0.0 <= g["gct_balance_mean_left_pct"] <= 100.0
        assert 0.0 <= g["gct_balance_dev_pct"] <= 50.0
        assert -200.0 <= g["symmetry_index_pct"] <= 200.0
    for c in ("cadence_cv_pct", "step_length_cv_pct"):
        assert g[c] is None or g[c] >= 0.0
    assert g["load_method"] in ("hr_trimp", "pace_duration")


def test_unrecorded_stop_counts_as_a_pause() -> None:
    # auto-pause: 10 min without records (gap > max_sample_gap_s); the sample after the gap
    # closes no interval, so moving time is one second less and nothing else changes
    cols: dict[str, Any] = {"speed_m_s": [3.0] * 50 + [4.5] * 20 + [3.0] * 50, "cadence_spm": 170.0}
    a = activity_gait(samples(120, **cols), TH).row(0, named=True)
    gaps = [1.0] * 59 + [600.0] + [1.0] * 59
    b = activity_gait(samples(120, step_s=gaps, **cols), TH).row(0, named=True)
    assert b["moving_s"] == a["moving_s"] - 1.0 == 118.0
    assert b["cadence_median_spm"] == a["cadence_median_spm"] == 170.0
    assert b["speed_p50_m_s"] == a["speed_p50_m_s"] == 3.0
