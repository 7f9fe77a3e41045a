"""The fast paths of transforms.gait give the results of the plain definitions.

activity_gait skips the sort when the frame is already in warehouse order, numbers
sessions/activities with integer keys, computes the quantiles per activity from one
ordered window (not :func:`transforms.gait.wquantile` per group) and the steady segments
with whole-frame fills. These tests compare each path with its definition on frames that
exercise the edges: several activities and sessions, pauses, nulls, ties, zero weights.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from transforms_helpers import T0, samples

from transforms.gait import activity_gait, derive_samples, wquantile
from transforms.thresholds import Thresholds

TH = Thresholds()
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUANTILE_COLUMNS = {
    # activity_gait column: (value, weight) of its definition in docs/metrics.md
    "speed_p10_m_s": ("speed_calc_m_s", "_w", 0.1),
    "speed_p50_m_s": ("speed_calc_m_s", "_w", 0.5),
    "speed_p90_m_s": ("speed_calc_m_s", "_w", 0.9),
    "stance_time_median_ms": ("stance_time_ms", "_wa", 0.5),
    "vertical_oscillation_median_mm": ("vertical_oscillation_mm", "_wa", 0.5),
}


def _activity(aid: str, n: int, seed: int, start_h: int, sessions: int = 1) -> pl.DataFrame:
    """``n`` samples at 1-3 s spacing with a pause, repeated (tied) values, null dynamics
    and, with ``sessions`` > 1, a second running session of the same activity."""
    steps = [1.0 + ((i * 7 + seed) % 3) for i in range(n - 1)]
    steps[n // 2] = 40.0  # a pause: gap over max_sample_gap_s
    speed = [2.5 + ((i * 13 + seed) % 9) * 0.25 for i in range(n)]  # ties on purpose
    speed[n // 3] = 0.3  # standing: not moving
    dist = [0.0]
    for i in range(1, n):
        dist.append(dist[-1] + speed[i] * steps[i - 1])
    stance = [None if i % 11 == 0 else 240.0 + (i * 5 + seed) % 17 for i in range(n)]
    df = samples(
        n,
        activity_id=aid,
        start=T0 + timedelta(hours=start_h),
        step_s=steps,
        speed_m_s=speed,
        distance_m=dist,
        cadence_spm=[150.0 + (i * 3 + seed) % 30 for i in range(n)],
        stance_time_ms=stance,
        vertical_oscillation_mm=[80.0 + (i + seed) % 5 for i in range(n)],
        altitude_m=[100.0 + (i % 20) * 0.1 for i in range(n)],
    )
    if sessions > 1:
        half = n // 2
        df = df.with_columns(
            session_index=pl.when(pl.int_range(pl.len()) >= half)
            .then(1)
            .otherwise(0)
            .cast(df.schema["session_index"])
        )
    return df


def _frame() -> pl.DataFrame:
    return pl.concat(
        [
            _activity("b2", 240, 1, 0, sessions=2),
            _activity("a1", 300, 2, 30),
            _activity("c3", 180, 3, 60),
        ]
    )


def test_unsorted_input_gives_the_sorted_result() -> None:
    df = _frame()
    ordered = df.sort(["activity_id", "session_index", "ts"])
    shuffled = df.sample(fraction=1.0, shuffle=True, seed=7)
    expected = activity_gait(ordered, TH)
    assert expected.height == 3
    assert_frame_equal(activity_gait(shuffled, TH), expected)
    assert_frame_equal(activity_gait(shuffled.lazy(), TH), expected)
    assert_frame_equal(
        derive_samples(shuffled, TH).collect(), derive_samples(ordered, TH).collect()
    )


def test_sessions_do_not_share_windows() -> None:
    """The second session of b2 starts afresh: derived exactly as if it were alone."""
    two = derive_samples(_activity("b2", 240, 1, 0, sessions=2), TH).collect()
    second = two.filter(pl.col("session_index") == 1)
    alone = derive_samples(
        _activity("b2", 240, 1, 0, sessions=2).filter(pl.col("session_index") == 1), TH
    ).collect()
    assert second["dt_s"][0] == 0.0
    assert_frame_equal(second, alone)


def test_quantiles_are_the_weighted_lower_quantiles() -> None:
    """Each activity's quantile columns equal wquantile (the definition, tested by hand in
    test_transforms_gait) over that activity's running samples."""
    df = _frame()
    got = activity_gait(df, TH).sort("activity_id")
    d = derive_samples(df, TH).collect().filter(pl.col("is_running"))
    walk = (pl.col("steps_per_min") < TH.run_cadence_min_spm).fill_null(False)
    d = d.with_columns(
        _w=pl.when(pl.col("is_moving")).then(pl.col("dt_s")).otherwise(0.0),
        _wa=pl.when(pl.col("is_moving") & pl.col("is_flat") & ~walk)
        .then(pl.col("dt_s"))
        .otherwise(0.0),
    )
    want = (
        d.group_by("activity_id")
        .agg(
            wquantile(pl.col(v), pl.col(w), q).alias(name)
            for name, (v, w, q) in QUANTILE_COLUMNS.items()
        )
        .sort("activity_id")
    )
    assert_frame_equal(got.select("activity_id", *QUANTILE_COLUMNS), want)


@SETTINGS
@given(
    st.lists(
        st.one_of(st.none(), st.sampled_from([2.0, 2.5, 3.0, 3.5, 4.0])), min_size=20, max_size=60
    ),
    st.lists(st.sampled_from([1.0, 2.0, 5.0, 11.0]), min_size=19, max_size=59),
)
def test_speed_quantiles_match_definition_with_ties_nulls_and_zero_weights(
    speeds: list[float | None], gaps: list[float]
) -> None:
    n = min(len(speeds), len(gaps) + 1)
    # an 11 s gap is a pause (dt_s = 0: weight 0); null speeds have no value
    df = samples(n, step_s=gaps[: n - 1], speed_m_s=speeds[:n])
    got = activity_gait(df, TH)
    d = derive_samples(df, TH).collect().filter(pl.col("is_running"))
    w = pl.when(pl.col("is_moving")).then(pl.col("dt_s")).otherwise(0.0)
    want = d.select(
        *(
            wquantile(pl.col("speed_calc_m_s"), w, q).alias(f"speed_p{int(q * 100)}_m_s")
            for q in (0.1, 0.5, 0.9)
        )
    )
    if got.height == 0:
        pytest.skip("no running samples")
    assert got.select(want.columns).row(0) == want.row(0)
