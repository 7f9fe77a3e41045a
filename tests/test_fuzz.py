"""Fuzzing the single entry point with mutated real files and random bytes.

The only acceptable outcomes of ``read_bytes`` / ``iter_bytes`` are activities whose
frames conform exactly to the schemas, or an :class:`IngestError` subclass. Anything
else (another exception, a hang, a reason that names a gaitwatch bug, ``ingest.reader.READER_BUG``) is a
bug: the input is saved under ``test-artifacts/fuzz-failures/`` (with a ``.recipe.json``
when it is a mutated corpus file) and, once fixed, belongs in ``tests/regressions/``,
which :func:`test_regression_replay` replays on every run.

In the suite the cases are fixed: hypothesis runs from the derandomized ``gaitwatch``
profile (tests/conftest.py), so every run tries the same ``GAITWATCH_FUZZ_CASES``
mutated cases (default 600, plus a third as many random ones). Open-ended fuzzing, new
inputs every run within a time budget, is ``make fuzz`` (bench/fuzz_long.py).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import struct
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from conftest import ARTIFACTS, CORPUS, corpus_missing_reason
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import iter_bytes, read_bytes
from ingest.errors import IngestError
from ingest.fit import read_fit
from ingest.reader import READER_BUG
from ingest.schema import EXTRA_SCHEMA, LAP_SCHEMA, SAMPLE_SCHEMA, SESSION_SCHEMA, ParsedActivity

# Seeds come from the corpus, but the plain regression files do not: without the corpus
# only the tests that need it skip (conftest skips whole modules otherwise).
HANDLES_MISSING_CORPUS = True

REGRESSIONS = Path(__file__).parent / "regressions"
# A hang detector, not a speed limit: far above any case's time even on a loaded 2-core
# machine (milliseconds to a few seconds), far below "for ever".
CASE_TIMEOUT_S = float(os.environ.get("GAITWATCH_FUZZ_CASE_TIMEOUT", "120"))
# cases per run of the normal suite (mutated real files, random bytes); 20-30 s on 2 cores
MUTATION_CASES = int(os.environ.get("GAITWATCH_FUZZ_CASES", "600"))
RANDOM_CASES = max(1, MUTATION_CASES // 3)

SMALL_FIT = [
    "fit/fenix5-run-dynamics-short.fit",
    "fit/fenix5-walk-dynamics.fit",
    "fit/fenix5-bike-short.fit",
    "fit/fr70-run-footpod-compressed-timestamps.fit",
    "fit/edge510-settings.fit",
    "fit/vivofit-monitoring.fit",
    "bad/bad-crc-chained-second-file.fit",
    "bad/bad-header-chained-settings.fit",
    "bad/truncated-chained-settings-nodata.fit",
]
HEAD_OF_LARGE_FIT = ["fit/fr920xt-triathlon-chained-dynamics.fit", "fit/fenix3-multisport-run-bike-dynamics.fit"]
GPX_SEEDS = [
    "gpx/garmin-connect-run-ns3-cad-hr-short.gpx",
    "gpx/movescount-run-gpxdata-cadence-hr.gpx",
    "gpx/holux-ride-bare-bpm-rpm-ext.gpx",
    "gpx/urbanbiker-ride-tpx-cad-hr-power.gpx",
    "gpx/runkeeper-ride-hr-negative-time-step.gpx",
    "gpx/route-only.gpx",
    "gpx/strava-metadata-only.gpx",
    "bad/etrex30-trkpt-missing-latlon.gpx",
]

WEIRD_TEXT = [
    "", "NaN", "inf", "-inf", "1e400", "-0", "99999999999999999999999", "0x1F", "  7  ", "-5",
    "2024-13-45T25:61:61Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1970-01-01T00:00:00+14:00",
    "&amp;", "\u202e", "<", "]]>", "Running", "9", "Biking", "Other",
]


def _shorten_gpx(data: bytes, keep: int = 25) -> bytes:
    """First ``keep`` track points of a GPX, closed properly (keeps fuzz cases small)."""
    text = data.decode("utf-8-sig")
    ends = [m.end() for m in re.finditer(r"</trkpt>", text)]
    if len(ends) <= keep:
        return data
    return (text[: ends[keep - 1]] + "</trkseg></trk></gpx>").encode("utf-8")


def _tcx_seed() -> bytes:
    pts = "".join(
        f"<Trackpoint><Time>2024-04-02T17:30:{i:02d}.000Z</Time><Position><LatitudeDegrees>{52 + i * 3e-5:.6f}"
        f"</LatitudeDegrees><LongitudeDegrees>13.4</LongitudeDegrees></Position><AltitudeMeters>35</AltitudeMeters>"
        f"<DistanceMeters>{i * 3.1:.1f}</DistanceMeters><HeartRateBpm><Value>{140 + i}</Value></HeartRateBpm>"
        f"<Extensions><ns3:TPX><ns3:Speed>3.1</ns3:Speed><ns3:RunCadence>87</ns3:RunCadence></ns3:TPX>"
        f"</Extensions></Trackpoint>"
        for i in range(20)
    )
    return (
        '  <?xml version="1.0" encoding="UTF-8"?><TrainingCenterDatabase '
        'xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2" '
        'xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2"><Activities><Activity Sport="Running">'
        '<Id>2024-04-02T17:30:00.000Z</Id><Lap StartTime="2024-04-02T17:30:00.000Z"><TotalTimeSeconds>19'
        "</TotalTimeSeconds><DistanceMeters>59</DistanceMeters><Calories>5</Calories><Track>"
        f"{pts}</Track><Extensions><ns3:LX><ns3:AvgRunCadence>87</ns3:AvgRunCadence></ns3:LX></Extensions></Lap>"
        "<Creator><Name>Forerunner</Name></Creator></Activity></Activities></TrainingCenterDatabase>"
    ).encode()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, v in members.items():
            zf.writestr(k, v)
    return buf.getvalue()


def load_seeds() -> list[tuple[str, bytes]]:
    if not CORPUS.is_dir():
        return []
    seeds: list[tuple[str, bytes]] = []
    for rel in SMALL_FIT:
        seeds.append((rel, (CORPUS / rel).read_bytes()))
    for rel in HEAD_OF_LARGE_FIT:
        seeds.append((rel, (CORPUS / rel).read_bytes()[:6000]))
    for rel in GPX_SEEDS:
        seeds.append((rel, _shorten_gpx((CORPUS / rel).read_bytes())))
    seeds.append(("constructed.tcx", _tcx_seed()))
    gpx = seeds[len(SMALL_FIT) + len(HEAD_OF_LARGE_FIT)][1]
    fit = seeds[0][1]
    seeds.append(("run.gpx.gz", gzip.compress(gpx)))
    seeds.append(("run.fit.gz", gzip.compress(fit)))
    seeds.append(("export.zip", _zip({"activities/1.fit.gz": gzip.compress(fit), "activities/2.gpx": gpx,
                                      "activities.csv": b"id\n1\n"})))
    return seeds


SEEDS = load_seeds()


# --------------------------------------------------------------------------- checking one case


@dataclass
class Outcome:
    kind: str  # "activities" | "typed_error" (both acceptable) | "bug" | "hang"
    detail: str = ""


def check_activity(act: ParsedActivity) -> None:
    assert isinstance(act, ParsedActivity)
    assert act.samples.schema == pl.Schema(SAMPLE_SCHEMA)
    assert act.sessions.schema == pl.Schema(SESSION_SCHEMA)
    assert act.laps.schema == pl.Schema(LAP_SCHEMA)
    assert act.extras.schema == pl.Schema(EXTRA_SCHEMA)
    assert act.meta.started_at.tzinfo is not None
    assert act.meta.format in ("fit", "gpx", "tcx")


def _run(name: str, data: bytes) -> tuple[str, str]:
    kind, detail = "activities", ""
    try:
        acts = read_bytes(name, data)
        assert isinstance(acts, list) and acts
        for a in acts:
            check_activity(a)
    except IngestError as exc:
        kind, detail = "typed_error", f"{type(exc).__name__}: {exc.reason}"
        assert isinstance(exc.reason, str) and exc.reason
        if READER_BUG in exc.reason:
            raise AssertionError(f"reader bug surfaced as {exc.one_line()}") from exc
    # archives: every leaf result must be ok-and-conforming or carry a typed error
    if data[:2] == b"\x1f\x8b" or data[:2] == b"PK":
        for r in iter_bytes(name, data):
            assert (r.error is None) == bool(r.activities)
            if r.error is not None:
                assert READER_BUG not in r.error.reason, (
                    r.error.one_line()
                )
            for a in r.activities:
                check_activity(a)
    return kind, detail


def run_case(name: str, data: bytes, timeout_s: float = CASE_TIMEOUT_S) -> Outcome:
    """Run one input in a worker thread with a wall-clock bound."""
    box: dict[str, BaseException | tuple[str, str] | None] = {"exc": None, "result": None}

    def target() -> None:
        try:
            box["result"] = _run(name, data)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            box["exc"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout_s)
    if t.is_alive():
        return Outcome("hang", f"no result within {timeout_s:g} s")
    exc, result = box["exc"], box["result"]
    if isinstance(result, tuple):
        return Outcome(*result)
    return Outcome("bug", f"{type(exc).__name__}: {exc}")


def save_failure(name: str, data: bytes, outcome: Outcome, recipe: dict[str, object] | None = None,
                 out: Path | None = None) -> Path:
    """Keep a failing input: its bytes, a ``.txt`` saying what happened and, for a
    mutated corpus file, a ``.recipe.json`` that rebuilds it from the corpus (the form
    to copy into tests/regressions/: no corpus bytes in the repository)."""
    out = out or ARTIFACTS / "fuzz-failures"
    out.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()[:16]
    suffix = "".join(Path(name).suffixes) or ".bin"
    path = out / f"{digest}{suffix}"
    path.write_bytes(data)
    path.with_suffix(path.suffix + ".txt").write_text(f"{name}\n{outcome.kind}: {outcome.detail}\n")
    if recipe is not None:
        recipe = {**recipe, "found": f"{outcome.kind}: {outcome.detail[:300]}"}
        (out / f"{digest}.recipe.json").write_text(json.dumps(recipe, indent=1) + "\n")
    return path


# --------------------------------------------------------------------------- recipes


def encode_ops(ops: list[tuple], seeds: list[tuple[str, bytes]]) -> list[list[object]]:  # type: ignore[type-arg]
    """Mutation ops as JSON: bytes as {"hex": ...}, spliced seeds by name, not index."""
    out: list[list[object]] = []
    for op in ops:
        items: list[object] = [{"hex": x.hex()} if isinstance(x, bytes) else x for x in op]
        if op[0] == "splice" and seeds:
            items[1] = seeds[op[1] % len(seeds)][0]
        out.append(items)
    return out


def decode_ops(ops: list[list[object]]) -> list[tuple]:  # type: ignore[type-arg]
    return [tuple(bytes.fromhex(x["hex"]) if isinstance(x, dict) else x for x in op) for op in ops]


def make_recipe(seed_name: str, ops: list[tuple], fix: bool,  # type: ignore[type-arg]
                seeds: list[tuple[str, bytes]]) -> dict[str, object]:
    return {"seed": seed_name, "ops": encode_ops(ops, seeds), "fix_fit": fix}


def build_from_recipe(recipe: dict[str, object], seeds: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    """(name, bytes) of a recipe: a fuzz seed (a corpus file, shortened as the fuzzer
    shortens it) with the recorded mutations applied, then made self-consistent again."""
    by_name = dict(seeds)
    seed = str(recipe["seed"])
    data = mutate(by_name[seed], decode_ops(recipe.get("ops", [])), seeds)  # type: ignore[arg-type]
    if recipe.get("fix_fit"):
        data = fix_fit(data)
    return Path(seed).name, data


# --------------------------------------------------------------------------- mutations

POS = st.integers(min_value=0, max_value=2**31 - 1)
MUTATION = st.one_of(
    st.tuples(st.just("flip"), POS, st.integers(0, 7)),
    st.tuples(st.just("set"), POS, st.integers(0, 255)),
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
    st.tuples(st.just("delete"), POS, st.integers(1, 128)),
    st.tuples(st.just("insert"), POS, st.binary(min_size=1, max_size=32)),
    st.tuples(st.just("repeat"), POS, st.integers(1, 200), st.integers(2, 40)),
    st.tuples(st.just("splice"), st.integers(0, 10_000), st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
    st.tuples(st.just("fit_header"), st.sampled_from([0, 1, 2, 4, 8, 12]), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("xml_text"), POS, st.sampled_from(WEIRD_TEXT)),
    st.tuples(st.just("xml_attr"), POS, st.sampled_from(WEIRD_TEXT)),
    st.tuples(st.just("dup_element"), POS, POS),
    st.tuples(st.just("drop_tag"), POS),
)

# structure-aware: keeps XML well-formed (mostly), so the GPX/TCX readers themselves are exercised
XML_MUTATION = st.one_of(
    st.tuples(st.just("xml_text"), POS, st.sampled_from(WEIRD_TEXT)),
    st.tuples(st.just("xml_attr"), POS, st.sampled_from(WEIRD_TEXT)),
    st.tuples(st.just("dup_element"), POS, POS),
)

_ELEMENT = re.compile(rb"<(trkpt|Trackpoint|Lap|trkseg|trk|extensions|Extensions)\b.*?</\1>", re.S)


def mutate(data: bytes, ops: list[tuple], seeds: list[tuple[str, bytes]]) -> bytes:  # type: ignore[type-arg]
    buf = bytearray(data)
    for op in ops:
        kind = op[0]
        n = len(buf)
        if kind == "flip" and n:
            buf[op[1] % n] ^= 1 << op[2]
        elif kind == "set" and n:
            buf[op[1] % n] = op[2]
        elif kind == "truncate":
            del buf[int(n * op[1]) :]
        elif kind == "delete" and n:
            p = op[1] % n
            del buf[p : p + op[2]]
        elif kind == "insert":
            p = op[1] % (n + 1)
            buf[p:p] = op[2]
        elif kind == "repeat" and n:
            p = op[1] % n
            chunk = bytes(buf[p : p + op[2]])
            buf[p:p] = chunk * op[3]
        elif kind == "splice" and seeds:
            # recipes name the seed; hypothesis and fuzz_long draw an index
            other = dict(seeds)[op[1]] if isinstance(op[1], str) else seeds[op[1] % len(seeds)][1]
            a, b = int(n * op[2]), int(len(other) * op[3])
            buf = buf[:a] + bytearray(other[b:])
        elif kind == "fit_header" and n >= 14:
            field, value = op[1], op[2]
            if field in (0, 1):
                buf[field] = value & 0xFF
            elif field in (2, 12):
                struct.pack_into("<H", buf, field, value & 0xFFFF)
            elif field in (4, 8):
                struct.pack_into("<I", buf, field, value)
        elif kind == "xml_attr" and n:
            attrs = [m.span(1) for m in re.finditer(rb'=\s*"([^"]{0,40})"', bytes(buf))]
            if attrs:
                s, e = attrs[op[1] % len(attrs)]
                buf[s:e] = op[2].encode("utf-8")
        elif kind == "dup_element" and n:
            # copy one point/lap/segment element elsewhere: out-of-order times, duplicates
            blocks = [m.span() for m in _ELEMENT.finditer(bytes(buf))]
            if blocks:
                s, e = blocks[op[1] % len(blocks)]
                block = bytes(buf[s:e])
                t = blocks[op[2] % len(blocks)][0]
                buf[t:t] = block
        elif kind == "drop_tag" and n:
            tags = [m.span() for m in re.finditer(rb"</?[A-Za-z][^<>]{0,60}>", bytes(buf))]
            if tags:
                s, e = tags[op[1] % len(tags)]
                del buf[s:e]
        elif kind == "xml_text" and n:
            # replace the text of the n-th element that has plain text content
            texts = [m.span(1) for m in re.finditer(rb">([^<>]{1,40})<", bytes(buf))]
            if texts:
                s, e = texts[op[1] % len(texts)]
                buf[s:e] = op[2].encode("utf-8")
    return bytes(buf)


_FIT_CRC_TABLE = (0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
                  0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400)


def fit_crc(data: bytes) -> int:
    """CRC-16 of the FIT SDK (nibble table), as written in FIT headers and footers."""
    crc = 0
    for byte in data:
        tmp = _FIT_CRC_TABLE[crc & 0xF]
        crc = ((crc >> 4) & 0x0FFF) ^ tmp ^ _FIT_CRC_TABLE[byte & 0xF]
        tmp = _FIT_CRC_TABLE[crc & 0xF]
        crc = ((crc >> 4) & 0x0FFF) ^ tmp ^ _FIT_CRC_TABLE[(byte >> 4) & 0xF]
    return crc


def fix_fit(data: bytes) -> bytes:
    """Make a mutated FIT file self-consistent again (data size, header and file CRC),
    so the decoder gets past the checksums and into the mutated messages."""
    if len(data) < 16 or data[8:12] != b".FIT" or data[0] not in (12, 14):
        return data
    buf = bytearray(data)
    hs = buf[0]
    struct.pack_into("<I", buf, 4, len(buf) - hs - 2)
    if hs == 14:
        struct.pack_into("<H", buf, 12, fit_crc(bytes(buf[:12])))
    struct.pack_into("<H", buf, len(buf) - 2, fit_crc(bytes(buf[:-2])))
    return bytes(buf)


CASES = {"tried": 0, "activities": 0, "typed_error": 0}


def fuzz_mutations(seed: int, ops: list[tuple], fix: bool) -> None:  # type: ignore[type-arg]
    """One mutated real file; fails the test on a bug or hang (input saved)."""
    name, base = SEEDS[seed]
    data = mutate(base, ops, SEEDS)
    if fix:
        data = fix_fit(data)
    CASES["tried"] += 1
    outcome = run_case(name, data)
    CASES[outcome.kind] = CASES.get(outcome.kind, 0) + 1
    if outcome.kind in ("hang", "bug"):
        path = save_failure(name, data, outcome, make_recipe(name, ops, fix, SEEDS))
        pytest.fail(f"{outcome.kind} on mutated {name}: {outcome.detail} (input saved to {path})")


MUTATION_ARGS = {
    "seed": st.integers(0, max(len(SEEDS) - 1, 0)),
    "ops": st.one_of(st.lists(MUTATION, min_size=1, max_size=4), st.lists(XML_MUTATION, min_size=1, max_size=6)),
    "fix": st.booleans(),
}
RANDOM_ARGS = {
    "prefix": st.sampled_from([b"", b"\x0e\x10\x00\x00\x00\x00\x00\x00.FIT", b"\x1f\x8b\x08\x00", b"PK\x03\x04",
                               b"<gpx>", b"<?xml version='1.0'?><TrainingCenterDatabase>", b"\xef\xbb\xbf<gpx "]),
    "body": st.binary(max_size=2048),
    "name": st.sampled_from(["x.fit", "x.gpx", "x.tcx", "x.gz", "x.zip", "x"]),
}


def fuzz_random(prefix: bytes, body: bytes, name: str) -> None:
    """Random bytes behind a format's magic; fails the test on a bug or hang."""
    data = prefix + body
    CASES["tried"] += 1
    outcome = run_case(name, data)
    CASES[outcome.kind] = CASES.get(outcome.kind, 0) + 1
    if outcome.kind in ("hang", "bug"):
        path = save_failure(name, data, outcome)
        pytest.fail(f"{outcome.kind} on random {name}: {outcome.detail} (input saved to {path})")


