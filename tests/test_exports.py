"""Whole exports (issue 12 part 3): a real Strava export dropped whole into an inbox and
run through the real pipeline into a real DuckDB file; Garmin summarizedActivities.json
(synthetic file in Garmin's layout, no real one in ../shared); the CSV quirks."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cli_support import age, write_config
from conftest import CORPUS

from ingest.exports import parse_garmin_json, parse_strava_csv, parse_strava_date

REAL = Path(__file__).resolve().parents[2] / "shared" / "real" / "slalom007" / "strava_export"
ATHLETE = "slalom"


@pytest.fixture(scope="module")
def strava_run(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """slalom007's export copied whole into inbox/slalom/, ingested by the ingest_inbox
    flow, then metrics: once per module. Returns the working database."""
    if not (REAL / "activities.csv").exists():
        pytest.skip("../shared/real/slalom007 missing")
    from flows import pipeline
    from flows.flows import ingest_inbox, settings

    root = tmp_path_factory.mktemp("strava")
    dest = root / "inbox" / ATHLETE / "strava_export"
    shutil.copytree(REAL, dest)
    age(p for p in dest.rglob("*") if p.is_file())
    config = write_config(root / "gaitwatch.toml", {
        "inbox": "inbox", "database": "out/gw.duckdb", "default_athlete": "solo",
    })
    report = ingest_inbox(config=config)
    assert not report.rejected, [(o.rel, o.reason) for o in report.rejected]
    pipeline.compute_metrics(settings(config))
    assert pipeline.run_data_tests(settings(config), full=True) == []
    return root / "out" / "gw.duckdb"


def _snapshot(db: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT activity_id, name, description, summary_only, loaded_at FROM activities "
            "ORDER BY activity_id").fetchall()


def _csv_runs() -> list[dict[str, str]]:
    """Runs of the real activities.csv read with the csv module (not our parser)."""
    with (REAL / "activities.csv").open(encoding="utf-8", newline="") as fh:
        return [r for r in csv.DictReader(fh) if "Run" in r["Activity Type"]]


def _iso_monday(text: str) -> str:
    # this export's locale writes "Jun 4, 2024, 6:13:47 AM" (UTC)
    ts = datetime.strptime(text, "%b %d, %Y, %I:%M:%S %p")
    return (ts.date() - timedelta(days=ts.weekday())).isoformat()


def test_weekly_runs_match_the_export_list(strava_run: Path) -> None:
    expected = Counter(_iso_monday(r["Activity Date"]) for r in _csv_runs())
    with duckdb.connect(str(strava_run), read_only=True) as con:
        got = {str(w): int(n) for w, n in con.execute(
            "SELECT week_start, runs FROM weekly_risk WHERE athlete_id = ?", [ATHLETE]).fetchall()}
    weeks = sorted(set(expected) | {w for w, n in got.items() if n})
    equal = sum(1 for w in weeks if expected.get(w, 0) == got.get(w, 0))
    total_exp, total_got = sum(expected.values()), sum(got.values())
    share = equal / len(weeks)
    print(f"\nslalom007: weeks with runs {len(weeks)}, equal {equal} ({share:.1%}); "
          f"runs in activities.csv {total_exp}, in weekly_risk {total_got} "
          f"({(total_got - total_exp) / total_exp:+.2%})")
    assert share >= 0.95
    assert abs(total_got - total_exp) <= 0.02 * total_exp


def test_manual_runs_are_summary_only_runs_with_their_names(strava_run: Path) -> None:
    manual = [r for r in _csv_runs() if not r["Filename"].strip()]
    assert manual, "the export has manual runs (no file)"
    with duckdb.connect(str(strava_run), read_only=True) as con:
        rows = con.execute(
            "SELECT name, description, distance_km, gait_computed FROM v_runs "
            "WHERE athlete_id = ? AND summary_only ORDER BY started_at", [ATHLETE]).fetchall()
        named = con.execute(
            "SELECT count(*), count(name) FROM v_runs WHERE athlete_id = ? AND NOT summary_only",
            [ATHLETE]).fetchall()[0]
        problems = con.execute("SELECT count(*) FROM v_ingest_problems").fetchall()[0][0]
    print(f"\nsummary-only runs: {len(rows)} (manual rows in the CSV: {len(manual)}); "
          f"recorded runs named from the CSV: {named[1]} of {named[0]}")
    assert sorted(r[0] for r in rows) == sorted(r["Activity Name"] for r in manual)
    # DictReader keeps the last of the two "Distance" columns: metres
    assert sorted(round(r[2], 3) for r in rows) == sorted(
        round(float(r["Distance"]) / 1000, 3) for r in manual)
    assert not any(r[3] for r in rows)  # no gait metrics without samples
    assert named[0] == named[1]
    assert problems == 0  # the CSV is neither rejected nor skipped


def test_recorded_activities_get_the_names_from_the_list(strava_run: Path) -> None:
    with (REAL / "activities.csv").open(encoding="utf-8", newline="") as fh:
        listed = {r["Filename"].strip(): r for r in csv.DictReader(fh) if r["Filename"].strip()}
    with duckdb.connect(str(strava_run), read_only=True) as con:
        got = con.execute(
            "SELECT source_file, name, description, external_id FROM activities "
            "WHERE NOT summary_only").fetchall()
    assert len(got) == len(listed)
    prefix = f"{ATHLETE}/strava_export/"
    for source_file, name, description, ext in got:
        row = listed[source_file.removeprefix(prefix)]
        assert (name, ext) == (row["Activity Name"], row["Activity ID"])
        assert (description or "") == row["Activity Description"].strip()


def test_second_run_changes_nothing(strava_run: Path) -> None:
    """Every file re-read (the cheap unchanged-file record removed): same rows."""
    from flows.flows import ingest_inbox

    root = strava_run.parents[1]
    before = _snapshot(strava_run)
    con = duckdb.connect(str(strava_run))
    con.execute("DELETE FROM inbox_files")
    con.close()
    report = ingest_inbox(config=root / "gaitwatch.toml")
    assert {o.status for o in report.outcomes} == {"unchanged"}
    assert _snapshot(strava_run) == before


def test_reconcile_again_changes_nothing(strava_run: Path, tmp_path: Path) -> None:
    from warehouse.store import Warehouse
    from warehouse.summaries import reconcile

    copy = tmp_path / "gw.duckdb"
    shutil.copyfile(strava_run, copy)
    with Warehouse.open(copy) as wh:
        before = wh.con.execute("SELECT count(*), max(loaded_at) FROM activities").fetchall()
        out = reconcile(wh, ATHLETE)
        after = wh.con.execute("SELECT count(*), max(loaded_at) FROM activities").fetchall()
    assert (out.written, out.removed, out.pending, out.renamed) == (0, 0, 0, 0)
    assert before == after


# ------------------------------------------------------------------ Garmin


def _garmin_doc(entries: list[dict[str, Any]]) -> bytes:
    return json.dumps([{"summarizedActivitiesExport": entries}]).encode()


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def test_garmin_list_units_and_multisport_parent() -> None:
    start = datetime(2024, 3, 5, 6, 30, tzinfo=UTC)
    doc = _garmin_doc([
        {"activityId": 11, "name": "Easy run", "activityType": "running",
         "beginTimestamp": _ms(start), "duration": 1800000.0, "elapsedDuration": 1900000.0,
         "movingDuration": 1750000.0, "distance": 500000.0, "avgHr": 141.0},
        {"activityId": 12, "name": "Gym", "activityType": {"typeKey": "strength_training"},
         "beginTimestamp": _ms(start + timedelta(hours=8)), "duration": 2400000.0,
         "manualActivity": True},
        {"activityId": 13, "name": "Tri", "activityType": "multi_sport", "parent": True,
         "beginTimestamp": _ms(start + timedelta(days=1)), "duration": 1.0},
        {"activityId": 14, "name": "no start", "activityType": "running"},
    ])
    parsed = parse_garmin_json("ann/DI_CONNECT/DI-Connect-Fitness/a_summarizedActivities.json", doc)
    run, gym = parsed.rows
    assert (run.started_at, run.sport, run.distance_m) == (start, "running", 5000.0)
    assert (run.elapsed_s, run.moving_s, run.avg_heart_rate_bpm) == (1900.0, 1750.0, 141.0)
    assert (gym.sport, gym.sub_sport, gym.elapsed_s, gym.manual) == (
        "training", "strength_training", 2400.0, True)
    assert [(p.line, "beginTimestamp" in p.reason) for p in parsed.problems] == [(4, True)]


def test_garmin_summary_is_replaced_when_its_file_arrives(tmp_path: Path) -> None:
    """The list is read before the files (DI-Connect-Fitness sorts before
    DI-Connect-Uploaded-Files): summary-only first, then the file replaces it and keeps
    the list's name; the manual entry stays summary-only."""
    from ingest.reader import read_path
    from warehouse.store import Warehouse
    from warehouse.summaries import load_export_list, reconcile

    fit = CORPUS / "fit" / "fenix5-run-dynamics-short.fit"
    if not fit.exists():
        pytest.skip("corpus FIT file missing")
    results = list(read_path(fit))
    meta = results[0].activities[0].meta
    start = meta.started_at.astimezone(UTC)
    doc = _garmin_doc([
        {"activityId": 21, "name": "Tempo by the river", "description": "felt good",
         "activityType": "running", "beginTimestamp": _ms(start + timedelta(seconds=3)),
         "duration": 600000.0, "distance": 200000.0},
        {"activityId": 22, "name": "Treadmill, watch forgotten", "activityType": "treadmill_running",
         "beginTimestamp": _ms(start - timedelta(days=2)), "duration": 1200000.0,
         "distance": 300000.0, "manualActivity": True},
    ])
    name = "ann/DI_CONNECT/DI-Connect-Fitness/x_summarizedActivities.json"
    with Warehouse.open(tmp_path / "gw.duckdb") as wh:
        assert load_export_list(wh, "ann", name, doc, lambda _ref: False, "").status == "loaded"
        first = reconcile(wh, "ann")
        assert (first.summary_only, first.linked) == (2, 0)
        wh.run_data_tests()
        wh.load(results, "ann")  # the recorded file arrives
        second = reconcile(wh, "ann")
        rows = wh.con.execute(
            "SELECT name, description, summary_only, source, sub_sport FROM activities "
            "ORDER BY started_at").fetchall()
        wh.run_data_tests()
        again = load_export_list(wh, "ann", name, doc, lambda _ref: False, "")
    assert (second.linked, second.summary_only) == (1, 1)
    assert rows == [
        ("Treadmill, watch forgotten", None, True, "garmin_json", "treadmill"),
        ("Tempo by the river", "felt good", False, "file", rows[1][4]),
    ]
    assert again.status == "unchanged"


