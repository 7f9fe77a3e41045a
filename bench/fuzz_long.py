"""Open-ended fuzzing of ingest's entry point (``make fuzz``), apart from the test suite.

    make fuzz                                   # FUZZ_SECONDS=120 by default, a new seed each run
    python bench/fuzz_long.py --seconds 600 [--seed N] [--timeout 60] [--out test-artifacts/fuzz-long]
    python bench/fuzz_long.py --cases 20000 --seed 1     # a fixed number of cases, reproducible
    python bench/fuzz_long.py --atheris        # coverage-guided, if `pip install atheris`

Uses the seeds, mutation operators and acceptance rule of tests/test_fuzz.py (activities
conforming to the schemas, or a typed IngestError, within a per-case time bound), but
draws new inputs every run (the seed is printed, so a run can be repeated) and keeps going
after a failure: every failing input is written to ``--out`` with a .txt describing it
and, for a mutated corpus file, a ``.recipe.json`` that rebuilds it from the corpus. Once
the bug is fixed, the recipe (or the bytes, for random input) goes to tests/regressions/,
which ``make test`` replays. Prints the cases tried and their outcomes: loaded, typed
rejection, crash (any other exception or a reason naming a gaitwatch bug), hang.
Exit status 1 if any case crashed or hung.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import test_fuzz as tf  # noqa: E402  (needs the paths above)

WEIRD = tf.WEIRD_TEXT


def random_ops(rng: random.Random) -> list[tuple]:  # type: ignore[type-arg]
    """The same operators as the hypothesis strategy in tests/test_fuzz.py, drawn with ``random``."""
    ops: list[tuple] = []  # type: ignore[type-arg]
    xml_only = rng.random() < 0.35  # structure-aware only, as the test's XML_MUTATION lists
    for _ in range(rng.randint(1, 6 if xml_only else 4)):
        kinds = (
            ["xml_text", "xml_attr", "dup_element"]
            if xml_only
            else [
                "flip",
                "set",
                "truncate",
                "delete",
                "insert",
                "repeat",
                "splice",
                "fit_header",
                "xml_text",
                "xml_attr",
                "dup_element",
                "drop_tag",
            ]
        )
        kind = rng.choice(kinds)
        pos = rng.randrange(2**31)
        if kind == "flip":
            ops.append((kind, pos, rng.randrange(8)))
        elif kind == "set":
            ops.append((kind, pos, rng.randrange(256)))
        elif kind == "truncate":
            ops.append((kind, rng.random()))
        elif kind == "delete":
            ops.append((kind, pos, rng.randint(1, 128)))
        elif kind == "insert":
            ops.append((kind, pos, rng.randbytes(rng.randint(1, 32))))
        elif kind == "repeat":
            ops.append((kind, pos, rng.randint(1, 200), rng.randint(2, 40)))
        elif kind == "splice":
            ops.append((kind, rng.randrange(10_000), rng.random(), rng.random()))
        elif kind == "fit_header":
            ops.append((kind, rng.choice([0, 1, 2, 4, 8, 12]), rng.randrange(2**32)))
        elif kind == "dup_element":
            ops.append((kind, pos, rng.randrange(2**31)))
        elif kind == "drop_tag":
            ops.append((kind, pos))
        else:
            ops.append((kind, pos, rng.choice(WEIRD)))
    return ops


# the suite's outcome kinds, as this report names them
LABELS = {"activities": "loaded", "typed_error": "typed rejection", "bug": "crash", "hang": "hang"}


def run_random(cases: int | None, seconds: float | None, seed: int, timeout: float, out: Path) -> int:
    """Fuzz until ``cases`` cases or ``seconds`` have passed (whichever is given)."""
    rng = random.Random(seed)
    seeds = tf.SEEDS
    if not seeds:
        print(f"corpus not found at {tf.CORPUS}: nothing to fuzz")
        return 2
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    failures = 0
    start = time.monotonic()
    budget = f"{seconds:g} s" if seconds is not None else f"{cases} cases"
    print(f"fuzzing ingest for {budget}, seed {seed} (repeat with --seed {seed}), hang bound {timeout:g} s per case")
    i = 0
    while (cases is None or i < cases) and (seconds is None or time.monotonic() - start < seconds):
        recipe = None
        if rng.random() < 0.8:
            name, base = seeds[rng.randrange(len(seeds))]
            ops = random_ops(rng)
            data = tf.mutate(base, ops, seeds)
            fix = rng.random() < 0.5
            if fix:
                data = tf.fix_fit(data)
            recipe = tf.make_recipe(name, ops, fix, seeds)
        else:
            name = rng.choice(["x.fit", "x.gpx", "x.tcx", "x.gz", "x.zip", "x"])
            prefix = rng.choice(
                [
                    b"",
                    b"\x0e\x10\x00\x00\x00\x00\x00\x00.FIT",
                    b"\x1f\x8b\x08\x00",
                    b"PK\x03\x04",
                    b"<gpx>",
                ]
            )
            data = prefix + rng.randbytes(rng.randint(0, 2048))
        outcome = tf.run_case(name, data, timeout)
        outcomes[LABELS.get(outcome.kind, outcome.kind)] += 1
        if outcome.kind == "typed_error":
            # error class and the reason's first words: which defences fire how often
            reasons[" ".join(re.sub(r"[\d\W_]+", " ", outcome.detail).split()[:6])] += 1
        if outcome.kind in ("bug", "hang"):
            failures += 1
            path = tf.save_failure(name, data, outcome, recipe, out=out)
            print(f"case {i}: {LABELS[outcome.kind]} on {name}: {outcome.detail[:160]} -> {path}")
        i += 1
        if i % 1000 == 0:
            el = time.monotonic() - start
            print(f"{i} cases, {el:.0f} s, {i / el:.1f} cases/s, {dict(outcomes)}")
    el = time.monotonic() - start
    counts = ", ".join(f"{outcomes[k]} {k}" for k in ("loaded", "typed rejection", "crash", "hang"))
    print(f"fuzz: {i} cases tried in {el:.1f} s ({i / max(el, 1e-9):.1f} cases/s), seed {seed}: {counts}")
    if failures:
        print(f"{failures} failing inputs saved in {out}: fix, then move each to tests/regressions/")
    print("most frequent typed rejections:")
    for reason, count in reasons.most_common(10):
        print(f"  {count:6d}  {reason}")
    return 1 if failures else 0


def run_atheris() -> int:  # pragma: no cover - optional tool
    try:
        import atheris  # type: ignore[import-not-found]
    except ImportError:
        print("atheris is not installed (`pip install atheris`); use --cases instead")
        return 2

    def one(data: bytes) -> None:
        outcome = tf.run_case("atheris.bin", data, 20.0)
        if outcome.kind in ("bug", "hang"):
            raise RuntimeError(f"{outcome.kind}: {outcome.detail}")

    atheris.Setup([sys.argv[0], *(str(p) for p in (REPO / "tests" / "regressions").glob("*"))], one)
    atheris.Fuzz()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=None,
                    help="time budget (default: $FUZZ_SECONDS, else 120, unless --cases is given)")
    ap.add_argument("--cases", type=int, default=None, help="number of cases instead of a time budget")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: a new one, printed)")
    ap.add_argument(
        "--timeout", type=float, default=60.0, help="hang bound per case, seconds (not a speed check)"
    )
    ap.add_argument("--out", type=Path, default=REPO / "test-artifacts" / "fuzz-long")
    ap.add_argument(
        "--atheris", action="store_true", help="coverage-guided run with atheris (optional)"
    )
    args = ap.parse_args()
    if args.atheris:
        return run_atheris()
    seconds = args.seconds
    if seconds is None and args.cases is None:
        seconds = float(os.environ.get("FUZZ_SECONDS") or 120)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    return run_random(args.cases, seconds, seed, args.timeout, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
