"""``compute_metrics`` is incremental and gives what a full computation gives: files added
in two drops (metrics computed after each) end with the same ``activity_gait`` and
``weekly_risk`` as one drop of everything computed from scratch."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from cli_support import age, write_config
from conftest import SAMPLE_DATA
from polars.testing import assert_frame_equal

ATHLETE = "control"


def _files() -> list[Path]:
    folder = SAMPLE_DATA / "inbox" / ATHLETE
    if not folder.is_dir():
        pytest.skip("sample_data not generated")
    # plain and gzipped recordings, in time order (their names start with the UTC start)
    return sorted(p for p in folder.iterdir() if p.name[:8].isdigit() and not p.name.endswith(".zip"))


def _root(root: Path, files: list[Path]) -> Path:
    folder = root / "inbox" / ATHLETE
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copyfile(f, folder / f.name)
    age(folder.iterdir())
    return write_config(
        root / "gaitwatch.toml",
        {
            "inbox": "inbox",
            "database": "out/gw.duckdb",
            "inbox_options": {"settle_seconds": 1},
            "athletes": [{"id": ATHLETE, "timezone": "Europe/London", "max_hr_bpm": 188}],
        },
    )


def _frames(root: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    with duckdb.connect(str(root / "out" / "gw.duckdb"), read_only=True) as con:
        gait = pl.from_arrow(con.sql("SELECT * FROM activity_gait ORDER BY activity_id").to_arrow_table())
        risk = pl.from_arrow(
            con.sql("SELECT * FROM weekly_risk ORDER BY athlete_id, week_start").to_arrow_table()
        )
    assert isinstance(gait, pl.DataFrame) and isinstance(risk, pl.DataFrame)
    return gait, risk


def test_incremental_metrics_equal_a_full_computation(prefect_harness: None, tmp_path: Path) -> None:
    from flows.flows import compute_metrics, ingest_inbox

    files = _files()
    half = len(files) // 2
    assert half > 10

    inc = tmp_path / "incremental"
    config = _root(inc, files[:half])
    ingest_inbox(config=config)
    first = compute_metrics(config=config)
    assert first.activities > 0
    _root(inc, files[half:])  # the second drop
    ingest_inbox(config=config)
    second = compute_metrics(config=config)
    # only the new runs are analysed, and only weeks from the first new one are rewritten
    assert 0 < second.activities <= len(files) - half
    assert 0 < second.weeks < first.weeks + second.weeks
    assert compute_metrics(config=config).activities == 0  # nothing new: nothing done

    full = tmp_path / "full"
    full_config = _root(full, files)
    ingest_inbox(config=full_config)
    compute_metrics(config=full_config, full=True)

    gait_inc, risk_inc = _frames(inc)
    gait_full, risk_full = _frames(full)
    assert gait_inc.height == gait_full.height > 0
    assert_frame_equal(gait_inc, gait_full)
    assert_frame_equal(risk_inc, risk_full)


def test_a_new_metrics_code_recomputes_every_run_and_week_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After an upgrade whose metrics or flags changed (another transforms/*.py), the next
    metrics run recomputes the whole history, once: no history is judged half by the old
    rules and half by the new."""
    from warehouse_support import corpus_results

    from transforms import plan
    from warehouse.metrics import update_metrics
    from warehouse.store import Warehouse

    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.load([r for r in corpus_results() if r.error is None], "ann")
        first = update_metrics(wh, {}, [])
        assert first.activities > 0 and first.weeks > 0
        assert update_metrics(wh, {}, []).activities == 0  # same code, nothing new
        monkeypatch.setattr(plan, "CODE_VERSION", "a-newer-gaitwatch")
        again = update_metrics(wh, {}, [])
        assert (again.activities, again.weeks) == (first.activities, first.weeks)
        assert update_metrics(wh, {}, []).activities == 0
