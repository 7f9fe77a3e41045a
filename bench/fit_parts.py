"""Findings F2/F3 (docs/performance.md): CPU per one-hour FIT file for each part of the
fast FIT path, measured with ``time.process_time`` (no profiler: cProfile inflates the
Python-heavy parts several times).

    .venv/bin/python bench/fit_parts.py [DATA_ROOT] [files]
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
for p in (str(BENCH.parent), str(BENCH)):
    if p not in sys.path:
        sys.path.insert(0, p)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    import fitfast
    from data import discover, ensure_generated

    from ingest.fit import fast as fit_fast
    from ingest.fit import read_fit
    from ingest.fit.common import Budget as _Budget
    from ingest.fit.reference import decode_segment
    from ingest.limits import DEFAULT_LIMITS

    root = (
        Path(args[0]) if args else Path(tempfile.gettempdir()) / "gaitwatch-bench-data-2000x60-s1"
    )
    if not args:
        ensure_generated(root, 2000, 60, 1)
    n = int(args[1]) if len(args) > 1 else 40
    data = [p.read_bytes() for p, _ in discover(root)[:n]]
    read_fit("warm-up", data[0])
    cuts = [fit_fast._cut_file(d, fit_fast._walk(d, _Budget("x", DEFAULT_LIMITS))) for d in data]

    def per_file(label: str, fn: Callable[[int], object]) -> None:
        c = time.process_time()
        for i in range(len(data)):
            fn(i)
        print(f"{label:58} {1000 * (time.process_time() - c) / len(data):6.2f} ms CPU/file")

    print(f"{len(data)} files, cut-out summary messages {len(cuts[0])} bytes each (first file)")
    per_file("read_fit (whole fast path)", lambda i: read_fit("x", data[i]))
    per_file(
        "fit_fast._walk (header walk)",
        lambda i: fit_fast._walk(data[i], _Budget("x", DEFAULT_LIMITS)),
    )
    per_file("fitfast.records (all record messages)", lambda i: fitfast.records(data[i]))
    per_file(
        "fitparse on the cut-out summary messages (today)",
        lambda i: decode_segment(io.BytesIO(cuts[i]), _Budget("x", DEFAULT_LIMITS), {}),
    )
    per_file(
        "fitfast.parse on the same cut-out bytes (proposal P2)", lambda i: fitfast.parse(cuts[i])
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
