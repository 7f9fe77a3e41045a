"""Loading real recordings into a real DuckDB file: idempotence, identities, duplicates,
corrected files, the ingest log, reading helpers and writers, data tests."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from warehouse_support import (
    corpus_inputs,
    corpus_results,
    fingerprint,
    gpx_bytes,
    read_one,
)

from ingest.schema import SAMPLE_SCHEMA
from transforms.schema import (
    ACTIVITY_GAIT_SCHEMA,
    ACTIVITY_INPUT_SCHEMA,
    CHART_BINS_SCHEMA,
    WEEKLY_RISK_SCHEMA,
)
from warehouse.datatests import DataTestError
from warehouse.store import Warehouse, activity_identity


@pytest.fixture(scope="module")
def corpus_wh(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The whole corpus loaded once for athlete 'ann' (read-only use by the tests)."""
    path = tmp_path_factory.mktemp("wh") / "work.duckdb"
    wh = Warehouse.open(path)
    summary = wh.load(corpus_results(), "ann")
    yield wh, summary
    wh.close()


def test_corpus_load_twice_is_identical(tmp_path: Path) -> None:
    results = corpus_results()
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        first = wh.load(results, "ann")
        fp1 = fingerprint(wh.con)
        second = wh.load(results, "ann")
        fp2 = fingerprint(wh.con)
    assert first.loaded > 0 and first.samples > 0
    assert fp1 == fp2
    assert second.loaded == second.replaced == second.samples == 0
    assert not second.changed
    # every input that was stored or skipped is recognised by its bytes
    assert second.unchanged == sum(1 for r in results if r.error is None or r.error.status == "skipped")


def test_every_corpus_file_is_logged_with_a_status(corpus_wh: Any) -> None:
    wh, _ = corpus_wh
    log = wh.ingest_log_frame("ann")
    logged = set(log["source_file"].to_list())
    assert set(corpus_inputs()) <= logged
    assert set(log["status"].unique().to_list()) <= {"loaded", "duplicate", "skipped", "rejected", "replaced"}
    problems = log.filter(pl.col("status").is_in(["rejected", "skipped"]))
    assert problems["reason"].null_count() == 0
    # a file the reader refused is rejected with the reader's reason
    for r in corpus_results():
        if r.error is not None:
            row = log.filter(pl.col("source_file") == r.source_file)
            assert row["status"].to_list() == [r.error.status]
            assert row["reason"].to_list() == [r.error.one_line()]


def test_loaded_activities_hold_what_the_reader_returned(corpus_wh: Any) -> None:
    wh, _ = corpus_wh
    acts = wh.activities_frame("ann")
    log = wh.ingest_log_frame("ann")
    expected: dict[str, int] = {}
    for r in corpus_results():
        for part, act in enumerate(r.activities):
            row = log.filter((pl.col("source_file") == r.source_file) & (pl.col("part") == part))
            assert row.height == 1, r.source_file
            if row["status"][0] == "loaded":
                expected[row["activity_id"][0]] = act.samples.height
                assert row["activity_id"][0] == activity_identity(act.meta, "ann")
    got = dict(zip(acts["activity_id"].to_list(), acts["n_samples"].to_list(), strict=True))
    assert got == expected
    counts = wh.con.execute("SELECT activity_id, count(*) FROM samples GROUP BY 1").fetchall()
    assert dict(counts) == expected


def test_corpus_passes_data_tests(corpus_wh: Any) -> None:
    wh, _ = corpus_wh
    results = wh.run_data_tests(raise_on_failure=False)
    assert [r.name for r in results if not r.passed] == []
    assert len(results) >= 20


