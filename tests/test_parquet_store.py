"""warehouse.parquet_store: samples moved out of a real warehouse file into Hive-partitioned
Parquet keep answering through the same names, with the same rows and types.

The warehouse is a real DuckDB file loaded from corpus recordings of two athletes through
warehouse.store.Warehouse; expectations come from the warehouse's own table before the
move (and from polars for the partition layout), never from the store under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from conftest import corpus_files
from polars.testing import assert_frame_equal

from ingest.reader import read_path
from warehouse import datatests
from warehouse.parquet_store import SAMPLE_COLUMNS, ParquetSampleStore
from warehouse.store import Warehouse

# Running files with samples from different devices and years (several UTC months).
FILES = {
    "ana": ["fr630-run-dynamics.fit", "fenix2-run-gct-vo.fit", "fr225-run-timestamp-jump.fit"],
    "ben": ["fr920xt-run-two-sessions-gct-vo.fit", "fenix5-run-dynamics-short.fit"],
}
ALL_SAMPLES = "SELECT * FROM samples ORDER BY ALL"


def _frame(wh: Warehouse, sql: str) -> pl.DataFrame:
    out = pl.from_arrow(wh.con.sql(sql).to_arrow_table())
    assert isinstance(out, pl.DataFrame)
    return out


def _view(wh: Warehouse, name: str) -> pl.DataFrame:
    out = pl.from_arrow(wh.con.table(name).to_arrow_table())
    assert isinstance(out, pl.DataFrame)
    return out


@pytest.fixture()
def loaded(tmp_path: Path) -> Iterator[Warehouse]:
    by_name = {p.name: p for p in corpus_files("fit")}
    wh = Warehouse.open(tmp_path / "wh.duckdb")
    for athlete, names in FILES.items():
        for name in names:
            wh.load(read_path(by_name[name]), athlete)
    yield wh
    wh.close()


def test_samples_view_replaces_table_with_same_rows_and_types(
    loaded: Warehouse, tmp_path: Path
) -> None:
    wh = loaded
    before = _frame(wh, ALL_SAMPLES)
    before_types = [r[:2] for r in wh.con.execute("DESCRIBE samples").fetchall()]
    ids = [r[0] for r in wh.con.execute("SELECT activity_id FROM activities").fetchall()]
    helper_before = wh.samples_frame(ids)
    views = [
        r[0]
        for r in wh.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'VIEW' "
            "AND table_schema = 'main' ORDER BY 1"
        ).fetchall()
    ]
    views_before = {v: _view(wh, v) for v in views}
    # All five recordings are in (their record counts, MANIFEST.csv: 821+974+567+491+21).
    assert before.height == 2874

    store = ParquetSampleStore.at(tmp_path / "samples")
    store.create_views(wh.con, move_table=True)

    kind = wh.con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'samples'"
    ).fetchall()
    assert kind == [("VIEW",)]
    # Same names, order and types (a view has no NOT NULL constraints to show).
    assert [r[:2] for r in wh.con.execute("DESCRIBE samples").fetchall()] == before_types
    assert_frame_equal(_frame(wh, ALL_SAMPLES), before)
    # The warehouse's reading helper, the data tests and every analyst view read the
    # samples by name: all keep working, with the same answers.
    assert_frame_equal(wh.samples_frame(ids), helper_before)
    results = datatests.run(wh.con, raise_on_failure=False)
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]
    for v, df in views_before.items():
        assert_frame_equal(_view(wh, v), df, check_row_order=False)


def test_hive_layout_by_athlete_and_utc_month(loaded: Warehouse, tmp_path: Path) -> None:
    wh = loaded
    expected = (
        _frame(wh, "SELECT a.athlete_id, s.ts FROM samples s JOIN activities a USING (activity_id)")
        .select(
            "athlete_id",
            pl.col("ts").dt.convert_time_zone("UTC").dt.strftime("%Y-%m").alias("month"),
        )
        .group_by("athlete_id", "month")
        .len()
        .sort("athlete_id", "month")
    )
    store = ParquetSampleStore.at(tmp_path / "samples")
    store.create_views(wh.con, move_table=True)

    files = store.files()
    assert files
    found: dict[tuple[str, str], int] = {}
    for f in files:
        a_part, m_part = f.relative_to(tmp_path / "samples").parts[:2]
        assert a_part.startswith("athlete_id=") and m_part.startswith("month=")
        key = (a_part.removeprefix("athlete_id="), m_part.removeprefix("month="))
        n = pl.read_parquet(f).height
        found[key] = found.get(key, 0) + n
    got = pl.DataFrame(
        [(a, m, n) for (a, m), n in sorted(found.items())],
        schema={"athlete_id": pl.String, "month": pl.String, "len": pl.UInt32},
        orient="row",
    )
    assert_frame_equal(got, expected)
    assert expected.height >= 3  # the corpus spans several months: partitioning was exercised
    # The partition columns are not duplicated inside the files.
    assert set(pl.read_parquet_schema(files[0])) == set(SAMPLE_COLUMNS)


def test_partition_filter_reads_only_matching_folders(loaded: Warehouse, tmp_path: Path) -> None:
    wh = loaded
    store = ParquetSampleStore.at(tmp_path / "samples")
    store.create_views(wh.con, move_table=True)
    # Damage every file of athlete "ben": a query filtered on "ana" must never open them.
    for f in store.files():
        if "athlete_id=ben" in f.as_posix():
            f.write_bytes(b"not parquet")
    n_ana = wh.con.execute(
        "SELECT count(*) FROM samples_partitioned WHERE athlete_id = 'ana'"
    ).fetchall()[0][0]
    expected = wh.con.execute(
        "SELECT sum(n_samples) FROM activities WHERE athlete_id = 'ana'"
    ).fetchall()[0][0]
    assert n_ana == expected
    with pytest.raises(Exception, match="(?i)parquet|magic"):
        wh.con.execute("SELECT count(*) FROM samples").fetchall()


def test_delete_compact_and_append(loaded: Warehouse, tmp_path: Path) -> None:
    wh = loaded
    before = _frame(wh, ALL_SAMPLES)
    athlete_of = dict(wh.con.execute("SELECT activity_id, athlete_id FROM activities").fetchall())
    store = ParquetSampleStore.at(tmp_path / "samples")
    store.create_views(wh.con, move_table=True)

    victim = before["activity_id"][0]
    n_victim = before.filter(pl.col("activity_id") == victim).height
    assert store.delete_activities(wh.con, [victim]) == n_victim
    rest = before.filter(pl.col("activity_id") != victim)
    assert_frame_equal(_frame(wh, ALL_SAMPLES), rest)

    # Appending the deleted activity again, twice, makes several files per partition ...
    again = before.filter(pl.col("activity_id") == victim).with_columns(
        pl.lit(athlete_of[victim]).alias("athlete_id")
    )
    store.append(wh.con, again)
    n_files = len(store.files())
    assert store.append(wh.con, again.head(10)) == 10
    assert len(store.files()) > n_files
    assert store.delete_activities(wh.con, [victim]) == n_victim + 10
    store.append(wh.con, again)
    assert_frame_equal(_frame(wh, ALL_SAMPLES), before)

    # An empty append writes no file.
    n_files = len(store.files())
    assert store.append(wh.con, again.head(0)) == 0
    assert len(store.files()) == n_files

    # A second copy makes two files in the victim's partitions; compaction merges every
    # partition into one file and keeps every row.
    store.append(wh.con, again)
    doubled = pl.concat([before, again.drop("athlete_id")]).sort(pl.all())
    partitions = {f.parent for f in store.files()}
    assert len(partitions) < len(store.files())
    assert store.compact(wh.con) >= 1
    assert len(store.files()) == len(partitions)
    assert_frame_equal(_frame(wh, ALL_SAMPLES), doubled, check_row_order=False)


def test_existing_table_is_not_dropped_without_consent(loaded: Warehouse, tmp_path: Path) -> None:
    store = ParquetSampleStore.at(tmp_path / "samples")
    with pytest.raises(ValueError, match="move_table"):
        store.create_views(loaded.con)
    assert loaded.con.execute("SELECT count(*) FROM samples").fetchall()[0][0] > 0


def test_empty_store_gives_an_empty_typed_view(tmp_path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(tmp_path / "fresh.duckdb"))
    store = ParquetSampleStore.at(tmp_path / "samples")
    store.create_views(con)
    assert con.execute("SELECT count(*) FROM samples").fetchall() == [(0,)]
    cols = [r[0] for r in con.execute("DESCRIBE samples").fetchall()]
    assert cols == list(SAMPLE_COLUMNS)
    assert store.files() == []
