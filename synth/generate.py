"""Generate gaitwatch's sample data (with planted patterns and their ground truth) and the
large backfill used by the benchmark.

    python -m synth.generate --out sample_data --seed 42
    python -m synth.generate --out /tmp/backfill --backfill 2000 --minutes 60

Sample data: ``<out>/inbox/<athlete>/...`` (FIT, FIT.gz, GPX, GPX.gz, a Strava-style zip
and a Garmin-style nested zip) and ``<out>/truth.json``. Output is byte-identical for a
seed: every random draw comes from a generator seeded by (seed, athlete, week, session),
gzip streams carry no name and mtime 0, zip entries a fixed date.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import math
import shutil
import sys
import time
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from synth import athletes as A
from synth.device import encode_fit
from synth.gpx_writer import encode_gpx
from synth.model import (
    Activity,
    Athlete,
    Device,
    RunSpec,
    simulate_ride,
    simulate_run,
    simulate_strength,
)

ZIP_DATE = (2026, 11, 23, 0, 0, 0)
FLAG_CODES = (
    "compact_gait",
    "asymmetry",
    "asymmetry_drift",
    "load_spike",
    "distance_progression",
    "monotony",
    "no_sprints",
    "no_strength",
)

# Documented rules the expected flags in truth.json are derived from (independently of
# gaitwatch's transforms). Garmin's GCT balance colour zones; Gabbett 2016 ACWR.
RULES = {
    "asymmetry": "weekly mean GCT balance (% left) > 52.2 or < 47.8 -> expected (Garmin 'poor' zone); "
    "50.8-52.2 (or 47.8-49.2) -> ambiguous (Garmin 'moderate'); <= 50.7 and >= 49.3 -> not expected",
    "compact_gait": "planted step length change at a given speed <= -4.5 % (two weeks after onset) -> "
    "expected; onset and onset+1 week (-1.5 %, -3 %) -> ambiguous; unchanged -> not expected; "
    "never expected without running dynamics",
    "load_spike": "acute:chronic workload ratio (this week's running minutes / mean of the 4 weeks "
    "ending with it, Gabbett 2016 rolling average) > 1.5 -> expected; weeks 1-4 (no 4-week chronic "
    "base) and the week after a spike (EWMA carry-over) -> ambiguous",
    "no_sprints": "no strides/sprint efforts this week and the previous -> expected; none this week "
    "only -> ambiguous",
    "no_strength": "no strength session this week and the previous -> expected; none this week only "
    "-> ambiguous",
    "asymmetry_drift": "within-run GCT balance drift planted (left share rising during the run): "
    "none -> not expected; any -> ambiguous (no published threshold; the planted drift is given as "
    "balance_drift_within_run_pct, last minus first sample, and symmetry_drift_pct, Robinson SI "
    "last third minus first third)",
    "distance_progression": "weekly running distance vs the previous week: > +30 % -> expected; "
    "+10 % to +30 % -> ambiguous (the '10 % rule' of thumb); week 1 -> ambiguous",
    "monotony": "Foster monotony of daily training minutes (mean/sd over the 7 local days) > 2.0 -> "
    "expected; 1.8-2.0 -> ambiguous",
    "risk": "expected_risk lists the acceptable risk levels: moderate/high when compact_gait, "
    "asymmetry or load_spike is expected; null (not asserted) when any flag is ambiguous; "
    "insufficient_data/low in weeks 1-4; low otherwise (spike athlete also insufficient_data, "
    "no running dynamics)",
}


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def _local_to_utc(tz: str, day: date, hour: int, minute: int) -> tuple[int, int]:
    """(unix seconds UTC, local offset seconds) of a local wall-clock time."""
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(tz))
    off = local.utcoffset()
    assert off is not None
    return int(local.timestamp()), int(off.total_seconds())


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, data, compresslevel=9)
    return buf.getvalue()


def _fmt_for(ath: Athlete, week_no: int, kind: str, run_counter: int) -> str:
    """How the athlete's export delivers this activity."""
    if ath.role == "control":
        return "zip_strava" if week_no <= 3 else "fit"
    if ath.role == "compact":
        return "fit.gz"
    if ath.role == "asymmetry":
        return "zip_garmin" if week_no <= 2 else "fit"
    if kind == "run" and run_counter % 3 == 1:
        return "gpx_garmin" if run_counter < 6 else "gpx_strava_gz"
    return "fit"