def test_garmin_multisport_legs_link_to_the_one_recorded_file(tmp_path: Path) -> None:
    """Garmin lists a duathlon's legs one by one (the parent is skipped); the FIT file
    holds them as sessions of one activity: no leg becomes a second activity, and the
    file takes the name of the leg that starts with it."""
    from ingest.reader import read_path
    from warehouse.store import Warehouse
    from warehouse.summaries import load_export_list, reconcile

    fit = CORPUS / "fit" / "fenix3-multisport-run-bike-dynamics.fit"
    if not fit.exists():
        pytest.skip("corpus FIT file missing")
    results = list(read_path(fit))
    sessions = results[0].activities[0].sessions
    legs = [(sport, start.astimezone(UTC), secs) for sport, start, secs in
            sessions.select("sport", "started_at", "total_elapsed_s").rows()]
    key = {"running": "running", "cycling": "cycling", "transition": "transition_v2"}
    doc = _garmin_doc(
        [{"activityId": 30, "name": "Duathlon", "activityType": "multi_sport", "parent": True,
          "beginTimestamp": _ms(legs[0][1]), "duration": 1.0}]
        + [{"activityId": 31 + i, "name": f"leg {i}", "activityType": key[sport],
            "parentId": 30, "beginTimestamp": _ms(start), "duration": secs * 1000}
           for i, (sport, start, secs) in enumerate(legs)]
    )
    with Warehouse.open(tmp_path / "gw.duckdb") as wh:
        wh.load(results, "ann")
        load_export_list(wh, "ann", "ann/x_summarizedActivities.json", doc, lambda _r: False, "")
        out = reconcile(wh, "ann")
        rows = wh.con.execute("SELECT name, summary_only FROM activities").fetchall()
        again = reconcile(wh, "ann")
        wh.run_data_tests()
    assert (out.linked, out.summary_only) == (len(legs), 0)
    assert rows == [("leg 0", False)]
    assert (out.renamed, again.written, again.removed, again.renamed) == (1, 0, 0, 0)


