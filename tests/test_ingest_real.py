"""Every real history in ../shared/real (and every corpus FIT file) through ingest.

What it must show (issue #12, #15): every activity file loads; each FIT file's sample
count equals the records an independent reader counts; per-session sport as the device
wrote it; the fast path takes every activity file and agrees with the reference.

Cost. The whole folder is read ONCE per module with the production path (fast FIT path
when it can), in a module-scoped fixture; record counts come from a 40-line FIT framing
walk written here (independent of ingest, cheap: every file). The slow reference
decoders (fitparse with the FIT SDK's misaligned-field rule; the FIT SDK itself where
plain fitparse refuses a file) run on a deterministic sample: every
``REFERENCE_EVERY``-th FIT file by sha256 plus every file plain fitparse cannot decode.
``GAITWATCH_FULL_REFERENCE=1`` compares every file (about 200 s more CPU; give pytest
``--timeout 0`` on a loaded machine).
Measured: the module takes about 36 s wall, 22 s CPU, on the shared 2-core machine.

Nothing here is specific to the files in ../shared: set ``GAITWATCH_REAL`` to another
export's folder and the same checks run on it.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import CORPUS
from polars.testing import assert_frame_equal

from ingest.errors import IngestError, NotAnActivityError
from ingest.fit import enum_name, read_fit
from ingest.reader import READER_BUG, ReadResult, read_path
from ingest.schema import ParsedActivity

REAL = Path(os.environ.get("GAITWATCH_REAL", CORPUS.parent / "real"))
#: the reference decoders run on every this-many-th FIT file (by sha256) and on every
#: file plain fitparse refuses
REFERENCE_EVERY = 40
FULL_REFERENCE = os.environ.get("GAITWATCH_FULL_REFERENCE") == "1"
#: FIT file types that are activities (FIT profile ``file``: 4 = activity)
ACTIVITY_FILE_TYPE = 4


@dataclass
class Item:
    """One leaf input: where it came from, its decoded bytes, and what ingest made of it."""

    name: str
    path: Path
    result: ReadResult
    data: bytes

    @property
    def is_fit(self) -> bool:
        return self.data[8:12] == b".FIT" if len(self.data) >= 12 else False


def _bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.lower().endswith(".gz") else data


def _load(root: Path) -> dict[str, Item]:
    items = {}
    for result in read_path(root):
        path = root / result.source_file
        items[result.source_file] = Item(result.source_file, path, result, _bytes(path))
    return items


@pytest.fixture(scope="module")
def real() -> dict[str, Item]:
    """Every file of ../shared/real read once with the production path."""
    if not REAL.is_dir():
        pytest.skip(f"real histories not found at {REAL}")
    return _load(REAL)


@pytest.fixture(scope="module")
def corpus_fit() -> dict[str, Item]:
    folder = CORPUS / "fit"
    if not folder.is_dir():
        pytest.skip(f"corpus folder {folder} not present")
    return _load(folder)


@pytest.fixture(scope="module", params=["real", "corpus_fit"])
def items(request: pytest.FixtureRequest) -> dict[str, Item]:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- independent FIT walk


@dataclass
class Walked:
    records: int
    file_types: list[int | None]  # file_id.type of each chained FIT file


def walk_fit(data: bytes) -> Walked:
    """Count record messages (global 20) and read file_id.type, from the FIT framing
    alone (header, definition messages, message sizes): no decoder involved."""
    records, types, pos = 0, [], 0
    while pos + 12 <= len(data) and data[pos + 8 : pos + 12] == b".FIT":
        header_size = data[pos]
        (data_size,) = struct.unpack_from("<I", data, pos + 4)
        p, end = pos + header_size, pos + header_size + data_size
        defs: dict[int, tuple[int, int, list[tuple[int, int]], bool]] = {}
        file_type: int | None = None
        while p < end:
            h = data[p]
            if h & 0x80 == 0 and h & 0x40:  # definition message
                little = data[p + 2] == 0
                (gnum,) = struct.unpack_from("<H" if little else ">H", data, p + 3)
                n = data[p + 5]
                fields = [(data[p + 6 + 3 * i], data[p + 7 + 3 * i]) for i in range(n)]
                q = p + 6 + 3 * n
                size = sum(s for _, s in fields)
                if h & 0x20:
                    ndev = data[q]
                    size += sum(data[q + 2 + 3 * i] for i in range(ndev))
                    q += 1 + 3 * ndev
                defs[h & 0x0F] = (gnum, size, fields, little)
                p = q
                continue
            gnum, size, fields, _little = defs[(h >> 5) & 0x3 if h & 0x80 else h & 0x0F]
            if gnum == 20:
                records += 1
            elif gnum == 0 and file_type is None:
                offset = p + 1
                for num, fsize in fields:
                    if num == 0 and fsize == 1:
                        file_type = data[offset]
                    offset += fsize
            p += 1 + size
        types.append(file_type)
        pos = end + 2
    return Walked(records, types)


# ---------------------------------------------------------------------------- every file loads


def test_every_activity_file_loads(items: dict[str, Item]) -> None:
    assert items
    for item in items.values():
        r = item.result
        if r.error is not None:
            assert "unexpected" not in r.error.reason and READER_BUG not in r.error.reason, r.error.reason
        if item.is_fit and any(t == ACTIVITY_FILE_TYPE for t in walk_fit(item.data).file_types):
            assert r.status == "ok", (item.name, r.error)
        elif item.is_fit:  # settings, monitoring, ...: skipped, with the reason in words
            assert isinstance(r.error, NotAnActivityError) and "not an activity" in r.error.reason
        elif item.name.lower().endswith((".gpx", ".tcx", ".gpx.gz", ".tcx.gz")):
            assert r.status == "ok", (item.name, r.error)
        else:  # activities.csv, MANIFEST.csv, README.md next to the activities
            assert r.status == "skipped" and r.error is not None and "not an activity" in r.error.reason


def test_fit_sample_count_equals_records_in_the_file(items: dict[str, Item]) -> None:
    checked = 0
    for item in items.values():
        if not item.is_fit or item.result.status != "ok":
            continue
        got = sum(a.samples.height for a in item.result.activities)
        assert got == walk_fit(item.data).records, item.name
        checked += 1
    assert checked


def test_every_activity_file_on_the_fast_path(items: dict[str, Item], capsys: pytest.CaptureFixture[str]) -> None:
    """The benchmark's figure (issue #15): share of FIT activity files the fast path
    takes, and every fallback with its reason. Target: all of them."""
    paths: dict[str, str] = {}
    for item in items.values():
        if item.is_fit and item.result.status == "ok":
            paths[item.name] = str(item.result.activities[0].meta.decoder)
    fallbacks = {n: p for n, p in paths.items() if p != "fast"}
    with capsys.disabled():
        print(
            f"\n{len(paths)} FIT activity files, {100 * (len(paths) - len(fallbacks)) / len(paths):.1f} % "
            f"on the fast path; fallbacks: {fallbacks or 'none'}"
        )
    assert not fallbacks


# ---------------------------------------------------------------------------- against the references


def _plain_fitparse(data: bytes) -> dict[str, list[dict[str, object]]] | None:
    """fitparse 1.2.0 as it is; None where it refuses the file (misaligned field sizes)."""
    import fitparse
    from fitparse.utils import FitParseError

    out: dict[str, list[dict[str, object]]] = {"record": [], "session": []}
    try:
        for msg in fitparse.FitFile(io.BytesIO(data)).get_messages(["record", "session"]):
            out[msg.name].append(msg.get_values())
    except FitParseError as exc:
        if "Invalid field size" in str(exc):
            return None
        raise
    return out


def _sdk(data: bytes) -> dict[str, list[dict[str, object]]]:
    from garmin_fit_sdk import Decoder, Stream

    messages, errors = Decoder(Stream.from_byte_array(bytearray(data))).read(convert_datetimes_to_dates=False)
    assert not errors, errors
    return {"record": list(messages.get("record_mesgs", [])), "session": list(messages.get("session_mesgs", []))}


def _sampled(items: dict[str, Item]) -> list[Item]:
    out = []
    for item in items.values():
        if not item.is_fit or item.result.status != "ok":
            continue
        pick = FULL_REFERENCE or int(hashlib.sha256(item.data).hexdigest()[:8], 16) % REFERENCE_EVERY == 0
        if pick or _misaligned(item.data):
            out.append(item)
    return out


def _misaligned(data: bytes) -> bool:
    """Plain fitparse refuses the file: a cheap pre-check on the definitions' sizes."""
    return _plain_fitparse_refuses(data)


