"""Benchmark inputs: the project's generator's backfill set, or replicated corpus files.

Layout either way: ``<root>/inbox/<athlete_id>/<file>``; the athlete is the first folder
under ``inbox`` (the gaitwatch inbox convention).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("GAITWATCH_CORPUS", REPO.parent / "shared" / "corpus"))

# Running files with running dynamics from the corpus, used only when the generator is
# not available (replicated: the same bytes many times, so not distinct activities).
_CORPUS_RUNS = (
    "fr955-stryd-run-dynamics-no-balance.fit",
    "fenix5x-run-dynamics-runpower.fit",
    "fenix3-run-dynamics-moxy-devfields.fit",
    "fr630-run-dynamics.fit",
)

_ACTIVITY_SUFFIXES = (".fit", ".gpx", ".tcx", ".gz", ".zip")


def discover(root: Path) -> list[tuple[Path, str]]:
    """Every activity file under ``root`` with its athlete id, sorted (deterministic)."""
    inbox = root / "inbox" if (root / "inbox").is_dir() else root
    out: list[tuple[Path, str]] = []
    for dirpath, _dirs, names in os.walk(inbox):
        for name in names:
            if name.lower().endswith(_ACTIVITY_SUFFIXES):
                p = Path(dirpath) / name
                rel = p.relative_to(inbox)
                athlete = rel.parts[0] if len(rel.parts) > 1 else "me"
                out.append((p, athlete))
    out.sort(key=lambda t: str(t[0]))
    return out


def ensure_generated(root: Path, runs: int, minutes: int, seed: int) -> str:
    """Generate the backfill set with the project's generator unless already there.

    Returns a description of the source ("synth.generate_backfill ..." or "corpus ...").
    """
    stamp = root / ".complete"
    if stamp.exists():
        return stamp.read_text()
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    try:
        from synth.generate import generate_backfill  # type: ignore[attr-defined]
    except ImportError:
        try:
            desc = write_quick_runs(root, runs, minutes, seed)
        except ImportError:
            desc = replicate_corpus(root, runs)
    else:
        generate_backfill(root, n_runs=runs, minutes=minutes, seed=seed)
        desc = f"synth.generate.generate_backfill(n_runs={runs}, minutes={minutes}, seed={seed})"
    stamp.write_text(desc)
    return desc


def replicate_corpus(root: Path, runs: int) -> str:
    """Fallback: hard-link corpus running files into ``runs`` slots over 8 athletes."""
    srcs = [CORPUS / "fit" / n for n in _CORPUS_RUNS if (CORPUS / "fit" / n).exists()]
    if not srcs:
        raise FileNotFoundError(f"no corpus running files under {CORPUS}")
    for i in range(runs):
        dest = root / "inbox" / f"athlete-{i % 8:02d}" / f"run-{i:05d}.fit"
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(srcs[i % len(srcs)], dest)
        except OSError:
            shutil.copyfile(srcs[i % len(srcs)], dest)
    return f"corpus replicated: {runs} copies of {len(srcs)} running files (NOT distinct)"


def write_run(dest: Path, start: Any, seed: int, serial: int, minutes: int = 60) -> None:
    """One plausible running FIT file with running dynamics (synth's FIT writer).
    Values are noise around fixed means, not a model of anything: for timing only."""
    import numpy as np

    from synth.fit_writer import FILE_ACTIVITY, FIT_EPOCH_UNIX, SPORT, FitWriter, semicircles

    rng = np.random.default_rng(seed)
    n = minutes * 60
    t0 = int(start.timestamp()) - FIT_EPOCH_UNIX
    ts = t0 + np.arange(n, dtype=np.float64)
    speed = np.clip(3.0 + 0.3 * np.sin(np.arange(n) / 300) + rng.normal(0, 0.15, n), 0.5, 7)
    dist = np.cumsum(speed)
    cad = 85 + rng.normal(0, 1.5, n)
    w = FitWriter()
    w.message(
        "file_id",
        {
            "type": FILE_ACTIVITY,
            "manufacturer": 1,
            "product": 2697,
            "serial_number": serial,
            "time_created": t0,
        },
    )
    w.records(
        "record",
        {
            "timestamp": ts,
            "position_lat": semicircles(40.4 + dist * 9e-6),
            "position_long": semicircles(-3.7 + np.sin(dist / 1000) * 1e-3),
            "distance": dist,
            "enhanced_speed": speed,
            "enhanced_altitude": 600 + 10 * np.sin(dist / 500),
            "heart_rate": 140 + rng.normal(0, 5, n),
            "cadence": np.floor(cad),
            "fractional_cadence": cad - np.floor(cad),
            "stance_time": 250 + rng.normal(0, 10, n),
            "stance_time_balance": 50 + rng.normal(0.5, 0.8, n),
            "step_length": speed * 60 / (2 * cad) * 1000,
            "vertical_oscillation": 85 + rng.normal(0, 4, n),
            "vertical_ratio": 7.5 + rng.normal(0, 0.4, n),
        },
    )
    summary = {
        "timestamp": ts[-1],
        "start_time": t0,
        "sport": SPORT["running"],
        "total_elapsed_time": float(n),
        "total_timer_time": float(n),
        "total_distance": float(dist[-1]),
        "avg_speed": float(speed.mean()),
        "avg_heart_rate": 140,
        "avg_cadence": 85,
        "total_cycles": int(cad.sum() / 60),
    }
    w.message("lap", {**summary, "message_index": 0})
    w.message("session", {**summary, "message_index": 0, "first_lap_index": 0, "num_laps": 1})
    w.message(
        "activity",
        {
            "timestamp": ts[-1],
            "total_timer_time": float(n),
            "num_sessions": 1,
            "type": 0,
            "event": 26,
            "event_type": 1,
            "local_timestamp": ts[-1] + 3600,
        },
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(w.to_bytes())


def write_quick_runs(root: Path, runs: int, minutes: int, seed: int) -> str:
    """Interim generator (until ``synth.generate.generate_backfill`` exists): distinct
    one-hour runs over 10 athletes, one run every other day each."""
    from datetime import UTC, datetime, timedelta

    start0 = datetime(2025, 1, 6, 6, 0, tzinfo=UTC)
    for i in range(runs):
        athlete = f"athlete-{i % 10:02d}"
        start = start0 + timedelta(days=(i // 10) * 2, minutes=(i * 37) % 600)
        dest = root / "inbox" / athlete / f"{start:%Y-%m-%d-%H%M}-run-{i:05d}.fit"
        write_run(dest, start, seed * 100_003 + i, 1000 + i % 10, minutes)
    return f"bench quick generator (synth.fit_writer): {runs} distinct {minutes}-min runs"
