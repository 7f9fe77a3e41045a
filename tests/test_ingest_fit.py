"""FIT reader against the real corpus (../shared/corpus/fit and bad/).

Every corpus file is decoded once per module (fitparse path, the reference); expected
values come from fitparse's raw messages (the FIT SDK's where fitparse itself cannot
decode a file) or from the device's own session summaries, never from ingest.fit itself.
Nothing is decoded at import: a file no library can read fails its own tests only.
"""

from __future__ import annotations

import gzip
import io
from functools import cache
from pathlib import Path

import fitparse
import polars as pl
import pytest
from conftest import corpus_files

from ingest.errors import (
    CorruptFileError,
    EmptyFileError,
    IngestError,
    NotAnActivityError,
    ResourceLimitError,
)
from ingest.fit import read_fit
from ingest.limits import Limits
from ingest.schema import EXTRA_SCHEMA, LAP_SCHEMA, SAMPLE_SCHEMA, SESSION_SCHEMA, ParsedActivity

FIT_FILES = [p for p in corpus_files("fit") if p.suffix.lower() == ".fit"]
BAD_FIT_FILES = [p for p in corpus_files("bad") if p.suffix.lower() == ".fit"]
NON_ACTIVITY = {"edge510-settings.fit", "vivofit-monitoring.fit"}
ACTIVITY_FILES = [p for p in FIT_FILES if p.name not in NON_ACTIVITY]


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


@cache
def decoded(path: Path, decoder: str = "fitparse") -> list[ParsedActivity] | IngestError:
    """read_fit once per file and decoder for the whole test session (also used by
    test_fit_differential)."""
    try:
        return read_fit(path.name, path.read_bytes(), decoder=decoder)  # type: ignore[arg-type]
    except IngestError as exc:
        return exc


def parsed(path: Path) -> list[ParsedActivity]:
    """The fitparse (reference) decoding of a file that must decode."""
    result = decoded(path, "fitparse")
    if isinstance(result, IngestError):
        raise result
    return result


def fit_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix.lower() == ".gz" else data


@cache
def fitparse_messages(path: Path) -> dict[str, list[dict[str, object]]]:
    """The reference: fitparse's own messages, straight from the library; where plain
    fitparse refuses the file (fields whose size is not a multiple of their base type),
    the FIT SDK's (garmin-fit-sdk), which decodes such fields as bytes."""
    from fitparse.utils import FitParseError

    out: dict[str, list[dict[str, object]]] = {}
    try:
        ff = fitparse.FitFile(io.BytesIO(fit_bytes(path)))
        for msg in ff.get_messages(["record", "session", "file_id"]):
            out.setdefault(msg.name, []).append(msg.get_values())
    except FitParseError as exc:
        if "Invalid field size" not in str(exc):
            raise
        return sdk_messages(path)
    return out


@cache
def sdk_messages(path: Path) -> dict[str, list[dict[str, object]]]:
    """The FIT SDK's record, session and file_id messages, keyed like fitparse's."""
    from garmin_fit_sdk import Decoder, Stream

    decoder = Decoder(Stream.from_byte_array(bytearray(fit_bytes(path))))
    messages, errors = decoder.read(convert_datetimes_to_dates=False)
    assert not errors, errors
    return {
        "record": list(messages.get("record_mesgs", [])),
        "session": [dict(m) for m in messages.get("session_mesgs", [])],
        "file_id": list(messages.get("file_id_mesgs", [])),
    }


def one(path: Path) -> ParsedActivity:
    acts = parsed(path)
    assert len(acts) == 1
    return acts[0]


# ---------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("path", ACTIVITY_FILES, ids=_ids(ACTIVITY_FILES))
def test_frames_conform_to_schema(path: Path) -> None:
    for act in parsed(path):
        assert act.samples.schema == pl.Schema(SAMPLE_SCHEMA)
        assert act.sessions.schema == pl.Schema(SESSION_SCHEMA)
        assert act.laps.schema == pl.Schema(LAP_SCHEMA)
        assert act.extras.schema == pl.Schema(EXTRA_SCHEMA)
        assert act.meta.format == "fit"
        assert act.meta.started_at.tzinfo is not None
        assert len(act.meta.sha256) == 64


@pytest.mark.parametrize("path", ACTIVITY_FILES, ids=_ids(ACTIVITY_FILES))
def test_sample_count_equals_fitparse_record_messages(path: Path) -> None:
    # chained files: fitparse reads every chained FIT file in one pass
    expected = len(fitparse_messages(path).get("record", []))
    assert expected > 0
    assert sum(a.samples.height for a in parsed(path)) == expected