def _plain_fitparse_refuses(data: bytes) -> bool:
    sizes = {0x84: 2, 0x83: 2, 0x85: 4, 0x86: 4, 0x88: 4, 0x89: 8, 0x8B: 2, 0x8C: 4, 0x8E: 8, 0x8F: 8, 0x90: 8}
    pos = data[0]
    end = pos + struct.unpack_from("<I", data, 4)[0]
    p = pos
    defs: dict[int, int] = {}
    while p < min(end, len(data)):
        h = data[p]
        if h & 0x80 == 0 and h & 0x40:
            n = data[p + 5]
            size = 0
            for i in range(n):
                fsize, base = data[p + 7 + 3 * i], data[p + 8 + 3 * i]
                if fsize % sizes.get(base, 1):
                    return True
                size += fsize
            q = p + 6 + 3 * n
            if h & 0x20:
                ndev = data[q]
                size += sum(data[q + 2 + 3 * i] for i in range(ndev))
                q += 1 + 3 * ndev
            defs[h & 0x0F] = size
            p = q
            continue
        p += 1 + defs[(h >> 5) & 0x3 if h & 0x80 else h & 0x0F]
    return False


def _same(got: list[ParsedActivity], want: list[ParsedActivity]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.meta == w.meta
        for a, b in ((g.samples, w.samples), (g.sessions, w.sessions), (g.laps, w.laps), (g.extras, w.extras)):
            assert_frame_equal(a, b, check_exact=True)


def test_fast_path_agrees_with_the_reference(real: dict[str, Item]) -> None:
    """Differential: the production result (fast path) equals the reference decoder's
    (fitparse), frame for frame, on the sample (every file with GAITWATCH_FULL_REFERENCE=1)."""
    sample = _sampled(real)
    assert len(sample) >= min(10, len(real))
    for item in sample:
        want = read_fit(item.name, item.data, decoder="fitparse")
        _same(item.result.activities, want)


def test_records_and_sports_as_the_libraries_read_them(real: dict[str, Item]) -> None:
    """Record count and per-session sport as plain fitparse reads them, or, where plain
    fitparse refuses the file, as the FIT SDK reads them (on the sample)."""
    for item in _sampled(real):
        ref = _plain_fitparse(item.data)
        if ref is None:
            ref = _sdk(item.data)
            sports = [str(s.get("sport")) for s in ref["session"]]
        else:
            sports = [str(s.get("sport")) for s in ref["session"]]
        # numbers older profiles do not name (racket 64): named with the newer profile's table
        sports = [str(enum_name("sport", int(s))) if s.isdigit() else s for s in sports]
        acts = item.result.activities
        assert sum(a.samples.height for a in acts) == len(ref["record"]), item.name
        ours = [str(s) for a in acts for s in a.sessions["sport"].to_list()]
        assert ours == sports, item.name


# ---------------------------------------------------------------------------- the manifest


def test_manifest_records_and_sport(real: dict[str, Item]) -> None:
    """Where the folder has a MANIFEST.csv (../shared/real does): records and each
    session's sport/sub_sport as measured when the files were collected."""
    manifest = REAL / "MANIFEST.csv"
    if not manifest.is_file():
        pytest.skip("no MANIFEST.csv")
    with manifest.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    checked = 0
    for row in rows:
        item = real.get(row["file"])
        if item is None or not item.is_fit or not row.get("n_records"):
            continue
        acts = item.result.activities
        assert acts, (row["file"], item.result.error)
        assert sum(a.samples.height for a in acts) == int(row["n_records"]), row["file"]
        want = []
        for part in row["sport"].split("+"):  # one "sport/sub_sport" per session
            sport, _, sub = part.partition("/")
            # numbers fitparse's profile does not name (racket 64 / squash 94)
            sport = str(enum_name("sport", int(sport))) if sport.isdigit() else sport
            sub = str(enum_name("sub_sport", int(sub))) if sub.isdigit() else sub
            want.append((sport, sub))
        got = [(str(sp), str(sub)) for a in acts for sp, sub in a.sessions.select("sport", "sub_sport").rows()]
        assert got == want, row["file"]
        checked += 1
    assert checked


# ---------------------------------------------------------------------------- named quirks


def test_coros_misaligned_and_redescribed_fields(real: dict[str, Item]) -> None:
    coros = [i for n, i in real.items() if n.startswith("coros-pace3/") and i.is_fit]
    if not coros:
        pytest.skip("no coros-pace3 files")
    misaligned = [i for i in coros if _plain_fitparse_refuses(i.data)]
    assert misaligned
    for item in misaligned:
        warnings = item.result.activities[0].meta.warnings
        assert any("event.data" in w and "decoded as bytes" in w for w in warnings), warnings
    effort = [
        i for i in coros if any("Effort Pace" in str(f) for a in i.result.activities for f in a.extras["field"].unique())
    ]
    assert effort  # the developer field described twice is one column, kept
    for item in effort:
        record_fields = {f for f in item.result.activities[0].extras["field"].unique() if ":" not in f}
        assert record_fields == {"Effort Pace"}  # session:/lap: fields are the summaries


def test_records_after_the_last_session_are_kept(real: dict[str, Item]) -> None:
    """Two long ski days (fenix 7 Pro, 2023-11-18/19) record up to 44 min after the
    session's end: kept, last session, with a warning."""
    found = 0
    for item in real.values():
        for act in item.result.activities:
            if any("after the last session's end kept" in w for w in act.meta.warnings):
                found += 1
                assert act.samples["session_index"].max() == act.sessions.height - 1
    if "xiangli/data/FitFiles/Activities/12795256022_ACTIVITY.fit" in real:
        assert found >= 2


def test_no_decoder_exception_escapes(real: dict[str, Item]) -> None:
    for item in real.values():
        if item.result.error is not None:
            assert isinstance(item.result.error, IngestError)
