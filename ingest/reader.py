"""The single entry point of ingest: files, folders, .gz and (nested) .zip -> results.

``read_path`` yields one :class:`ReadResult` per leaf input (an activity file, or a file
that could not be read, with its typed error), so nothing a user dropped silently
disappears and one bad file never stops the others. The format is judged by content
(FIT header, gzip/zip magic, XML root element), not by the name; the name only helps
to explain what is wrong with an unreadable file.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ingest.archive import Member, gunzip_to_spool, iter_zip
from ingest.errors import (
    CorruptFileError,
    EmptyFileError,
    IngestError,
    NotAnActivityError,
    ResourceLimitError,
    UnsafeInputError,
    UnsupportedFormatError,
)
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.safety import (
    GZIP_MAGIC,
    ZIP_MAGICS,
    ArchiveBudget,
    is_os_junk,
    strip_xml_prolog_noise,
    text_name,
)
from ingest.schema import ParsedActivity

#: The start of the reason given when one of our readers fails in a way it does not
#: explain in words: always a bug (tests over bad and hostile inputs assert it never
#: appears), never a kind of bad input. The file is still listed, not lost.
READER_BUG = "gaitwatch could not read this file because of a bug in gaitwatch (please report it)"

SNIFF_BYTES = 64 * 1024  # enough to see past an XML declaration, comments and a DOCTYPE

ACTIVITY_EXTENSIONS = frozenset({".fit", ".gpx", ".tcx", ".gz", ".zip"})

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass
class ReadResult:
    """What became of one leaf input file.

    ``sha256`` and ``size_bytes`` describe the decoded bytes (after gunzip/unzip), so the
    same activity dropped raw and compressed has one identity; ``sha256`` is None only
    when the bytes could not be obtained (damaged or refused container member, file over
    the size limit). Exactly one of ``activities`` (non-empty) and ``error`` is set.
    """

    source_file: str
    sha256: str | None
    size_bytes: int
    activities: list[ParsedActivity] = field(default_factory=list)
    error: IngestError | None = None

    @property
    def status(self) -> str:
        """``"ok"``, or the error's status (``"rejected"`` / ``"skipped"``)."""
        return "ok" if self.error is None else self.error.status


# --------------------------------------------------------------------------- sniffing


def sniff(head: bytes) -> str:
    """Format from the first bytes: ``fit``, ``gzip``, ``zip``, ``gpx``, ``tcx``, ``xml``
    (another XML document), ``empty`` or ``unknown``."""
    if not head:
        return "empty"
    if len(head) >= 12 and head[0] >= 12 and head[8:12] == b".FIT":
        return "fit"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZIP_MAGICS):
        return "zip"
    root = xml_root_name(head)
    if root is None:
        return "unknown"
    if root == "gpx":
        return "gpx"
    if root == "TrainingCenterDatabase":
        return "tcx"
    return "xml"


_QNAME = re.compile(rb"(?:[A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")


def xml_root_name(head: bytes) -> str | None:
    """Local name of the root element if ``head`` looks like the start of an XML
    document (after a BOM, whitespace, declaration, comments, DOCTYPE), else None.

    A forward scan with ``bytes.find``: linear in the input, whatever it holds (a regex
    with lazy ``.*?`` here was quadratic on thousands of unterminated ``<!--``).
    """
    if head.startswith(_UTF16_BOMS):
        head = head[:SNIFF_BYTES].decode("utf-16", errors="ignore").encode("utf-8")
    head = strip_xml_prolog_noise(head[:SNIFF_BYTES])
    pos, n = 0, len(head)
    while pos < n:
        while pos < n and head[pos] in b" \t\r\n":
            pos += 1
        if head.startswith(b"<?", pos):
            end = head.find(b"?>", pos + 2)
            if end < 0:
                return None
            pos = end + 2
        elif head.startswith(b"<!--", pos):
            end = head.find(b"-->", pos + 4)
            if end < 0:
                return None
            pos = end + 3
        elif head.startswith(b"<!", pos):  # DOCTYPE, possibly with an internal subset [...]
            gt = head.find(b">", pos)
            bracket = head.find(b"[", pos, gt if gt >= 0 else n)
            if bracket >= 0:
                close = head.find(b"]", bracket)
                gt = head.find(b">", close) if close >= 0 else -1
            if gt < 0:
                return None
            pos = gt + 1
        elif head.startswith(b"<", pos):
            m = _QNAME.match(head, pos + 1)
            return m.group(1).decode("ascii", errors="replace") if m else None
        else:
            return None
    return None


def _name_ext(name: str, gunzipped: bool) -> str:
    """Extension that names the content: ``x.GPX`` -> ``.gpx``; once gunzipped,
    ``x.fit.gz`` -> ``.fit``."""
    base = re.split(r"[\\/]", name)[-1].lower()
    while gunzipped and base.endswith(".gz") and base != ".gz":
        base = base[:-3]
    return os.path.splitext(base)[1]


# --------------------------------------------------------------------------- decoding one file


