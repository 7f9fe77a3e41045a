"""Gait metrics read samples in chunks bounded by samples, not activities
(warehouse.metrics.sample_chunks): a history of long runs makes more chunks, not bigger
ones, so the metrics stage's memory does not grow with history or activity length."""

from __future__ import annotations

from warehouse.metrics import sample_chunks


def test_chunks_keep_order_and_stay_within_the_budget() -> None:
    sizes = {"a": 60, "b": 50, "c": 40, "d": 100, "e": 10}
    # 60+50 = 110 > 100 -> a alone; 50+40 = 90, +100 > 100 -> b,c; d = 100 fits alone; e
    assert sample_chunks(["a", "b", "c", "d", "e"], sizes, 100) == [["a"], ["b", "c"], ["d"], ["e"]]


def test_an_activity_over_the_budget_is_a_chunk_of_its_own() -> None:
    sizes = {"short": 10, "ultra": 1_000, "after": 10}
    assert sample_chunks(["short", "ultra", "after"], sizes, 100) == [["short"], ["ultra"], ["after"]]


def test_unknown_or_zero_counts_still_make_progress() -> None:
    # an activity without a count counts as one sample: every id lands in exactly one chunk
    ids = [f"x{i}" for i in range(7)]
    chunks = sample_chunks(ids, {}, 3)
    assert chunks == [["x0", "x1", "x2"], ["x3", "x4", "x5"], ["x6"]]
    assert sample_chunks([], {}, 3) == []
