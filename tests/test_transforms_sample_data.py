"""The generated sample data (sample_data/, ground truth in truth.json): the planted
compact gait, asymmetry and load spike are found in their weeks and the control runner
stays low. Frames are built here from ingest.read_path (no warehouse)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from transforms_helpers import athletes_frame, frames_from_inbox

from transforms.gait import activity_gait
from transforms.risk import weekly_risk, weeks_to_recompute
from transforms.schema import ACTIVITY_GAIT_SCHEMA, WEEKLY_RISK_SCHEMA
from transforms.thresholds import Thresholds

PATTERNS = ("compact_gait", "asymmetry", "load_spike")
ADVICE = ("no_sprints", "no_strength", "monotony")


@pytest.fixture(scope="module")
def computed(sample_data_dir: Path) -> dict[str, Any]:
    truth_file = sample_data_dir / "truth.json"
    inbox = sample_data_dir / "inbox"
    if not truth_file.is_file() or not inbox.is_dir():
        pytest.skip("sample_data not generated (python -m synth.generate --out sample_data)")
    truth = json.loads(truth_file.read_text())["athletes"]
    athletes = athletes_frame(
        [(a, t["timezone"], float(t["max_hr_bpm"])) for a, t in truth.items()]
    )
    samples, acts = frames_from_inbox(inbox)
    gait = activity_gait(samples, Thresholds(), athletes=athletes)
    weekly = weekly_risk(acts, gait, athletes, Thresholds())
    return {"truth": truth, "athletes": athletes, "acts": acts, "gait": gait, "weekly": weekly}


def _score(weekly: pl.DataFrame, truth: dict[str, Any], codes: tuple[str, ...]) -> dict[str, Any]:
    """Precision and recall over athlete-weeks; ambiguous weeks of a code are not scored."""
    tp = fp = fn = 0
    misses: list[str] = []
    for r in weekly.iter_rows(named=True):
        t = truth[r["athlete_id"]]["weeks"][r["iso_week"]]
        for code in codes:
            if code in t["ambiguous_flags"]:
                continue
            expected, got = code in t["expected_flags"], code in r["flags"]
            tp += expected and got
            fp += got and not expected
            fn += expected and not got
            if expected != got:
                misses.append(f"{'FP' if got else 'FN'} {code} {r['athlete_id']} {r['iso_week']}")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "misses": misses}


@pytest.mark.slow
def test_every_truth_week_is_reported(computed: dict[str, Any]) -> None:
    weekly, truth = computed["weekly"], computed["truth"]
    assert weekly.schema == pl.Schema(WEEKLY_RISK_SCHEMA)
    assert computed["gait"].schema == pl.Schema(ACTIVITY_GAIT_SCHEMA)
    got = {(r["athlete_id"], r["iso_week"]) for r in weekly.iter_rows(named=True)}
    want = {(a, w) for a, t in truth.items() for w in t["weeks"]}
    assert want <= got


@pytest.mark.slow
def test_planted_patterns_found_precision_recall(computed: dict[str, Any]) -> None:
    weekly, truth = computed["weekly"], computed["truth"]
    s = _score(weekly, truth, PATTERNS)
    print(f"\npatterns {PATTERNS}: precision {s['precision']:.2f} recall {s['recall']:.2f} "
          f"(tp {s['tp']}, fp {s['fp']}, fn {s['fn']}) {s['misses']}")
    for code in PATTERNS:
        c = _score(weekly, truth, (code,))
        print(f"  {code}: precision {c['precision']:.2f} recall {c['recall']:.2f} (tp {c['tp']})")
        assert c["tp"] >= 1, code  # each planted pattern is found at least once
    assert s["precision"] >= 0.8 and s["recall"] >= 0.8
    a = _score(weekly, truth, ADVICE)
    print(f"advice {ADVICE}: precision {a['precision']:.2f} recall {a['recall']:.2f} {a['misses']}")
    assert a["precision"] >= 0.8 and a["recall"] >= 0.8


@pytest.mark.slow
def test_risk_levels_and_control_runner(computed: dict[str, Any]) -> None:
    weekly, truth = computed["weekly"], computed["truth"]
    ok = total = 0
    wrong = []
    for r in weekly.iter_rows(named=True):
        t = truth[r["athlete_id"]]["weeks"][r["iso_week"]]
        if t["expected_risk"] is None:
            continue
        total += 1
        if r["risk_level"] in t["expected_risk"]:
            ok += 1
        else:
            wrong.append((r["athlete_id"], r["iso_week"], r["risk_level"], r["flags"]))
    print(f"\nrisk level as expected in {ok}/{total} scored athlete-weeks {wrong}")
    assert ok / total >= 0.9
    control = weekly.filter(pl.col("athlete_id") == "control").sort("week_start")
    levels = control["risk_level"].to_list()
    first_low = levels.index("low")
    assert set(levels[:first_low]) <= {"insufficient_data"} and first_low <= 4
    assert set(levels[first_low:]) == {"low"}


@pytest.mark.slow
def test_asymmetry_levels_and_missing_data(computed: dict[str, Any]) -> None:
    weekly, truth = computed["weekly"], computed["truth"]
    for r in weekly.iter_rows(named=True):
        t = truth[r["athlete_id"]]["weeks"][r["iso_week"]]
        want = t["expected_asymmetry_level"]
        if want is not None:
            assert r["asymmetry_level"] == want, (r["athlete_id"], r["iso_week"])
        for m in t["expected_missing_data"]:
            assert m in r["missing_data"], (r["athlete_id"], r["iso_week"], m)
        if "no_gct_balance" in t["expected_missing_data"]:
            assert r["asymmetry_level"] is None and "asymmetry" not in r["flags"]


@pytest.mark.slow
def test_weekly_counts_match_the_plan(computed: dict[str, Any]) -> None:
    weekly, truth = computed["weekly"], computed["truth"]
    for r in weekly.iter_rows(named=True):
        p = truth[r["athlete_id"]]["weeks"][r["iso_week"]]["planted"]
        key = (r["athlete_id"], r["iso_week"])
        assert r["runs"] == p["runs"], key
        assert r["strength_sessions"] == p["strength_sessions"], key
        assert r["cross_training_sessions"] == p["cross_training_sessions"], key
        assert r["run_distance_m"] / 1000 == pytest.approx(p["run_distance_km"], rel=0.03), key


@pytest.mark.slow
def test_incremental_rows_equal_the_full_computation(computed: dict[str, Any]) -> None:
    acts, gait, athletes, weekly = computed["acts"], computed["gait"], computed["athletes"], computed["weekly"]
    since = acts["started_at"].sort()[acts.height // 2]
    weeks = weeks_to_recompute(acts, athletes, since)
    first = weeks["week_start"].min()
    assert isinstance(first, date)
    part = weekly_risk(acts, gait, athletes, Thresholds(), from_week=first)
    assert part.equals(weekly.filter(pl.col("week_start") >= first))
    # every athlete's recomputed weeks run to its last week
    last = weekly.group_by("athlete_id").agg(pl.col("week_start").max())
    got = weeks.group_by("athlete_id").agg(pl.col("week_start").max())
    assert got.sort("athlete_id").equals(last.filter(pl.col("athlete_id").is_in(got["athlete_id"].implode())).sort("athlete_id"))