def run_fuzz(mutation_cases: int, random_cases: int) -> tuple[int, int, float]:
    """Run both fuzzers through hypothesis; returns (mutated, random, seconds)."""
    common = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck), "print_blob": True}
    start = time.monotonic()
    CASES.update(tried=0, activities=0, typed_error=0)
    settings(max_examples=mutation_cases, **common)(given(**MUTATION_ARGS)(fuzz_mutations))()  # type: ignore[arg-type]
    mutated = CASES["tried"]
    settings(max_examples=random_cases, **common)(given(**RANDOM_ARGS)(fuzz_random))()  # type: ignore[arg-type]
    return mutated, CASES["tried"] - mutated, time.monotonic() - start


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_fuzz_read_bytes() -> None:
    """Mutated real files and random bytes behind format magics: typed errors only.

    The same cases every run (fixed-seed profile); ``make fuzz`` explores new ones."""
    if not SEEDS:
        pytest.skip(corpus_missing_reason() or "no fuzz seeds")
    mutated, random_, _ = run_fuzz(MUTATION_CASES, RANDOM_CASES)
    assert mutated > 50, "fuzz budget too small to mean anything"
    assert random_ > 0
    # both outcomes occur, so the acceptance rule is exercised on each side
    assert CASES["activities"] > 0 and CASES["typed_error"] > 0, CASES