@pytest.mark.parametrize("path", ACTIVITY_FILES, ids=_ids(ACTIVITY_FILES))
def test_session_sports_as_the_device_said(path: Path) -> None:
    device = [str(s["sport"]) for s in fitparse_messages(path)["session"]]
    ours = [s for a in parsed(path) for s in a.sessions["sport"].to_list()]
    assert ours == device
    # every sample carries its session's sport
    for act in parsed(path):
        joined = act.samples.join(
            act.sessions.select("session_index", pl.col("sport").alias("session_sport")),
            on="session_index",
            how="left",
        )
        assert (joined["sport"] == joined["session_sport"]).all()


# ---------------------------------------------------------------------------- invariants


@pytest.mark.parametrize("path", ACTIVITY_FILES, ids=_ids(ACTIVITY_FILES))
def test_corpus_invariants(path: Path) -> None:
    for act in parsed(path):
        s = act.samples
        assert s["ts"].null_count() == 0
        assert s["ts"].is_sorted(), "timestamps must be non-decreasing after repair"
        run = s.filter(pl.col("sport") == "running")
        cad = run["cadence_spm"].drop_nulls()
        assert cad.is_empty() or (cad.min() >= 60 and cad.max() <= 260)  # type: ignore[operator]
        bal = s["gct_balance_left_pct"].drop_nulls()
        assert bal.is_empty() or (bal.min() >= 30 and bal.max() <= 70)  # type: ignore[operator]
        # nulls, not zeros, for what the device did not measure
        for col in ("step_length_m", "stance_time_ms", "gct_balance_left_pct", "heart_rate_bpm"):
            assert (s[col] == 0).sum() == 0, col
        lat = s["lat_deg"].drop_nulls()
        assert lat.is_empty() or (lat.abs().max() <= 90)  # type: ignore[operator]


# ---------------------------------------------------------------------------- device summaries


def _running_sessions(path: Path) -> list[int]:
    return [i for i, s in enumerate(fitparse_messages(path)["session"]) if s.get("sport") == "running"]


def _session_samples(path: Path, index: int) -> tuple[pl.DataFrame, dict[str, object]]:
    act = one(path)
    return (
        act.samples.filter(pl.col("session_index") == index),
        fitparse_messages(path)["session"][index],
    )


@pytest.mark.parametrize("path", ACTIVITY_FILES, ids=_ids(ACTIVITY_FILES))
def test_cadence_matches_device_session_average(path: Path) -> None:
    """Devices average cadence one of two ways (FACTS.md): over the records that carry a
    cadence (Suunto, FR70, Stryd) or over the timer time including standing still
    (Garmin with walking breaks / smart recording). Our samples must reproduce the
    device's number one way or the other within 2 %, in every running session."""
    indexes = _running_sessions(path)
    if not indexes:
        pytest.skip("no running session")
    checked = [_check_session_cadence(path, i) for i in indexes]
    if not any(checked):
        pytest.skip("device wrote no session cadence")


def _check_session_cadence(path: Path, index: int) -> bool:
    samples, device = _session_samples(path, index)
    raw = device.get("avg_running_cadence")
    if not raw:
        return False
    device_spm = 2 * (float(raw) + float(device.get("avg_fractional_cadence") or 0.0))  # type: ignore[arg-type]
    cad = samples["cadence_spm"]
    moving_mean = cad.mean()
    dt = samples["ts"].diff().dt.total_seconds(fractional=True).fill_null(0.0).clip(0.0, 10.0)
    steps = (cad.fill_null(0.0) * dt).sum() / 60.0
    timer_rate = steps / float(device["total_timer_time"]) * 60.0  # type: ignore[arg-type]
    assert moving_mean is not None
    best = min(abs(moving_mean - device_spm), abs(timer_rate - device_spm))  # type: ignore[operator]
    assert best <= 0.02 * device_spm, (index, device_spm, moving_mean, timer_rate)
    return True


@pytest.mark.parametrize("path", ACTIVITY_FILES, ids=_ids(ACTIVITY_FILES))
def test_step_length_and_balance_match_device(path: Path) -> None:
    """Step length. Devices average it per record (Coros, newer Garmin) or per step
    (weighted by cadence x time); ours must match one within 2 %. Older Garmin firmware
    (fenix3, 2016) writes session distance / (2 x total_strides) instead: that is the
    device's own arithmetic on its own summary, not comparable to records, so skipped."""
    indexes = _running_sessions(path)
    if not indexes:
        pytest.skip("no running session")
    for index in indexes:
        _check_session_dynamics(path, index)


