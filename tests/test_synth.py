"""The sample-data generator: valid files, summaries consistent with records, ground truth
consistent with the files, byte-identical regeneration.

Files are checked with decoders that are not ours: fitparse (CRC on, every message of a
representative subset), fitparse's own CRC routine and fitfast (every FIT file), gpxpy
(every GPX file). Expected summaries are recomputed here from the decoded records with the
definitions documented in synth/device.py, never taken from the generator.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import struct
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import fitfast
import fitparse
import gpxpy
import numpy as np
import pytest
from fitparse.records import Crc
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.fit_writer import FitWriter, crc16
from synth.generate import generate_backfill, write_sample_data

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
TRUTH_PATH = SAMPLE / "truth.json"
FIT_EPOCH_UNIX = 631065600


def _expand(name: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of every leaf file, looking inside .gz and (nested) .zip."""
    if name.endswith(".gz"):
        yield from _expand(name[:-3], gzip.decompress(data))
    elif name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for entry in zf.namelist():
                yield from _expand(f"{name}/{entry}", zf.read(entry))
    else:
        yield name, data


def _leaves() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for p in sorted((SAMPLE / "inbox").rglob("*")):
        if p.is_file():
            rel = p.relative_to(SAMPLE).as_posix()
            for name, data in _expand(rel, p.read_bytes()):
                out[name] = data
    return out


def _truth_file(rel: str) -> str:
    """truth.json names files as dropped (``x.fit.gz``, ``a.zip/b.fit.gz``); leaves drop ``.gz``."""
    return rel[:-3] if rel.endswith(".gz") else rel


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    if not TRUTH_PATH.is_file():
        pytest.fail(
            "sample_data/truth.json missing: run python -m synth.generate --out sample_data --seed 42"
        )
    return json.loads(TRUTH_PATH.read_text())


@pytest.fixture(scope="module")
def leaves() -> dict[str, bytes]:
    return _leaves()


@pytest.fixture(scope="module")
def activities(truth: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        dict(a, athlete_id=aid) for aid, ath in truth["athletes"].items() for a in ath["activities"]
    ]


# --- truth.json vs files ---------------------------------------------------------------------


def test_truth_lists_exactly_the_files_present(
    truth: dict[str, Any], leaves: dict[str, bytes]
) -> None:
    listed = {
        _truth_file(a["file"]) for ath in truth["athletes"].values() for a in ath["activities"]
    }
    assert listed == set(leaves)
    # every athlete folder holds only that athlete's activities
    for aid, ath in truth["athletes"].items():
        assert all(a["file"].startswith(f"inbox/{aid}/") for a in ath["activities"])


def test_truth_covers_four_athletes_and_fourteen_weeks(truth: dict[str, Any]) -> None:
    weeks = truth["generated_weeks"]
    assert weeks[0] == "2026-W34" and weeks[-1] == "2026-W47" and len(weeks) == 14
    assert {"control", "compact", "asymmetry", "spike"} <= set(truth["athletes"])
    zones = {ath["timezone"] for ath in truth["athletes"].values()}
    assert len(zones) >= 4
    for aid, ath in truth["athletes"].items():
        assert list(ath["weeks"]) == weeks, aid
        runs_per_week = {w: 0 for w in weeks}
        for a in ath["activities"]:
            # iso_week is the local week of the local start
            d = date.fromisoformat(a["local_start"][:10])
            y, w, _ = d.isocalendar()
            assert a["iso_week"] == f"{y}-W{w:02d}"
            if a["kind"] == "run":
                runs_per_week[a["iso_week"]] += 1
        assert all(3 <= n <= 5 for n in runs_per_week.values()), (aid, runs_per_week)
        for w, wk in ath["weeks"].items():
            assert wk["planted"]["runs"] == runs_per_week[w]
            codes = wk["expected_flags"] + wk["ambiguous_flags"] + wk["expected_not_flags"]
            assert sorted(codes) == sorted(truth["flag_codes"]), (aid, w)


