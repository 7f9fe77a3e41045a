"""How the cost of ``Warehouse.load`` depends on how many files one call gets.

``flows.pipeline.ingest_files`` calls ``Warehouse.load`` once per file, so each file pays
for a transaction, the athlete's state check and one Arrow insert per table. This
script decodes N files once, then loads the same results into fresh warehouses three
ways: one call per file, one call per 25 files (a flow batch), one call per athlete.
It prints CPU and wall seconds per mode.

    .venv/bin/python bench/load_modes.py --files 200
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
for p in (str(BENCH.parent), str(BENCH)):
    if p not in sys.path:
        sys.path.insert(0, p)

from data import discover, ensure_generated  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--data", type=Path)
    args = ap.parse_args(argv)

    from ingest.batch import decode_paths
    from warehouse.store import Warehouse

    root = args.data or Path(tempfile.gettempdir()) / "gaitwatch-bench-data-2000x60-s1"
    if not args.data:
        ensure_generated(root, 2000, 60, 1)
    files = discover(root)
    step = max(1, len(files) // args.files)
    files = sorted(files[::step][: args.files], key=lambda f: (f[1], str(f[0])))
    decoded = list(decode_paths([p for p, _ in files], [a for _, a in files], workers=1))
    n_samples = sum(a.samples.height for d in decoded for r in d.results for a in r.activities)
    print(f"{len(decoded)} files, {n_samples} samples, decoded once")
    tmp = Path(tempfile.mkdtemp(prefix="gaitwatch-load-modes-"))
    for mode, size in (
        ("one call per file", 1),
        ("one call per 25 files", 25),
        ("one call per athlete", 10**9),
    ):
        wh = Warehouse.open(tmp / f"{size}.duckdb")
        c, t = time.process_time(), time.perf_counter()
        for athlete, grp in itertools.groupby(decoded, key=lambda d: d.athlete_id):
            items = list(grp)
            for i in range(0, len(items), size):
                wh.load([r for d in items[i : i + size] for r in d.results], athlete, check=False)
        cpu, wall = time.process_time() - c, time.perf_counter() - t
        wh.close()
        print(
            f"{mode:24} cpu {cpu:6.2f} s ({1000 * cpu / len(decoded):5.1f} ms/file)  "
            f"wall {wall:6.2f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
