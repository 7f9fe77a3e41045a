"""Finding F4 (docs/performance.md): memory of the gait-metrics loop, on a backfilled
warehouse. Runs ``activity_gait`` chunk by chunk, like ``flows.pipeline.compute_metrics``,
keeping the results as the next chunk's sprint reference, in three ways: as returned,
copied (strings rebuilt), and with no reference kept. Prints RSS after each chunk.

    .venv/bin/python bench/metrics_memory.py WORK/gaitwatch.duckdb [activities]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH.parent) not in sys.path:
    sys.path.insert(0, str(BENCH.parent))

CHUNK = 50


def run(db: Path, mode: str, n: int) -> None:
    import polars as pl
    import psutil

    from transforms.gait import activity_gait
    from transforms.thresholds import load_thresholds
    from warehouse.store import Warehouse

    me = psutil.Process()
    th = load_thresholds({})
    with Warehouse.open(db) as wh:
        ids = [
            r[0] for r in wh.con.execute("SELECT activity_id FROM activities ORDER BY 1").fetchall()
        ]
        athletes = wh.athletes_frame()
        ref = wh.activity_gait_frame().head(0)
        for i in range(0, min(n, len(ids)), CHUNK):
            chunk = ids[i : i + CHUNK]
            gait = activity_gait(
                wh.samples_frame(chunk),
                th,
                sprint_ref=ref if mode != "none" else None,
                athletes=athletes,
            )
            if mode == "copied":
                # Rebuild string columns so they do not borrow the chunk's sample buffers.
                gait = gait.with_columns(
                    pl.col(pl.String).map_batches(
                        lambda s: pl.Series(s.name, s.to_list(), pl.String)
                    )
                )
            if mode != "none":
                ref = pl.concat([ref.filter(~pl.col("activity_id").is_in(chunk)), gait])
        print(f"{mode:9} after {min(n, len(ids))} activities: RSS {me.memory_info().rss >> 20} MB")


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if args and args[0] == "--child":
        run(Path(args[1]), args[2], int(args[3]))
        return 0
    if not args:
        print(__doc__)
        return 2
    n = int(args[1]) if len(args) > 1 else 800
    tmp = Path(tempfile.mkdtemp(prefix="gaitwatch-metrics-memory-"))
    db = tmp / "gaitwatch.duckdb"
    shutil.copyfile(args[0], db)
    for mode in ("as-returned", "copied", "none"):  # one fresh process each
        subprocess.run([sys.executable, __file__, "--child", str(db), mode, str(n)], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