def _read_fit(source: str, data: bytes, limits: Limits) -> list[ParsedActivity]:
    try:
        # imported lazily: the FIT reader is developed separately and may be absent
        from ingest.fit import read_fit
    except ModuleNotFoundError as exc:
        if exc.name in ("ingest.fit",):
            raise UnsupportedFormatError(source, "FIT file, but the FIT reader is not installed") from None
        raise
    return read_fit(source, data, limits)


def _read_gpx(source: str, data: bytes, limits: Limits) -> list[ParsedActivity]:
    from ingest.gpx import read_gpx

    return read_gpx(source, data, limits)


def _read_tcx(source: str, data: bytes, limits: Limits) -> list[ParsedActivity]:
    from ingest.tcx import read_tcx

    return read_tcx(source, data, limits)


_READERS: dict[str, Callable[[str, bytes, Limits], list[ParsedActivity]]] = {
    "fit": _read_fit,
    "gpx": _read_gpx,
    "tcx": _read_tcx,
}
_EXT_FORMAT = {".fit": "fit", ".gpx": "gpx", ".tcx": "tcx"}


def decode_file(
    source_file: str, data: bytes, limits: Limits, gunzipped: bool = False
) -> list[ParsedActivity]:
    """Decode one plain (not compressed) file's bytes. Only :class:`IngestError`
    subclasses leave this function; a reader bug becomes a :class:`CorruptFileError`.
    ``gunzipped`` says the bytes came out of ``source_file`` (a .gz) already."""
    kind = sniff(data[:SNIFF_BYTES])
    ext = _name_ext(source_file, gunzipped)
    if kind == "empty":
        raise EmptyFileError(source_file, "file is empty (0 bytes)")
    if kind in ("gzip", "zip"):
        raise UnsupportedFormatError(source_file, f"{kind} data where a plain file was expected")
    if kind not in _READERS:
        if ext in _EXT_FORMAT:
            # named like an activity file but content does not say so: let that format's
            # reader explain what is wrong (bad FIT header, malformed XML, ...)
            kind = _EXT_FORMAT[ext]
        elif ext in (".gz", ".zip"):
            raise CorruptFileError(source_file, f"named {ext} but the content is not {ext[1:]} data")
        elif ext and ext not in ACTIVITY_EXTENSIONS:
            # a .csv/.json/.kml/.jpg next to the activities (Garmin/Strava exports): listed, skipped
            raise NotAnActivityError(source_file, f"not an activity file: {ext}")
        elif kind == "xml":
            raise UnsupportedFormatError(
                source_file, f"XML document with root <{xml_root_name(data[:SNIFF_BYTES])}>, not GPX or TCX"
            )
        else:
            raise UnsupportedFormatError(source_file, "not a FIT, GPX or TCX file (unrecognised content)")
    if len(data) > limits.max_file_bytes:
        raise ResourceLimitError(source_file, f"file larger than {limits.max_file_bytes} bytes (max_file_bytes)")
    try:
        activities = _READERS[kind](source_file, data, limits)
    except IngestError:
        raise
    except RecursionError:
        raise ResourceLimitError(source_file, "structure nested too deeply to decode") from None
    except MemoryError:
        raise ResourceLimitError(source_file, "out of memory while decoding") from None
    except Exception as exc:
        msg = " ".join(str(exc).split())[:200]
        # not a category of bad input: a bug in our reader, which tests must catch
        raise CorruptFileError(source_file, f"{READER_BUG} ({kind} reader): {type(exc).__name__}: {msg}") from exc
    if not activities:
        raise NotAnActivityError(source_file, f"{kind.upper()} file holds no activity")
    return activities


def _leaf_result(name: str, data: bytes, limits: Limits, gunzipped: bool) -> ReadResult:
    sha = hashlib.sha256(data).hexdigest()
    try:
        return ReadResult(name, sha, len(data), decode_file(name, data, limits, gunzipped), None)
    except IngestError as exc:
        return ReadResult(name, sha, len(data), [], exc)


def _error_result(name: str, exc: IngestError, size: int = 0, sha: str | None = None) -> ReadResult:
    return ReadResult(name, sha, size, [], exc)


def _size_of(f: IO[bytes]) -> int:
    pos = f.tell()
    end = f.seek(0, os.SEEK_END)
    f.seek(pos)
    return end


def _hash_stream(f: IO[bytes]) -> str:
    h = hashlib.sha256()
    f.seek(0)
    for chunk in iter(lambda: f.read(1024 * 1024), b""):
        h.update(chunk)
    f.seek(0)
    return h.hexdigest()


# --------------------------------------------------------------------------- streams and containers