def _simulate(ath: Athlete, s: A.Session, seed: int, keys: tuple[int, ...]) -> Activity:
    start, off = _local_to_utc(ath.timezone, s.day, s.hour, s.minute)
    rng = _rng(seed, *keys)
    dur = int(round(s.minutes * 60))
    if s.kind == "strength":
        return simulate_strength(ath, dur, start, off, rng)
    if s.kind == "ride":
        return simulate_ride(ath, dur, start, off, rng)
    spec = RunSpec(duration_s=dur, kind=s.run_kind, **s.spec)  # type: ignore[arg-type]
    return simulate_run(ath, spec, start, off, rng)


def _monotony(daily: list[float]) -> float | None:
    a = np.array(daily)
    sd = float(a.std())
    return None if sd == 0 else round(float(a.mean()) / sd, 3)


def _week_truth(
    ath: Athlete, week_no: int, weeks: dict[int, dict[str, Any]], acwr_ewma: float | None
) -> dict[str, Any]:
    """Planted numbers and expected flags of one week, from the plan only."""
    wk = weeks[week_no]
    prev = weeks.get(week_no - 1)
    planted: dict[str, Any] = {
        "week_no": week_no,
        "runs": wk["runs"],
        "run_minutes": round(wk["run_minutes"], 1),
        "run_distance_km": round(wk["run_distance_m"] / 1000, 2),
        "long_run_km": round(wk["long_run_m"] / 1000, 2),
        "strength_sessions": wk["strength"],
        "cross_training_sessions": wk["rides"],
        "sprint_efforts": wk["sprint_efforts"],
        "monotony": _monotony(wk["daily_minutes"]),
    }
    rd = ath.device.running_dynamics
    if rd:
        planted["balance_left_pct"] = round(wk["balance_weighted"], 2)
        planted["balance_drift_within_run_pct"] = round(wk["balance_drift"], 2)
        # Robinson SI = 4 x (left % - 50); a linear drift d gives last-third minus first-third SI of 4 x 2/3 x d
        planted["symmetry_index_pct"] = round(4 * (wk["balance_weighted"] - 50.0), 2)
        planted["symmetry_drift_pct"] = round(4 * 2 / 3 * wk["balance_drift"], 2)
    step_change = A.COMPACT_STEP_CHANGE.get(week_no, 0.0) if ath.role == "compact" else 0.0
    planted["step_length_change_pct"] = step_change
    if ath.role == "compact":
        planted["vertical_oscillation_change_pct"] = A.COMPACT_VO_CHANGE.get(week_no, 0.0)
        planted["speed_range_factor"] = A.COMPACT_PACE_WAVE.get(week_no, 1.0)
    last4 = [weeks[w]["run_minutes"] for w in range(week_no - 3, week_no + 1) if w in weeks]
    prev4 = [weeks[w]["run_minutes"] for w in range(week_no - 4, week_no) if w in weeks]
    acwr = None
    if len(last4) == 4:
        acwr = wk["run_minutes"] / (sum(last4) / 4)
        planted["acwr_rolling"] = round(acwr, 3)
    if len(prev4) == 4:
        planted["volume_ratio"] = round(wk["run_minutes"] / (sum(prev4) / 4), 3)
    planted["acwr_ewma"] = None if acwr_ewma is None else round(acwr_ewma, 3)

    expected: list[str] = []
    ambiguous: list[str] = []

    def put(code: str, state: str) -> None:
        if state == "expected":
            expected.append(code)
        elif state == "ambiguous":
            ambiguous.append(code)

    # compact_gait
    if rd and step_change <= -4.5:
        put("compact_gait", "expected")
    elif rd and step_change < 0:
        put("compact_gait", "ambiguous")
    # asymmetry (Garmin GCT balance zones)
    level = None
    if rd:
        dev = abs(planted["balance_left_pct"] - 50.0)
        if dev > 2.2:
            level = "high"
            put("asymmetry", "expected")
        elif dev >= 0.8:
            level = "moderate"
            put("asymmetry", "ambiguous")
        elif dev > 0.7:
            level = None  # between zones
            put("asymmetry", "ambiguous")
        else:
            level = "balanced"
    # load spike (Gabbett 2016)
    prev_spike = prev is not None and prev.get("spike_expected", False)
    if acwr is None:
        put("load_spike", "ambiguous")
    elif acwr > 1.5:
        put("load_spike", "expected")
        wk["spike_expected"] = True
    elif prev_spike:
        put("load_spike", "ambiguous")
    if rd and wk["balance_drift"]:
        put("asymmetry_drift", "ambiguous")
    if prev is None:
        put("distance_progression", "ambiguous")
    else:
        change = wk["run_distance_m"] / prev["run_distance_m"] - 1
        planted["distance_change_pct"] = round(100 * change, 1)
        if change > 0.30:
            put("distance_progression", "expected")
        elif change > 0.10:
            put("distance_progression", "ambiguous")
    # sprints / strength exposure
    if wk["sprint_efforts"] == 0:
        put(
            "no_sprints",
            "expected" if (prev is not None and prev["sprint_efforts"] == 0) else "ambiguous",
        )
    if wk["strength"] == 0:
        put(
            "no_strength",
            "expected" if (prev is not None and prev["strength"] == 0) else "ambiguous",
        )
    mono = planted["monotony"]
    if mono is not None and mono > 2.0:
        put("monotony", "expected")
    elif mono is not None and mono >= 1.8:
        put("monotony", "ambiguous")

    not_flags = [c for c in FLAG_CODES if c not in expected and c not in ambiguous]
    risk: list[str] | None
    if any(c in expected for c in ("compact_gait", "asymmetry", "load_spike")):
        risk = ["moderate", "high"]
    elif expected or ambiguous:
        risk = None
    elif week_no <= 4:
        risk = ["insufficient_data", "low"]
    else:
        risk = ["low"] if rd else ["insufficient_data", "low"]
    return {
        "planted": planted,
        "expected_flags": expected,
        "ambiguous_flags": ambiguous,
        "expected_not_flags": not_flags,
        "expected_asymmetry_level": level,
        "expected_risk": risk,
        "expected_missing_data": [] if rd else ["no_running_dynamics", "no_gct_balance"],
    }


