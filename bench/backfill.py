"""Issue 7 benchmark: full backfill, nightly incremental run, analyst queries, decoding
on processes / Dask / prefect-dask, and the straightforward fitparse pipeline, measured
side by side in one run on this machine. ``make bench`` runs it with the defaults.

Every measurement runs in its own child process (``--child``) so that peak memory,
including worker processes, is measured per pipeline (see bench/measure.py), and the
incremental run's start-up is separated from its work.

    .venv/bin/python bench/backfill.py                  # 2,000 one-hour runs (the goal)
    .venv/bin/python bench/backfill.py --runs 5         # smoke run
    .venv/bin/python bench/backfill.py --json out.json  # also write the numbers

The fitparse baseline runs on an evenly spaced subset when the whole set would take more
than ``--baseline-budget`` seconds, and its time is extrapolated linearly in samples; the
table says so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for p in (str(REPO), str(BENCH)):
    if p not in sys.path:
        sys.path.insert(0, p)

from data import discover, ensure_generated  # noqa: E402
from measure import ChildRun, machine, print_json, run_child  # noqa: E402

GOALS = {"backfill_s": 60.0, "speedup": 10.0, "peak_mb": 1536.0, "incremental_s": 2.0}


# ---------------------------------------------------------------- children


def _child_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    env.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # A private Prefect home (temporary server, SQLite) for the prefect-dask run; the
    # default 20 s start-up timeout is too short on a busy 2-core machine.
    env.setdefault("PREFECT_HOME", str(tmp / "prefect-home"))
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(BENCH), env.get("PYTHONPATH", "")])
    return env


def _load_files(spec: dict[str, Any]) -> list[tuple[Path, str]]:
    return [(Path(p), a) for p, a in json.loads(Path(spec["files"]).read_text())]


def child_main(name: str, spec_path: Path) -> None:
    t_start = time.perf_counter()
    spec = json.loads(spec_path.read_text())
    out: dict[str, Any] = {}
    if name == "baseline":
        import baseline_fitparse

        out["stages"] = baseline_fitparse.run(
            _load_files(spec), Path(spec["work"]), budget_s=spec.get("budget_s")
        )
    elif name.startswith("decode-"):
        import decode_modes

        out = decode_modes.run(name.removeprefix("decode-"), _load_files(spec), spec["workers"])
    elif name == "real":
        import real_path

        out = real_path.backfill(_load_files(spec), Path(spec["work"]), spec["workers"])
    elif name == "incremental":
        import real_path

        out = real_path.incremental(_load_files(spec), Path(spec["work"]))
    elif name == "queries":
        import real_path

        out = real_path.queries(Path(spec["work"]))
    elif name == "cli-first":
        import first_run

        out = first_run.first(_load_files(spec), Path(spec["work"]), spec["workers"])
    elif name == "prefect-warm":
        import first_run

        out = first_run.warm_prefect(Path(spec["work"]))
    elif name == "cli-nightly":
        import first_run

        out = first_run.nightly(Path(spec["work"]), spec["workers"], spec.get("pairs", 3))
        with first_run.prefect_server() as api:
            out["served"] = first_run.nightly(Path(spec["work"]), spec["workers"],
                                              spec.get("pairs", 3), api_url=api)
    elif name == "fitparse-plain":
        import first_run

        out = first_run.fitparse_plain(_load_files(spec), spec["budget_s"])
    else:
        raise SystemExit(f"unknown child {name}")
    out["child_total_s"] = time.perf_counter() - t_start
    print_json(out)


def _spawn(name: str, spec: dict[str, Any], tmp: Path, tag: str | None = None) -> ChildRun:
    spec_path = tmp / f"{tag or name}.spec.json"
    spec_path.write_text(json.dumps(spec))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--spec", str(spec_path)]
    return run_child(cmd, env=_child_env(tmp))


def _write_files(files: list[tuple[Path, str]], dest: Path) -> str:
    dest.write_text(json.dumps([(str(p), a) for p, a in files]))
    return str(dest)


# ---------------------------------------------------------------- driver


def _subset(files: list[tuple[Path, str]], n: int) -> list[tuple[Path, str]]:
    if n >= len(files):
        return list(files)
    step = len(files) / n
    return [files[int(i * step)] for i in range(n)]


def _spread(files: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """All files in a fixed pseudo-random order: any prefix is spread over the whole set."""
    import random

    out = list(files)
    random.Random(7).shuffle(out)
    return out


def _fmt(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def _nightly_cell(n: dict[str, Any]) -> str:
    """Work of the nightly run with one new file: CLI runs with their own temporary
    Prefect server, then against a running server (as the deployment runs)."""
    def one(r: dict[str, Any], how: str) -> str:
        flow = r.get("flow_work_s")
        inside = (f"; the flow run alone {flow:.2f} (idle flow {r['flow_idle_s']:.2f})"
                  if flow is not None else "")
        return (f"{r['work_s']:.2f} wall, {r.get('work_cpu_s', float('nan')):.2f} CPU {how} "
                f"(median of {r.get('pairs', 1)}: run {r['with_new_s']:.1f} - idle {r['idle_s']:.1f}"
                f"{inside})")
    cells = [one(n, "with a temporary server")]
    if n.get("served"):
        cells.append(one(n["served"], "against a running server"))
    return "; ".join(cells)


def _first_run_table(first_runs: dict[str, dict[str, Any]]) -> list[str]:
    """Issue 15's table: first `gaitwatch run` vs plain fitparse, side by side, with load."""
    if not first_runs:
        return []
    out = [
        "| inputs | files | first `gaitwatch run` s (CPU s) | of it reports s | "
        "plain fitparse s | speed-up | nightly +1 file s | peak MB | load 1 min |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, e in first_runs.items():
        run, fp, ni = e.get("run"), e.get("fitparse"), e.get("nightly")
        r = run.result if run else {}
        f = fp.result if fp else {}
        speed = f["seconds"] / r["work_s"] if (run and fp and r["work_s"]) else None
        fp_txt = "-" if not fp else (
            f"{f['seconds']:.1f}" + (f" (x{f['scale']:.1f} from {f['files']} files)"
                                     if f["scale"] > 1.0001 else "")
        )
        out.append(
            f"| {label} | {e['files']} | "
            + (f"{r['work_s']:.1f} ({r['cli_cpu_s']:.0f})" if run else "FAILED") + " | "
            + (f"{r['reports_s']:.1f} ({r['athlete_weeks']} weeks)" if run else "-") + " | "
            + fp_txt + " | " + _fmt(speed, ".1f") + " | "
            + (_nightly_cell(ni.result) if ni else "-") + " | "
            + (f"{run.peak_mb:.0f}" if run else "-") + " | "
            + (f"{run.load_before:.1f}->{run.load_after:.1f}" if run else "-") + " |"
        )
    return out


def markdown(results: dict[str, Any]) -> str:
    """The result table as markdown (for docs/performance.md), with machine and notes."""
    m = results["machine"]
    out = [
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gb']} GB RAM, Linux {m['kernel']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        "",
        f"Inputs: {results['files']} files; {results['source']}.",
        "",
        "| stage | wall s | CPU s | samples/s | peak MB | fitparse s | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["rows"]:
        out.append(
            f"| {r['stage']} | {_fmt(r['wall_s'], '.3f')} | {_fmt(r['cpu_s'], '.1f')} | "
            f"{_fmt(r['samples_per_s'], ',.0f')} | {_fmt(r['peak_mb'], '.0f')} | "
            f"{_fmt(r['baseline_s'], '.1f')} | {_fmt(r['ratio'], '.1f')} |"
        )
    out.append("")
    loads = ", ".join(
        f"{k} {v['load'][0]:.1f}->{v['load'][1]:.1f}" for k, v in results["runs"].items() if v
    )
    out.append(f"1-minute load average before->after each run: {loads}.")
    for n in results["notes"]:
        out.append(f"- {n}")
    if results.get("first_run_table"):
        out.append("")
        out.extend(results["first_run_table"])
    if "goals" in results:
        out.append(
            "- goals: "
            + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in results["goals"].items())
        )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", type=Path, help="existing input folder (default: generated)")
    ap.add_argument("--work", type=Path, help="scratch folder (default: a temp dir)")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument(
        "--baseline-budget",
        type=float,
        default=120.0,
        help="seconds the fitparse baseline may take before it is sampled",
    )
    ap.add_argument(
        "--skip",
        default="",
        help="comma list: baseline,decode,dask,prefect,real,incremental,queries,scaling,cli",
    )
    ap.add_argument(
        "--keep", action="store_true", help="keep the scratch folder (warehouses, specs)"
    )
    ap.add_argument(
        "--exports",
        default="auto",
        help="real export folders for the first-run comparison, comma list; 'auto': "
        "../shared/real/slalom007 and xiangli when present and --data is not given; 'none'",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke mode: 20 generated runs, no fitparse subset budget beyond 20 s, no exports",
    )
    ap.add_argument("--nightly-pairs", type=int, default=3,
                    help="idle/+1 file run pairs of the nightly measurement (median)")
    ap.add_argument("--json", type=Path, help="write all numbers here")
    ap.add_argument("--markdown", type=Path, help="write the table as markdown here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child_main(args.child, args.spec)
        return 0

    skip = set(filter(None, args.skip.split(",")))
    if args.quick:
        args.runs = min(args.runs, 20)
        args.baseline_budget = min(args.baseline_budget, 20.0)
        args.exports = "none"
        args.nightly_pairs = 1
    tmp = Path(tempfile.mkdtemp(prefix="gaitwatch-bench-"))
    data_root = args.data or Path(tempfile.gettempdir()) / (
        f"gaitwatch-bench-data-{args.runs}x{args.minutes}-s{args.seed}"
    )
    work = args.work or tmp / "work"
    work.mkdir(parents=True, exist_ok=True)

    t = time.perf_counter()
    source = (
        "given folder"
        if args.data
        else ensure_generated(data_root, args.runs, args.minutes, args.seed)
    )
    gen_s = time.perf_counter() - t
    files = discover(data_root)
    if not files:
        raise SystemExit(f"no activity files under {data_root}")
    print(f"inputs: {len(files)} files from {source} ({gen_s:.1f} s to prepare)", flush=True)
    all_files = _write_files(files, tmp / "files.json")
    mach = machine()
    results: dict[str, Any] = {"machine": mach, "source": source, "files": len(files)}
    rows: list[dict[str, Any]] = []
    notes: list[str] = []

    def attempt(label: str, fn: Any) -> Any:
        try:
            return fn()
        except Exception as exc:  # a missing stage must not hide the others' numbers
            msg = str(exc).strip().splitlines()
            notes.append(f"{label}: FAILED: {msg[-1] if msg else type(exc).__name__}")
            print(f"{label} failed:\n{exc}", file=sys.stderr, flush=True)
            return None

    def real_run(label: str, subset: list[tuple[Path, str]] | None) -> Any:
        chosen = subset if subset is not None else files
        spec = {
            "files": _write_files(chosen, tmp / f"{label}.json")
            if subset is not None
            else all_files,
            "work": str(work if subset is None else tmp / f"work-{label}"),
            "workers": args.workers,
        }
        return attempt(label, lambda: _spawn("real", spec, tmp, tag=label))

    # 1. the real pipeline, full set
    real = None
    if "real" not in skip:
        real = real_run("backfill", None)
    samples_total = real.result["samples"] if real else None

    # 2. decode-only comparisons (same files)
    decode_runs: dict[str, ChildRun] = {}
    modes = [
        m
        for m, k in (("local", "decode"), ("dask", "dask"), ("prefect-dask", "prefect"))
        if k not in skip
    ]
    for mode in modes:
        r = attempt(
            f"decode-{mode}",
            lambda m=mode: _spawn(
                f"decode-{m}", {"files": all_files, "workers": args.workers}, tmp
            ),
        )
        if r:
            decode_runs[mode] = r
            samples_total = samples_total or r.result["samples"]
    if "decode" not in skip:  # single-process decode on a subset (rate only)
        sub = _subset(files, max(1, min(len(files), 200)))
        r = attempt(
            "decode-single",
            lambda: _spawn(
                "decode-single",
                {"files": _write_files(sub, tmp / "single.json"), "workers": 1},
                tmp,
            ),
        )
        if r:
            decode_runs["single"] = r

    # 3. fitparse baseline: all files, or as many as fit in the budget (spread-out order)
    base = None
    base_scale = 1.0
    if "baseline" not in skip:
        spread = _spread(files)
        base = attempt(
            "baseline",
            lambda: _spawn(
                "baseline",
                {
                    "files": _write_files(spread, tmp / "base.json"),
                    "work": str(tmp / "b1"),
                    "budget_s": args.baseline_budget,
                },
                tmp,
            ),
        )
        if base:
            bs = base.result["stages"]
            total_samples = samples_total or bs["samples"] * len(files) / bs["files"]
            base_scale = total_samples / bs["samples"]
            if bs["files"] < len(files):
                notes.append(
                    f"fitparse baseline measured on {int(bs['files'])} of {len(files)} files "
                    f"({int(bs['samples'])} samples, {args.baseline_budget:.0f} s budget) and "
                    f"extrapolated linearly in samples (x{base_scale:.1f})"
                )

    # 4. nightly incremental run, 5. analyst queries (on the full run's warehouse)
    inc = qry = None
    if real and "incremental" not in skip:
        inc = attempt(
            "incremental",
            lambda: _spawn(
                "incremental",
                {"files": all_files, "work": str(work)},
                tmp,
            ),
        )
    if real and "queries" not in skip:
        qry = attempt("queries", lambda: _spawn("queries", {"work": str(work)}, tmp))

    # 6. does peak memory grow with the number of files? same pipeline on a quarter
    small = None
    if real and "scaling" not in skip and len(files) >= 8:
        small = real_run("quarter", _subset(files, len(files) // 4))

    # 7. issue 15: the first `gaitwatch run` as a user runs it (the CLI), against a plain
    # fitparse decode of the same files; the nightly run; peak memory at a quarter.
    first_runs: dict[str, dict[str, Any]] = {}

    def first_run(label: str, chosen: list[tuple[Path, str]], nightly: bool) -> None:
        spec = {"files": _write_files(chosen, tmp / f"{label}.files.json"),
                "work": str(tmp / f"cli-{label}"), "workers": args.workers,
                "budget_s": args.baseline_budget, "pairs": args.nightly_pairs}
        entry: dict[str, Any] = {"files": len(chosen)}
        entry["run"] = attempt(f"{label}: gaitwatch run",
                               lambda: _spawn("cli-first", spec, tmp, tag=f"{label}-first"))
        entry["fitparse"] = attempt(
            f"{label}: fitparse", lambda: _spawn("fitparse-plain", spec, tmp, tag=f"{label}-fp")
        )
        if nightly and entry["run"]:
            entry["nightly"] = attempt(
                f"{label}: nightly", lambda: _spawn("cli-nightly", spec, tmp, tag=f"{label}-n")
            )
        shutil.rmtree(tmp / f"cli-{label}", ignore_errors=True)
        first_runs[label] = entry

    prefect_setup = None
    if "cli" not in skip:
        prefect_setup = attempt("Prefect home set-up", lambda: _spawn(
            "prefect-warm", {"work": str(tmp / "cli-warm")}, tmp, tag="prefect-warm"))
        first_run(f"generated {len(files)}", files, nightly=True)
        if "scaling" not in skip and len(files) >= 8:
            first_run(f"generated {len(files) // 4}", _subset(files, len(files) // 4), False)
        export_dirs: list[Path] = []
        if args.exports == "auto" and not args.data:
            real_root = REPO.parent / "shared" / "real"
            export_dirs = [real_root / n for n in ("slalom007", "xiangli") if (real_root / n).is_dir()]
        elif args.exports not in ("auto", "none"):
            export_dirs = [Path(x) for x in args.exports.split(",")]
        if export_dirs:
            exported = [
                (p, d.name) for d in export_dirs for p, _ in discover(d)
            ]
            first_run("+".join(d.name for d in export_dirs), exported, nightly=False)

    # ------------------------------------------------------------ table
    bstages = base.result["stages"] if base else {}

    def base_s(*stages: str) -> float | None:
        if not bstages:
            return None
        return sum(bstages.get(s, 0.0) for s in stages) * base_scale

    def add(
        stage: str,
        secs: float | None,
        cpu: float | None,
        samples: float | None,
        peak: float | None,
        ref: float | None,
    ) -> None:
        rows.append(
            {
                "stage": stage,
                "wall_s": secs,
                "cpu_s": cpu,
                "samples_per_s": (samples / secs) if (samples and secs) else None,
                "peak_mb": peak,
                "baseline_s": ref,
                "ratio": (ref / secs) if (ref and secs) else None,
            }
        )

    stage_map = {
        "decode+load": ("decode", "load"),
        "derive+weekly": ("derive", "weekly"),
        "publish": ("publish",),
    }

    def add_real(label: str, run: ChildRun, with_ref: bool) -> None:
        res = run.result
        n = res["samples"]
        failed = res.get("failed", {})
        for stage, secs in res["stages"].items():
            mark = " (FAILED)" if stage in failed else ""
            ref = (base_s(*stage_map.get(stage, ())) or None) if with_ref else None
            add(f"{label}: {stage}{mark}", secs, res.get("cpu", {}).get(stage), n, None, ref)
        for stage, why in failed.items():
            notes.append(f"{label}: stage {stage} FAILED: {why}")
        tot = base_s("decode", "load", "derive", "weekly", "publish") if with_ref else None
        add(f"{label}: TOTAL work", res["work_s"], None, n, run.peak_mb, tot)
        notes.append(
            f"{label}: peak RSS {run.peak_mb:.0f} MB for the process tree, "
            f"{run.peak_main_mb:.0f} MB for the main process alone"
        )
        add(f"{label}: process wall (incl. start-up)", run.wall_s, run.cpu_s, n, None, None)

    if real:
        add_real(f"backfill {len(files)}", real, True)
    if small:
        add_real(f"backfill {len(files) // 4}", small, False)
    if base:
        btot = base_s("decode", "load", "derive", "weekly", "publish")
        add(
            "fitparse baseline TOTAL" + (" (extrapolated)" if base_scale > 1 else ""),
            btot,
            base.cpu_s * base_scale,
            samples_total,
            base.peak_mb,
            btot,
        )
    labels = {
        "single": "decode only, 1 process (subset)",
        "local": "decode only, process pool",
        "dask": "decode only, distributed LocalCluster",
        "prefect-dask": "decode only, prefect-dask DaskTaskRunner",
    }
    for mode, r in decode_runs.items():
        scale = (
            (samples_total / r.result["samples"]) if (samples_total and r.result["samples"]) else 1
        )
        add(
            f"{labels[mode]} (setup {r.result['setup_s']:.1f} s incl.)",
            r.result["seconds"],
            r.cpu_s,
            r.result["samples"],
            r.peak_mb,
            (base_s("decode") or 0.0) / scale if bstages else None,
        )
    if inc:
        for stage, why in inc.result.get("failed", {}).items():
            notes.append(f"incremental stage {stage} FAILED: {why}")
        for stage, secs in inc.result["stages"].items():
            add(
                f"incremental: {stage}",
                secs,
                inc.result.get("cpu", {}).get(stage),
                None,
                None,
                None,
            )
        add("incremental: +1 activity, work", inc.result["work_s"], None, 3600, inc.peak_mb, None)
        add(
            "incremental: process start-up (not work)",
            inc.result["startup_s"],
            None,
            None,
            None,
            None,
        )
    if qry:
        for qname, secs in qry.result["queries"].items():
            add(f"query: {qname}", secs, None, None, None, None)

    print()
    print(
        f"machine: {mach['nproc']} CPUs ({mach['cpu']}), {mach['ram_gb']} GB RAM; "
        + ", ".join(f"{k} {v}" for k, v in mach["versions"].items())
    )
    print(f"inputs: {len(files)} files, {samples_total or '?'} samples; {source}")
    runs = {
        "backfill": real,
        "quarter": small,
        "baseline": base,
        "incremental": inc,
        "queries": qry,
        **{f"decode-{m}": r for m, r in decode_runs.items()},
    }
    print(
        "load average (1 min) during each run: "
        + ", ".join(f"{k} {v.load_before:.1f}->{v.load_after:.1f}" for k, v in runs.items() if v)
    )
    hdr = (
        f"{'stage':52} {'wall s':>8} {'cpu s':>8} {'samples/s':>10} {'peak MB':>8} "
        f"{'base s':>8} {'ratio':>6}"
    )
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(
            f"{r['stage'][:52]:52} {_fmt(r['wall_s'], '.3f'):>8} {_fmt(r['cpu_s'], '.1f'):>8} "
            f"{_fmt(r['samples_per_s'], ',.0f'):>10} {_fmt(r['peak_mb'], '.0f'):>8} "
            f"{_fmt(r['baseline_s'], '.1f'):>8} {_fmt(r['ratio'], '.1f'):>6}"
        )
    for n_ in notes:
        print("note:", n_)
    first_table = _first_run_table(first_runs)
    if first_table and prefect_setup:
        first_table.append(
            f"\nBefore the table, once: `gaitwatch run` over an empty inbox with a new "
            f"PREFECT_HOME (Prefect creates and migrates its database, as the README's "
            f"`make run` does once per machine): {prefect_setup.result['work_s']:.1f} s, "
            "not counted above."
        )
    if first_table:
        print()
        print("\n".join(first_table))
    results["first_run"] = {
        label: {k: (v.result | {"wall_s": v.wall_s, "cpu_s": v.cpu_s, "peak_mb": v.peak_mb,
                                "load": [v.load_before, v.load_after]}
                    if isinstance(v, ChildRun) else v)
                for k, v in entry.items()}
        for label, entry in first_runs.items()
    }
    results["first_run_table"] = first_table
    if real:
        ok = {
            "all stages ran": not real.result.get("failed"),
            "backfill < 60 s": real.result["work_s"] < GOALS["backfill_s"],
            "peak < 1.5 GB": real.peak_mb < GOALS["peak_mb"],
        }
        if small:
            ok["peak flat in #files (quarter within 25 %)"] = real.peak_mb <= 1.25 * small.peak_mb
        if base:
            btot = base_s("decode", "load", "derive", "weekly", "publish") or 0
            ok[">= 10x fitparse"] = btot / real.result["work_s"] >= GOALS["speedup"]
        if inc:
            ok["incremental < 2 s"] = inc.result["work_s"] < GOALS["incremental_s"]
        print("goals:", ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in ok.items()))
        results["goals"] = ok
    results["runs"] = {
        k: (
            {
                "result": v.result,
                "wall_s": v.wall_s,
                "cpu_s": v.cpu_s,
                "peak_mb": v.peak_mb,
                "peak_main_mb": v.peak_main_mb,
                "load": [v.load_before, v.load_after],
            }
            if v
            else None
        )
        for k, v in runs.items()
    }
    results.update({"rows": rows, "notes": notes})
    if args.keep:
        print(f"scratch folder kept: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.markdown:
        args.markdown.write_text(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
