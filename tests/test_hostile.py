"""Hostile input: zip slip, symlinks, decompression bombs, XML entity attacks, lying FIT
headers, hostile names. Every case must end in a typed IngestError (or load, for
harmless oddities) while the good files of the same batch still load.

Good files are real corpus files copied into tmp_path at test time.
"""

from __future__ import annotations

import gzip
import io
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from conftest import CORPUS, corpus_files

from ingest import iter_bytes, read_bytes, read_path
from ingest.errors import (
    CorruptFileError,
    IngestError,
    NotAnActivityError,
    ResourceLimitError,
    UnsafeInputError,
)
from ingest.limits import Limits
from ingest.reader import READER_BUG

GPX_RUN = "gpx/garmin-connect-run-ns3-cad-hr-short.gpx"
FIT_RUN = "fit/fenix5-run-dynamics-short.fit"

pytestmark = pytest.mark.timeout(120)  # a hang is a failure, not a slow test


def corpus_bytes(rel: str) -> bytes:
    path = CORPUS / rel
    if not path.is_file():
        pytest.skip(f"{path} missing")
    return path.read_bytes()


def zip_with(members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            zf.writestr(info, data)
    return buf.getvalue()


def zeros_deflated_zip(name: str, n_bytes: int) -> bytes:
    return zip_with([(name, b"\x00" * n_bytes)])


def gzip_of_zeros(n_bytes: int) -> bytes:
    """A gzip stream of ``n_bytes`` zeros built in chunks (never holds them all)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\x00" * (1 << 20)
    parts = [comp.compress(chunk) for _ in range(n_bytes >> 20)]
    parts.append(comp.flush())
    return b"".join(parts)


GPX_HEAD = '<gpx version="1.1" creator="evil" xmlns="http://www.topografix.com/GPX/1/1">'
GPX_TRK = (
    '<trk><name>{name}</name><trkseg><trkpt lat="1" lon="1"><time>2024-01-01T00:00:00Z</time></trkpt>'
    '<trkpt lat="1.0001" lon="1"><time>2024-01-01T00:00:05Z</time></trkpt></trkseg></trk></gpx>'
)


def billion_laughs() -> bytes:
    ents = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    doc = f'<?xml version="1.0"?><!DOCTYPE gpx [{"".join(ents)}]>' + GPX_HEAD + GPX_TRK.format(name="&lol9;")
    return doc.encode()


def xxe(target: str) -> bytes:
    doc = (
        f'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY xxe SYSTEM "{target}">]>'
        + GPX_HEAD
        + GPX_TRK.format(name="&xxe;")
    )
    return doc.encode()


# --------------------------------------------------------------------------- archives


def test_zip_slip_and_symlink_members_refused_others_load() -> None:
    gpx = corpus_bytes(GPX_RUN)
    link = zipfile.ZipInfo("activities/link.gpx")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    data = zip_with([
        ("../../evil.gpx", gpx),
        ("/etc/cron.d/evil.gpx", gpx),
        ("C:\\Windows\\evil.gpx", gpx),
        ("activities/..\\..\\evil2.gpx", gpx),
        (link, b"/etc/passwd"),
        ("activities/good.gpx", gpx),
    ])
    results = {r.source_file: r for r in iter_bytes("upload.zip", data)}
    assert results["upload.zip/activities/good.gpx"].status == "ok"
    refused = {k: v for k, v in results.items() if not k.endswith("good.gpx")}
    assert len(refused) == 5
    for name, r in refused.items():
        assert isinstance(r.error, UnsafeInputError), name
        assert r.activities == [] and r.sha256 is None
    assert "symbolic link" in results["upload.zip/activities/link.gpx"].error.reason  # type: ignore[union-attr]


def test_zip_bomb_member_refused_while_streaming() -> None:
    gpx = corpus_bytes(GPX_RUN)
    bomb = zip_with([("big.gpx", b"\x00" * (64 << 20)), ("fine.gpx", gpx)])
    assert len(bomb) < 200_000
    results = {r.source_file: r for r in iter_bytes("bomb.zip", bomb)}
    err = results["bomb.zip/big.gpx"].error
    assert isinstance(err, UnsafeInputError) and "ratio" in err.reason
    assert results["bomb.zip/fine.gpx"].status == "ok"


def test_zip_total_size_and_entry_budgets() -> None:
    members: list[tuple[zipfile.ZipInfo | str, bytes]] = [(f"m{i}.bin", bytes(range(256)) * 400) for i in range(8)]
    data = zip_with(members)
    small = Limits(max_uncompressed_bytes=300_000)
    results = list(iter_bytes("many.zip", data, small))
    assert isinstance(results[-1].error, ResourceLimitError)
    assert "max_uncompressed_bytes" in results[-1].error.reason
    assert len(results) < 8
    few = Limits(max_entries=5)
    (only,) = list(iter_bytes("many.zip", data, few))
    assert isinstance(only.error, ResourceLimitError) and "max_entries" in only.error.reason


def test_member_over_file_size_limit() -> None:
    gpx = corpus_bytes(GPX_RUN)
    limits = Limits(max_file_bytes=len(gpx) - 1)
    (r,) = list(iter_bytes("x.zip", zip_with([("run.gpx", gpx)]), limits))
    assert isinstance(r.error, ResourceLimitError)


def test_gzip_bomb_refused() -> None:
    bomb = gzip_of_zeros(256 << 20)
    assert len(bomb) < 1_000_000
    with pytest.raises(UnsafeInputError, match="ratio"):
        read_bytes("huge.fit.gz", bomb)
    # a plain file over max_file_bytes inside a gzip is refused by size, ratio aside
    with pytest.raises(ResourceLimitError):
        read_bytes("x.gpx.gz", gzip.compress(corpus_bytes(GPX_RUN)), Limits(max_file_bytes=1000))


def test_nested_zip_bomb_stops_at_budget() -> None:
    # 42.zip in miniature: each level repeats the level below 8 times
    level = zip_with([("zeros.bin", b"\x00" * (4 << 20))])
    for i in range(3):
        level = zip_with([(f"l{i}_{j}.zip", level) for j in range(8)])
    limits = Limits(max_uncompressed_bytes=64 << 20, max_ratio=10_000)
    results = list(iter_bytes("42.zip", level, limits))
    assert any(isinstance(r.error, ResourceLimitError) and "max_uncompressed_bytes" in r.error.reason for r in results)
    assert len(results) < 8 * 8 * 8


# --------------------------------------------------------------------------- XML


def test_billion_laughs_refused() -> None:
    with pytest.raises(UnsafeInputError, match="XML bomb or XXE"):
        read_bytes("lol.gpx", billion_laughs())


def test_external_entity_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    for target in ("file:///etc/passwd", secret.as_uri()):
        with pytest.raises(UnsafeInputError) as err:
            read_bytes("xxe.gpx", xxe(target))
        assert "TOP-SECRET" not in str(err.value) and "root:" not in str(err.value)
    # parameter entities and an external DTD with entity definitions: nothing is loaded
    param = (
        f'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY % p SYSTEM "{secret.as_uri()}"> %p;]>'
        + GPX_HEAD + GPX_TRK.format(name="x")
    ).encode()
    with pytest.raises(UnsafeInputError):
        read_bytes("p.gpx", param)
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ENTITY secret "TOP-SECRET-CONTENT">')
    ext_dtd = (
        f'<?xml version="1.0"?><!DOCTYPE gpx SYSTEM "{dtd.as_uri()}">' + GPX_HEAD + GPX_TRK.format(name="&secret;")
    ).encode()
    with pytest.raises(UnsafeInputError) as err2:
        read_bytes("d.gpx", ext_dtd)
    assert "TOP-SECRET" not in str(err2.value)


def test_xxe_in_tcx_refused() -> None:
    doc = (
        '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">'
        '<Activities><Activity Sport="Running"><Notes>&x;</Notes></Activity></Activities></TrainingCenterDatabase>'
    )
    with pytest.raises(UnsafeInputError):
        read_bytes("x.tcx", doc.encode())


def test_deep_nesting_refused_without_recursion_error() -> None:
    depth = 200_000
    doc = GPX_HEAD + "<extensions>" * depth + "</extensions>" * depth + "</gpx>"
    with pytest.raises(ResourceLimitError, match="max_xml_depth"):
        read_bytes("deep.gpx", doc.encode())


def test_too_many_points_refused() -> None:
    pts = "".join(
        f'<trkpt lat="1" lon="{i * 1e-5:.5f}"><time>2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z</time></trkpt>'
        for i in range(50)
    )
    doc = (GPX_HEAD + f"<trk><trkseg>{pts}</trkseg></trk></gpx>").encode()
    assert len(read_bytes("ok.gpx", doc)[0].samples) == 50
    with pytest.raises(ResourceLimitError, match="max_records"):
        read_bytes("many.gpx", doc, Limits(max_records=10))


# --------------------------------------------------------------------------- FIT


def test_fit_with_huge_declared_data_size() -> None:
    data = bytearray(corpus_bytes(FIT_RUN))
    header_size = data[0]
    struct.pack_into("<I", data, 4, 0xFFFFFFF0)
    if header_size >= 14:
        struct.pack_into("<H", data, 12, 0)  # header CRC 0 = "not computed" (FIT spec)
    with pytest.raises(IngestError) as err:
        read_bytes("lying.fit", bytes(data))
    assert isinstance(err.value, CorruptFileError | ResourceLimitError)
    assert err.value.reason


# --------------------------------------------------------------------------- names and the mixed batch

HOSTILE_NAMES = [
    'quote"and;semicolon.gpx',
    "new\nline.gpx",
    "tab\tand\rcr.gpx",
    "läufer 🏃‍♀️ 日本.gpx",
    "<img src=x onerror=alert(1)>.gpx",
    "'; DROP TABLE activities;--.gpx",
    "$(rm -rf ~).gpx",
    "--help.gpx",
    "%s%n%x.gpx",
]


def test_mixed_hostile_batch_good_files_still_load(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good_names = []
    small_fit = ("fenix5-run-dynamics-short.fit", "fenix5-walk-dynamics.fit", "fenix5-bike-short.fit")
    not_activities = ("route-only.gpx", "strava-metadata-only.gpx", "track-without-timestamps.gpx")
    for src in corpus_files("fit") + corpus_files("gpx"):
        if (src.suffix == ".fit" and src.name not in small_fit) or src.name in not_activities:
            continue
        (inbox / src.name).write_bytes(src.read_bytes())
        good_names.append(src.name)
    gpx = corpus_bytes(GPX_RUN)
    for name in HOSTILE_NAMES:
        (inbox / name).write_bytes(gpx)
    script_name = '<script>alert("x")</script>'
    (inbox / "xss-name.gpx").write_bytes(
        (GPX_HEAD + GPX_TRK.format(name=script_name.replace("<", "&lt;").replace(">", "&gt;"))).encode()
    )
    (inbox / "lol.gpx").write_bytes(billion_laughs())
    (inbox / "xxe.gpx").write_bytes(xxe("file:///etc/passwd"))
    (inbox / "bomb.zip").write_bytes(zeros_deflated_zip("a.fit", 32 << 20))
    (inbox / "bomb.fit.gz").write_bytes(gzip_of_zeros(64 << 20))
    (inbox / "slip.zip").write_bytes(zip_with([("../../x.gpx", gpx), ("ok/\u202eevil.gpx", gpx)]))
    bad_files = [b for b in corpus_files("bad") if b.stat().st_size < 100_000]  # all of them: test below
    for bad in bad_files:
        (inbox / f"bad-{bad.name}").write_bytes(bad.read_bytes())

    results = list(read_path(inbox))
    by = {r.source_file: r for r in results}
    assert len(by) == len(results)
    for name in good_names + HOSTILE_NAMES + ["slip.zip/ok/\u202eevil.gpx"]:
        assert by[name].status == "ok", (name, by[name].error)
    assert by["xss-name.gpx"].activities[0].meta.name == script_name  # kept verbatim; reports escape
    assert by["new\nline.gpx"].activities[0].meta.source_file == "new\nline.gpx"
    assert isinstance(by["lol.gpx"].error, UnsafeInputError)
    assert isinstance(by["xxe.gpx"].error, UnsafeInputError)
    assert isinstance(by["bomb.zip/a.fit"].error, UnsafeInputError)
    assert isinstance(by["bomb.fit.gz"].error, UnsafeInputError)
    assert isinstance(by["slip.zip/../../x.gpx"].error, UnsafeInputError)
    for bad in bad_files:
        r = by[f"bad-{bad.name}"]
        assert isinstance(r.error, IngestError), bad.name
        assert r.error.reason and "\n" not in r.error.one_line()
        assert not r.error.reason.startswith("unexpected")
    # no failure is "unexpected" or a reader bug: every reason names the problem in words
    for r in results:
        if r.error is not None:
            assert "unexpected" not in r.error.reason.lower(), (r.source_file, r.error.reason)
            assert READER_BUG not in r.error.reason, (r.source_file, r.error.reason)
    # every input is accounted for: 1 result per leaf file
    leaves = len(list(inbox.iterdir())) + 1  # slip.zip holds two members
    assert len(results) == leaves


@pytest.mark.parametrize("path", corpus_files("bad"), ids=lambda p: p.name)
def test_every_bad_corpus_file_typed_error(path: Path) -> None:
    with pytest.raises(IngestError) as err:
        read_bytes(path.name, path.read_bytes())
    e = err.value
    assert e.reason and "unexpected" not in e.reason.lower() and READER_BUG not in e.reason
    if path.suffix == ".gpx":
        assert isinstance(e, CorruptFileError)
    assert not isinstance(e, NotAnActivityError)


def test_element_flood_refused() -> None:
    # many tiny elements and no points: the element cap (16 per allowed record) stops it
    doc = (GPX_HEAD + "<extensions>" + "<a/>" * 2000 + "</extensions></gpx>").encode()
    with pytest.raises(ResourceLimitError, match="XML elements"):
        read_bytes("flood.gpx", doc, Limits(max_records=100))
    with pytest.raises(NotAnActivityError):  # same document within the default limits
        read_bytes("flood.gpx", doc)
