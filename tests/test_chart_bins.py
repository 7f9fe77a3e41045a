"""The report's chart bins as the metrics stage stores them (transforms/chartbins.py),
on samples whose bins are worked out by hand below. That the stored bins give the same
charts as bins derived from ``v_report_samples`` is checked on the real histories, in
tests/test_flags_real.py (where they are loaded once)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
from reports_support import chart_numbers
from transforms_helpers import T0, samples

from reports import data
from transforms.gait import activity_gait, activity_gait_and_bins
from transforms.schema import CHART_BINS_SCHEMA
from transforms.thresholds import DEFAULT_THRESHOLDS, load_thresholds

AT = datetime(2026, 2, 1, 6, 0, tzinfo=UTC)


def _run() -> pl.DataFrame:
    """Seven 1 s samples: the first closes no interval and the sixth is too slow, so five
    seconds are moving. Device cadence and step length are all valid (60-260 spm,
    0.2-3.0 m)."""
    return samples(
        7,
        speed_m_s=[3.1, 3.1, 3.1, 3.3, 3.3, 0.5, 12.5],
        cadence_spm=[170.0, 170.0, 170.0, 130.0, 176.0, 170.0, 180.0],
        step_length_m=[1.1, 1.1, 1.1004, 1.0, 1.2, 1.1, 1.2],
    )


def _rows(bins: pl.DataFrame, kind: str, *cols: str) -> list[tuple[object, ...]]:
    return sorted(bins.filter(pl.col("kind") == kind).select(*cols, "seconds").iter_rows())


def test_bins_of_a_run_worked_out_by_hand() -> None:
    gait, bins = activity_gait_and_bins(_run(), DEFAULT_THRESHOLDS, None, None, AT)
    assert bins.schema == pl.Schema(CHART_BINS_SCHEMA)
    assert gait.height == 1 and set(bins["activity_id"]) == {"a1"}
    # step: speed bin (lower edge, 0.25 m/s) x step length to the mm; the 130 spm second
    # is a walking break (< run_cadence_min_spm 140); no speed cap on step rows
    assert _rows(bins, "step", "speed_bin_m_s", "step_length_mm") == [
        (3.0, 1100, 2.0), (3.25, 1200, 1.0), (12.5, 1200, 1.0)]
    # cadence: 2 spm bins from 140 to 260
    assert _rows(bins, "cadence", "cadence_bin_spm") == [(170.0, 2.0), (176.0, 1.0), (180.0, 1.0)]
    # speed: below 12 m/s, walking breaks included
    assert _rows(bins, "speed", "speed_bin_m_s") == [(3.0, 2.0), (3.25, 2.0)]
    assert _rows(bins, "total", "binned_at") == [(AT, 5.0)]


def test_a_still_run_gets_a_total_row_and_other_sports_none() -> None:
    still = samples(5, activity_id="still", speed_m_s=0.0, cadence_spm=0.0)
    ride = samples(5, activity_id="ride", sport="cycling", start=T0.replace(hour=12), speed_m_s=8.0)
    frame = pl.concat([_run(), still, ride])
    gait, bins = activity_gait_and_bins(frame, DEFAULT_THRESHOLDS, None, None, AT)
    assert sorted(gait["activity_id"]) == ["a1", "still"]
    assert bins.filter(pl.col("activity_id") == "still").select("kind", "seconds").rows() == [
        ("total", 0.0)]
    assert "ride" not in set(bins["activity_id"])
    # the gait rows are those activity_gait gives alone
    assert gait.equals(activity_gait(frame, DEFAULT_THRESHOLDS))


def test_the_thresholds_in_use_decide_the_step_and_cadence_rows() -> None:
    th = load_thresholds({"run_cadence_min_spm": 172.0, "cadence_valid_max_spm": 178.0})
    _, bins = activity_gait_and_bins(_run(), th, None, None, AT)
    assert _rows(bins, "step", "speed_bin_m_s", "step_length_mm") == [
        (3.25, 1200, 1.0), (12.5, 1200, 1.0)]
    assert _rows(bins, "cadence", "cadence_bin_spm") == [(176.0, 1.0)]


@pytest.mark.parametrize("gap_s", [11.0, 30.0])
def test_a_pause_longer_than_the_gap_adds_no_time(gap_s: float) -> None:
    """A sample after more than max_sample_gap_s (10 s) closes no interval."""
    run = samples(3, step_s=[1.0, gap_s], speed_m_s=3.1, cadence_spm=170.0, step_length_m=1.1)
    _, bins = activity_gait_and_bins(run, DEFAULT_THRESHOLDS, None, None, AT)
    assert _rows(bins, "total", "binned_at") == [(AT, 1.0)]


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus loaded and its metrics (and chart bins) computed, once; tests copy it."""
    from warehouse_support import corpus_results

    from warehouse.metrics import update_metrics
    from warehouse.store import Warehouse

    path = tmp_path_factory.mktemp("chart-bins") / "w.duckdb"
    with Warehouse.open(path) as wh:
        wh.load([r for r in corpus_results() if r.error is None], "ann")
        update_metrics(wh, {}, [])
    return path


