"""The fast FIT path (ingest.fit.fast) against fitparse, on every corpus FIT file.

Identical frames and metadata are required wherever the fast path accepts a file;
where it refuses, ``decoder="auto"`` must fall back to fitparse and give fitparse's
result. The refusals on the corpus are listed here with their reason.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from test_ingest_fit import BAD_FIT_FILES, FIT_FILES, decoded

from ingest.errors import CorruptFileError, IngestError
from ingest.fit import read_fit
from ingest.schema import ParsedActivity

#: corpus files the fast path refuses (auto falls back to fitparse), and why: none today
#: (Moxy's two developer fields of one name and the FR70's compressed_speed_distance once were)
FAST_PATH_REFUSES: dict[str, str] = {}
NON_ACTIVITY = {"edge510-settings.fit", "vivofit-monitoring.fit"}
ALL_FIT = FIT_FILES + BAD_FIT_FILES


def _decode(path: Path, decoder: str) -> list[ParsedActivity] | IngestError:
    return decoded(path, decoder)  # once per file and decoder per test session


def _reference(path: Path) -> list[ParsedActivity] | IngestError:
    return decoded(path, "fitparse")


def assert_same(got: list[ParsedActivity], want: list[ParsedActivity]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.meta == w.meta
        assert_frame_equal(g.samples, w.samples, check_exact=True)
        assert_frame_equal(g.sessions, w.sessions, check_exact=True)
        assert_frame_equal(g.laps, w.laps, check_exact=True)
        assert_frame_equal(g.extras, w.extras, check_exact=True)


@pytest.mark.parametrize("path", FIT_FILES, ids=[p.name for p in FIT_FILES])
def test_fast_path_identical_to_fitparse(path: Path) -> None:
    want = _reference(path)
    got = _decode(path, "fast")
    if path.name in NON_ACTIVITY:
        assert isinstance(want, IngestError) and type(got) is type(want)
        return
    assert not isinstance(want, IngestError)
    if path.name in FAST_PATH_REFUSES:
        assert isinstance(got, CorruptFileError)
        assert FAST_PATH_REFUSES[path.name] in got.reason
        got = _decode(path, "auto")
    assert not isinstance(got, IngestError), got
    assert_same(got, want)


@pytest.mark.parametrize("path", BAD_FIT_FILES, ids=[p.name for p in BAD_FIT_FILES])
def test_auto_gives_fitparse_errors_on_bad_files(path: Path) -> None:
    """Files the fast decoder alone would accept (fitfast reads the Coros file with
    misaligned field sizes) are still rejected, with fitparse's reason."""
    want = _decode(path, "fitparse")
    got = _decode(path, "auto")
    assert isinstance(want, IngestError) and isinstance(got, IngestError)
    assert type(got) is type(want)
    assert got.reason == want.reason


def test_header_crc_zero_files_take_the_fast_path() -> None:
    # fitfast rejects valid files whose header CRC is 0x0000 (FACTS.md); the stored file
    # CRC is translated, so these decode fast (decoder="fast" raises on refusal)
    for name in ("edge810-ride-power.fit", "fr310xt-run-no-cadence.fit"):
        path = next(p for p in FIT_FILES if p.name == name)
        assert path.read_bytes()[12:14] == b"\x00\x00"
        assert read_fit(path.name, path.read_bytes(), decoder="fast")[0].samples.height > 800


def test_translated_crc_still_detects_damage() -> None:
    path = next(p for p in FIT_FILES if p.name == "edge810-ride-power.fit")
    data = bytearray(path.read_bytes())
    data[5000] ^= 0x01  # one flipped bit inside a record
    for decoder in ("fast", "auto"):
        with pytest.raises(CorruptFileError):
            read_fit("flipped.fit", bytes(data), decoder=decoder)  # type: ignore[arg-type]


def test_fast_path_enforces_record_limit_before_decoding() -> None:
    from ingest.errors import ResourceLimitError
    from ingest.limits import Limits

    path = next(p for p in FIT_FILES if p.name == "coros-run-step-length-only.fit")
    with pytest.raises(ResourceLimitError):
        read_fit(path.name, path.read_bytes(), Limits(max_records=1000), decoder="fast")


