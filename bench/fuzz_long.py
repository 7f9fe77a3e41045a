"""Longer fuzz run of ingest's entry point than the test suite affords.

    python bench/fuzz_long.py --cases 20000 [--seed 1] [--timeout 20] [--out test-artifacts/fuzz-long]
    python bench/fuzz_long.py --atheris        # coverage-guided, if `pip install atheris`

Uses the seeds, mutation operators and acceptance rule of tests/test_fuzz.py (activities
conforming to the schemas, or a typed IngestError, within a per-case time bound), but
keeps going after a failure: every failing input is written to ``--out`` with a .txt
describing it, to be fixed and then copied to tests/regressions/. Prints the number of
cases, outcomes and throughput.
"""

from __future__ import annotations

import argparse
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


def run_random(cases: int, seed: int, timeout: float, out: Path) -> int:
    rng = random.Random(seed)
    seeds = tf.SEEDS
    if not seeds:
        print("corpus not found: nothing to fuzz")
        return 2
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    failures = 0
    start = time.monotonic()
    for i in range(cases):
        if rng.random() < 0.8:
            name, base = seeds[rng.randrange(len(seeds))]
            data = tf.mutate(base, random_ops(rng), seeds)
            if rng.random() < 0.5:
                data = tf.fix_fit(data)
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
        outcomes[outcome.kind] += 1
        if outcome.kind == "typed_error":
            # error class and the reason's first words: which defences fire how often
            reasons[" ".join(re.sub(r"[\d\W_]+", " ", outcome.detail).split()[:6])] += 1
        if outcome.kind in ("bug", "hang"):
            failures += 1
            tf.ARTIFACTS.mkdir(exist_ok=True)
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"case{i:06d}-{outcome.kind}{''.join(Path(name).suffixes) or '.bin'}"
            path.write_bytes(data)
            path.with_suffix(path.suffix + ".txt").write_text(
                f"{name}\n{outcome.kind}: {outcome.detail}\n"
            )
            print(f"case {i}: {outcome.kind} on {name}: {outcome.detail[:160]} -> {path}")
        if (i + 1) % 1000 == 0:
            el = time.monotonic() - start
            print(f"{i + 1} cases, {el:.0f} s, {(i + 1) / el:.1f} cases/s, {dict(outcomes)}")
    el = time.monotonic() - start
    print(
        f"done: {cases} cases in {el:.1f} s ({cases / max(el, 1e-9):.1f} cases/s); outcomes {dict(outcomes)}; "
        f"{failures} failures"
    )
    print("most frequent typed errors:")
    for reason, count in reasons.most_common(15):
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
    ap.add_argument("--cases", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--timeout", type=float, default=20.0, help="wall-clock bound per case, seconds"
    )
    ap.add_argument("--out", type=Path, default=REPO / "test-artifacts" / "fuzz-long")
    ap.add_argument(
        "--atheris", action="store_true", help="coverage-guided run with atheris (optional)"
    )
    args = ap.parse_args()
    if args.atheris:
        return run_atheris()
    return run_random(args.cases, args.seed, args.timeout, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