def _read_only(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    return con


def test_runs_with_and_without_stored_bins_sum_to_the_same_charts(corpus_db: Path, tmp_path: Path) -> None:
    """A warehouse where some runs have stored bins and some not yet (an upgrade, a crash
    before the metrics) gives each week the charts of bins derived from the samples for
    all of them: the stored and the derived halves add up."""
    path = tmp_path / "w.duckdb"
    shutil.copy(corpus_db, path)
    with duckdb.connect(str(path)) as con:
        ids = [i for (i,) in con.execute(
            "SELECT activity_id FROM v_report_activities WHERE sport = 'running' "
            "AND activity_id IN (SELECT activity_id FROM activity_chart_bins) ORDER BY 1").fetchall()]
        assert len(ids) >= 4
        # every other run loses its stored bins, as before the metrics ran
        con.execute("DELETE FROM activity_chart_bins WHERE list_contains(?, activity_id)", [ids[::2]])
    with _read_only(path) as con:
        weeks = sorted({(r["athlete_id"], data.parse_iso_week(r["iso_week"]))
                        for r in data.list_weeks(con)})
        mixed = data._chart_bins(con, weeks, ids, DEFAULT_THRESHOLDS)
        derived = data._chart_bins(con, weeks, ids, DEFAULT_THRESHOLDS, stored=False)
    assert any(b.step[True] for b in derived.values())
    assert mixed.keys() == derived.keys()
    for key, b in derived.items():
        assert chart_numbers(mixed[key]) == pytest.approx(chart_numbers(b), rel=1e-9), key


def test_a_file_without_the_bins_view_is_binned_from_its_samples(corpus_db: Path, tmp_path: Path) -> None:
    """A warehouse file from before migration 011, opened as it is (no v_report_chart_bins):
    the report's data comes from v_report_samples, and its batches weigh runs by samples."""
    path = tmp_path / "w.duckdb"
    shutil.copy(corpus_db, path)
    with _read_only(path) as con:
        ids = [i for (i,) in con.execute(
            "SELECT activity_id FROM v_report_activities WHERE sport = 'running'").fetchall()]
        targets = [(r["athlete_id"], r["iso_week"]) for r in data.list_weeks(con)]
        weeks = sorted({(a, data.parse_iso_week(w)) for a, w in targets})
        stored = data._chart_bins(con, weeks, ids, DEFAULT_THRESHOLDS)
        by_bins = data.sample_batches(con, targets, DEFAULT_THRESHOLDS, max_samples=20_000)
    with duckdb.connect(str(path)) as con:
        con.execute("DROP VIEW v_report_chart_bins")
    with _read_only(path) as con:
        old = data._chart_bins(con, weeks, ids, DEFAULT_THRESHOLDS)
        by_samples = data.sample_batches(con, targets, DEFAULT_THRESHOLDS, max_samples=20_000)
    assert old.keys() == stored.keys() and any(b.step[True] for b in old.values())
    for key, b in old.items():
        assert chart_numbers(stored[key]) == pytest.approx(chart_numbers(b), rel=1e-9), key
    # a binned run weighs about a tenth of its samples: fewer batches
    assert len(by_bins) < len(by_samples)
    assert [t for b in by_bins for t in b] == [t for b in by_samples for t in b] == targets


def test_one_run_per_chunk_gives_the_metrics_of_one_chunk(
    corpus_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The metrics read each chunk's samples one chunk ahead, on a cursor in a thread
    (warehouse.metrics._prefetched). With every run a chunk of its own (the most reads in
    flight), the gait rows, chart bins and weekly risk are those computed in one chunk."""
    from warehouse import metrics
    from warehouse.store import Warehouse

    path = tmp_path / "w.duckdb"
    shutil.copy(corpus_db, path)
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT sum(n_samples) FROM activities").fetchall()[0][0] < metrics.GAIT_CHUNK_SAMPLES
        # nothing left over from the one-chunk run: a chunk analysed twice or skipped shows
        con.execute("DELETE FROM activity_chart_bins")
        con.execute("DELETE FROM activity_gait")
        con.execute("DELETE FROM weekly_risk")
    monkeypatch.setattr(metrics, "GAIT_CHUNK_SAMPLES", 1)
    with Warehouse.open(path) as wh:
        assert metrics.update_metrics(wh, {}, [], full=True).activities >= 4
    queries = {
        "activity_gait": "SELECT * FROM activity_gait ORDER BY ALL",
        "activity_chart_bins": "SELECT * EXCLUDE (binned_at) FROM activity_chart_bins ORDER BY ALL",
        "weekly_risk": "SELECT * FROM weekly_risk ORDER BY ALL",
    }
    for table, sql in queries.items():
        with duckdb.connect(str(corpus_db), read_only=True) as one, duckdb.connect(str(path), read_only=True) as many:
            expected, got = one.execute(sql).fetchall(), many.execute(sql).fetchall()
        assert expected, table
        assert got == expected, table


def test_a_chunk_s_samples_are_gone_once_the_metrics_drop_them(corpus_db: Path, tmp_path: Path) -> None:
    """The read-ahead keeps no reference of its own to the chunk it handed over: the
    metrics drop a chunk's samples after analysing it, before writing its rows and
    before the next chunk arrives (memory: at most the chunk analysed and the one read)."""
    import weakref

    from warehouse.metrics import _prefetched
    from warehouse.store import Warehouse

    path = tmp_path / "w.duckdb"
    shutil.copy(corpus_db, path)
    with Warehouse.open(path) as wh:
        ids = [i for (i,) in wh.con.execute("SELECT activity_id FROM activities ORDER BY 1").fetchall()]
        seen = 0
        for chunk, samples in _prefetched(wh, [[i] for i in ids[:3]]):
            assert samples["activity_id"].unique().to_list() in ([chunk[0]], [])
            ref = weakref.ref(samples)
            del samples
            assert ref() is None
            seen += 1
    assert seen == 3