def test_truth_expected_flags_follow_the_documented_rules(truth: dict[str, Any]) -> None:
    """Spot-check the stated expectations against the planted numbers, rule by rule."""
    for aid, ath in truth["athletes"].items():
        for w, wk in ath["weeks"].items():
            p = wk["planted"]
            if ath["has_running_dynamics"]:
                bal = p["balance_left_pct"]
                if bal > 52.2:
                    assert "asymmetry" in wk["expected_flags"], (aid, w)
                elif bal <= 50.7:
                    assert "asymmetry" in wk["expected_not_flags"], (aid, w)
            else:
                assert (
                    "asymmetry" in wk["expected_not_flags"]
                    and "compact_gait" in wk["expected_not_flags"]
                )
                assert "no_running_dynamics" in wk["expected_missing_data"]
            if p.get("acwr_rolling") is not None and p["acwr_rolling"] > 1.5:
                assert "load_spike" in wk["expected_flags"], (aid, w)
    control = truth["athletes"]["control"]["weeks"]
    assert all(wk["expected_flags"] == [] for wk in control.values())
    assert "load_spike" in truth["athletes"]["spike"]["weeks"]["2026-W44"]["expected_flags"]
    compact = truth["athletes"]["compact"]["weeks"]
    assert "compact_gait" in compact["2026-W47"]["expected_flags"]
    assert compact["2026-W47"]["planted"]["step_length_change_pct"] <= -8
    asym = truth["athletes"]["asymmetry"]["weeks"]
    assert asym["2026-W47"]["expected_asymmetry_level"] == "high"
    assert asym["2026-W34"]["expected_asymmetry_level"] == "balanced"


# --- FIT validity ----------------------------------------------------------------------------


def test_every_fit_file_has_valid_header_and_file_crc(leaves: dict[str, bytes]) -> None:
    """Header fields and header CRC with fitparse's CRC routine; the file CRC with fitfast,
    which rejects a checksum mismatch (fitparse's pure-Python CRC over all 7 MB is slow;
    it runs on the representative subset below)."""
    fits = {k: v for k, v in leaves.items() if k.endswith(".fit")}
    assert len(fits) > 200
    for name, data in fits.items():
        size, _proto, _profile, data_size, magic = struct.unpack("<BBHI4s", data[:12])
        assert size == 14 and magic == b".FIT", name
        assert len(data) == 14 + data_size + 2, name
        (hcrc,) = struct.unpack("<H", data[12:14])
        assert hcrc == Crc.calculate(data[:12]), name
        fitfast.count(data)  # raises FitDecodeError on a file CRC mismatch


def _records(data: bytes) -> dict[str, np.ndarray]:
    return fitfast.records(data)


def test_every_fit_file_decodes_and_matches_truth(
    activities: list[dict[str, Any]], leaves: dict[str, bytes]
) -> None:
    for a in activities:
        name = _truth_file(a["file"])
        if not name.endswith(".fit"):
            continue
        data = leaves[name]
        msgs = fitfast.parse(data)
        rec = _records(data)
        ts = rec["timestamp"]
        assert len(ts) == a["records"], name
        assert np.all(np.diff(ts) > 0), name
        start = datetime.fromtimestamp(float(ts[0]), tz=UTC).isoformat().replace("+00:00", "Z")
        assert start == a["started_at"], name
        sess = msgs["session"][0]
        assert sess["sport"] == a["sport"] and sess["sub_sport"] == a["sub_sport"], name
        act = msgs["activity"][0]
        assert act["local_timestamp"] - act["timestamp"] == a["local_offset_s"], name
        fid = msgs["file_id"][0]
        assert fid["time_created"] == ts[0], name
        has_rd = "stance_time" in rec and bool(np.any(rec["stance_time"] > 0))
        assert has_rd == a["has_running_dynamics"], name
        if a["kind"] == "run":
            spm = 2 * (rec["cadence"] + rec["fractional_cadence"])
            moving = spm > 0
            assert np.all((spm[moving] >= 60) & (spm[moving] <= 260)), name
            speed = rec.get("enhanced_speed", rec.get("speed"))
            assert speed is not None and float(np.max(speed)) < 10.0
            if has_rd:
                bal = rec["stance_time_balance"][moving]
                assert np.all((bal > 45) & (bal < 60)), name
                sl = rec["step_length"][moving] / 1000
                assert np.all((sl > 0.4) & (sl < 2.6)), name