# ------------------------------------------------------------------ Strava CSV quirks


def test_strava_dates_in_both_locales() -> None:
    assert parse_strava_date("Apr 16, 2021, 10:58:25 PM") == datetime(2021, 4, 16, 22, 58, 25, tzinfo=UTC)
    assert parse_strava_date("16 Apr 2014, 17:34:54") == datetime(2014, 4, 16, 17, 34, 54, tzinfo=UTC)
    assert parse_strava_date("Apr 16, 2021, 10:58:25\u202fPM") == datetime(2021, 4, 16, 22, 58, 25, tzinfo=UTC)
    assert parse_strava_date("16 Sept 2023, 07:01:02") == datetime(2023, 9, 16, 7, 1, 2, tzinfo=UTC)
    with pytest.raises(ValueError, match="unrecognised date"):
        parse_strava_date("16. April 2014 17:34")


def test_strava_csv_other_layout_by_header_name() -> None:
    """An older layout: other column order, one Distance column in km, no Moving Time,
    a multi-line description, a manual entry, and a bad date reported with its line."""
    text = (
        b'Activity ID,Activity Date,Activity Name,Activity Type,Distance,Elapsed Time,'
        b'Activity Description,Filename\n'
        b'1,"16 Apr 2014, 17:34:54",Hill reps,Run,10.5,3600,"6 x hill\nfelt ok",activities/1.gpx\n'
        b'2,"17 Apr 2014, 07:00:00",Gym,Weight Training,0,2700,,\n'
        b'3,yesterday,Broken,Run,5,1500,,\n'
    )
    parsed = parse_strava_csv("ann/export/activities.csv", text)
    run, gym = parsed.rows
    assert (run.distance_m, run.elapsed_s, run.description, run.file_ref, run.line) == (
        10500.0, 3600.0, "6 x hill\nfelt ok", "activities/1.gpx", 2)
    assert (gym.sport, gym.sub_sport, gym.manual, gym.line) == ("training", "strength_training", True, 4)
    assert [(p.line, "yesterday" in p.reason) for p in parsed.problems] == [(5, True)]


