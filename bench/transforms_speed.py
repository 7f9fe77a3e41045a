"""Speed of the per-activity gait computation (issue 7): ``transforms.gait.derive_samples``
and ``transforms.gait.activity_gait`` in samples/s, the current code against a baseline
revision of ``transforms/gait.py`` (read with ``git show``; nothing in the work tree
changes), on real frames decoded from the generator's backfill runs.

    .venv/bin/python bench/transforms_speed.py                    # 50 one-hour runs
    .venv/bin/python bench/transforms_speed.py --runs 200 --batch 100
    .venv/bin/python bench/transforms_speed.py --baseline-rev none  # current code only

Frames are built as the tests build them (``ingest.reader.read_path`` per athlete
folder, ``activity_id`` = sha256[:16]-index, ``athlete_id`` = folder) and ordered as the
warehouse returns them (``ORDER BY activity_id, ts``); ``--unsorted`` keeps file order,
which adds the sort. ``activity_gait`` is called in batches of ``--batch`` activities,
as ``flows.pipeline.compute_metrics`` does. Each timing is the best of ``--repeat``
(the machine may be shared): wall time and process CPU time (all threads) are printed,
and samples per CPU-second is the number that load on the machine disturbs least.
Both versions' outputs are compared; the largest relative difference is printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import polars as pl  # noqa: E402

DEFAULT_BASELINE = "6e43cad"  # transforms/gait.py before the speed work


def build_frames(root: Path, runs: int, minutes: int, seed: int) -> pl.DataFrame:
    """Generate ``runs`` backfill runs under ``root`` (unless there) and read them back."""
    from ingest.reader import read_path
    from synth.generate import generate_backfill

    inbox = root / "inbox"
    if not inbox.is_dir():
        generate_backfill(root, n_runs=runs, minutes=minutes, seed=seed)
    frames: list[pl.DataFrame] = []
    for athlete_dir in sorted(p for p in inbox.iterdir() if p.is_dir()):
        for res in read_path(athlete_dir, name_root=inbox):
            if res.error is not None:
                raise RuntimeError(f"{res.source_file}: {res.error}")
            for i, act in enumerate(res.activities):
                aid = f"{act.meta.sha256[:16]}-{i}"
                frames.append(
                    act.samples.with_columns(
                        activity_id=pl.lit(aid), athlete_id=pl.lit(athlete_dir.name)
                    )
                )
    return pl.concat(frames, how="vertical_relaxed")


def load_baseline(rev: str) -> ModuleType | None:
    """``transforms/gait.py`` at ``rev`` as a module (it imports the current
    transforms.load / schema / thresholds, which the speed work did not change)."""
    try:
        src = subprocess.run(
            ["git", "-C", str(REPO), "show", f"{rev}:transforms/gait.py"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"baseline {rev}: not available ({exc}); current code only")
        return None
    path = Path(tempfile.mkdtemp(prefix="gaitwatch-bench-")) / "gait_baseline.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("gait_baseline", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Best wall and best CPU seconds over ``repeat`` calls, and the last result."""
    wall = cpu = float("inf")
    out: Any = None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu, out


def split_batches(samples: pl.DataFrame, batch: int) -> list[pl.DataFrame]:
    """The frames of ``batch`` activities each, as the pipeline reads them from the warehouse
    (cut once, before timing: reading is not part of the transform)."""
    ids = samples["activity_id"].unique(maintain_order=True).to_list()
    if batch <= 0 or batch >= len(ids):
        return [samples]
    return [
        samples.filter(pl.col("activity_id").is_in(ids[i : i + batch]))
        for i in range(0, len(ids), batch)
    ]


def derive_all(mod: ModuleType, samples: pl.DataFrame) -> pl.DataFrame:
    """derive_samples on the whole frame, collected."""
    out: pl.DataFrame = mod.derive_samples(samples).collect()
    return out