def _read_stream(
    name: str, f: IO[bytes], depth: int, budget: ArchiveBudget, limits: Limits, gunzipped: bool = False
) -> Iterator[ReadResult]:
    """Results for one seekable byte stream at position 0: a leaf, a .gz or a .zip."""
    try:
        head = f.read(SNIFF_BYTES)
        f.seek(0)
        kind = sniff(head)
        if kind in ("gzip", "zip") and depth >= limits.max_nesting:
            yield _error_result(
                name, ResourceLimitError(name, f"archives nested deeper than {limits.max_nesting} (max_nesting)")
            )
            return
        if kind == "gzip":
            try:
                inner = gunzip_to_spool(f, name, limits, budget)
            except IngestError as exc:
                yield _error_result(name, exc)
                return
            with inner:
                # the .gz is one leaf under its own name (x.fit.gz), unless it holds an archive
                yield from _read_stream(name, inner, depth + 1, budget, limits, gunzipped=True)
            return
        if kind == "zip":
            yield from _read_zip(name, f, depth, budget, limits)
            return
        size = _size_of(f)
        if size > limits.max_file_bytes:
            yield _error_result(
                name, ResourceLimitError(name, f"file larger than {limits.max_file_bytes} bytes (max_file_bytes)"), size
            )
            return
        yield _leaf_result(name, f.read(), limits, gunzipped)
    except IngestError as exc:
        yield _error_result(name, exc)
    except Exception as exc:  # a bug here must not stop the other files
        yield _error_result(name, CorruptFileError(name, f"{READER_BUG}: {type(exc).__name__}: {exc}"))


def _read_zip(name: str, f: IO[bytes], depth: int, budget: ArchiveBudget, limits: Limits) -> Iterator[ReadResult]:
    members = iter_zip(f, name, limits, budget)
    while True:
        try:
            member: Member = next(members)
        except StopIteration:
            return
        except IngestError as exc:
            # the archive itself is unreadable or over budget: one result for it
            sha = None
            if isinstance(exc, CorruptFileError) and not isinstance(exc, EmptyFileError):
                sha = _hash_stream(f)
            yield _error_result(name, exc, _size_of(f), sha)
            return
        if member.error is not None or member.data is None:
            yield _error_result(member.name, member.error or CorruptFileError(member.name, "unreadable member"))
            continue
        yield from _read_stream(member.name, member.data, depth + 1, budget, limits)


# --------------------------------------------------------------------------- public API


def iter_bytes(source_file: str, data: bytes, limits: Limits = DEFAULT_LIMITS) -> Iterator[ReadResult]:
    """One :class:`ReadResult` per leaf in ``data`` (a plain file, .gz or .zip)."""
    import io

    yield from _read_stream(source_file, io.BytesIO(data), 0, ArchiveBudget(limits), limits)


def read_bytes(source_file: str, data: bytes, limits: Limits = DEFAULT_LIMITS) -> list[ParsedActivity]:
    """Decode one file's bytes (FIT, GPX, TCX, or any of them gzipped), judged by content.

    Raises an :class:`IngestError` subclass, nothing else. A zip holding several files
    is refused here (their results would be lost in one list): use :func:`read_path`
    or :func:`iter_bytes`.
    """
    results = list(iter_bytes(source_file, data, limits))
    if len(results) != 1:
        raise UnsupportedFormatError(
            source_file, f"archive holds {len(results)} files: read it with read_path to get one result per file"
        )
    result = results[0]
    if result.error is not None:
        raise result.error
    return result.activities


def read_path(path: Path | str, limits: Limits = DEFAULT_LIMITS, name_root: Path | None = None) -> Iterator[ReadResult]:
    """Read a file, or every file of a folder (recursively, sorted by relative path),
    opening .gz and nested .zip transparently. One result per leaf input.

    ``source_file`` is the path relative to ``name_root`` (default: the folder itself,
    or a file's parent), with the path inside archives appended:
    ``export.zip/activities/1.fit.gz``. Hidden files and OS metadata (``.DS_Store``,
    ``Thumbs.db``, ``__MACOSX/``) are skipped without a result; symbolic links to
    folders are not followed (reported); everything else yields a result.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise FileNotFoundError(path)
    if path.is_dir():
        root = Path(name_root) if name_root is not None else path
        for file_path in _walk(path):
            yield from _read_file(file_path, display_name(file_path, root), limits)
    else:
        root = Path(name_root) if name_root is not None else path.parent
        yield from _read_file(path, display_name(path, root), limits)


def display_name(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` (POSIX), or whole when it is not under it, as text
    (:func:`ingest.safety.text_name`)."""
    try:
        return text_name(path.relative_to(root).as_posix())
    except ValueError:
        return text_name(path.as_posix())


def _walk(folder: Path) -> Iterator[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if not is_os_junk(d)]
        for d in dirnames:
            if (here / d).is_symlink():
                found.append(here / d)
        found.extend(here / fn for fn in filenames if not is_os_junk(fn))
    yield from sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _read_file(path: Path, name: str, limits: Limits) -> Iterator[ReadResult]:
    try:
        if path.is_symlink() and path.is_dir():
            yield _error_result(name, UnsafeInputError(name, "symbolic link to a folder not followed"))
            return
        if path.is_symlink() and not path.exists():
            yield _error_result(name, CorruptFileError(name, "broken symbolic link"))
            return
        if not path.is_file():
            yield _error_result(name, UnsupportedFormatError(name, "not a regular file (device, pipe or socket)"))
            return
        with path.open("rb") as f:
            yield from _read_stream(name, f, 0, ArchiveBudget(limits), limits)
    except OSError as exc:
        yield _error_result(name, CorruptFileError(name, f"cannot read file: {exc.strerror or exc}"))