# --------------------------------------------------------------------------- regressions
#
# tests/regressions/ holds every input that once broke a reader: plain files, replayed
# as they are, and ``*.recipe.json`` files that rebuild a damaged corpus file at test
# time. ``expected.json`` adds, per entry, what the outcome must say beyond "typed
# error or conforming activities" (a reason in words, decoders that agree).

EXPECTED_FILE = REGRESSIONS / "expected.json"


def regression_entries() -> list[Path]:
    skip = {"README.md", EXPECTED_FILE.name}
    return sorted(p for p in REGRESSIONS.iterdir() if p.is_file() and p.name not in skip and p.suffix != ".txt")


def _regression_param(path: Path) -> object:
    return pytest.param(path, id=path.name)


def start_times(name: str, data: bytes, decoder: str) -> list[str] | str:
    """Start time of every activity one FIT decoder finds, or its typed error's reason."""
    try:
        acts = read_fit(name, data, decoder=decoder)  # type: ignore[arg-type]
    except IngestError as exc:
        return f"typed error: {exc.reason}"
    return [a.meta.started_at.isoformat() for a in acts]


def test_regressions_folder_is_not_empty() -> None:
    assert regression_entries(), "tests/regressions/ should hold the inputs found by fuzzing"
    expected = json.loads(EXPECTED_FILE.read_text())
    names = {p.name for p in regression_entries()}
    assert set(expected) <= names, f"expected.json names missing entries: {set(expected) - names}"


