"""The straightforward pipeline issue 7 compares against: what one would write first.

One process; for every file: ``fitparse.FitFile`` -> ``get_messages("record")`` ->
``get_values()`` dicts -> a polars frame with our units -> ``INSERT`` into DuckDB;
then the per-activity and weekly aggregates in SQL, then a copy of the database file as
the "published" artefact. No gaitwatch code is used, so the comparison measures the
gaitwatch path against plain library use, not against itself.

It computes a reduced set of the same metrics (medians of cadence, step length, GCT
balance, vertical oscillation per run; runs, distance, time per athlete-week): the cost
of this pipeline is dominated by fitparse decoding (about 2-9k records/s), so the
reduction does not flatter gaitwatch by more than the aggregation time.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import fitparse
import polars as pl

_SEMI = 180.0 / 2**31  # FIT semicircles to degrees

# fitparse field -> (our column, scale)
_FIELDS = {
    "position_lat": ("lat_deg", _SEMI),
    "position_long": ("lon_deg", _SEMI),
    "distance": ("distance_m", 1.0),
    "enhanced_speed": ("speed_m_s", 1.0),
    "heart_rate": ("heart_rate_bpm", 1.0),
    "step_length": ("step_length_m", 0.001),
    "stance_time": ("stance_time_ms", 1.0),
    "stance_time_balance": ("gct_balance_left_pct", 1.0),
    "vertical_oscillation": ("vertical_oscillation_mm", 1.0),
    "vertical_ratio": ("vertical_ratio_pct", 1.0),
    "power": ("power_w", 1.0),
}


def decode_file(path: Path) -> pl.DataFrame:
    """fitparse, record messages as dicts, converted column by column."""
    ff = fitparse.FitFile(str(path))
    cols: dict[str, list[float | None]] = {c: [] for c, _ in _FIELDS.values()}
    cols["cadence_spm"] = []
    ts: list[object] = []
    for msg in ff.get_messages("record"):
        v = msg.get_values()
        ts.append(v.get("timestamp"))
        for src, (dst, scale) in _FIELDS.items():
            x = v.get(src)
            cols[dst].append(None if x is None else float(x) * scale)
        cad = v.get("cadence")
        frac = v.get("fractional_cadence") or 0.0
        # FIT running cadence is strides/min for one foot: spm = 2 x (cadence + fractional)
        cols["cadence_spm"].append(None if not cad else 2.0 * (cad + frac))
    df = pl.DataFrame({"ts": ts, **cols}, strict=False)
    return df.with_columns(pl.col("ts").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"))


_DDL = """
CREATE TABLE samples (
  activity_id VARCHAR, athlete_id VARCHAR, ts TIMESTAMPTZ,
  lat_deg DOUBLE, lon_deg DOUBLE, distance_m DOUBLE, speed_m_s DOUBLE,
  heart_rate_bpm DOUBLE, step_length_m DOUBLE, stance_time_ms DOUBLE,
  gct_balance_left_pct DOUBLE, vertical_oscillation_mm DOUBLE, vertical_ratio_pct DOUBLE,
  power_w DOUBLE, cadence_spm DOUBLE);
"""

_ACTIVITY_SQL = """
CREATE OR REPLACE TABLE activity_gait AS
SELECT activity_id, athlete_id, min(ts) AS started_at, count(*) AS samples,
       max(distance_m) AS distance_m,
       median(cadence_spm) AS cadence_median_spm,
       median(step_length_m) AS step_length_median_m,
       avg(gct_balance_left_pct) AS gct_balance_mean_left_pct,
       median(vertical_oscillation_mm) AS vertical_oscillation_median_mm,
       quantile_cont(speed_m_s, 0.9) - quantile_cont(speed_m_s, 0.1) AS speed_range_m_s
FROM samples GROUP BY ALL
"""

_WEEKLY_SQL = """
CREATE OR REPLACE TABLE weekly_risk AS
SELECT athlete_id, strftime(started_at, '%G-W%V') AS iso_week, count(*) AS runs,
       sum(distance_m) AS run_distance_m, avg(cadence_median_spm) AS cadence_spm,
       avg(step_length_median_m) AS step_length_m, avg(gct_balance_mean_left_pct) AS gct_balance
FROM activity_gait GROUP BY ALL
"""


def run(
    files: Sequence[tuple[Path, str]],
    work_dir: Path,
    on_stage: Callable[[str, float, int], None] | None = None,
    budget_s: float | None = None,
) -> dict[str, float]:
    """Run the baseline over ``(path, athlete_id)`` pairs; return seconds per stage,
    ``samples`` and ``files`` (how many files were processed).

    With ``budget_s``, decoding stops after the file that crosses the budget (callers
    pass the files in a spread-out order so the processed prefix is representative).
    ``on_stage(name, seconds, samples)`` is called after each stage (for reporting).
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    db = work_dir / "baseline.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute(_DDL)
    times: dict[str, float] = {"decode": 0.0, "load": 0.0}
    n = 0
    done = 0
    start = time.perf_counter()
    for i, (path, athlete) in enumerate(files):
        if budget_s is not None and time.perf_counter() - start > budget_s:
            break
        done += 1
        t0 = time.perf_counter()
        df = decode_file(path).with_columns(
            pl.lit(f"b{i}").alias("activity_id"), pl.lit(athlete).alias("athlete_id")
        )
        t1 = time.perf_counter()
        con.register("_df", df.to_arrow())
        con.execute(
            "INSERT INTO samples BY NAME SELECT * FROM _df"  # one INSERT per file
        )
        con.unregister("_df")
        times["decode"] += t1 - t0
        times["load"] += time.perf_counter() - t1
        n += df.height
    if on_stage:
        on_stage("decode", times["decode"], n)
        on_stage("load", times["load"], n)
    t = time.perf_counter()
    con.execute(_ACTIVITY_SQL)
    times["derive"] = time.perf_counter() - t
    t = time.perf_counter()
    con.execute(_WEEKLY_SQL)
    times["weekly"] = time.perf_counter() - t
    con.close()
    t = time.perf_counter()
    shutil.copyfile(db, work_dir / "baseline-published.duckdb")
    times["publish"] = time.perf_counter() - t
    if on_stage:
        for k in ("derive", "weekly", "publish"):
            on_stage(k, times[k], n)
    times["samples"] = float(n)
    times["files"] = float(done)
    return times