def _weights(ts: np.ndarray, events: list[dict[str, Any]]) -> np.ndarray:
    """Timer seconds each record stands for: time since the previous record minus any
    timer-stopped wall time in between (device.py's documented definition)."""
    w = np.zeros(len(ts))
    w[1:] = np.diff(ts)
    stops = [
        e["timestamp"] for e in events if e["event"] == "timer" and e["event_type"] == "stop_all"
    ]
    starts = [
        e["timestamp"] for e in events if e["event"] == "timer" and e["event_type"] == "start"
    ]
    for s0 in stops:
        later = [s for s in starts if s > s0]
        if not later:
            continue
        s1 = min(later)
        i = int(np.searchsorted(ts, s1))  # first record after the restart
        if i < len(ts):
            w[i] -= s1 - s0
    return w


def _check_summary(
    summary: dict[str, Any], rec: dict[str, np.ndarray], w: np.ndarray, sport: str, where: str
) -> None:
    ts = rec["timestamp"]
    timer = float(w.sum())
    assert summary["total_timer_time"] == pytest.approx(timer, abs=0.002), where
    assert summary["total_elapsed_time"] == pytest.approx(float(ts[-1] - ts[0]), abs=0.002), where
    hr = rec["heart_rate"]
    assert summary["avg_heart_rate"] == round(float(np.sum(hr * w) / w.sum())), where
    assert summary["max_heart_rate"] == int(hr.max()), where
    if "distance" in rec:
        dist = float(rec["distance"][-1] - rec["distance"][0])
        assert summary["total_distance"] == pytest.approx(dist, abs=0.011), where
        speed = rec["enhanced_speed"] if "enhanced_speed" in rec else rec["speed"]
        assert summary["avg_speed"] == pytest.approx(dist / timer, abs=0.0011), where
        assert summary["max_speed"] == pytest.approx(float(speed.max()), abs=0.0011), where
    if sport == "running":
        strides = float(np.sum(w * (rec["cadence"] + rec["fractional_cadence"])) / 60)
        assert abs(summary["total_cycles"] - strides) <= 0.5 + 1e-6, where
        avg = summary["avg_cadence"] + summary["avg_fractional_cadence"]
        assert avg == pytest.approx(strides * 60 / timer, abs=1 / 256 + 1e-6), where
        for field, avg_field, res in [
            ("step_length", "avg_step_length", 0.1),
            ("stance_time", "avg_stance_time", 0.1),
            ("stance_time_balance", "avg_stance_time_balance", 0.01),
            ("vertical_oscillation", "avg_vertical_oscillation", 0.1),
            ("vertical_ratio", "avg_vertical_ratio", 0.01),
            ("stance_time_percent", "avg_stance_time_percent", 0.01),
        ]:
            if field not in rec:
                assert summary.get(avg_field) is None, (where, avg_field)
                continue
            x = rec[field]
            m = (x > 0) & (w > 0)
            expect = float(np.sum(x[m] * w[m]) / np.sum(w[m]))
            assert summary[avg_field] == pytest.approx(expect, abs=res / 2 + 1e-6), (
                where,
                avg_field,
            )