def _ewma_acwr(ath_weeks: dict[int, dict[str, Any]]) -> dict[int, float]:
    """EWMA ACWR (Williams et al. 2017, lambda = 2/(N+1), N = 7 and 28 days) of daily running
    minutes, seeded with week 1's mean daily load, read on each week's Sunday."""
    daily: list[float] = []
    for w in sorted(ath_weeks):
        daily.extend(ath_weeks[w]["daily_run_minutes"])
    la, lc = 2 / 8, 2 / 29
    init = float(np.mean(daily[:7]))
    a = c = init
    out: dict[int, float] = {}
    for i, x in enumerate(daily):
        a = la * x + (1 - la) * a
        c = lc * x + (1 - lc) * c
        if i % 7 == 6:
            out[i // 7 + 1] = a / c if c > 0 else math.nan
    return out


def write_sample_data(out: Path, seed: int = 42) -> list[Path]:
    """Write ``out/inbox/**`` and ``out/truth.json``; return the files written."""
    inbox = out / "inbox"
    if inbox.exists():
        shutil.rmtree(inbox)
    inbox.mkdir(parents=True)
    written: list[Path] = []
    truth: dict[str, Any] = {
        "seed": seed,
        "generator": f"python -m synth.generate --out sample_data --seed {seed}",
        "generated_weeks": [A.iso_week_label(w) for w in range(1, A.N_WEEKS + 1)],
        "flag_codes": list(FLAG_CODES),
        "rules": RULES,
        "notes": {
            "weeks": "ISO weeks in the athlete's local time zone; week_no 1 = 2026-W34",
            "compact_onset_week": A.iso_week_label(A.COMPACT_ONSET_WEEK),
            "asymmetry_onset_week": A.iso_week_label(A.ASYM_ONSET_WEEK),
            "spike_week": A.iso_week_label(A.SPIKE_WEEK),
            "files": "activity paths are relative to the sample_data folder; a path inside an "
            "archive continues after the archive name (export.zip/activities/1.fit.gz)",
        },
        "athletes": {},
    }
    for a_idx, ath in enumerate(A.ATHLETES):
        folder = inbox / ath.athlete_id
        folder.mkdir()
        zip_strava: list[tuple[str, bytes]] = []
        zip_garmin: list[tuple[str, bytes]] = []
        activities: list[dict[str, Any]] = []
        weeks: dict[int, dict[str, Any]] = {}
        run_counter = 0
        act_id = 17_000_000_000 + a_idx * 1_000_000
        for week_no in range(1, A.N_WEEKS + 1):
            plan = A.plan_week(ath, week_no, _rng(seed, a_idx, week_no, 999))
            monday = A.week_monday(week_no)
            wk: dict[str, Any] = {
                "runs": 0,
                "run_minutes": 0.0,
                "run_distance_m": 0.0,
                "long_run_m": 0.0,
                "strength": 0,
                "rides": 0,
                "sprint_efforts": 0,
                "daily_minutes": [0.0] * 7,
                "daily_run_minutes": [0.0] * 7,
                "bal_sum": 0.0,
                "bal_w": 0.0,
                "drift_sum": 0.0,
            }
            for s_idx, s in enumerate(plan):
                act = _simulate(ath, s, seed, (a_idx, week_no, s_idx))
                dow = (s.day - monday).days
                timer_min = float(act.timer_s[-1] - act.timer_s[0]) / 60
                wk["daily_minutes"][dow] += timer_min
                if s.kind == "run":
                    wk["runs"] += 1
                    wk["run_minutes"] += timer_min
                    wk["daily_run_minutes"][dow] += timer_min
                    d = float(act.cols["distance_m"][-1])
                    wk["run_distance_m"] += d
                    wk["long_run_m"] = max(wk["long_run_m"], d)
                    wk["sprint_efforts"] += int(act.planted["sprint_efforts"])
                    b = float(s.spec.get("balance_mean_pct", 50.25))
                    wk["bal_sum"] += b * timer_min
                    wk["bal_w"] += timer_min
                    wk["drift_sum"] += float(s.spec.get("balance_drift_pct", 0.0)) * timer_min
                elif s.kind == "strength":
                    wk["strength"] += 1
                else:
                    wk["rides"] += 1
                fmt = _fmt_for(ath, week_no, s.kind, run_counter)
                if s.kind == "run":
                    run_counter += 1
                stamp = act.start.strftime("%Y%m%dT%H%M%SZ")
                base = f"{stamp}_{s.kind}"
                act_id += 1
                if fmt in ("fit", "fit.gz"):
                    data = encode_fit(act)
                    name = f"{base}.fit"
                    if fmt == "fit.gz":
                        data, name = _gzip(data), name + ".gz"
                    (folder / name).write_bytes(data)
                    written.append(folder / name)
                    rel = f"inbox/{ath.athlete_id}/{name}"
                elif fmt == "gpx_garmin":
                    data = encode_gpx(act, "garmin", f"{ath.name.split()[0]} Running")
                    name = f"activity_{act_id}.gpx"
                    (folder / name).write_bytes(data)
                    written.append(folder / name)
                    rel = f"inbox/{ath.athlete_id}/{name}"
                elif fmt == "gpx_strava_gz":
                    data = _gzip(
                        encode_gpx(act, "strava", "Morning Run" if s.hour < 12 else "Evening Run")
                    )
                    name = f"{act_id}.gpx.gz"
                    (folder / name).write_bytes(data)
                    written.append(folder / name)
                    rel = f"inbox/{ath.athlete_id}/{name}"
                elif fmt == "zip_strava":
                    entry = f"activities/{act_id}.fit.gz"
                    zip_strava.append((entry, _gzip(encode_fit(act))))
                    rel = f"inbox/{ath.athlete_id}/export_{ath.athlete_id}.zip/{entry}"
                else:  # zip_garmin: nested zip as in a Garmin Connect data export
                    entry = f"{ath.athlete_id}@example.org_{act_id}.fit"
                    zip_garmin.append((entry, encode_fit(act)))
                    rel = (
                        f"inbox/{ath.athlete_id}/garmin_export_{ath.athlete_id}.zip/"
                        f"DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip/{entry}"
                    )
                activities.append(
                    {
                        "file": rel,
                        "iso_week": A.iso_week_label(week_no),
                        "kind": s.kind,
                        "sport": act.sport,
                        "sub_sport": act.sub_sport,
                        "run_kind": s.run_kind if s.kind == "run" else None,
                        "started_at": act.start.isoformat().replace("+00:00", "Z"),
                        "local_start": f"{s.day.isoformat()}T{s.hour:02d}:{s.minute:02d}",
                        "local_offset_s": act.local_offset_s,
                        "records": int(len(act.ts)),
                        "timer_s": int(act.timer_s[-1] - act.timer_s[0]),
                        "elapsed_s": int(act.ts[-1] - act.ts[0]),
                        "distance_m": round(float(act.cols["distance_m"][-1]), 1)
                        if "distance_m" in act.cols
                        else None,
                        "has_running_dynamics": "stance_time_ms" in act.cols,
                        "format": fmt,
                    }
                )
            wk["balance_weighted"] = wk["bal_sum"] / wk["bal_w"] if wk["bal_w"] else None
            wk["balance_drift"] = wk["drift_sum"] / wk["bal_w"] if wk["bal_w"] else None
            weeks[week_no] = wk
        if zip_strava:
            p = folder / f"export_{ath.athlete_id}.zip"
            p.write_bytes(_zip(zip_strava))
            written.append(p)
        if zip_garmin:
            inner = _zip(zip_garmin)
            p = folder / f"garmin_export_{ath.athlete_id}.zip"
            p.write_bytes(
                _zip([("DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip", inner)])
            )
            written.append(p)
        ewma = _ewma_acwr(weeks)
        week_truth = {
            A.iso_week_label(w): _week_truth(ath, w, weeks, ewma.get(w)) for w in sorted(weeks)
        }
        truth["athletes"][ath.athlete_id] = {
            "role": ath.role,
            "name": ath.name,
            "timezone": ath.timezone,
            "home": {"lat_deg": ath.home_lat, "lon_deg": ath.home_lon},
            "height_m": ath.height_m,
            "max_hr_bpm": ath.hr_max,
            "device": ath.device.name,
            "has_running_dynamics": ath.device.running_dynamics,
            "weeks": week_truth,
            "activities": activities,
        }
    tp = out / "truth.json"
    tp.write_text(json.dumps(truth, indent=1, sort_keys=False) + "\n")
    written.append(tp)
    return written


# --- benchmark backfill --------------------------------------------------------------------


def generate_backfill(
    out_dir: Path | str, n_runs: int = 2000, minutes: int = 60, seed: int = 1, athletes: int = 10
) -> list[Path]:
    """Write ``n_runs`` distinct 1 Hz runs of ``minutes`` each, with running dynamics, for the
    benchmark; return their paths (sorted by run number).

    Layout is the gaitwatch inbox convention, ``out_dir/inbox/<athlete>/<UTC start>_run.fit``,
    over ``athletes`` athletes (``backfill-00`` ...), each with its own watch serial number and
    physiology, one run every other day. Start times (``file_id.time_created``) are distinct
    across all runs, so every file is a different activity.
    """
    out = Path(out_dir) / "inbox"
    base_ath = A.ATHLETES[0]
    dev = Device(
        name="garmin fenix5",
        manufacturer=base_ath.device.manufacturer,
        product=base_ath.device.product,
        running_dynamics=True,
        power=True,
        smart_recording=False,  # 1 Hz: the heaviest case for ingestion
        software_version=24.0,
    )
    t0 = int(datetime(2021, 1, 4, 6, 0, tzinfo=UTC).timestamp())
    people: list[Athlete] = []
    for k in range(athletes):
        r = _rng(seed, 7_000, k)
        people.append(
            Athlete(
                **{
                    **base_ath.__dict__,
                    "athlete_id": f"backfill-{k:02d}",
                    "name": f"Backfill {k:02d}",
                    "role": "backfill",
                    "timezone": "UTC",
                    "device": dev,
                    "serial_number": 3_900_000_000 + k,
                    "home_lat": base_ath.home_lat + float(r.uniform(-0.05, 0.05)),
                    "home_lon": base_ath.home_lon + float(r.uniform(-0.05, 0.05)),
                    "easy_speed": float(r.uniform(2.7, 3.4)),
                    "step_a": float(r.uniform(0.27, 0.33)),
                    "gct_ref_ms": float(r.uniform(235, 265)),
                    "vo_ref_mm": float(r.uniform(75, 95)),
                }
            )
        )
    paths: list[Path] = []
    for i in range(n_runs):
        rng = _rng(seed, 7_777, i)
        ath = people[i % athletes]
        strides = i % 7 == 3
        spec = RunSpec(
            duration_s=minutes * 60,
            kind="strides" if strides else "easy",
            n_strides=6 if strides else 0,
            stops=int(rng.integers(0, 3)),
            auto_pause=bool(rng.uniform() < 0.2),
            balance_mean_pct=float(rng.uniform(49.8, 50.8)),
        )
        # every other day per athlete; athletes k minutes apart, so all starts are distinct
        start = (
            t0 + (i // athletes) * 2 * 86400 + (i % athletes) * 2400 + int(rng.integers(0, 1200))
        )
        act = simulate_run(ath, spec, start, 0, rng, force_1hz=True)
        folder = out / ath.athlete_id
        folder.mkdir(parents=True, exist_ok=True)
        p = folder / f"{act.start:%Y%m%dT%H%M%SZ}_run.fit"
        p.write_bytes(encode_fit(act))
        paths.append(p)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m synth.generate", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--out", type=Path, default=Path("sample_data"), help="output folder")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--backfill",
        type=int,
        default=0,
        metavar="N",
        help="instead of the sample data, write N one-hour runs for the benchmark",
    )
    ap.add_argument("--minutes", type=int, default=60, help="minutes per backfill run")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    if args.backfill:
        paths = generate_backfill(args.out, args.backfill, args.minutes, args.seed)
    else:
        paths = write_sample_data(args.out, args.seed)
    size = sum(p.stat().st_size for p in paths)
    print(
        f"wrote {len(paths)} files, {size / 1e6:.1f} MB to {args.out} in {time.perf_counter() - t:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
