"""read_path / read_bytes on folders, .gz and nested .zip built at test time from real
corpus files (copied into tmp_path, never into the repo)."""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import CORPUS

from ingest import ReadResult, iter_bytes, read_bytes, read_path
from ingest.errors import (
    CorruptFileError,
    EmptyFileError,
    NotAnActivityError,
    ResourceLimitError,
    UnsupportedFormatError,
)
from ingest.limits import Limits
from ingest.safety import InvalidAthleteIdError, normalize_athlete_id

GPX_RUN = "gpx/garmin-connect-run-ns3-cad-hr-short.gpx"
GPX_RIDE = "gpx/holux-ride-bare-bpm-rpm-ext.gpx"
FIT_RUN = "fit/fenix5-run-dynamics-short.fit"
FIT_WALK = "fit/fenix5-walk-dynamics.fit"


def corpus_bytes(rel: str) -> bytes:
    path = CORPUS / rel
    if not path.is_file():
        pytest.skip(f"{path} missing")
    return path.read_bytes()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def by_name(results: list[ReadResult]) -> dict[str, ReadResult]:
    names = [r.source_file for r in results]
    assert len(names) == len(set(names)), names
    return {r.source_file: r for r in results}


def test_strava_style_export_zip(tmp_path: Path) -> None:
    run_fit, run_gpx, walk = corpus_bytes(FIT_RUN), corpus_bytes(GPX_RUN), corpus_bytes(FIT_WALK)
    export = zip_bytes({
        "activities/1001.fit.gz": gzip.compress(run_fit),
        "activities/1002.gpx.gz": gzip.compress(run_gpx),
        "activities/1003.fit": walk,
        "activities.csv": b"Activity ID,Activity Date\n1001,2024-01-01\n",
        "profile.json": b"{}",
        "__MACOSX/activities/._1001.fit.gz": b"\x00\x05\x16\x07junk",
        "media/": b"",
    })
    (tmp_path / "export_123.zip").write_bytes(export)
    results = list(read_path(tmp_path / "export_123.zip"))
    got = by_name(results)
    assert list(got) == [
        "export_123.zip/activities/1001.fit.gz",
        "export_123.zip/activities/1002.gpx.gz",
        "export_123.zip/activities/1003.fit",
        "export_123.zip/activities.csv",
        "export_123.zip/profile.json",
    ]
    fit = got["export_123.zip/activities/1001.fit.gz"]
    assert fit.error is None and fit.sha256 == sha(run_fit) and fit.size_bytes == len(run_fit)
    assert fit.activities[0].meta.sha256 == sha(run_fit)
    assert fit.activities[0].meta.source_file == "export_123.zip/activities/1001.fit.gz"
    gpx = got["export_123.zip/activities/1002.gpx.gz"]
    assert gpx.error is None and gpx.sha256 == sha(run_gpx)
    assert got["export_123.zip/activities/1003.fit"].status == "ok"
    csv = got["export_123.zip/activities.csv"]
    assert isinstance(csv.error, NotAnActivityError) and csv.status == "skipped"
    assert "not an activity file: .csv" in csv.error.reason
    assert got["export_123.zip/profile.json"].error.reason == "not an activity file: .json"  # type: ignore[union-attr]