def test_list_rows_at_implausible_times_are_row_problems() -> None:
    """The activity loader's recording-time bounds hold for list rows too: a Garmin entry
    whose timestamp is 0 (1970) or a Strava row years ahead would give the athlete decades
    of empty weeks. Each is a problem with its line; the other rows load."""
    text = (
        b'Activity ID,Activity Date,Activity Name,Activity Type,Elapsed Time\n'
        b'1,"16 Apr 2014, 17:34:54",Run,Run,3600\n'
        b'2,"1 Jan 1999, 07:00:00",Old,Run,3600\n'
        b'3,"1 Jan 2099, 07:00:00",Ahead,Run,3600\n'
    )
    strava = parse_strava_csv("ann/export/activities.csv", text)
    assert [r.external_id for r in strava.rows] == ["1"]
    assert [(p.line, p.reason) for p in strava.problems] == [
        (3, "start 1999-01-01 07:00 UTC is before the year 2000 (earliest_start_year); "
            "row not used"),
        (4, "start 2099-01-01 07:00 UTC is more than 36 h after loading (max_start_ahead_h); "
            "row not used")]
    start = datetime(2024, 3, 5, 6, 30, tzinfo=UTC)
    garmin = parse_garmin_json("ann/x_summarizedActivities.json", _garmin_doc([
        {"activityId": 11, "activityType": "running", "beginTimestamp": _ms(start)},
        {"activityId": 12, "activityType": "running", "beginTimestamp": 0},
    ]))
    assert [r.external_id for r in garmin.rows] == ["11"]
    assert [(p.line, "1970-01-01 00:00 UTC is before the year 2000" in p.reason)
            for p in garmin.problems] == [(2, True)]


def test_strava_export_zip_dropped_whole(prefect_harness: None, tmp_path: Path) -> None:
    """The zip as Strava sends it (here with only its first five files: the others count
    as missing): the CSV inside is loaded, not logged as "not an activity"; listed
    activities whose file is missing become summary-only; nothing is counted twice."""
    import zipfile

    from flows.flows import ingest_inbox

    if not (REAL / "activities.csv").exists():
        pytest.skip("../shared/real/slalom007 missing")
    with (REAL / "activities.csv").open(encoding="utf-8", newline="") as fh:
        listed = list(csv.DictReader(fh))
    kept = [r["Filename"] for r in listed if r["Filename"]][:5]
    archive = tmp_path / "inbox" / "ann" / "export_1234.zip"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(REAL / "activities.csv", "activities.csv")
        for name in kept:
            zf.write(REAL / name, name)
    age([archive])
    config = write_config(tmp_path / "gaitwatch.toml", {
        "inbox": "inbox", "database": "out/gw.duckdb", "default_athlete": "solo",
    })
    report = ingest_inbox(config=config)
    assert [(o.rel, o.status) for o in report.outcomes] == [("ann/export_1234.zip", "loaded")]
    with duckdb.connect(str(tmp_path / "out" / "gw.duckdb"), read_only=True) as con:
        counts = con.execute(
            "SELECT summary_only, count(*), count(name) FROM activities GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        runs = con.execute("SELECT count(*) FROM v_runs").fetchall()[0][0]
        problems = con.execute("SELECT source_file, reason FROM v_ingest_problems").fetchall()
        files = con.execute("SELECT source_file FROM activities WHERE NOT summary_only "
                            "ORDER BY ALL").fetchall()
    assert counts == [(False, 5, 5), (True, len(listed) - 5, len(listed) - 5)]
    assert runs == sum(1 for r in listed if "Run" in r["Activity Type"])
    assert problems == []
    assert [f for (f,) in files] == sorted(f"ann/export_1234.zip/{n}" for n in kept)
