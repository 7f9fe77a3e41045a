"""Warehouse loading and publishing speed (prints numbers; no assertions).

Builds N synthetic running activities in memory (polars, canonical schema), loads them
into a fresh working file through Warehouse.load, re-loads them (no-op), publishes a copy,
and reads samples back for transforms.

    .venv/bin/python bench/warehouse_load.py [--activities 2000] [--samples 3500]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.schema import (  # noqa: E402
    EXTRA_SCHEMA,
    LAP_SCHEMA,
    SAMPLE_SCHEMA,
    SESSION_SCHEMA,
    ActivityMeta,
    ParsedActivity,
    conform,
)
from warehouse.store import Warehouse  # noqa: E402

_SEMI = 2**31 / 180.0  # FIT semicircles per degree


@dataclass
class Result:
    source_file: str
    sha256: str | None
    size_bytes: int
    activities: list[ParsedActivity] = field(default_factory=list)
    error: None = None


def make_activity(i: int, n: int, rng: np.random.Generator) -> Result:
    start = datetime(2024, 1, 1, 7, tzinfo=UTC) + timedelta(days=i // 2, hours=10 * (i % 2))
    ts = pl.datetime_range(
        start, start + timedelta(seconds=n - 1), "1s", eager=True, time_zone="UTC"
    )
    samples = conform(
        pl.DataFrame(
            {
                "ts": ts,
                "session_index": np.zeros(n, dtype=np.int32),
                "sport": ["running"] * n,
                # quantized as FIT stores them: positions in semicircles, speed in mm/s,
                # integer bpm, cadence in 1/128 strides, step length in mm, stance time in
                # 0.1 ms, balance in 0.01 %, oscillation in 0.1 mm
                "lat_deg": np.round((48.0 + np.cumsum(rng.normal(0, 1e-5, n))) * _SEMI) / _SEMI,
                "lon_deg": np.round((2.0 + np.cumsum(rng.normal(0, 1e-5, n))) * _SEMI) / _SEMI,
                "distance_m": np.round(np.arange(n) * 3.0, 2),
                "speed_m_s": np.round(rng.normal(3.0, 0.2, n), 3),
                "heart_rate_bpm": np.round(rng.normal(150, 5, n)),
                "cadence_spm": np.round(rng.normal(172, 3, n) * 64) / 64,
                "step_length_m": np.round(rng.normal(1.05, 0.03, n), 3),
                "stance_time_ms": np.round(rng.normal(245, 8, n), 1),
                "gct_balance_left_pct": np.round(rng.normal(50, 0.5, n), 2),
                "vertical_oscillation_mm": np.round(rng.normal(85, 4, n), 1),
            }
        ),
        SAMPLE_SCHEMA,
    )
    sessions = conform(
        pl.DataFrame(
            {
                "session_index": [0],
                "sport": ["running"],
                "started_at": [start],
                "total_elapsed_s": [float(n)],
                "total_timer_s": [float(n)],
                "total_distance_m": [n * 3.0],
            }
        ),
        SESSION_SCHEMA,
    )
    sha = hashlib.sha256(f"bench-{i}".encode()).hexdigest()
    meta = ActivityMeta(
        source_file=f"bench/{i}.fit",
        sha256=sha,
        format="fit",
        started_at=start,
        sport="running",
        serial_number=1234,
        time_created=start,
    )
    act = ParsedActivity(
        meta,
        samples,
        sessions,
        conform(pl.DataFrame(), LAP_SCHEMA),
        conform(pl.DataFrame(), EXTRA_SCHEMA),
    )
    return Result(meta.source_file, sha, n * 20, [act])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--activities", type=int, default=2000)
    ap.add_argument("--samples", type=int, default=3500)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    t = time.perf_counter()
    results = [make_activity(i, args.samples, rng) for i in range(args.activities)]
    total = args.activities * args.samples
    print(
        f"built {args.activities} activities, {total:,} samples in {time.perf_counter() - t:.1f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "work.duckdb"
        with Warehouse.open(db) as wh:
            cpu = time.process_time()
            s = wh.load(results, "bench", check=False)
            cpu = time.process_time() - cpu
            print(
                f"load: {s.seconds:.2f} s wall, {cpu:.2f} s CPU (all threads) "
                f"({total / s.seconds:,.0f} samples/s), {s.loaded} activities"
            )
            print(
                f"  load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
                "CPUs (wall time is inflated when it exceeds the CPU count)"
            )
            t = time.perf_counter()
            wh.run_data_tests()
            print(f"data tests: {time.perf_counter() - t:.2f} s")
            s2 = wh.load(results, "bench", check=False)
            print(f"re-load (no-op): {s2.seconds:.2f} s, unchanged={s2.unchanged}")
            t = time.perf_counter()
            wh.checkpoint()
            print(
                f"checkpoint: {time.perf_counter() - t:.2f} s; file {db.stat().st_size / 1e6:.0f} MB"
            )
            t = time.perf_counter()
            wh.publish(Path(tmp) / "pub" / "gaitwatch.duckdb")
            print(f"publish (tests + copy): {time.perf_counter() - t:.2f} s")
            t = time.perf_counter()
            wh.publish(Path(tmp) / "pub" / "stripped.duckdb", strip_coordinates=True)
            print(f"publish stripped (tests + rebuild): {time.perf_counter() - t:.2f} s")
            ids = wh.activities_frame()["activity_id"].to_list()[:200]
            t = time.perf_counter()
            df = wh.samples_frame(ids)
            print(
                f"samples_frame(200 activities): {df.height:,} rows in {time.perf_counter() - t:.2f} s"
            )


if __name__ == "__main__":
    main()
