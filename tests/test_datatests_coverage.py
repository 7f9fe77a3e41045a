"""The data tests of the tables added by migrations 004-008, 010 and 011
(warehouse/datatests.py, ``TESTS_004_008``, ``TESTS_010``, ``TESTS_011``), each broken
alone on a real warehouse.

The warehouse is built once through the real pipeline (the ``ingest_inbox`` Prefect flow,
then the metrics stage) from a real Strava export (slalom007's ``activities.csv`` with
only a few of its files: the others become summary-only activities), a journal written
here (strength, cross-training, pain episode, note), and a corrupt FIT file from the
corpus (rejected). Each case copies that file, corrupts one row the way its rule forbids,
and checks that exactly that test fails: in the incremental gate that follows a passing
gate (so the fingerprint sees the changed table) and in a full run.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from cli_support import age, write_config
from conftest import CORPUS, SHARED

from warehouse.datatests import (
    KNOWN_THRESHOLDS,
    TESTS_004_008,
    TESTS_010,
    TESTS_011,
    DataTestError,
    gate,
    run,
    state_fingerprint,
)

NEW_RULES = {**TESTS_004_008, **TESTS_010, **TESTS_011}

EXPORT = SHARED / "real" / "slalom007" / "strava_export"
ATHLETE = "slalom"
N_FILES = 6  # recordings copied beside the list; every other listed activity is summary-only
BAD_FILE = "truncated-activity-unexpected-eof.fit"  # corpus/bad: the reader rejects it
JOURNAL = (
    "date,kind,minutes,body_part,side,severity,text\n"
    "2024-09-10,strength,40,,,,legs and core\n"
    "2024-09-12,cross_training,60,,,,Swim: 2 km\n"
    "2024-10-07,pain,,left knee,left,3,sore after intervals\n"
    "2024-10-11,pain,,left knee,left,5,worse on stairs\n"
    "2024-12-02,note,,,,,new shoes\n"
)


@pytest.fixture(scope="module")
def built(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real warehouse, loaded once; tests work on copies of the returned file."""
    if not (EXPORT / "activities.csv").exists():
        pytest.skip(f"real Strava export not found at {EXPORT}")
    if not (CORPUS / "bad" / BAD_FILE).exists():
        pytest.skip(f"corpus file {BAD_FILE} not found under {CORPUS}")
    from flows import pipeline
    from flows.flows import ingest_inbox, settings

    root = tmp_path_factory.mktemp("dtests-coverage")
    inbox = root / "inbox" / ATHLETE
    export = inbox / "strava_export"
    export.mkdir(parents=True)
    shutil.copy(EXPORT / "activities.csv", export / "activities.csv")
    with (EXPORT / "activities.csv").open(encoding="utf-8", newline="") as fh:
        files = [r["Filename"] for r in csv.DictReader(fh) if r["Filename"]][:N_FILES]
    for name in files:
        (export / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXPORT / name, export / name)
    (inbox / "journal.csv").write_text(JOURNAL, encoding="utf-8")
    shutil.copy(CORPUS / "bad" / BAD_FILE, inbox / BAD_FILE)
    age(p for p in inbox.rglob("*") if p.is_file())
    config = write_config(root / "gaitwatch.toml", {
        "inbox": "inbox", "database": "out/gw.duckdb", "default_athlete": ATHLETE,
        "inbox_options": {"settle_seconds": 0},
        "athletes": [{"id": ATHLETE, "timezone": "Europe/Budapest"}],
    })
    ingest_inbox(config=config)
    pipeline.compute_metrics(settings(config))
    return root / "out" / "gw.duckdb"