def gait_in_batches(mod: ModuleType, batches: list[pl.DataFrame]) -> pl.DataFrame:
    """activity_gait per batch, carrying the earlier rows as ``sprint_ref`` like
    flows.pipeline.compute_metrics."""
    ref: pl.DataFrame | None = None
    outs = []
    for part in batches:
        out = mod.activity_gait(part, sprint_ref=ref)
        outs.append(out)
        ref = out if ref is None else pl.concat([ref, out])
    return pl.concat(outs)


def max_rel_diff(a: pl.DataFrame, b: pl.DataFrame) -> tuple[float, list[str]]:
    """Largest relative difference over float columns; names of other columns that differ."""
    key = ["activity_id"]
    a, b = a.sort(key), b.sort(key)
    worst = 0.0
    other: list[str] = []
    if a.shape != b.shape or a.columns != b.columns:
        return float("inf"), ["shape/columns"]
    for c in a.columns:
        if a[c].dtype == pl.Float64:
            x, y = a[c], b[c]
            if not (x.is_null() == y.is_null()).all():
                other.append(f"{c} (nulls)")
                continue
            rel = ((x - y).abs() / x.abs().clip(lower_bound=1e-12)).max()
            worst = max(worst, float(rel) if isinstance(rel, int | float) else 0.0)
        elif not a[c].equals(b[c]):
            other.append(c)
    return worst, other


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--batch", type=int, default=100, help="activities per activity_gait call (0: all)"
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data-dir", type=Path, default=None, help="reuse/keep generated runs here")
    ap.add_argument("--unsorted", action="store_true", help="file order instead of warehouse order")
    ap.add_argument("--baseline-rev", default=DEFAULT_BASELINE, help="git revision, or 'none'")
    args = ap.parse_args(argv)

    import transforms.gait as current

    with tempfile.TemporaryDirectory(prefix="gaitwatch-speed-") as tmp:
        root = args.data_dir or Path(tmp) / "backfill"
        t = time.perf_counter()
        samples = build_frames(root, args.runs, args.minutes, args.seed)
        print(
            f"data: {args.runs} runs x {args.minutes} min, seed {args.seed}: {samples.height:,} samples, "
            f"{samples['activity_id'].n_unique()} activities ({time.perf_counter() - t:.1f} s to generate+read)"
        )
    if not args.unsorted:
        samples = samples.sort(["activity_id", "ts"])  # the warehouse's ORDER BY
    n = samples.height
    batches = split_batches(samples, args.batch)
    versions: list[tuple[str, ModuleType]] = [("current", current)]
    if args.baseline_rev.lower() != "none":
        base = load_baseline(args.baseline_rev)
        if base is not None:
            versions.insert(0, (f"baseline {args.baseline_rev}", base))

    print(
        f"order: {'file order (sort included)' if args.unsorted else 'warehouse order'}; "
        f"{len(batches)} batch(es) of <= {args.batch or 'all'} activities; best of {args.repeat}"
    )
    print(
        f"{'version':<18} {'step':<14} {'wall s':>8} {'M samples/s':>12} {'CPU s':>8} {'M samples/CPU-s':>16}"
    )
    results: dict[str, pl.DataFrame] = {}
    for name, mod in versions:
        w, c, _ = best_of(args.repeat, partial(derive_all, mod, samples))
        print(
            f"{name:<18} {'derive':<14} {w:8.3f} {n / w / 1e6:12.3f} {c:8.3f} {n / c / 1e6:16.3f}"
        )
        w, c, out = best_of(args.repeat, partial(gait_in_batches, mod, batches))
        print(
            f"{name:<18} {'activity_gait':<14} {w:8.3f} {n / w / 1e6:12.3f} {c:8.3f} {n / c / 1e6:16.3f}"
        )
        results[name] = out
    if len(results) == 2:
        (na, a), (nb, b) = results.items()
        worst, other = max_rel_diff(a, b)
        print(
            f"outputs {na} vs {nb}: max relative difference {worst:.2e}"
            + (f"; other columns differ: {other}" if other else "; all other columns equal")
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