def _representative(activities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """First activity of every (athlete, kind, format), the last run of each athlete (late-week
    patterns) and one auto-paused run per athlete."""
    picked: dict[str, dict[str, Any]] = {}
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for a in activities:
        if _truth_file(a["file"]).endswith(".fit"):
            groups.setdefault((a["athlete_id"], a["kind"], a["format"]), []).append(a)
    for (_aid, kind, _fmt), group in groups.items():
        for a in (group[0], group[-1]) if kind == "run" and _fmt != "zip_strava" else (group[0],):
            picked[a["file"]] = a
    for aid in {a["athlete_id"] for a in activities}:
        paused = [
            a
            for a in activities
            if a["athlete_id"] == aid
            and a["kind"] == "run"
            and a["elapsed_s"] > a["timer_s"]
            and _truth_file(a["file"]).endswith(".fit")
        ]
        if paused:
            picked[paused[0]["file"]] = paused[0]
    return sorted(picked.values(), key=lambda a: a["file"])


def test_fitparse_reads_representative_files_and_summaries_match_records(
    activities: list[dict[str, Any]], leaves: dict[str, bytes]
) -> None:
    chosen = _representative(activities)
    assert len(chosen) >= 15
    assert any(a["elapsed_s"] > a["timer_s"] for a in chosen)  # an auto-pause is covered
    for a in chosen:
        name = _truth_file(a["file"])
        ff = fitparse.FitFile(leaves[name], check_crc=True)
        msgs: dict[str, list[dict[str, Any]]] = {}
        for m in ff.get_messages():  # every message, CRC checked at the end
            msgs.setdefault(m.name, []).append(m.get_values())
        recs = msgs["record"]
        cols: dict[str, np.ndarray] = {}
        for key in recs[0]:
            vals: list[Any] = [r.get(key) for r in recs]
            if key == "timestamp":
                cols[key] = np.array([v.replace(tzinfo=UTC).timestamp() for v in vals])
            elif all(isinstance(v, (int, float)) for v in vals):
                cols[key] = np.array(vals, dtype=float)
        if "cadence" in cols and a["sport"] == "running" and "fractional_cadence" not in cols:
            cols["fractional_cadence"] = np.zeros(len(recs))
        events = [
            dict(e, timestamp=e["timestamp"].replace(tzinfo=UTC).timestamp()) for e in msgs["event"]
        ]
        w = _weights(cols["timestamp"], events)
        sess = dict(msgs["session"][0])
        # fitparse names the running subfields; map back to the base names
        sess.setdefault("avg_cadence", sess.get("avg_running_cadence"))
        sess.setdefault("total_cycles", sess.get("total_strides"))
        if a["sport"] == "running":
            assert sess["total_cycles"] is not None
        _check_summary(sess, cols, w, a["sport"], name)
        assert sess["total_timer_time"] == pytest.approx(a["timer_s"], abs=0.002)
        laps = msgs["lap"]
        assert sess["num_laps"] == len(laps)
        assert sum(lap["total_timer_time"] for lap in laps) == pytest.approx(
            sess["total_timer_time"], abs=0.01
        )
        if (
            "total_distance" in sess
            and sess["total_distance"] is not None
            and a["kind"] != "strength"
        ):
            assert sum(lap["total_distance"] for lap in laps) == pytest.approx(
                sess["total_distance"], abs=0.05
            )


def test_every_fit_session_matches_its_records(
    activities: list[dict[str, Any]], leaves: dict[str, bytes]
) -> None:
    """All files, decoded with fitfast (an independent Rust decoder)."""
    n = 0
    for a in activities:
        name = _truth_file(a["file"])
        if not name.endswith(".fit"):
            continue
        msgs: dict[str, Any] = fitfast.parse(leaves[name])
        rec = fitfast.records(leaves[name])
        if a["sport"] == "running" and "fractional_cadence" not in rec:
            rec["fractional_cadence"] = np.zeros(len(rec["timestamp"]))
        w = _weights(rec["timestamp"], msgs["event"])
        _check_summary(msgs["session"][0], rec, w, a["sport"], name)
        n += 1
    assert n > 200


# --- GPX ---------------------------------------------------------------------------------------


def test_every_gpx_file_parses_with_gpxpy(
    truth: dict[str, Any], activities: list[dict[str, Any]], leaves: dict[str, bytes]
) -> None:
    gpx_acts = [a for a in activities if _truth_file(a["file"]).endswith(".gpx")]
    assert {a["format"] for a in gpx_acts} == {"gpx_garmin", "gpx_strava_gz"}
    for a in gpx_acts:
        text = leaves[_truth_file(a["file"])].decode("utf-8")
        gpx = gpxpy.parse(text)
        pts = [p for t in gpx.tracks for s in t.segments for p in s.points]
        assert len(pts) == a["records"]
        times = [p.time.timestamp() for p in pts if p.time is not None]
        assert len(times) == len(pts) and all(
            b > a_ for a_, b in zip(times, times[1:], strict=False)
        )
        assert (
            datetime.fromtimestamp(times[0], tz=UTC).isoformat().replace("+00:00", "Z")
            == a["started_at"]
        )
        # per-foot cadence and heart rate in the TrackPointExtension
        ext = pts[len(pts) // 2].extensions[0]
        vals = {child.tag.split("}")[-1]: float(child.text or "nan") for child in ext}
        assert 70 <= vals["cad"] <= 110 and 80 <= vals["hr"] <= 200
        # runs start and end at home (privacy zones matter)
        home = truth["athletes"][a["athlete_id"]]["home"]
        for p in (pts[0], pts[-1]):
            d = math.hypot(
                (p.latitude - home["lat_deg"]) * 111_320,
                (p.longitude - home["lon_deg"]) * 111_320 * math.cos(math.radians(home["lat_deg"])),
            )
            assert d < 40, d


# --- planted patterns are in the files -----------------------------------------------------


def test_planted_patterns_are_visible_in_the_records(
    truth: dict[str, Any], activities: list[dict[str, Any]], leaves: dict[str, bytes]
) -> None:
    per_week: dict[tuple[str, str], dict[str, list[float]]] = {}
    for a in activities:
        name = _truth_file(a["file"])
        if a["kind"] != "run" or not name.endswith(".fit"):
            continue
        rec = fitfast.records(leaves[name])
        wk = per_week.setdefault(
            (a["athlete_id"], a["iso_week"]), {"sl": [], "bal": [], "bal_w": []}
        )
        if a["has_running_dynamics"]:
            v = rec["enhanced_speed"]
            band = (v > 2.9) & (v < 3.3) & (rec["step_length"] > 0)
            wk["sl"].append(float(np.median(rec["step_length"][band])))
            bal = rec["stance_time_balance"]
            wk["bal"].append(float(bal[bal > 0].mean()))
            wk["bal_w"].append(float((bal > 0).sum()))

    def mean_sl(aid: str, weeks: tuple[str, ...]) -> float:
        return float(np.mean([x for w in weeks for x in per_week[(aid, w)]["sl"]]))

    base = mean_sl("compact", ("2026-W34", "2026-W35", "2026-W36"))
    late = mean_sl("compact", ("2026-W47",))
    assert (late - base) / base < -0.07
    ctrl_base = mean_sl("control", ("2026-W37", "2026-W38"))
    ctrl_late = mean_sl("control", ("2026-W46", "2026-W47"))
    assert abs(ctrl_late - ctrl_base) / ctrl_base < 0.02
    for aid in ("control", "asymmetry", "compact"):
        for w, wk in truth["athletes"][aid]["weeks"].items():
            got = per_week.get((aid, w))
            if not got or not got["bal"]:
                continue  # that week's runs are inside an archive (covered by other tests)
            mean = float(np.average(got["bal"], weights=got["bal_w"]))
            assert mean == pytest.approx(wk["planted"]["balance_left_pct"], abs=0.2), (aid, w)
    spike = truth["athletes"]["spike"]["weeks"]
    minutes = {
        w: sum(
            a["timer_s"]
            for a in activities
            if a["athlete_id"] == "spike" and a["kind"] == "run" and a["iso_week"] == w
        )
        / 60
        for w in spike
    }
    prev = [minutes[w] for w in ("2026-W40", "2026-W41", "2026-W42", "2026-W43")]
    assert minutes["2026-W44"] / np.mean(prev) > 2.0


# --- determinism, encoder units, backfill ------------------------------------------------------


def test_regeneration_is_byte_identical(truth: dict[str, Any], tmp_path: Path) -> None:
    write_sample_data(tmp_path, seed=truth["seed"])
    committed = {
        p.relative_to(SAMPLE).as_posix() for p in (SAMPLE / "inbox").rglob("*") if p.is_file()
    }
    fresh = {
        p.relative_to(tmp_path).as_posix() for p in (tmp_path / "inbox").rglob("*") if p.is_file()
    }
    assert fresh == committed
    for rel in sorted(committed) + ["truth.json"]:
        assert (tmp_path / rel).read_bytes() == (SAMPLE / rel).read_bytes(), rel


@pytest.mark.parametrize("n", [0, 1, 13, 255, 256, 1023, 1024, 1025, 4097, 100_003])
def test_crc_matches_fitparse(n: int) -> None:
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    assert crc16(data) == Crc.calculate(data)


def test_missing_values_are_written_as_invalid() -> None:
    w = FitWriter()
    w.message(
        "file_id",
        {"type": 4, "manufacturer": 255, "serial_number": 7, "time_created": 1_000_000_000},
    )
    w.records(
        "record",
        {
            "timestamp": np.array([1e9, 1e9 + 1]),
            "heart_rate": np.array([120.0, np.nan]),
            "step_length": np.array([1050.3, 0.0]),
        },
    )
    recs = [
        m.get_values()
        for m in fitparse.FitFile(w.to_bytes(), check_crc=True).get_messages("record")
    ]
    assert recs[0]["heart_rate"] == 120 and recs[1]["heart_rate"] is None
    assert recs[0]["step_length"] == 1050.3 and recs[1]["step_length"] == 0


def test_backfill_runs_are_distinct_valid_and_deterministic(tmp_path: Path) -> None:
    paths = generate_backfill(tmp_path / "a", n_runs=4, minutes=5, seed=1, athletes=3)
    again = generate_backfill(tmp_path / "b", n_runs=4, minutes=5, seed=1, athletes=3)
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]
    # gaitwatch inbox layout: inbox/<athlete>/<file>
    assert {p.relative_to(tmp_path / "a").parts[:2] for p in paths} == {
        ("inbox", "backfill-00"),
        ("inbox", "backfill-01"),
        ("inbox", "backfill-02"),
    }
    ids = set()
    created = set()
    for p in paths:
        ff = fitparse.FitFile(str(p), check_crc=True)
        fid = next(ff.get_messages("file_id")).get_values()
        ids.add((fid["serial_number"], fid["time_created"]))
        created.add(fid["time_created"])
        recs = [m.get_values() for m in ff.get_messages("record")]
        assert len(recs) == 300  # 5 min at 1 Hz
        assert any(r.get("stance_time_balance") for r in recs)
        assert next(ff.get_messages("session")).get_values()["sport"] == "running"
    assert len(ids) == len(created) == 4


# Record fields, their raw integer ranges (invalid value excluded) and scale/offset, from
# the FIT profile as fitparse ships it (independent of synth's tables).
_ROUNDTRIP_FIELDS = {
    "heart_rate": (0, 254, 1, 0),
    "cadence": (0, 254, 1, 0),
    "fractional_cadence": (0, 254, 128, 0),
    "step_length": (0, 65534, 10, 0),
    "stance_time_balance": (0, 65534, 100, 0),
    "vertical_oscillation": (0, 65534, 10, 0),
    "enhanced_speed": (0, 2**32 - 2, 1000, 0),
    "enhanced_altitude": (0, 2**32 - 2, 5, 500),
    "position_lat": (-(2**31) + 1, 2**31 - 2, 1, 0),
    "temperature": (-128, 126, 1, 0),
    "distance": (0, 2**32 - 2, 100, 0),
}


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {k: st.integers(lo, hi) for k, (lo, hi, _s, _o) in _ROUNDTRIP_FIELDS.items()}
        ),
        min_size=1,
        max_size=4,
    )
)
def test_record_values_round_trip_through_fitparse(rows: list[dict[str, int]]) -> None:
    """Physical values written by the encoder decode to the same values in fitparse."""
    phys = {
        k: np.array([r[k] / s - o for r in rows])
        for k, (_lo, _hi, s, o) in _ROUNDTRIP_FIELDS.items()
    }
    ts = 1_000_000_000 + np.arange(len(rows), dtype=float)
    w = FitWriter()
    w.message(
        "file_id",
        {"type": 4, "manufacturer": 255, "serial_number": 1, "time_created": 1_000_000_000},
    )
    w.records("record", {"timestamp": ts, **phys})
    decoded = [
        m.get_values()
        for m in fitparse.FitFile(w.to_bytes(), check_crc=True).get_messages("record")
    ]
    assert len(decoded) == len(rows)
    for i, d in enumerate(decoded):
        for k, (_lo, _hi, s, o) in _ROUNDTRIP_FIELDS.items():
            expect = rows[i][k] / s - o
            assert d[k] == pytest.approx(expect, rel=1e-12, abs=1e-9), (k, rows[i][k])
