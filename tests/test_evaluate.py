"""Back-test of the flags (transforms.evaluate) on a hand-built weekly frame and journal with
planted pain episodes; every expected number is counted by hand in the comments."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest

from transforms.evaluate import JOURNAL_SCHEMA, LAYOFF_LABEL, evaluate, pain_episodes, summary_text

W0 = date(2026, 1, 5)  # Monday of 2026-W02; week i starts W0 + 7 i and ends 6 days later


def _flag(code: str, severity: str) -> dict[str, Any]:
    return {"code": code, "severity": severity, "reason": "", "numbers": {}, "recommendation": ""}


def weekly() -> pl.DataFrame:
    """14 weeks of athlete a. Warnings: w2 load_spike (moderate), w6 compact_gait (high),
    w8 asymmetry (moderate); w7 has an info-only compact note. w10 and w13 follow breaks."""
    levels = ["insufficient_data"] + ["low"] * 13
    flags: dict[int, list[dict[str, Any]]] = {
        2: [_flag("load_spike", "moderate"), _flag("no_strength", "info")],
        6: [_flag("compact_gait", "high")],
        7: [_flag("compact_gait", "info")],
        8: [_flag("asymmetry", "moderate")],
    }
    levels[2], levels[6], levels[8] = "moderate", "high", "moderate"
    rows = []
    for i in range(14):
        ws = W0 + timedelta(weeks=i)
        ret = {10: (1, 20), 11: (2, 20), 13: (1, 15)}.get(i, (None, None))
        rows.append({
            "athlete_id": "a", "iso_week": f"2026-W{ws.isocalendar()[1]:02d}", "week_start": ws,
            "risk_level": levels[i], "flags": [f["code"] for f in flags.get(i, [])],
            "flag_details": json.dumps(flags.get(i, [])),
            "return_week": ret[0], "days_off_before": ret[1],
        })
    return pl.DataFrame(rows, schema={
        "athlete_id": pl.String(), "iso_week": pl.String(), "week_start": pl.Date(),
        "risk_level": pl.String(), "flags": pl.List(pl.String()), "flag_details": pl.String(),
        "return_week": pl.Int32(), "days_off_before": pl.Int32(),
    })


def journal() -> pl.DataFrame:
    entries = [
        # episode 1: Feb 5, Feb 9 (+4 d), Feb 16 (+7 d: still within 7 days) -> one episode
        ("e1", date(2026, 2, 5), "pain", "knee", 3),
        ("e2", date(2026, 2, 9), "pain", "knee", 5),
        ("e3", date(2026, 2, 16), "pain", "knee", 4),
        # episode 2: Mar 2, 14 days after the last entry -> a new episode
        ("e4", date(2026, 3, 2), "injury", "calf", 6),
        # not episodes
        ("e5", date(2026, 3, 20), "note", None, None),
        ("e6", date(2026, 1, 14), "strength", None, None),
    ]
    return pl.DataFrame(
        [{"entry_id": e, "athlete_id": "a", "entry_date": d, "kind": k, "minutes": None,
          "body_part": b, "side": None, "severity": s, "text": "", "source_file": "journal.csv",
          "source_line": i + 2} for i, (e, d, k, b, s) in enumerate(entries)],
        schema=JOURNAL_SCHEMA,
    )


def test_episodes_group_entries_within_seven_days() -> None:
    ep = pain_episodes(journal())
    assert ep.select("episode", "start", "end", "entries", "max_severity", "body_parts").rows() == [
        (1, date(2026, 2, 5), date(2026, 2, 16), 3, 5, "knee"),
        (2, date(2026, 3, 2), date(2026, 3, 2), 1, 6, "calf"),
    ]


def test_alarm_rates_hits_lead_times_and_chance() -> None:
    ev = evaluate(weekly(), journal())
    rates = {r["signal"]: r for r in ev.rates.iter_rows(named=True)}
    # 13 scored weeks (w0 is insufficient_data); info flags are no warnings
    assert {s: (r["scored_weeks"], r["warning_weeks"]) for s, r in rates.items()} == {
        "load_spike": (13, 1), "distance_progression": (13, 0), "return_progression": (13, 0),
        "compact_gait": (13, 1), "asymmetry": (13, 1), "high": (13, 1), "moderate_or_high": (13, 3),
    }
    assert rates["moderate_or_high"]["alarm_rate"] == pytest.approx(3 / 13)
    # episode 1 (Feb 5): w2 ended Jan 25, 11 days before -> load_spike, moderate_or_high
    # episode 2 (Mar 2): w6 ended Feb 22, 8 days before -> compact_gait, high, moderate_or_high
    # (w8 ends Mar 8, after the start; w2 is 36 days before, outside 28)
    got = {s: (r["episodes"], r["preceded"], r["median_lead_days"]) for s, r in rates.items()}
    assert got["load_spike"] == (2, 1, 11.0)
    assert got["compact_gait"] == (2, 1, 8.0)
    assert got["high"] == (2, 1, 8.0)
    assert got["asymmetry"] == (2, 0, None)
    assert got["moderate_or_high"] == (2, 2, 9.5)
    assert rates["moderate_or_high"]["hit_rate"] == 1.0
    # chance: Mondays from Feb 2 (w4) to Apr 6 (w13) = 10; a warning week ending 1-28 days
    # before: load_spike w4-w6 (3), compact/high w7-w10 (4), asymmetry w9-w12 (4),
    # moderate_or_high w4-w12 (9; Apr 6 is 29 days after Mar 8)
    chance = {s: r["chance_rate"] for s, r in rates.items()}
    assert chance["load_spike"] == pytest.approx(0.3)
    assert chance["compact_gait"] == pytest.approx(0.4)
    assert chance["high"] == pytest.approx(0.4)
    assert chance["asymmetry"] == pytest.approx(0.4)
    assert chance["moderate_or_high"] == pytest.approx(0.9)
    eps = ev.episodes.select("episode", "preceded_by", "lead_days").rows()
    assert eps == [
        (1, ["load_spike", "moderate_or_high"], 11),
        (2, ["compact_gait", "high", "moderate_or_high"], 8),
    ]


def test_breaks_without_a_journal_entry_are_possible_layoffs() -> None:
    ev = evaluate(weekly(), journal())
    # w10 (Mar 16-22, 20 days off: break within Feb 24 - Mar 22) holds the Mar 2 injury and
    # the Mar 20 note; w13 (Apr 6-12, 15 days off: Mar 22 - Apr 12) holds nothing
    assert ev.layoffs.rows() == [("a", "2026-W15", 15, LAYOFF_LABEL)]
    assert "possible layoff" in summary_text(ev)
    # without a journal, both breaks are possible layoffs and there are no episodes
    bare = evaluate(weekly())
    assert bare.layoffs["return_iso_week"].to_list() == ["2026-W12", "2026-W15"]
    assert bare.episodes.height == 0
    assert bare.rates["hit_rate"].null_count() == bare.rates.height


def test_summary_text_has_one_line_per_signal() -> None:
    text = summary_text(evaluate(weekly(), journal()))
    assert "moderate_or_high       warned in 3/13 scored weeks (23%); episodes preceded 2/2 (100%), median lead 10 d; chance 90%" in text
    assert "episode 2: 2026-03-02 to 2026-03-02, 1 entries, calf: warning 8 d before" in text


def test_cli_evaluate_reads_the_stored_back_test(tmp_path: Any) -> None:
    """`gaitwatch evaluate` on a real DuckDB file: weekly_risk from transforms, one pain
    entry 3 days after a planted load-spike week, the back-test stored by
    warehouse.evaluation; then a journal-only change is noticed and re-evaluated."""
    from test_transforms_weekly import ATH, run_acts, weekly_runs
    from typer.testing import CliRunner

    from flows.cli import app
    from transforms.risk import weekly_risk
    from transforms.thresholds import DEFAULT_THRESHOLDS
    from warehouse.evaluation import refresh_evaluation
    from warehouse.store import Warehouse

    # six weeks of three 1 h runs, then a week of three 3 h runs: a load spike in week 6
    g = weekly_runs(7, {6: {"trimp": 180.0, "distance_m": 30_000.0, "moving_s": 10_800.0}})
    risk = weekly_risk(run_acts(g), g, ATH)
    assert "load_spike" in risk.row(6, named=True)["flags"]
    spike_end = risk.row(6, named=True)["week_start"] + timedelta(days=6)
    db = tmp_path / "gw.duckdb"
    insert = (
        "INSERT INTO journal VALUES (?, 'a', ?, 'pain', NULL, 'shin', 'left', 4, "
        "'sore shin', 'journal.csv', ?)"
    )
    with Warehouse.open(db) as wh:
        wh.upsert_athletes(ATH)
        wh.write_weekly_risk("a", risk)
        wh.con.execute(insert, ["p1", spike_end + timedelta(days=3), 2])
        assert refresh_evaluation(wh, DEFAULT_THRESHOLDS, {"a": None}) == ["a"]
        # nothing changed: nothing to re-evaluate
        assert refresh_evaluation(wh, DEFAULT_THRESHOLDS) == []
    res = CliRunner().invoke(app, ["evaluate", "--athlete", "a", "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "a load_spike" in res.output and "small numbers, a screening aid" in res.output
    assert "episode 1: " in res.output and "shin: warning 3 d before" in res.output
    assert "episode 2" not in res.output
    # a journal-only change (a second pain episode 30 days later) is noticed
    with Warehouse.open(db) as wh:
        wh.con.execute(insert, ["p2", spike_end + timedelta(days=33), 3])
        assert refresh_evaluation(wh, DEFAULT_THRESHOLDS) == ["a"]
    res = CliRunner().invoke(app, ["evaluate", "--athlete", "a", "--db", str(db)])
    assert "episode 2: " in res.output and "no warning before" in res.output
    res = CliRunner().invoke(app, ["evaluate", "--athlete", "nobody", "--db", str(db)])
    assert res.exit_code == 0 and "no weekly results for nobody" in res.output