def _check_session_dynamics(path: Path, index: int) -> None:
    samples, device = _session_samples(path, index)
    dev_sl = device.get("avg_step_length")
    sl = samples["step_length_m"].mean()
    strides = device.get("total_strides")
    dist = device.get("total_distance")
    from_summary = (
        float(dist) / (2 * float(strides)) if dist and strides else None  # type: ignore[arg-type]
    )
    if dev_sl and sl is not None:
        dev_m = float(dev_sl) / 1000.0  # type: ignore[arg-type]
        if from_summary is not None and abs(from_summary - dev_m) <= 0.001 * dev_m:
            pass  # device average derived from distance/strides (see docstring)
        else:
            dt = samples["ts"].diff().dt.total_seconds(fractional=True).fill_null(0.0).clip(0.0, 10.0)
            w = samples["cadence_spm"] * dt
            has = samples["step_length_m"].is_not_null() & w.is_not_null()
            per_step = (samples["step_length_m"] * w).filter(has).sum() / w.filter(has).sum()
            best = min(abs(sl - dev_m), abs(per_step - dev_m))  # type: ignore[operator]
            assert best <= 0.02 * dev_m, (dev_m, sl, per_step)
    dev_bal = device.get("avg_stance_time_balance")
    bal = samples["gct_balance_left_pct"].mean()
    if dev_bal and bal is not None:
        assert abs(bal - float(dev_bal)) <= 0.5  # type: ignore[operator, arg-type]


def test_session_summary_units() -> None:
    # fenix5 run: avg_running_cadence 83 + 0.671875 strides/min -> 167.34 steps/min,
    # avg_step_length 971.7 mm, total_strides 78 (values read with fitparse, see MANIFEST)
    path = next(p for p in FIT_FILES if p.name == "fenix5-run-dynamics-short.fit")
    s = one(path).sessions.row(0, named=True)
    assert s["avg_cadence_spm"] == pytest.approx(2 * (83 + 0.671875))
    assert s["avg_step_length_m"] == pytest.approx(0.9717)
    assert s["avg_gct_balance_left_pct"] == pytest.approx(52.39)
    assert s["total_strides"] == 78


def test_cycling_cadence_is_not_doubled() -> None:
    path = next(p for p in FIT_FILES if p.name == "edge810-ride-power.fit")
    act = one(path)
    raw = [r.get("cadence") for r in fitparse_messages(path)["record"]]
    ours = act.samples["cadence_spm"].to_list()
    assert ours == [None if v is None else float(v) for v in raw]
    assert act.sessions["total_strides"].to_list() == [None]
    assert act.samples["power_w"].drop_nulls().len() > 4000  # native power kept


def test_device_zero_dynamics_become_null() -> None:
    # Coros writes session avg_stance_time_balance = 0 without a sensor
    path = next(p for p in FIT_FILES if p.name == "coros-run-step-length-only.fit")
    s = one(path).sessions.row(0, named=True)
    assert fitparse_messages(path)["session"][0]["avg_stance_time_balance"] == 0
    assert s["avg_gct_balance_left_pct"] is None


# ---------------------------------------------------------------------------- special files


def test_multisport_sessions_split_samples() -> None:
    path = next(p for p in FIT_FILES if p.name == "fenix3-multisport-run-bike-dynamics.fit")
    act = one(path)
    assert act.sessions["sport"].to_list() == ["running", "transition", "cycling", "transition", "running"]
    per_session = act.samples.group_by("session_index").agg(pl.col("sport").first()).sort("session_index")
    assert per_session["sport"].to_list() == act.sessions["sport"].to_list()
    # running dynamics in the cycling session stay, but its cadence is not doubled
    bike = act.samples.filter(pl.col("sport") == "cycling")["cadence_spm"].drop_nulls()
    assert bike.max() < 130  # type: ignore[operator]
    assert act.meta.sport == "cycling"  # the longest session


def test_chained_triathlon_read_fully() -> None:
    path = next(p for p in FIT_FILES if p.name == "fr920xt-triathlon-chained-dynamics.fit")
    data = path.read_bytes()
    first_file_len = data[0] + int.from_bytes(data[4:8], "little") + 2
    assert first_file_len < len(data)  # really chained
    acts = parsed(path)
    assert len(acts) == 1  # one triathlon
    assert acts[0].sessions["sport"].to_list() == ["swimming", "transition", "cycling", "transition", "running"]
    last = acts[0].samples["ts"].max()
    assert last is not None and acts[0].samples.filter(pl.col("sport") == "running").height > 500


def test_timestamp_jump_repaired_and_reported() -> None:
    path = next(p for p in FIT_FILES if p.name == "fr225-run-timestamp-jump.fit")
    act = one(path)
    ts = act.samples["ts"]
    span = (ts.max() - ts.min()).total_seconds()  # type: ignore[operator, union-attr]
    elapsed = float(fitparse_messages(path)["session"][0]["total_elapsed_time"])  # type: ignore[arg-type]
    assert span <= elapsed  # 20 days before repair
    assert any("clock jump" in w for w in act.meta.warnings)