def test_reading_helpers_return_transform_contracts(corpus_wh: Any) -> None:
    wh, _ = corpus_wh
    acts = wh.activities_frame()
    assert list(acts.schema.items())[: len(ACTIVITY_INPUT_SCHEMA)] == list(ACTIVITY_INPUT_SCHEMA.items())
    assert acts["activity_id"].is_unique().all()
    runs = wh.activities_needing_gait("ann")
    running = set(acts.filter(pl.col("sport") == "running")["activity_id"].to_list())
    assert running and running <= set(runs)
    samples = wh.samples_frame(runs[:3])
    assert list(samples.schema.items()) == [("activity_id", pl.String()), ("athlete_id", pl.String()),
                                            *SAMPLE_SCHEMA.items()]
    assert set(samples["activity_id"].unique().to_list()) == set(runs[:3])
    assert samples.height == acts.filter(pl.col("activity_id").is_in(runs[:3]))["n_samples"].sum()
    # ordered by activity then time
    assert samples.equals(samples.sort("activity_id", "ts", maintain_order=True))
    assert wh.known_sha256("ann") >= {r.sha256 for r in corpus_results() if r.error is None}


def _gait_rows(wh: Warehouse, ids: list[str]) -> pl.DataFrame:
    acts = wh.activities_frame().filter(pl.col("activity_id").is_in(ids))
    rows = []
    for a in acts.iter_rows(named=True):
        row: dict[str, Any] = dict.fromkeys(ACTIVITY_GAIT_SCHEMA)
        row.update(activity_id=a["activity_id"], athlete_id=a["athlete_id"],
                   started_at=a["started_at"], moving_s=a["duration_s"],
                   analysed_s=a["duration_s"] * 0.9, cadence_median_spm=170.0, sprint_efforts=2)
        rows.append(row)
    return pl.DataFrame(rows, schema=ACTIVITY_GAIT_SCHEMA)


