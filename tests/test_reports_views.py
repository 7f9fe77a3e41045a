"""Reports read only the documented analyst views (issue 13 item 4), and the report views
define the sample interval, speed, step rate and step length exactly as the gait metrics
do (transforms/gait.py), checked on real corpus files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import CORPUS
from polars.testing import assert_frame_equal
from reports_support import build_fixture_db

import reports.render
from transforms.gait import derive_samples
from transforms.thresholds import DEFAULT_THRESHOLDS

REPO = Path(__file__).resolve().parents[1]
VIEWS_SQL = REPO / "warehouse" / "sql" / "views" / "50_reports.sql"  # current definitions


def _table_refs(sql: str) -> set[str]:
    """Every table or view a SELECT reads, from DuckDB's own parser (CTE names excluded)."""
    with duckdb.connect() as con:
        (tree,) = con.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchone() or ("",)
    parsed = json.loads(tree)
    assert not parsed.get("error"), (parsed.get("error_message"), sql)
    refs: set[str] = set()
    ctes: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE" and "table_name" in node:
                refs.add(node["table_name"])
            for entry in (node.get("cte_map") or {}).get("map", []):
                ctes.add(entry["key"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(parsed)
    return refs - ctes


class _Recorder:
    """A real DuckDB connection that remembers every SQL text it was given."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seen: list[str]) -> None:
        self._con, self._seen = con, seen

    def execute(self, sql: str, *args: Any) -> Any:
        self._seen.append(sql)
        return self._con.execute(sql, *args)

    def __enter__(self) -> _Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()


def test_reports_query_only_v_views(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = build_fixture_db(tmp_path / "w.duckdb")
    seen: list[str] = []
    real_connect = duckdb.connect
    monkeypatch.setattr(reports.render.duckdb, "connect",
                        lambda *a, **k: _Recorder(real_connect(*a, **k), seen))
    paths = reports.render.render_reports(db, tmp_path / "out")
    assert len(paths) > 4
    selects = [s for s in seen if not s.lstrip().upper().startswith("SET ")]
    assert len(selects) >= 4
    read = set().union(*(_table_refs(s) for s in selects))
    assert read and all(name.startswith("v_") for name in read), read
    # The checker itself can fail: a base table is reported.
    assert _table_refs("WITH x AS (SELECT 1) SELECT * FROM x JOIN samples USING (a)") == {"samples"}


def test_no_sql_in_reports_names_a_base_table() -> None:
    # Also the code paths the fixture does not reach: every FROM/JOIN in reports/ source.
    targets = set()
    for path in (REPO / "reports").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        ctes = set(re.findall(r"(\w+) AS (?:MATERIALIZED )?\(", text))
        for m in re.finditer(r"\b(?:FROM|JOIN)\s+([A-Za-z_][\w.]*)", text):
            if m.group(1) not in ctes:
                targets.add(m.group(1))
    assert targets and all(t.startswith("v_") for t in targets), targets


def test_view_constants_are_the_default_thresholds() -> None:
    # v_report_samples reads thresholds_in_use (migration 010); these are the fallbacks
    # while it has no row for a name (metrics never ran): the defaults, nothing else
    th = DEFAULT_THRESHOLDS
    sql = VIEWS_SQL.read_text(encoding="utf-8")
    for name in ("max_sample_gap_s", "moving_speed_min_m_s", "cadence_valid_min_spm",
                 "cadence_valid_max_spm", "step_length_valid_min_m", "step_length_valid_max_m"):
        assert f"FILTER (WHERE name = '{name}'), {getattr(th, name)})" in sql, name
    assert "BETWEEN 60.0" not in sql and "<= 10.0" not in sql  # no literal copy left


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (CORPUS / "fit").is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    from ingest.reader import read_path
    from warehouse.store import Warehouse

    results: list[Any] = []
    for kind in ("fit", "gpx"):
        results.extend(read_path(CORPUS / kind, name_root=CORPUS))
    path = tmp_path_factory.mktemp("views") / "w.duckdb"
    wh = Warehouse.open(path)
    try:
        wh.load(results, "corpus", check=False)
    finally:
        wh.close()
    return path


def test_report_samples_match_the_gait_module(corpus_db: Path) -> None:
    with duckdb.connect(str(corpus_db), read_only=True) as con:
        samples = con.sql(
            "SELECT s.*, a.athlete_id FROM samples s JOIN activities a USING (activity_id)"
        ).pl()
        view = con.sql(
            "SELECT activity_id, session_index, ts, interval_s AS dt_s, speed_calc_m_s, "
            "is_running, is_moving, steps_per_min, step_length_calc_m FROM v_report_samples"
        ).pl()
    assert samples.height > 40_000 and samples["activity_id"].n_unique() > 10
    ref = derive_samples(samples).collect().select(view.columns)
    keys = ["activity_id", "session_index", "ts", "dt_s"]
    # Samples with equal times may come in either order; the multiset per key is the same.
    ref, view = ref.sort(keys, nulls_last=True), view.sort(keys, nulls_last=True)
    assert (ref["dt_s"] > 0).sum() > 30_000  # real intervals, not all zero
    assert ref["steps_per_min"].is_not_null().sum() > 10_000
    assert ref["step_length_calc_m"].is_not_null().sum() > 10_000
    assert_frame_equal(view, ref, check_dtypes=False, abs_tol=1e-9, rel_tol=1e-9)
