"""The one configuration module: names validated, references documented."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from transforms.thresholds import Thresholds, load_thresholds

DOCS = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


def test_defaults_and_overrides() -> None:
    th = load_thresholds({"acwr_high": 1.6, "baseline_weeks": 8})
    assert th.acwr_high == 1.6 and th.baseline_weeks == 8
    assert isinstance(th.baseline_weeks, int)
    assert load_thresholds({}) == Thresholds()
    with pytest.raises(dataclasses.FrozenInstanceError):
        th.acwr_high = 2.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "overrides",
    [
        {"acwr_hihg": 1.6},  # typo: unknown name
        {"acwr_high": "1.6"},  # not a number
        {"acwr_high": True},
        {"baseline_weeks": 6.5},  # not an integer
        {"monotony_high": -1},
        {"acwr_moderate": 1.6},  # above acwr_high
        {"balance_balanced_max_pct": 53.0},  # above the moderate bound
        {"return_share_short_1": 1.5},  # a return week may not exceed the pre-break level
        {"return_share_long_2": 0},
        {"break_min_days": 0},
        {"return_long_break_days": 10},  # shorter than break_min_days (14)
        {"change_persist_weeks": 0},
    ],
)
def test_invalid_overrides_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        load_thresholds(overrides)


def test_every_threshold_is_documented() -> None:
    text = DOCS.read_text()
    missing = [f.name for f in dataclasses.fields(Thresholds) if f"`{f.name}`" not in text]
    assert missing == []
    for ref in ("Foster 1998", "Gabbett 2016", "Lolli 2019", "Impellizzeri 2021",
                "Heiderscheit 2011", "Nielsen 2014", "Williams 2017", "Garmin",
                "Malisoux 2024", "Toresdahl 2020", "Lenhart 2014", "Daniels 2014"):
        assert ref in text