def _bins_rows(ids: list[str]) -> pl.DataFrame:
    """Each activity's total row and one speed bin (CHART_BINS_SCHEMA)."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [r for i in ids for r in (
        {"activity_id": i, "kind": "total", "seconds": 60.0, "binned_at": at},
        {"activity_id": i, "kind": "speed", "speed_bin_m_s": 3.0, "seconds": 60.0},
    )]
    return pl.DataFrame(rows, schema=CHART_BINS_SCHEMA)


def test_gait_written_then_replaced_activity_needs_gait_again(tmp_path: Path) -> None:
    fit = next(r for r in corpus_results() if r.error is None and r.activities[0].meta.format == "fit"
               and r.activities[0].meta.sport == "running" and r.activities[0].samples["lat_deg"].null_count() == 0)
    act = fit.activities[0]
    v1 = read_one("inbox/run.gpx", gpx_bytes(act.samples))
    shorter = act.samples.head(act.samples.height - 5)
    v2 = read_one("inbox/run-corrected.gpx", gpx_bytes(shorter))
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.load([v1], "bob")
        (aid,) = wh.activities_needing_gait("bob")
        # gait without the report's chart bins (a warehouse from before migration 011):
        # still to compute, so that the metrics bin it
        assert wh.write_activity_gait(_gait_rows(wh, [aid])) == 1
        assert wh.activities_needing_gait("bob") == [aid]
        assert wh.write_activity_gait(_gait_rows(wh, [aid]), _bins_rows([aid])) == 1
        assert wh.activities_needing_gait("bob") == []
        assert wh.write_activity_gait(_gait_rows(wh, [aid]), _bins_rows([aid])) == 1  # rewrite replaces, no duplicate
        assert wh.con.execute("SELECT count(*) FROM activity_gait").fetchall() == [(1,)]
        assert wh.con.execute("SELECT count(*) FROM activity_chart_bins").fetchall() == [(2,)]
        with pytest.raises(ValueError, match="without a gait row"):
            wh.write_activity_gait(_gait_rows(wh, [aid]), _bins_rows([aid, "other"]))
        s = wh.load([v2], "bob")
        assert (s.replaced, s.loaded, s.changed_activity_ids) == (1, 0, [aid])
        assert wh.activities_needing_gait("bob") == [aid]
        # the replaced recording's gait and bins went with it
        assert wh.con.execute("SELECT count(*) FROM activity_chart_bins").fetchall() == [(0,)]
        acts = wh.activities_frame("bob")
        assert acts.height == 1 and acts["n_samples"][0] == v2.activities[0].samples.height
        assert acts["sha256"][0] == v2.sha256
        log = {r["source_file"]: r for r in wh.ingest_log_frame("bob").iter_rows(named=True)}
        assert log["inbox/run.gpx"]["status"] == "replaced"
        assert log["inbox/run-corrected.gpx"]["status"] == "loaded"
        assert "inbox/run.gpx" in log["inbox/run-corrected.gpx"]["reason"]
        # both versions are known now: re-reading either changes nothing
        again = wh.load([v1, v2], "bob")
        assert (again.unchanged, again.changed) == (2, False)


def _running_fit_with_gps() -> Any:
    for r in corpus_results():
        if r.error is None and len(r.activities) == 1:
            a = r.activities[0]
            if a.meta.format == "fit" and a.meta.sport == "running" and a.samples["lat_deg"].null_count() < a.samples.height // 2:
                return r
    pytest.skip("no running FIT with GPS in the corpus")


@pytest.mark.parametrize("fit_first", [True, False])
def test_fit_and_gpx_of_one_run_are_stored_once_keeping_the_fit(tmp_path: Path, fit_first: bool) -> None:
    fit = _running_fit_with_gps()
    gpx = read_one("exports/same-run.gpx", gpx_bytes(fit.activities[0].samples))
    assert gpx.error is None and gpx.activities[0].meta.format == "gpx"
    fit_id = activity_identity(fit.activities[0].meta, "cy")
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        first, second = ([fit], [gpx]) if fit_first else ([gpx], [fit])
        wh.load(first, "cy")
        s = wh.load(second, "cy")
        if fit_first:
            assert (s.loaded, s.duplicates, s.changed) == (0, 1, False)
        else:
            # the richer FIT arrived second: it replaced the GPX in one transaction
            assert s.loaded == 1 and s.changed_activity_ids == [fit_id]
            assert len(s.removed_activity_ids) == 1
        acts = wh.activities_frame("cy")
        assert acts["activity_id"].to_list() == [fit_id]
        assert acts["format"].to_list() == ["fit"]
        log = {r["source_file"]: r for r in wh.ingest_log_frame("cy").iter_rows(named=True)}
        assert log["exports/same-run.gpx"]["status"] == "duplicate"
        assert log["exports/same-run.gpx"]["activity_id"] == fit_id
        assert log[fit.source_file]["status"] == "loaded"
        assert wh.con.execute("SELECT DISTINCT activity_id FROM samples").fetchall() == [(fit_id,)]
        wh.run_data_tests()


def test_same_bytes_under_another_name_and_two_athletes(tmp_path: Path) -> None:
    fit = _running_fit_with_gps()
    copy = dataclasses.replace(fit, source_file="backup/" + fit.source_file)
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.load([fit], "dee")
        s = wh.load([copy], "dee")
        assert (s.duplicates, s.loaded) == (1, 0)
        rows = wh.ingest_log_frame("dee").sort("source_file")
        assert rows["status"].to_list() == ["duplicate", "loaded"]
        assert rows["activity_id"].n_unique() == 1
        # the same file for another athlete is another athlete's activity
        wh.load([fit], "eve")
        assert wh.activities_frame()["athlete_id"].to_list() == ["dee", "eve"]
        assert wh.athletes_frame()["athlete_id"].to_list() == ["dee", "eve"]


def test_invalid_athlete_id_is_refused(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "w.duckdb") as wh, pytest.raises(ValueError, match="slug"):
        wh.load([], "../etc")


def _weeks(athlete: str, starts: list[date], risk: str = "low") -> pl.DataFrame:
    rows = []
    for ws in starts:
        row: dict[str, Any] = dict.fromkeys(WEEKLY_RISK_SCHEMA)
        iso = ws.isocalendar()
        row.update(athlete_id=athlete, iso_week=f"{iso.year}-W{iso.week:02d}", week_start=ws,
                   runs=3, risk_level=risk, flags=["no_strength"],
                   flag_details=json.dumps([{"code": "no_strength"}]), missing_data=[])
        rows.append(row)
    return pl.DataFrame(rows, schema=WEEKLY_RISK_SCHEMA)


def test_weekly_risk_replaced_from_a_week_on(tmp_path: Path) -> None:
    mondays = [date(2026, 10, 5) + timedelta(weeks=i) for i in range(4)]
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.upsert_athletes(pl.DataFrame({"athlete_id": ["fay"], "name": ["Fay"], "timezone": ["Europe/Paris"]}))
        wh.write_weekly_risk("fay", _weeks("fay", mondays))
        wh.write_weekly_risk("fay", _weeks("fay", mondays[2:], risk="high"), from_week_start=mondays[2])
        got = wh.weekly_risk_frame("fay")
        assert got["risk_level"].to_list() == ["low", "low", "high", "high"]
        assert got["flags"].to_list()[0] == ["no_strength"]
        assert list(got.schema.items()) == list(WEEKLY_RISK_SCHEMA.items())
        with pytest.raises(ValueError, match="another athlete"):
            wh.write_weekly_risk("fay", _weeks("gus", mondays))
        with pytest.raises(ValueError, match="before from_week_start"):
            wh.write_weekly_risk("fay", _weeks("fay", mondays), from_week_start=mondays[1])
        wh.run_data_tests()
        assert wh.athletes_frame().row(0, named=True)["timezone"] == "Europe/Paris"


def test_data_tests_catch_broken_invariants(tmp_path: Path) -> None:
    fit = _running_fit_with_gps()
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.load([fit], "hal")
        wh.run_data_tests()
        # a partial activity (samples lost) and an orphan row, written behind the loader's back
        wh.con.execute("DELETE FROM samples WHERE ts = (SELECT max(ts) FROM samples)")
        wh.con.execute("INSERT INTO sessions (activity_id, session_index) VALUES ('nope', 0)")
        bad = _weeks("hal", [date(2026, 10, 6)])  # a Tuesday labelled as a week start
        wh.con.register("bad_weeks", bad.to_arrow())
        wh.con.execute("INSERT INTO weekly_risk BY NAME SELECT * FROM bad_weeks")
        with pytest.raises(DataTestError) as err:
            wh.run_data_tests()
        failed = {r.name for r in err.value.failed}
        assert failed == {
            "activities hold their samples (count = n_samples, at least one)",
            "sessions -> activities",
            "weekly_risk.iso_week matches week_start (a Monday)",
        }
        assert "sessions -> activities" in str(err.value)


def test_self_contradicting_activity_is_rejected_with_reason_and_others_load(tmp_path: Path) -> None:
    good = _running_fit_with_gps()
    act = good.activities[0]
    # a device clock jump the reader did not repair: the last samples 20 days later
    n = act.samples.height
    jumped = act.samples.with_columns(
        pl.when(pl.int_range(pl.len()) >= n - 10)
        .then(pl.col("ts") + pl.duration(days=20))
        .otherwise(pl.col("ts"))
        .alias("ts")
    )
    meta = dataclasses.replace(act.meta, source_file="jump.fit", sha256="0" * 64)
    jump = dataclasses.replace(
        good, source_file="jump.fit", sha256="0" * 64,
        activities=[dataclasses.replace(act, meta=meta, samples=jumped)],
    )
    meta2 = dataclasses.replace(act.meta, source_file="empty.fit", sha256="1" * 64)
    empty = dataclasses.replace(
        good, source_file="empty.fit", sha256="1" * 64,
        activities=[dataclasses.replace(act, meta=meta2, samples=act.samples.head(0))],
    )
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        s = wh.load([jump, empty, good], "ivy")
        assert (s.rejected, s.loaded) == (2, 1)
        log = {r["source_file"]: r for r in wh.ingest_log_frame("ivy").iter_rows(named=True)}
        assert log["jump.fit"]["status"] == "rejected" and "outside the activity" in log["jump.fit"]["reason"]
        assert log["empty.fit"]["status"] == "rejected" and "no samples" in log["empty.fit"]["reason"]
        assert log[good.source_file]["status"] == "loaded"
        problems = wh.con.execute("SELECT source_file FROM v_ingest_problems ORDER BY 1").fetchall()
        assert problems == [("empty.fit",), ("jump.fit",)]


def test_repeated_gate_skips_only_while_nothing_changed(tmp_path: Path) -> None:
    """The nightly run passes the gate three times: after the first pass the tests are not
    run again (no results) until a row changes, and then the change is caught."""
    from warehouse.datatests import gate

    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.load(corpus_results()[:3], "ann", check=False)
        assert len(gate(wh.con)) > 0  # first gate: the tests ran (full: no watermark yet)
        assert gate(wh.con) == []  # nothing changed: passed without running them
        assert len(gate(wh.con, full=True)) > 0  # asked for in full: always run
        # a row changed in place, same row count: the fingerprint sees it, the tests fail
        wh.con.execute("UPDATE activities SET ended_at = started_at - INTERVAL 1 HOUR "
                       "WHERE activity_id = (SELECT min(activity_id) FROM activities)")
        with pytest.raises(DataTestError, match="started_at <= ended_at"):
            gate(wh.con)
        with pytest.raises(DataTestError):  # a failed gate saved nothing: still failing
            gate(wh.con)


def test_gate_after_a_change_runs_the_tests_of_changed_tables_only(tmp_path: Path) -> None:
    """The gate before publishing follows the metrics: only the tests reading the tables
    the metrics wrote run again (not the scans of every sample), and they still fail."""
    from warehouse.datatests import TESTS, gate

    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.load(corpus_results()[:3], "ann", check=False)
        gate(wh.con)
        wh.con.register("bad_weeks", _weeks("ann", [date(2026, 10, 6)]).to_arrow())  # a Tuesday
        wh.con.execute("INSERT INTO weekly_risk BY NAME SELECT * FROM bad_weeks")
        with pytest.raises(DataTestError) as err:
            gate(wh.con)
        assert [r.name for r in err.value.failed] == ["weekly_risk.iso_week matches week_start (a Monday)"]
        wh.con.execute("DELETE FROM weekly_risk")  # the week fixed: a Monday, not as before
        wh.con.register("good_weeks", _weeks("ann", [date(2026, 10, 5)]).to_arrow())
        wh.con.execute("INSERT INTO weekly_risk BY NAME SELECT * FROM good_weeks")
        ran = {r.name for r in gate(wh.con)}
        assert ran == {name for name, sql in TESTS.items() if "weekly_risk" in sql}


def test_incremental_gate_finds_orphan_samples_through_totals(tmp_path: Path) -> None:
    """An incremental gate checks sample orphans by totals (no scan of every sample): an
    orphan sample, or an orphan extra, written behind the loader's back, still fails it;
    the weekly full gate names the orphan activity id."""
    from warehouse.datatests import gate

    results = corpus_results()
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        # fenix3-...-devfields (index 7) writes sample extras (developer fields)
        assert "devfields" in results[7].source_file
        wh.load(results[:2] + results[7:8], "ann", check=False)
        gate(wh.con)  # full: sets the watermark
        wh.load(results[2:4], "ann", check=False)
        n = wh.con.execute("SELECT count(*) FROM samples").fetchall()[0][0]
        wh.con.execute(
            "INSERT INTO samples BY NAME SELECT * REPLACE ('nope' AS activity_id) "
            "FROM samples LIMIT 1")
        with pytest.raises(DataTestError) as err:
            gate(wh.con)
        failed = {r.name: r for r in err.value.failed}
        assert list(failed) == ["samples -> activities"]
        assert failed["samples -> activities"].examples == [(n + 1, n)]
        with pytest.raises(DataTestError) as err:
            gate(wh.con, full=True)
        assert [r.examples for r in err.value.failed if r.name == "samples -> activities"] == [[("nope",)]]
        wh.con.execute("DELETE FROM samples WHERE activity_id = 'nope'")
        gate(wh.con)
        wh.con.execute(
            "INSERT INTO sample_extras BY NAME SELECT * REPLACE ('nope' AS activity_id) "
            "FROM sample_extras LIMIT 1")
        with pytest.raises(DataTestError, match="sample_extras -> activities"):
            gate(wh.con)


def test_activities_recorded_at_implausible_times_are_skipped_with_the_time(tmp_path: Path) -> None:
    # A watch whose clock was never set records times near the FIT epoch (1989-12-31);
    # one set wrong, years ahead. Loaded, each gave the athlete decades of empty weeks and
    # a "return after a break" flag on the real weeks that followed.
    from ingest.limits import DEFAULT_LIMITS

    fit = next(r for r in corpus_results() if r.error is None and r.activities[0].meta.format == "fit"
               and r.activities[0].samples["lat_deg"].null_count() == 0)
    samples = fit.activities[0].samples.head(120)
    start = samples["ts"][0]
    now = datetime.now(UTC)

    def moved(name: str, to: datetime) -> Any:
        return read_one(name, gpx_bytes(samples.with_columns(pl.col("ts") + (to - start))))

    unset = moved("unset.gpx", datetime(1989, 12, 31, 0, 5, tzinfo=UTC))
    ahead = moved("ahead.gpx", now + timedelta(days=3))
    soon = moved("soon.gpx", now + timedelta(hours=20))  # local time written as UTC: kept
    old = moved("old.gpx", datetime(2004, 6, 1, 7, tzinfo=UTC))  # an early GPS watch: kept
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        s = wh.load([unset, ahead, soon, old], "cy")
        assert (s.loaded, s.skipped) == (2, 2)
        log = dict(wh.con.execute("SELECT source_file, reason FROM ingest_log WHERE status = 'skipped'").fetchall())
        assert log.keys() == {"unset.gpx", "ahead.gpx"}
        assert log["unset.gpx"].startswith("recorded at 1989-12-31 00:05 UTC, before 2000")
        assert "the watch's clock was set wrong" in log["ahead.gpx"]
        # configurable: a limit moved back takes the early recording too
        earlier = dataclasses.replace(DEFAULT_LIMITS, earliest_start_year=1980)
        again = moved("unset-again.gpx", datetime(1989, 12, 31, 1, 5, tzinfo=UTC))
        assert wh.load([again], "cy", limits=earlier).loaded == 1


def test_a_file_skipped_for_its_recording_time_says_so_in_its_outcome(tmp_path: Path) -> None:
    # The warehouse, not the reader, decides this skip: the file's outcome (the console
    # line, inbox_files) said "no activity in it" while only ingest_log had the reason.
    import duckdb

    from flows import pipeline
    from flows.config import config_from_dict

    fit = next(r for r in corpus_results() if r.error is None and r.activities[0].meta.format == "fit"
               and r.activities[0].samples["lat_deg"].null_count() == 0)
    samples = fit.activities[0].samples.head(120)
    shift = datetime(1989, 12, 31, 0, 5, tzinfo=UTC) - samples["ts"][0]
    (tmp_path / "inbox" / "cy").mkdir(parents=True)
    (tmp_path / "inbox" / "cy" / "unset.gpx").write_bytes(
        gpx_bytes(samples.with_columns(pl.col("ts") + shift)))
    cfg = config_from_dict(
        {"inbox": str(tmp_path / "inbox"), "database": str(tmp_path / "gw.duckdb"),
         "published_database": str(tmp_path / "pub.duckdb"), "reports": str(tmp_path / "reports"),
         "inbox_options": {"settle_seconds": 0}},
        tmp_path,
    )
    (outcome,) = pipeline.ingest_files(cfg, pipeline.scan_new_files(cfg).ready, workers=1)
    assert outcome.status == "skipped"
    assert outcome.reason.startswith("recorded at 1989-12-31 00:05 UTC, before 2000"), outcome.reason
    with duckdb.connect(str(cfg.database), read_only=True) as con:
        assert con.execute("SELECT reason FROM inbox_files").fetchall() == [(outcome.reason,)]