def test_damage_in_a_chained_file_without_records_is_detected() -> None:
    # regression: the fast path once skipped the CRC check of chained FIT files that hold
    # no record messages (the triathlon's trailing summary file)
    from ingest.fit import split_segments

    path = next(p for p in FIT_FILES if p.name == "fr920xt-triathlon-chained-dynamics.fit")
    data = bytearray(path.read_bytes())
    segments, _ = split_segments(path.name, bytes(data), [])
    assert len(segments) >= 3
    start, end = segments[-1]
    data[(start + end) // 2] ^= 0x40
    for decoder in ("fast", "auto"):
        with pytest.raises(CorruptFileError):
            read_fit("damaged.fit", bytes(data), decoder=decoder)  # type: ignore[arg-type]


SMALL = [p for p in FIT_FILES if p.name in ("fenix5-walk-dynamics.fit", "fenix5-run-dynamics-short.fit")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.sampled_from(SMALL),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=3),
    fix_crc=st.booleans(),
)
def test_fast_and_fitparse_agree_on_damaged_files(
    which: Path, edits: list[tuple[int, int]], fix_crc: bool
) -> None:
    """Property: whatever bytes are damaged, auto and fitparse accept or reject alike
    (same error class) and, when both accept, return the same frames. With the CRC
    re-computed the damage reaches the decoders' structure checks."""
    from fitparse.records import Crc

    data = bytearray(which.read_bytes())
    for pos, value in edits:
        data[pos % len(data)] = value
    if fix_crc:
        data[-2:] = Crc.calculate(bytes(data[:-2])).to_bytes(2, "little")
    results: list[list[ParsedActivity] | IngestError] = []
    for decoder in ("fitparse", "auto"):
        try:
            results.append(read_fit("d.fit", bytes(data), decoder=decoder))  # type: ignore[arg-type]
        except IngestError as exc:
            results.append(exc)
    want, got = results
    if isinstance(want, IngestError):
        assert type(got) is type(want)
    else:
        assert not isinstance(got, IngestError)
        assert_same(got, want)


# ------------------------------------------------------------- summaries with fitfast.parse


def _fit(body: bytes) -> bytes:
    """A FIT file around ``body`` (12-byte header, CRC by fitparse's own Crc)."""
    import struct

    from fitparse.records import Crc

    data = struct.pack("<BBHI4s", 12, 0x10, 2100, len(body), b".FIT") + body
    return data + struct.pack("<H", Crc.calculate(data))


def _definition(local: int, gnum: int, fields: list[tuple[int, int, int]]) -> bytes:
    import struct

    out = bytes([0x40 | local, 0, 0]) + struct.pack("<H", gnum) + bytes([len(fields)])
    return out + b"".join(bytes(f) for f in fields)


def test_fitfast_scales_summary_fields_like_fitparse() -> None:
    """fitfast.parse gives float(raw) / scale for every uint16 raw value of each scale the
    builder reads (fitparse's formula), so only its component expansion is not used."""
    import struct

    import fitfast

    raws = range(0, 65535, 7)
    # session: avg_speed /1000, avg_step_length /10, avg_stance_time_balance /100,
    # total_elapsed_time (uint32) /1000
    body = _definition(0, 18, [(14, 2, 0x84), (134, 2, 0x84), (133, 2, 0x84), (7, 4, 0x86)])
    body += b"".join(b"\x00" + struct.pack("<HHHI", r, r, r, r * 65537) for r in raws)
    msgs = fitfast.parse(_fit(body), enum_names=False)["session"]
    for r, m in zip(raws, msgs, strict=True):
        assert m["avg_speed"] == float(r) / 1000
        assert m["avg_step_length"] == float(r) / 10
        assert m["avg_stance_time_balance"] == float(r) / 100
        assert m["total_elapsed_time"] == float(r * 65537) / 1000