@pytest.fixture
def con(built: Path, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A copy of the built warehouse that has just passed a full gate."""
    path = tmp_path / "copy.duckdb"
    shutil.copy(built, path)
    c = duckdb.connect(str(path))
    gate(c, full=True)
    yield c
    c.close()


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    rows = con.execute(sql).fetchall()
    assert rows and rows[0][0] is not None, sql
    return rows[0][0]


def test_the_warehouse_holds_what_every_rule_reads(con: duckdb.DuckDBPyConnection) -> None:
    """Preconditions, so that no case below passes on empty tables: summary-only
    activities from the list and from the journal, recorded ones linked to the list, a
    rejected inbox file, a pain episode checked against the journal it came from."""
    from warehouse.datatests import _FRESH_EVALUATIONS

    counts = dict(con.execute(
        "SELECT source || '/' || summary_only, count(*) FROM activities GROUP BY ALL").fetchall())
    assert counts["file/false"] == N_FILES
    assert counts["strava_csv/true"] > 100
    assert counts["journal/true"] == 2
    linked = _one(con, "SELECT count(*) FROM export_activities AS e JOIN activities AS a "
                       "USING (activity_id) WHERE NOT a.summary_only")
    assert linked == N_FILES
    assert con.execute("SELECT outcome, count(*) FROM inbox_files GROUP BY ALL ORDER BY ALL"
                       ).fetchall() == [("loaded", 2 + N_FILES), ("rejected", 1)]
    assert con.execute("SELECT episode, start_date::VARCHAR, end_date::VARCHAR, entries, "
                       "max_severity FROM evaluation_episodes").fetchall() == [
        (1, "2024-10-07", "2024-10-11", 2, 5)]
    # the SQL hash of the journal equals the one the metrics stage stored
    assert con.execute(_FRESH_EVALUATIONS).fetchall() == [(ATHLETE,)]
    assert _one(con, "SELECT count(*) FROM athlete_evaluation") == 7
    assert _one(con, "SELECT count(*) FROM pipeline_state") == 2
    # the metrics stage recorded every threshold it used (defaults here)
    assert _one(con, "SELECT count(*) FROM thresholds_in_use") == len(KNOWN_THRESHOLDS) > 50
    # every run has its chart bins, of every kind
    runs = _one(con, "SELECT count(*) FROM activity_gait")
    assert runs > 0
    assert con.execute("SELECT kind, count(DISTINCT activity_id) FROM activity_chart_bins "
                       "GROUP BY ALL ORDER BY ALL").fetchall() == [
        (k, runs) for k in ("cadence", "speed", "step", "total")]


def test_full_gate_passes_and_an_unchanged_repeat_runs_nothing(built: Path, tmp_path: Path) -> None:
    path = tmp_path / "copy.duckdb"
    shutil.copy(built, path)
    with duckdb.connect(str(path)) as c:
        results = gate(c, full=True)
        assert {r.name for r in results} >= set(NEW_RULES)
        assert all(r.passed for r in results)
    with duckdb.connect(str(path)) as c:  # reopened: the digest does not depend on the session
        assert gate(c) == []


def test_a_journal_change_reruns_the_tests_reading_the_journal_only(
        con: duckdb.DuckDBPyConnection) -> None:
    con.execute("UPDATE journal SET text = 'new shoes, again' WHERE kind = 'note'")
    ran = {r.name for r in gate(con)}
    assert "journal.kind accepted" in ran and "journal -> athletes" in ran
    assert "activities hold their samples (count = n_samples, at least one)" not in ran
    assert "export_activities -> athletes" not in ran


def test_a_warehouse_without_activities_is_checked_once_then_incrementally(tmp_path: Path) -> None:
    """An empty warehouse, then one holding only a journal: after a passing gate, an
    unchanged repeat runs nothing and writes nothing (the nightly run's publish and
    reports gates run at the same time: two writes of the gate's state row conflict), a
    journal change runs only the journal's tests, and the first activity loaded after is
    checked in the incremental gate."""
    from ingest.reader import read_path
    from warehouse.migrate import read_stage_state
    from warehouse.store import Warehouse
    from warehouse.summaries import load_journal

    fit = CORPUS / "fit" / "fenix5-run-dynamics-short.fit"
    if not fit.exists():
        pytest.skip(f"corpus file {fit} missing")
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        first = gate(wh.con)
        assert first and all(r.passed for r in first)  # no state yet: a full run
        saved = read_stage_state(wh.con, "datatests")
        assert gate(wh.con) == []
        assert read_stage_state(wh.con, "datatests") == saved  # not written again
        # pain and notes only: no summary-only activity from it
        pains = "".join(ln + "\n" for ln in JOURNAL.splitlines() if ",strength," not in ln
                        and ",cross_training," not in ln)
        load_journal(wh, ATHLETE, f"{ATHLETE}/journal.csv", pains.encode())
        assert wh.con.execute("SELECT count(*) FROM activities").fetchall() == [(0,)]
        ran = {r.name for r in gate(wh.con)}
        assert "journal.kind accepted" in ran
        assert "activities hold their samples (count = n_samples, at least one)" not in ran
        assert gate(wh.con) == []
        wh.load(list(read_path(fit)), ATHLETE)
        # a sample moved out of its activity: the incremental gate must look at it (no
        # watermark was saved while there was no activity: every activity is new)
        wh.con.execute("UPDATE samples SET ts = ts + INTERVAL 1 DAY WHERE rowid = 0")
        with pytest.raises(DataTestError, match="sample times within their activity"):
            gate(wh.con)
        assert read_stage_state(wh.con, "datatests").full_at == saved.full_at  # incremental


SCOPED_SAMPLE_CASES = {
    "samples.session_index -> sessions": "UPDATE samples SET session_index = 99 WHERE rowid IN "
                                         "(SELECT min(rowid) FROM samples WHERE activity_id = ?)",
    "activities hold their samples (count = n_samples, at least one)":
        "DELETE FROM samples WHERE rowid IN (SELECT min(rowid) FROM samples WHERE activity_id = ?)",
    "sample times within their activity": "UPDATE samples SET ts = ts + INTERVAL 1 DAY WHERE rowid "
                                          "IN (SELECT min(rowid) FROM samples WHERE activity_id = ?)",
}


@pytest.mark.parametrize("name", list(SCOPED_SAMPLE_CASES))
def test_the_incremental_gate_checks_the_samples_of_new_activities(
        tmp_path: Path, name: str) -> None:
    """The sample tests of an incremental gate read the new activities' samples once (a
    temporary table): a sample of a new activity broken the way each forbids fails
    exactly that test, and only the new activity is checked."""
    from ingest.reader import read_path
    from warehouse.migrate import read_stage_state
    from warehouse.store import Warehouse

    first, second = CORPUS / "fit" / "fenix5-run-dynamics-short.fit", CORPUS / "fit" / "fr630-run-dynamics.fit"
    if not (first.exists() and second.exists()):
        pytest.skip("corpus files missing")
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.load(list(read_path(first)), ATHLETE)
        gate(wh.con)  # full: no state yet
        full_at = read_stage_state(wh.con, "datatests").full_at
        old = {i for (i,) in wh.con.execute("SELECT activity_id FROM activities").fetchall()}
        wh.load(list(read_path(second)), ATHLETE)
        (new,) = {i for (i,) in wh.con.execute("SELECT activity_id FROM activities").fetchall()} - old
        wh.con.execute(SCOPED_SAMPLE_CASES[name], [new])
        with pytest.raises(DataTestError) as failed:
            gate(wh.con)
        # a missing sample also leaves the sample total short of the activities' count
        also = ["samples -> activities"] if "hold their samples" in name else []
        assert sorted(r.name for r in failed.value.failed) == sorted([name, *also])
        assert new in str(failed.value)
        assert read_stage_state(wh.con, "datatests").full_at == full_at  # it was incremental


def test_a_journal_session_replaced_by_its_recording_passes(tmp_path: Path) -> None:
    """The loader keeps the richer of two overlapping activities: a ride recorded at
    12:01 UTC, loaded after a journal cross-training entry of that day (stored at local
    noon), replaces the entry's summary-only activity. Every data test still passes."""
    fit = EXPORT / "activities" / "15559008994.fit.gz"  # ride, 2025-05-24 12:01:33 UTC
    if not fit.exists():
        pytest.skip(f"real file not found at {fit}")
    from ingest.reader import read_path
    from warehouse.store import Warehouse
    from warehouse.summaries import load_journal

    name = f"{ATHLETE}/journal.csv"
    journal = b"date,kind,minutes,body_part,side,severity,text\n2025-05-24,cross_training,180,,,,Ride\n"
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        load_journal(wh, ATHLETE, name, journal)
        wh.load(list(read_path(fit)), ATHLETE)
        acts = wh.con.execute("SELECT source, summary_only FROM activities").fetchall()
        log = wh.con.execute("SELECT status FROM ingest_log WHERE source_file = ?", [name]).fetchall()
        failed = [r.name for r in run(wh.con, raise_on_failure=False) if not r.passed]
    assert acts == [("file", False)]
    assert log == [("duplicate",)]
    assert failed == []


def test_a_header_only_journal_of_a_new_athlete_passes(
        prefect_harness: None, tmp_path: Path) -> None:
    """A new athlete's first file is an empty journal: it is recorded as unchanged and
    writes nothing, not even the athlete; the gate still passes."""
    from flows.flows import ingest_inbox

    journal = tmp_path / "inbox" / "newbie" / "journal.csv"
    journal.parent.mkdir(parents=True)
    journal.write_text("date,kind,minutes,body_part,side,severity,text\n", encoding="utf-8")
    age([journal])
    config = write_config(tmp_path / "gaitwatch.toml", {
        "inbox": "inbox", "database": "out/gw.duckdb", "default_athlete": "solo",
        "inbox_options": {"settle_seconds": 0},
    })
    ingest_inbox(config=config)
    with duckdb.connect(str(tmp_path / "out" / "gw.duckdb")) as c:
        files = c.execute("SELECT path, outcome, athlete_id FROM inbox_files").fetchall()
        athletes = c.execute("SELECT athlete_id FROM athletes").fetchall()
        failed = [r.name for r in run(c, raise_on_failure=False) if not r.passed]
    assert files == [("newbie/journal.csv", "unchanged", "newbie")]
    assert athletes == []
    assert failed == []


# The rule's name -> SQL that breaks exactly that rule in one row (or drops one row).
_RECORDED_LINK = ("(SELECT min(e.external_id) FROM export_activities AS e JOIN activities AS a "
                  "USING (activity_id) WHERE NOT a.summary_only)")
_SUMMARY = "(SELECT min(activity_id) FROM activities WHERE summary_only AND source = 'strava_csv')"
_LOADED_FILE = "(SELECT min(path) FROM inbox_files WHERE outcome = 'loaded')"
CASES: dict[str, str] = {
    "primary keys declared": (
        # recreated without its key (what CREATE TABLE AS does): same rows
        "CREATE OR REPLACE TABLE evaluation_state AS SELECT * FROM evaluation_state"
    ),
    "journal -> athletes": (
        "INSERT INTO journal SELECT * REPLACE ('x1' AS entry_id, 'nobody' AS athlete_id) "
        "FROM journal WHERE kind = 'note'"
    ),
    "export_activities -> athletes": (
        "INSERT INTO export_activities SELECT * REPLACE ('nobody' AS athlete_id, "
        "NULL AS activity_id) FROM export_activities LIMIT 1"
    ),
    "export_activities linked activity -> activities (same athlete)": (
        f"UPDATE export_activities SET activity_id = 'gone' WHERE external_id = {_RECORDED_LINK}"  # noqa: S608
    ),
    "inbox_files -> athletes": (
        f"UPDATE inbox_files SET athlete_id = 'nobody' WHERE path = {_LOADED_FILE}"  # noqa: S608
    ),
    "evaluation_state -> athletes": (
        "INSERT INTO evaluation_state SELECT * REPLACE ('nobody' AS athlete_id) "
        "FROM evaluation_state"
    ),
    "back-test rows only for evaluated athletes (-> evaluation_state)": (
        f"DELETE FROM evaluation_state WHERE athlete_id = '{ATHLETE}'"  # noqa: S608
    ),
    "journal.kind accepted": "UPDATE journal SET kind = 'yoga' WHERE kind = 'note'",
    "journal.side accepted": (
        "UPDATE journal SET side = 'up' WHERE entry_date = DATE '2024-10-07'"
    ),
    "journal.severity within the 0-10 pain scale": (
        "UPDATE journal SET severity = 11 WHERE kind = 'note'"
    ),
    "inbox_files.outcome accepted": (
        f"UPDATE inbox_files SET outcome = 'changed' WHERE path = {_LOADED_FILE}"  # noqa: S608
    ),
    "activities.source accepted": (
        f"UPDATE activities SET source = 'manual' WHERE activity_id = {_SUMMARY}"  # noqa: S608
    ),
    "export_activities.source accepted": (
        f"UPDATE export_activities SET source = 'tcx_list' WHERE external_id = {_RECORDED_LINK}"  # noqa: S608
    ),
    "athlete_evaluation signal and kind accepted": (
        "UPDATE athlete_evaluation SET kind = 'level' WHERE signal = 'load_spike'"
    ),
    "pipeline_state.name accepted": (
        "INSERT INTO pipeline_state (name, updated_at) VALUES ('someday', now())"
    ),
    "summary-only activities and only they have format summary and a list source": (
        f"UPDATE activities SET format = 'fit' WHERE activity_id = {_SUMMARY}"  # noqa: S608
    ),
    "summary-only activities hold no recording (samples, sessions, laps, extras, gait)": (
        f"UPDATE activities SET has_gps = true WHERE activity_id = {_SUMMARY}"  # noqa: S608
    ),
    "summary-only listed activities -> their export_activities row": (
        f"UPDATE export_activities SET activity_id = NULL WHERE activity_id = {_SUMMARY}"  # noqa: S608
    ),
    "journal activities -> their strength/cross-training entry": (
        "UPDATE journal SET kind = 'note' WHERE kind = 'strength'"
    ),
    "strength/cross-training journal entries have their activity (or its recording)": (
        "UPDATE journal SET kind = 'strength' WHERE kind = 'note'"
    ),
    "inbox_files rejected/skipped have a reason and an ingest_log row": (
        "UPDATE inbox_files SET reason = NULL WHERE outcome = 'rejected'"
    ),
    "athlete_evaluation rates agree with their counts": (
        "UPDATE athlete_evaluation SET alarm_rate = alarm_rate + 0.5 WHERE signal = 'high'"
    ),
    "athlete_evaluation.scored_weeks = the athlete's scored weekly_risk weeks": (
        # a week rewritten without the back-test being rewritten beside it
        "UPDATE weekly_risk SET risk_level = 'insufficient_data' WHERE week_start = "
        "(SELECT min(week_start) FROM weekly_risk WHERE risk_level <> 'insufficient_data')"
    ),
    "athlete_evaluation.episodes = the athlete's evaluation_episodes": (
        "DELETE FROM evaluation_episodes WHERE episode = 1"
    ),
    "evaluated athletes with weeks have every signal": (
        "DELETE FROM athlete_evaluation WHERE signal = 'high'"
    ),
    "evaluation_episodes numbered 1, 2, ... in date order": (
        "UPDATE evaluation_episodes SET episode = 2 WHERE episode = 1"
    ),
    "evaluation_episodes are the journal's pain/injury entries": (
        "UPDATE evaluation_episodes SET entries = 3 WHERE episode = 1"
    ),
    "evaluation_layoffs are return weeks of weekly_risk": (
        f"INSERT INTO evaluation_layoffs VALUES ('{ATHLETE}', '2024-W40', 30, 'possible layoff')"  # noqa: S608
    ),
    # migration 010
    "thresholds_in_use.name known to transforms/thresholds.py": (
        # a threshold this gaitwatch does not know (a typo, or one a later version removed)
        "UPDATE thresholds_in_use SET name = 'acwr_hihg' WHERE name = 'acwr_high'"
    ),
    "thresholds_in_use.value a valid threshold (finite, >= 0, whole for integer ones)": (
        # baseline_weeks is an integer threshold: 6.5 weeks is no value load_thresholds accepts
        "UPDATE thresholds_in_use SET value = 6.5 WHERE name = 'baseline_weeks'"
    ),
    # migration 011: each case inserts or deletes, as the metrics stage does (the gate's
    # fingerprint of the table is its row count and its total rows)
    "activity_chart_bins -> activity_gait": (
        "INSERT INTO activity_chart_bins SELECT * REPLACE ('gone' AS activity_id) "
        "FROM activity_chart_bins WHERE kind = 'total' LIMIT 1"
    ),
    "activity_chart_bins.kind accepted, with its bin columns": (
        # a speed row relabelled as a step row: no step length
        "INSERT INTO activity_chart_bins SELECT * REPLACE ('step' AS kind) "
        "FROM activity_chart_bins WHERE kind = 'speed' LIMIT 1"
    ),
    "activity_chart_bins.seconds finite, > 0 in a bin (>= 0 in a total)": (
        "INSERT INTO activity_chart_bins SELECT * REPLACE (99.0 AS speed_bin_m_s, "
        "-1.0 AS seconds) FROM activity_chart_bins WHERE kind = 'speed' LIMIT 1"
    ),
    "activity_chart_bins one total row per binned activity": (
        # an activity's bins written twice: here, its total row
        "INSERT INTO activity_chart_bins SELECT * FROM activity_chart_bins "
        "WHERE kind = 'total' LIMIT 1"
    ),
    "activity_chart_bins rows have their activity's total row": (
        "DELETE FROM activity_chart_bins WHERE kind = 'total' AND activity_id = "
        "(SELECT min(activity_id) FROM activity_chart_bins)"
    ),
}


def test_every_new_rule_has_its_case() -> None:
    assert set(CASES) == set(NEW_RULES)


@pytest.mark.parametrize("name", list(CASES))
def test_one_corrupt_row_fails_exactly_its_rule(con: duckdb.DuckDBPyConnection, name: str) -> None:
    before = state_fingerprint(con)
    con.execute(CASES[name])
    assert state_fingerprint(con) != before  # the gate sees the change
    with pytest.raises(DataTestError) as err:
        gate(con)  # incremental, after a passing gate: reruns what reads the changed table
    assert [r.name for r in err.value.failed] == [name]
    failed = [r.name for r in run(con, raise_on_failure=False) if not r.passed]
    assert failed == [name]  # full run: the same, and only it