def test_garmin_style_nested_zips_and_folder_walk(tmp_path: Path) -> None:
    run_fit, ride = corpus_bytes(FIT_RUN), corpus_bytes(GPX_RIDE)
    inner = zip_bytes({"DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1/123_ACTIVITY.fit": run_fit})
    outer = zip_bytes({
        "DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip": inner,
        "DI_CONNECT/DI-Connect-Fitness/summarizedActivities.json": b"[]",
    })
    inbox = tmp_path / "inbox"
    (inbox / "alice" / "sub").mkdir(parents=True)
    (inbox / "alice" / "garmin.zip").write_bytes(outer)
    (inbox / "alice" / "sub" / "ride.gpx").write_bytes(ride)
    (inbox / "alice" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (inbox / "alice" / ".hidden.fit").write_bytes(run_fit)
    (inbox / "alice" / "Thumbs.db").write_bytes(b"junk")
    (inbox / "alice" / "notes.txt").write_bytes(b"ran well")
    results = list(read_path(inbox, name_root=inbox))
    names = [r.source_file for r in results]
    nested = (
        "alice/garmin.zip/DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip/"
        "DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1/123_ACTIVITY.fit"
    )
    # files sorted by path in the folder, archive members in archive order
    assert names == [
        nested,
        "alice/garmin.zip/DI_CONNECT/DI-Connect-Fitness/summarizedActivities.json",
        "alice/notes.txt",
        "alice/sub/ride.gpx",
    ]
    got = by_name(results)
    assert got[nested].status == "ok" and got[nested].sha256 == sha(run_fit)
    assert got["alice/sub/ride.gpx"].status == "ok"
    assert got["alice/notes.txt"].status == "skipped"
    # deterministic order: the same walk twice gives the same sequence
    assert [r.source_file for r in read_path(inbox, name_root=inbox)] == names


def test_wrong_extension_is_read_by_content(tmp_path: Path) -> None:
    (tmp_path / "looks-like.gpx").write_bytes(corpus_bytes(FIT_RUN))
    (tmp_path / "track.dat").write_bytes(corpus_bytes(GPX_RUN))
    (tmp_path / "no_extension").write_bytes(gzip.compress(corpus_bytes(GPX_RIDE)))
    results = by_name(list(read_path(tmp_path)))
    assert results["looks-like.gpx"].activities[0].meta.format == "fit"
    assert results["track.dat"].activities[0].meta.format == "gpx"
    assert results["no_extension"].activities[0].meta.format == "gpx"


def test_unknown_and_damaged_inputs_get_typed_results(tmp_path: Path) -> None:
    (tmp_path / "mystery.bin").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (tmp_path / "noext").write_bytes(b"hello world")
    (tmp_path / "empty.fit").write_bytes(b"")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    (tmp_path / "broken.fit.gz").write_bytes(gzip.compress(corpus_bytes(FIT_RUN))[:200])
    (tmp_path / "fake.gz").write_bytes(b"not gzip at all")
    (tmp_path / "empty.zip").write_bytes(zip_bytes({}))
    (tmp_path / "good.gpx").write_bytes(corpus_bytes(GPX_RUN))
    got = by_name(list(read_path(tmp_path)))
    assert isinstance(got["mystery.bin"].error, NotAnActivityError)
    assert isinstance(got["noext"].error, UnsupportedFormatError)
    assert isinstance(got["empty.fit"].error, EmptyFileError)
    assert isinstance(got["broken.zip"].error, CorruptFileError) and got["broken.zip"].sha256 is not None
    assert isinstance(got["broken.fit.gz"].error, CorruptFileError) and got["broken.fit.gz"].sha256 is None
    assert isinstance(got["fake.gz"].error, CorruptFileError)
    assert isinstance(got["empty.zip"].error, EmptyFileError)
    assert got["good.gpx"].status == "ok"
    for r in got.values():
        if r.error is not None:
            assert "\n" not in r.error.one_line() and r.error.reason


def test_read_bytes_contract() -> None:
    fit = corpus_bytes(FIT_RUN)
    assert read_bytes("a.fit", fit)[0].meta.format == "fit"
    # concatenated gzip members are one stream (gzip spec)
    data = gzip.compress(fit[:100]) + gzip.compress(fit[100:])
    assert read_bytes("a.fit.gz", data)[0].meta.sha256 == sha(fit)
    single = zip_bytes({"only.fit": fit})
    assert read_bytes("one.zip", single)[0].meta.source_file == "one.zip/only.fit"
    multi = zip_bytes({"a.fit": fit, "b.gpx": corpus_bytes(GPX_RUN)})
    with pytest.raises(UnsupportedFormatError, match="read_path"):
        read_bytes("two.zip", multi)
    assert [r.status for r in iter_bytes("two.zip", multi)] == ["ok", "ok"]


def test_nesting_depth_limit() -> None:
    data = corpus_bytes(GPX_RUN)
    for i in range(6):
        data = zip_bytes({f"level{i}.zip" if i else "run.gpx": data})
    (result,) = list(iter_bytes("deep.zip", data))
    assert isinstance(result.error, ResourceLimitError) and "max_nesting" in result.error.reason
    shallow = Limits(max_nesting=10)
    (ok,) = list(iter_bytes("deep.zip", data, shallow))
    assert ok.status == "ok"


def test_single_file_and_name_root(tmp_path: Path) -> None:
    dest = tmp_path / "athletes" / "bob"
    dest.mkdir(parents=True)
    shutil.copy(CORPUS / GPX_RUN, dest / "run.gpx")
    (r,) = list(read_path(dest / "run.gpx"))
    assert r.source_file == "run.gpx"
    (r,) = list(read_path(dest / "run.gpx", name_root=tmp_path))
    assert r.source_file == "athletes/bob/run.gpx"
    with pytest.raises(FileNotFoundError):
        list(read_path(tmp_path / "missing"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Jane Doe", "jane-doe"), ("  ÉLODIE_1 ", "elodie_1"), ("ｆｕｌｌｗｉｄｔｈ", "fullwidth"),
     ("a/b\\c", "abc"), ("-lead", "lead"), ("x" * 64, "x" * 64)],
)
def test_normalize_athlete_id(raw: str, expected: str) -> None:
    assert normalize_athlete_id(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "../..", "..", "/", "---", "\x00", "x" * 65, "🏃‍♀️"])