@pytest.mark.parametrize("path", [_regression_param(p) for p in regression_entries()])
def test_regression_replay(path: Path) -> None:
    """Every input fuzzing ever broke us with, replayed through both entry points."""
    expect: dict[str, str] = json.loads(EXPECTED_FILE.read_text()).get(path.name, {})
    if path.name.endswith(".recipe.json"):
        reason = corpus_missing_reason()
        if reason is not None or not SEEDS:
            pytest.skip(reason or "no fuzz seeds")
        name, data = build_from_recipe(json.loads(path.read_text()), SEEDS)
    else:
        name, data = path.name, path.read_bytes()
    outcome = run_case(name, data)
    assert outcome.kind in ("activities", "typed_error"), f"{path.name}: {outcome.kind}: {outcome.detail}"
    if "outcome" in expect:
        assert outcome.kind == expect["outcome"], f"{path.name}: {outcome.kind}: {outcome.detail}"
    if "reason_contains" in expect:
        assert expect["reason_contains"] in outcome.detail, outcome.detail
    if expect.get("fit_decoders_agree"):
        # the fast path must not "repair" a damaged clock into another start than fitparse's
        reference = start_times(name, data, "fitparse")
        fast = start_times(name, data, "fast")
        if not (isinstance(fast, str) and fast.startswith("typed error: fast FIT decoder refused")):
            assert fast == reference, f"fast path {fast} vs fitparse {reference}"
