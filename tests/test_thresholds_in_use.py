"""The analyst views use the thresholds the metrics used (migration 010).

Real warehouses loaded from a few corpus files, with metrics computed under the default
thresholds and under overrides (gaitwatch.toml ``[thresholds]``): the metrics stage
records every threshold in ``thresholds_in_use``; ``v_report_samples`` (and through it
the report charts) follows them. The expected per-sample values are computed here, from
the raw samples, by a plain loop written from docs/metrics.md's definitions; neither the
view nor transforms/gait.py computes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import CORPUS

from transforms.thresholds import Thresholds, load_thresholds

ATHLETE = "corpus"
# Real runs: smart recording (intervals of 1-8 s, so max_sample_gap_s matters), cadence
# above 170 spm, and a Coros file with step length but no cadence (the derived step rate).
FILES = (
    "fit/fr645m-run.fit",
    "fit/fenix2-run-gct-vo.fit",
    "fit/fr225-run-timestamp-jump.fit",
    "fit/coros-run-step-length-only.fit",
)
OVERRIDES: dict[str, Any] = {
    "max_sample_gap_s": 2.0,  # default 10: every longer interval becomes a pause
    "moving_speed_min_m_s": 2.0,  # default 1.0
    "cadence_valid_max_spm": 170.0,  # default 260: below some of these runs' cadences
    "step_length_valid_max_m": 1.2,  # default 3.0
}
SAMPLES_SQL = (
    "SELECT activity_id, session_index, ts, sport, speed_m_s, distance_m, cadence_spm, "
    "step_length_m FROM samples ORDER BY activity_id, session_index, ts"
)
VIEW_SQL = (
    "SELECT activity_id, session_index, ts, interval_s, speed_calc_m_s, steps_per_min, "
    "step_length_calc_m, is_moving FROM v_report_samples"
)
Key = tuple[str, int, datetime]
Row = tuple[float, float | None, float | None, float | None, bool]


def _build(path: Path, results: list[Any], overrides: dict[str, Any] | None) -> Path:
    """A warehouse holding ``results``; metrics under ``overrides`` (None: never run)."""
    from warehouse.metrics import update_metrics
    from warehouse.store import Warehouse

    with Warehouse.open(path) as wh:
        wh.load(results, ATHLETE)
        if overrides is not None:
            update_metrics(wh, overrides, [])
    return path


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three warehouses of the same files: metrics never ran, defaults, overrides."""
    missing = [f for f in FILES if not (CORPUS / f).is_file()]
    if missing:
        pytest.skip(f"corpus files not found under {CORPUS}: {missing}")
    from ingest.reader import read_path

    results = [r for f in FILES for r in read_path(CORPUS / f, name_root=CORPUS)]
    root = tmp_path_factory.mktemp("thresholds-in-use")
    return {
        "none": _build(root / "none.duckdb", results, None),
        "defaults": _build(root / "defaults.duckdb", results, {}),
        "override": _build(root / "override.duckdb", results, OVERRIDES),
    }


def _query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql).fetchall()


def _view(path: Path) -> dict[Key, Row]:
    rows = _query(path, VIEW_SQL)
    out = {(a, s, ts): tuple(rest) for a, s, ts, *rest in rows}
    assert len(out) == len(rows)  # one sample per session and time in these files
    return out  # type: ignore[return-value]


def _between(x: float | None, lo: float, hi: float) -> bool:
    return x is not None and lo <= x <= hi


def _expected(path: Path, th: Thresholds) -> dict[Key, Row]:
    """Per sample, from the raw samples (docs/metrics.md, "Per sample"): interval, speed,
    step rate, step length and moving, under ``th``."""
    out: dict[Key, Row] = {}
    prev: dict[tuple[str, int], tuple[datetime, float | None]] = {}
    for act, sess, ts, sport, speed, dist, cad, sl in _query(path, SAMPLES_SQL):
        before = prev.get((act, sess))
        prev[(act, sess)] = (ts, dist)
        raw = (ts - before[0]).total_seconds() if before else None
        # a gap over max_sample_gap_s is a pause: no interval
        dt = raw if raw is not None and 0 < raw <= th.max_sample_gap_s else 0.0
        step = dist - before[1] if before and dist is not None and before[1] is not None else None
        v = speed if speed is not None else (step / dt if dt > 0 and step is not None and step >= 0 else None)
        running = sport == "running"
        spm = None
        if running and _between(cad, th.cadence_valid_min_spm, th.cadence_valid_max_spm):
            spm = cad
        elif (running and cad is None and v is not None
              and _between(sl, th.step_length_valid_min_m, th.step_length_valid_max_m)
              and _between(60.0 * v / sl, th.cadence_valid_min_spm, th.cadence_valid_max_spm)):
            spm = 60.0 * v / sl
        length = None
        if running and _between(sl, th.step_length_valid_min_m, th.step_length_valid_max_m):
            length = sl
        elif (running and spm and v is not None
              and _between(v / (spm / 60.0), th.step_length_valid_min_m, th.step_length_valid_max_m)):
            length = v / (spm / 60.0)
        moving = v is not None and v >= th.moving_speed_min_m_s and dt > 0
        out[(act, sess, ts)] = (dt, v, spm, length, moving)
    return out


def _close(a: Row, b: Row) -> bool:
    return all(
        x == y if x is None or y is None or isinstance(x, bool)
        else abs(x - y) <= 1e-9 * max(1.0, abs(y))
        for x, y in zip(a, b, strict=True)
    )


def _assert_rows(view: dict[Key, Row], expected: dict[Key, Row]) -> None:
    assert view.keys() == expected.keys()
    wrong = [(k, view[k], expected[k]) for k in expected if not _close(view[k], expected[k])]
    assert wrong == [], wrong[:5]


