"""Flags on real multi-year histories (../shared/real): the whole inbox goes through the real
pipeline (scan, ingest, metrics) into a temporary DuckDB once per athlete, and the weekly
flags must be ones a runner can trust: "high" in at most 10 % of scored weeks, "moderate"
or "high" in at most 35 %, no load spike without a rise in running time, no compact gait
in the six weeks after a device change. The rates are printed (run with -s).

Device changes are found here independently, from the ``activities`` table by SQL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

REAL = Path(
    os.environ.get("GAITWATCH_REAL", Path(__file__).resolve().parents[1].parent / "shared" / "real")
)
# athlete -> [(folder with the activity files, glob)], IANA zone of the runner
HISTORIES: dict[str, tuple[list[tuple[str, str]], str]] = {
    "slalom007": ([("slalom007/strava_export/activities", "*.fit.gz")], "Europe/Budapest"),
    "xiangli": ([("xiangli/data/FitFiles/Activities", "*.fit")], "UTC"),
    # the two histories one after the other (2023-09 to 2024-03, then 2024-06 on) as one
    # "runner": a real change of watch (fenix 7 Pro -> Forerunner 255), and of runner,
    # the hardest case for the gait baselines
    "watch-change": (
        [("xiangli/data/FitFiles/Activities", "*.fit"),
         ("slalom007/strava_export/activities", "*.fit.gz")],
        "UTC",
    ),
}
HIGH_MAX = 0.10
RAISED_MAX = 0.35
QUIET_WEEKS = 6

pytestmark = pytest.mark.slow


@dataclass
class History:
    athlete: str
    database: Path
    weeks: list[dict[str, Any]]
    outcomes: dict[str, int]


@pytest.fixture(scope="module", params=sorted(HISTORIES))
def history(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> History:
    from flows import pipeline
    from flows.config import config_from_dict

    athlete: str = request.param
    sources, zone = HISTORIES[athlete]
    files = []
    for folder, pattern in sources:
        src = REAL / folder
        found = sorted(src.glob(pattern)) if src.is_dir() else []
        if not found:
            pytest.skip(f"real history {src} not present")
        files += found
    work = tmp_path_factory.mktemp(f"real-{athlete}")
    inbox = work / "inbox" / athlete
    inbox.mkdir(parents=True)
    for p in files:  # links, never copies of the shared files
        (inbox / p.name).symlink_to(p)
    cfg = config_from_dict(
        {
            "inbox": str(work / "inbox"),
            "database": str(work / "gaitwatch.duckdb"),
            "published_database": str(work / "published.duckdb"),
            "reports": str(work / "reports"),
            "inbox_options": {"settle_seconds": 0},
            "athletes": [{"id": athlete, "timezone": zone}],
        },
        work,
    )
    ready = pipeline.scan_new_files(cfg).ready
    assert len(ready) == len(files)
    outcomes = pipeline.outcome_counts(pipeline.ingest_files(cfg, ready))
    pipeline.compute_metrics(cfg)
    with duckdb.connect(str(cfg.database), read_only=True) as con:
        cur = con.execute(
            "SELECT * FROM weekly_risk WHERE athlete_id = ? ORDER BY week_start", [athlete]
        )
        names = [d[0] for d in cur.description]
        weeks = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return History(athlete, cfg.database, weeks, outcomes)


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def test_risk_levels_are_rare_enough(history: History) -> None:
    scored = [w for w in history.weeks if w["risk_level"] != "insufficient_data"]
    high = sum(w["risk_level"] == "high" for w in scored)
    moderate = sum(w["risk_level"] == "moderate" for w in scored)
    codes: dict[str, int] = {}
    for w in history.weeks:
        for c in w["flags"]:
            codes[c] = codes.get(c, 0) + 1
    print(
        f"\n{history.athlete}: files {history.outcomes}; weeks {len(history.weeks)}, scored "
        f"{len(scored)}: high {high} ({high / len(scored):.1%}), moderate {moderate}, "
        f"moderate or high {(high + moderate) / len(scored):.1%}; flags {codes}"
    )
    assert len(scored) >= 20  # a real history, not a handful of weeks
    assert high / len(scored) <= HIGH_MAX
    assert (high + moderate) / len(scored) <= RAISED_MAX


def test_no_load_spike_without_a_rise_in_running_time(history: History) -> None:
    times = [w["run_time_s"] for w in history.weeks]
    # weekly_risk has every week from the first to the last: consecutive rows are weeks
    starts = [w["week_start"] for w in history.weeks]
    assert all((b - a).days == 7 for a, b in zip(starts, starts[1:], strict=False))
    spikes = 0
    for i, w in enumerate(history.weeks):
        if "load_spike" not in w["flags"]:
            continue
        spikes += 1
        prev = times[max(0, i - 4) : i]
        assert prev, w["iso_week"]
        assert w["run_time_s"] > sum(prev) / len(prev), w["iso_week"]
    print(f"\n{history.athlete}: {spikes} load-spike weeks, each with more running than the previous 4 weeks' mean")


def _device_changes(db: Path, athlete: str) -> list[date]:
    """Local dates of runs on a device or dynamics sensor not seen before (first excluded)."""
    sql = """
        WITH runs AS (
            SELECT CAST(started_at + to_seconds(coalesce(local_offset_s, 0)) AS DATE) AS d,
                   started_at, manufacturer, product, serial_number,
                   CASE WHEN has_gct_balance THEN 'pod'
                        WHEN has_running_dynamics THEN 'watch' END AS src
            FROM activities WHERE athlete_id = ? AND sport = 'running'
        ),
        dev AS (
            SELECT min(started_at) AS t, arg_min(d, started_at) AS d FROM runs
            WHERE coalesce(manufacturer, product, CAST(serial_number AS VARCHAR)) IS NOT NULL
            GROUP BY manufacturer, product, serial_number
        ),
        src AS (
            SELECT min(started_at) AS t, arg_min(d, started_at) AS d FROM runs
            WHERE src IS NOT NULL GROUP BY src
        )
        SELECT d FROM (SELECT * FROM dev WHERE t > (SELECT min(t) FROM dev))
        UNION SELECT d FROM (SELECT * FROM src WHERE t > (SELECT min(t) FROM src))
        ORDER BY 1
    """
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return [r[0] for r in con.execute(sql, [athlete]).fetchall()]


def test_no_compact_gait_in_the_six_weeks_after_a_device_change(history: History) -> None:
    changes = _device_changes(history.database, history.athlete)
    print(f"\n{history.athlete}: device or sensor changes on {changes}")
    if history.athlete == "watch-change":
        assert changes, "the combined history has a change of watch"
    for change in changes:
        first, last = _monday(change), _monday(change) + timedelta(weeks=QUIET_WEEKS)
        for w in history.weeks:
            if first <= w["week_start"] <= last:
                assert "compact_gait" not in w["flags"], (change, w["iso_week"])
                assert w["device_changed_on"] is not None, w["iso_week"]
    # and weekly_risk saw the same changes (its last change at or before each week)
    seen = sorted({w["device_changed_on"] for w in history.weeks if w["device_changed_on"]})
    assert seen == changes


def test_stored_chart_bins_give_the_charts_of_the_samples(history: History) -> None:
    """The report's chart bins the metrics stage stored (transforms/chartbins.py, polars)
    give every week of a real history the same speed, cadence and step-length charts as
    bins derived from v_report_samples (SQL): two definitions checked against each other."""
    from reports_support import chart_numbers

    from reports import data
    from transforms.thresholds import DEFAULT_THRESHOLDS

    th = DEFAULT_THRESHOLDS
    with duckdb.connect(str(history.database), read_only=True) as con:
        (runs,), (binned,) = con.execute(
            "SELECT count(*) FROM activity_gait UNION ALL "
            "SELECT count(*) FROM v_report_chart_bins WHERE kind = 'total'").fetchall()
        assert binned == runs > 20
        weeks = sorted({(a, data.parse_iso_week(w)) for a, w in (
            (r["athlete_id"], r["iso_week"]) for r in data.list_weeks(con, [history.athlete]))})
        ids = [i for (i,) in con.execute(
            "SELECT activity_id FROM v_report_activities WHERE sport = 'running'").fetchall()]
        stored = data._chart_bins(con, weeks, ids, th)
        derived = data._chart_bins(con, weeks, ids, th, stored=False)
    assert stored.keys() == derived.keys() and len(stored) > 20

    for key in stored:
        assert chart_numbers(stored[key]) == pytest.approx(chart_numbers(derived[key]), rel=1e-9), key