def test_compressed_timestamps() -> None:
    path = next(p for p in FIT_FILES if p.name == "fr70-run-footpod-compressed-timestamps.fit")
    act = one(path)
    assert act.samples["ts"].n_unique() > 700
    assert act.samples["ts"].is_sorted()


def test_developer_fields_kept_and_power_not_double_counted() -> None:
    path = next(p for p in FIT_FILES if p.name == "fr920xt-run-stryd-devfields-only.fit")
    act = one(path)
    fields = set(act.extras["field"].unique())
    assert {"Power", "Cadence", "Ground Time", "Vertical Oscillation"} <= fields
    # power from the Stryd developer field (no native power), said in warnings
    assert act.samples["power_w"].drop_nulls().len() > 1000
    assert any("developer field 'Power'" in w for w in act.meta.warnings)
    # cadence from the native field only: the developer "Cadence" (spm) stays in extras
    native = [r.get("cadence") for r in fitparse_messages(path)["record"]]
    frac = [r.get("fractional_cadence") or 0 for r in fitparse_messages(path)["record"]]
    expected = [None if not c else 2 * (c + f) for c, f in zip(native, frac, strict=True)]  # type: ignore[operator]
    assert act.samples["cadence_spm"].to_list() == pytest.approx(expected, nan_ok=True)


def test_native_power_preferred() -> None:
    path = next(p for p in FIT_FILES if p.name == "stryd-recorded-run-devfields.fit")
    act = one(path)
    native = [r.get("power") for r in fitparse_messages(path)["record"]]
    assert act.samples["power_w"].to_list() == [None if v is None else float(v) for v in native]
    assert not any("developer field" in w for w in act.meta.warnings)


def test_file_id_meta() -> None:
    path = next(p for p in FIT_FILES if p.name == "fenix5-run-dynamics-short.fit")
    meta = one(path).meta
    fid = fitparse_messages(path)["file_id"][0]
    assert meta.serial_number == fid["serial_number"]
    assert meta.manufacturer == "garmin" and meta.product == "fenix5"
    assert meta.time_created is not None
    assert meta.time_created.replace(tzinfo=None) == fid["time_created"]
    assert meta.local_offset_s == -7 * 3600  # California summer time


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize("path", BAD_FIT_FILES, ids=_ids(BAD_FIT_FILES))
@pytest.mark.parametrize("decoder", ["fitparse", "auto"])
def test_bad_files_raise_our_errors(path: Path, decoder: str) -> None:
    err = decoded(path, decoder)
    assert isinstance(err, CorruptFileError)  # EmptyFileError is one
    assert err.reason and "\n" not in err.one_line()
    assert err.source == path.name


def test_empty_file() -> None:
    with pytest.raises(EmptyFileError):
        read_fit("x.fit", b"")


@pytest.mark.parametrize("name", sorted(NON_ACTIVITY))
def test_non_activity_files_are_skipped(name: str) -> None:
    path = next(p for p in FIT_FILES if p.name == name)
    with pytest.raises(NotAnActivityError) as info:
        read_fit(path.name, path.read_bytes())
    assert "not an activity" in info.value.reason
    assert info.value.status == "skipped"


def test_record_limit() -> None:
    path = next(p for p in FIT_FILES if p.name == "fr630-run-dynamics.fit")
    with pytest.raises(ResourceLimitError):
        read_fit(path.name, path.read_bytes(), Limits(max_records=100), decoder="fitparse")


def test_decode_timeout() -> None:
    path = next(p for p in FIT_FILES if p.name == "coros-run-step-length-only.fit")
    with pytest.raises(ResourceLimitError):
        read_fit(path.name, path.read_bytes(), Limits(decode_timeout_s=0.0), decoder="fitparse")


def test_header_claiming_huge_size_is_truncation_not_allocation() -> None:
    path = next(p for p in FIT_FILES if p.name == "fenix5-run-dynamics-short.fit")
    data = bytearray(path.read_bytes())
    data[4:8] = (0xFFFFFFF0).to_bytes(4, "little")
    with pytest.raises(CorruptFileError) as info:
        read_fit("huge.fit", bytes(data))
    assert "truncated" in info.value.reason or "checksum" in info.value.reason


def test_truncated_copies_of_a_good_file_always_raise_our_error() -> None:
    path = next(p for p in FIT_FILES if p.name == "fenix5-walk-dynamics.fit")
    data = path.read_bytes()
    for cut in range(1, len(data), 97):
        for decoder in ("fitparse", "auto"):
            with pytest.raises(IngestError):
                read_fit("cut.fit", data[:cut], decoder=decoder)  # type: ignore[arg-type]