def _stored(path: Path) -> dict[str, tuple[float, Any, datetime]]:
    return {n: (v, u, t) for n, v, u, t in _query(path, "SELECT name, value, unit, set_at FROM thresholds_in_use")}


def test_the_metrics_stage_records_every_threshold(dbs: dict[str, Path]) -> None:
    every = {f.name: float(f.default) for f in dataclasses.fields(Thresholds)}  # type: ignore[arg-type]
    assert _stored(dbs["none"]) == {}
    assert {n: v for n, (v, _u, _t) in _stored(dbs["defaults"]).items()} == every
    override = _stored(dbs["override"])
    assert {n: v for n, (v, _u, _t) in override.items()} == every | OVERRIDES
    assert override["max_sample_gap_s"][1] == "s"
    assert override["moving_speed_min_m_s"][1] == "m/s"
    assert override["cadence_valid_max_spm"][1] == "steps/min"
    assert override["steady_cv_max"][1] is None  # a ratio


def test_with_defaults_the_view_is_unchanged(dbs: dict[str, Path]) -> None:
    """Defaults recorded, or nothing recorded yet (the view falls back to the defaults):
    the same rows, equal to the definitions under the default thresholds."""
    view = _view(dbs["defaults"])
    assert view == _view(dbs["none"])
    _assert_rows(view, _expected(dbs["defaults"], Thresholds()))
    # the files exercise what the overrides change
    assert sum(r[0] > OVERRIDES["max_sample_gap_s"] for r in view.values()) > 100
    assert sum((r[2] or 0) > OVERRIDES["cadence_valid_max_spm"] for r in view.values()) > 100
    assert sum((r[3] or 0) > OVERRIDES["step_length_valid_max_m"] for r in view.values()) > 100
    assert sum(r[1] is not None and 1.0 <= r[1] < 2.0 and r[0] > 0 for r in view.values()) > 10


def test_the_view_follows_overridden_thresholds(dbs: dict[str, Path]) -> None:
    th = load_thresholds(OVERRIDES)
    view = _view(dbs["override"])
    _assert_rows(view, _expected(dbs["override"], th))
    assert max(r[0] for r in view.values()) <= th.max_sample_gap_s
    assert max(r[2] or 0 for r in view.values()) <= th.cadence_valid_max_spm
    assert view != _view(dbs["defaults"])
    # and the metrics of the same warehouse used the same numbers
    medians = _query(dbs["override"], "SELECT max(cadence_median_spm) FROM activity_gait")
    assert medians[0][0] is not None and medians[0][0] <= th.cadence_valid_max_spm


def _speed_seconds(path: Path, th: Thresholds) -> dict[tuple[str, date], float]:
    """Running, moving seconds below the charts' speed cap per athlete-week (the speed
    chart's total), from the raw samples."""
    from transforms.chartbins import CHART_MAX_SPEED_M_S

    week = {a: (ath, w) for a, ath, w in _query(
        path, "SELECT activity_id, athlete_id, week_start_local FROM v_report_activities "
              "WHERE sport = 'running'")}
    sport = {(a, s, ts): sp for a, s, ts, sp, *_ in _query(path, SAMPLES_SQL)}
    out: dict[tuple[str, date], float] = defaultdict(float)
    for (act, sess, ts), (dt, v, _spm, _sl, moving) in _expected(path, th).items():
        if act in week and sport[(act, sess, ts)] == "running" and moving and v < CHART_MAX_SPEED_M_S:  # type: ignore[operator]
            out[week[act]] += dt
    return out


def test_the_report_charts_follow_the_thresholds(dbs: dict[str, Path]) -> None:
    from reports.data import list_weeks, load_weeks

    totals = {}
    for name, overrides in (("defaults", {}), ("override", OVERRIDES)):
        th = load_thresholds(overrides)
        with duckdb.connect(str(dbs[name]), read_only=True) as con:
            con.execute("SET TimeZone = 'UTC'")
            targets = [(w["athlete_id"], w["iso_week"]) for w in list_weeks(con)]
            weeks = load_weeks(con, targets, th)
        charted = {(w.athlete_id, w.week_start): sum(s for _b, s in w.speed_week) for w in weeks}
        expected = _speed_seconds(dbs[name], th)
        assert expected and all(v > 0 for v in expected.values())
        assert charted.keys() >= expected.keys()
        for key, seconds in charted.items():
            assert seconds == pytest.approx(expected.get(key, 0.0), abs=1e-6), key
        totals[name] = sum(charted.values())
    # shorter gaps and a higher moving speed: less charted running time
    assert totals["override"] < 0.95 * totals["defaults"]


def _file_state(path: Path) -> tuple[str, int, bool]:
    wal = path.with_name(path.name + ".wal")
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns, wal.exists()


def test_a_second_run_with_the_same_thresholds_writes_nothing(
        dbs: dict[str, Path], tmp_path: Path) -> None:
    from warehouse.metrics import update_metrics
    from warehouse.store import Warehouse

    path = tmp_path / "w.duckdb"
    shutil.copy(dbs["override"], path)
    before, state = _stored(path), _file_state(path)
    with Warehouse.open(path) as wh:
        update_metrics(wh, OVERRIDES, [])
    assert _file_state(path) == state  # not a byte written
    assert _stored(path) == before
    # one threshold changed: that row alone is rewritten
    with Warehouse.open(path) as wh:
        update_metrics(wh, {**OVERRIDES, "acwr_high": 1.6}, [])
    after = _stored(path)
    assert after["acwr_high"][0] == 1.6 and after["acwr_high"][2] > before["acwr_high"][2]
    assert {n: r for n, r in after.items() if n != "acwr_high"} == {
        n: r for n, r in before.items() if n != "acwr_high"}