@pytest.mark.parametrize("enhanced_first", [False, True])
def test_summary_speed_and_native_enhanced_speed_as_fitparse(enhanced_first: bool) -> None:
    """A lap writing avg_speed and enhanced_avg_speed (different values): fitparse keeps
    whichever comes later in the definition; the fitfast route must too."""
    import struct

    from ingest.fit import fast as fit_fast
    from ingest.fit.common import Budget as _Budget
    from ingest.fit.reference import decode_segment
    from ingest.limits import DEFAULT_LIMITS

    fields = [(253, 4, 0x86), (2, 4, 0x86), (7, 4, 0x86), (13, 2, 0x84), (110, 4, 0x86), (25, 1, 0)]
    values = [1_000_000_000, 999_999_000, 1_000_000, 3186, 3187, 1]
    if enhanced_first:
        fields[3], fields[4] = fields[4], fields[3]
        values[3], values[4] = values[4], values[3]
    fmt = "<" + "".join({4: "I", 2: "H", 1: "B"}[f[1]] for f in fields)
    body = _definition(0, 19, fields) + b"\x00" + struct.pack(fmt, *values)
    data = _fit(body)
    walk = fit_fast._walk(data, _Budget("t", DEFAULT_LIMITS))
    assert walk.needs_fitparse == ""
    got = fit_fast._summary_from_fitfast(fit_fast._cut_file(data, walk), walk).laps
    want = decode_segment(io.BytesIO(data), _Budget("t", DEFAULT_LIMITS), {}).laps
    assert got[0]["enhanced_avg_speed"] == want[0]["enhanced_avg_speed"] == (3.186 if enhanced_first else 3.187)
    for key in ("timestamp", "start_time", "total_elapsed_time", "avg_speed", "sport"):
        assert got[0][key] == want[0][key]


def test_wrong_base_type_takes_the_fitparse_route() -> None:
    import struct

    from ingest.fit import fast as fit_fast
    from ingest.fit.common import Budget as _Budget
    from ingest.limits import DEFAULT_LIMITS

    # total_distance declared float32: fitfast would read its bits as the profile's uint32
    body = _definition(0, 18, [(9, 4, 0x88)]) + b"\x00" + struct.pack("<f", 1234.5)
    walk = fit_fast._walk(_fit(body), _Budget("t", DEFAULT_LIMITS))
    assert "base type" in walk.needs_fitparse


@given(data=st.binary(max_size=3000))
def test_crc16_equals_fitparse_crc(data: bytes) -> None:
    from fitparse.records import Crc

    from ingest.fit.common import crc16

    assert crc16(data) == Crc.calculate(data)


def test_generated_run_summary_decoded_by_fitfast_identically(tmp_path: Path) -> None:
    """The typical file (synth one-hour-style run, laps with avg and enhanced speed) takes
    the fitfast summary route and still equals fitparse."""
    from ingest.fit import fast as fit_fast
    from ingest.fit.common import Budget as _Budget
    from ingest.limits import DEFAULT_LIMITS
    from synth.generate import generate_backfill

    generate_backfill(tmp_path, n_runs=2, minutes=10, seed=3)
    files = sorted(tmp_path.rglob("*.fit"))
    assert files
    for path in files:
        data = path.read_bytes()
        assert fit_fast._walk(data, _Budget("t", DEFAULT_LIMITS)).needs_fitparse == ""
        assert_same(read_fit(path.name, data, decoder="fast"), read_fit(path.name, data, decoder="fitparse"))


# ------------------------------------------------------------- valid files the fast path takes


def _with_12_byte_header(data: bytes) -> bytes:
    """The same FIT file with a 12-byte header (no header CRC), as older devices write it."""
    from fitparse.records import Crc

    assert data[0] == 14
    out = bytes([12]) + data[1:12] + data[14:-2]
    return out + Crc.calculate(out).to_bytes(2, "little")


def test_12_byte_header_takes_the_fast_path() -> None:
    # fitfast computes the file CRC over header + data here: the stored CRC is valid as it is
    path = next(p for p in FIT_FILES if p.name == "fenix5-run-dynamics-short.fit")
    data = _with_12_byte_header(path.read_bytes())
    assert_same(read_fit("h12.fit", data, decoder="fast"), read_fit("h12.fit", data, decoder="fitparse"))
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0x10
    for decoder in ("fast", "auto"):
        with pytest.raises(CorruptFileError):
            read_fit("h12.fit", bytes(damaged), decoder=decoder)  # type: ignore[arg-type]