def test_normalize_athlete_id_rejects(raw: str) -> None:
    with pytest.raises(InvalidAthleteIdError):
        normalize_athlete_id(raw)


def test_special_files_in_folder_do_not_hang(tmp_path: Path) -> None:
    import os

    (tmp_path / "good.gpx").write_bytes(corpus_bytes(GPX_RUN))
    (tmp_path / "dangling.fit").symlink_to(tmp_path / "does-not-exist.fit")
    os.mkfifo(tmp_path / "pipe.fit")  # reading it would block forever
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    got = by_name(list(read_path(tmp_path)))
    assert got["good.gpx"].status == "ok"
    assert isinstance(got["dangling.fit"].error, CorruptFileError)
    assert isinstance(got["pipe.fit"].error, UnsupportedFormatError)
    assert got["loop"].error is not None and got["loop"].error.status == "rejected"


def test_other_xml_named_by_extension() -> None:
    kml = b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document/></kml>'
    with pytest.raises(NotAnActivityError, match=r"\.kml"):
        read_bytes("route.kml", kml)
    with pytest.raises(UnsupportedFormatError, match="<kml>"):
        read_bytes("route", kml)
    with pytest.raises(CorruptFileError, match="not a GPX document"):
        read_bytes("route.gpx", kml)


def _zip_needing_version(version: int) -> bytes:
    """A zip whose central directory says its member needs zip ``version`` (x10) to extract."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("run.gpx", "<gpx/>")
    data = bytearray(buf.getvalue())
    central = data.rfind(b"PK\x01\x02")
    data[central + 6 : central + 8] = version.to_bytes(2, "little")
    return bytes(data)


def test_zip_needing_a_newer_zip_version_is_refused_in_words() -> None:
    """Regression (issue #11, found by fuzzing): "zip file version 8.4" surfaced as a
    NotImplementedError ("unexpected reader failure")."""
    results = list(iter_bytes("new.zip", _zip_needing_version(84)))
    assert len(results) == 1
    err = results[0].error
    assert isinstance(err, UnsupportedFormatError)
    assert "zip version 8.4" in err.reason and "unexpected" not in err.reason