def test_misaligned_field_sizes_decode_fast_and_as_the_reference() -> None:
    """COROS event.data declared 1 byte as uint32: both paths decode it as bytes (the FIT
    SDK's rule), keep every record and say so in the warnings."""
    from ingest.fit import decode_path

    path = next(p for p in FIT_FILES if p.name == "coros-pace2-ride-misaligned-field-size.fit")
    got, want = _decode(path, "fast"), _reference(path)
    assert not isinstance(got, IngestError) and not isinstance(want, IngestError)
    assert_same(got, want)
    assert any("not a multiple of its base type" in w and "event.data" in w for w in got[0].meta.warnings)
    assert decode_path(path.name, path.read_bytes()).path == "fast"


def test_decode_path_reports_fallbacks_with_reasons() -> None:
    from ingest.fit import decode_path

    for path in FIT_FILES:
        result = decode_path(path.name, path.read_bytes())
        if path.name in NON_ACTIVITY:
            assert result.path == "none" and result.error and "not an activity" in result.error
        elif path.name in FAST_PATH_REFUSES:
            assert result.path == "reference"
            assert result.fallback and FAST_PATH_REFUSES[path.name] in result.fallback
        else:
            assert result.path == "fast", (path.name, result)


def test_damaged_clock_same_on_both_paths() -> None:
    """Regression (issue #11, found by fuzzing): byte 1981 of fenix5-run-dynamics-short.fit
    set to 253 (CRC recomputed) turns position_long into a second timestamp declared
    sint32. fitparse read it signed (1943-08-21), fitfast as the profile's uint32
    (2079-09-26, then 20 clock-jump "repairs"). Now the fast path hands such definitions
    to the reference, and times before the FIT epoch are not times."""
    from fitparse.records import Crc

    path = next(p for p in FIT_FILES if p.name == "fenix5-run-dynamics-short.fit")
    data = bytearray(path.read_bytes())
    data[1981] = 253
    data[-2:] = Crc.calculate(bytes(data[:-2])).to_bytes(2, "little")
    want = read_fit("d.fit", bytes(data), decoder="fitparse")
    got = read_fit("d.fit", bytes(data), decoder="auto")
    assert_same(got, want)
    # the session's own start (fitparse, undamaged message) is where the records go
    import fitparse

    sessions = fitparse.FitFile(io.BytesIO(bytes(data))).get_messages("session")
    session_start = next(m.get_value("start_time") for m in sessions)
    assert want[0].meta.started_at.replace(tzinfo=None) == session_start
    assert not any("clock jump" in w for w in want[0].meta.warnings)
    with pytest.raises(CorruptFileError, match="defined twice"):
        read_fit("d.fit", bytes(data), decoder="fast")


def test_two_different_developer_fields_of_one_name_both_survive_on_the_fast_path() -> None:
    """Moxy SmO2/THb written as fields 0/2 and 1/3 with the same names: fitfast would
    merge each pair into one column; the fast path renames the later field for fitfast
    (CRC corrected) and both decoders keep both, the second as "<name> #2"."""
    path = next(p for p in FIT_FILES if p.name == "fenix3-run-dynamics-moxy-devfields.fit")
    got, want = _decode(path, "fast"), _reference(path)
    assert not isinstance(got, IngestError) and not isinstance(want, IngestError)
    assert_same(got, want)
    fields = set(got[0].extras["field"].unique())
    for name in ("SmO2 Sensor 0 on Location Not Set", "THb Sensor 0 on Location Not Set"):
        assert {name, f"{name} #2"} <= fields
    data = bytearray(path.read_bytes())
    at = data.find(b"SmO2 Sensor 0 on Location Not Set", data.find(b"SmO2 Sensor 0 on Location Not Set") + 1)
    data[at + 3] ^= 0x01  # damage inside the second description's name: still detected
    with pytest.raises(CorruptFileError):
        read_fit(path.name, bytes(data), decoder="fast")
