"""Guards for reading untrusted input: archive member names, decompression bombs,
XML entity attacks, deadlines, and athlete ids that end up in paths.

Everything here measures what actually happens (bytes really decompressed, elements
really nested) rather than trusting sizes declared in headers, and raises one of the
typed errors of :mod:`ingest.errors`.
"""

from __future__ import annotations

import io
import re
import stat
import time
import unicodedata
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from ingest.errors import (
    CorruptFileError,
    EmptyFileError,
    GaitwatchError,
    PathNotTextError,
    ResourceLimitError,
    UnsafeInputError,
)
from ingest.limits import Limits

CHUNK = 64 * 1024

# A compression ratio says little about tiny members: a few KB of repeated XML can
# compress 100x. The ratio guard applies once this many bytes have come out, so a
# bomb is still stopped after at most this much output (plus one chunk).
RATIO_CHECK_MIN_BYTES = 1024 * 1024

# A rich GPX/TCX point is about 10 elements (trkpt, ele, time, extensions, TPX, hr, cad,
# atemp, ...). The whole document may hold this many elements per allowed record, which
# bounds the memory an ElementTree of tiny hostile elements (<a/><a/>...) can take.
XML_ELEMENTS_PER_RECORD = 16

# OS metadata that archivers and file managers add; never something a user dropped.
_OS_JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "icon\r", "ehthumbs.db"})


class InvalidAthleteIdError(GaitwatchError, ValueError):
    """An athlete id that cannot be turned into a safe slug (empty, only punctuation...)."""


_ATHLETE_ID_MAX = 64
_ATHLETE_ID_BAD = re.compile(r"[^a-z0-9_-]+")


def normalize_athlete_id(raw: str) -> str:
    """Turn a user-supplied athlete name or id into a slug safe for paths and SQL keys.

    NFKC-normalised, lower-case, whitespace runs become ``-``, every character outside
    ``[a-z0-9_-]`` is dropped (accents are stripped first: é -> e), 1-64 characters, no leading ``-`` (or ``.``, which
    cannot survive anyway). ``"Jane Doe"`` -> ``"jane-doe"``; ``"../.."`` raises.
    """
    if not isinstance(raw, str):
        raise InvalidAthleteIdError(f"athlete id must be text, got {type(raw).__name__}")
    text = unicodedata.normalize("NFKC", raw).strip().lower()
    # keep the base letter of accented ones (é -> e) rather than dropping it
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = re.sub(r"\s+", "-", text)
    slug = _ATHLETE_ID_BAD.sub("", text).lstrip("-")
    if not slug:
        raise InvalidAthleteIdError(f"invalid athlete id {raw!r}: nothing usable left in [a-z0-9_-]")
    if len(slug) > _ATHLETE_ID_MAX:
        raise InvalidAthleteIdError(
            f"invalid athlete id {raw[:80]!r}: longer than {_ATHLETE_ID_MAX} characters"
        )
    return slug


# --------------------------------------------------------------------------- names


def text_path(path: Path) -> Path:
    """``path`` itself when it is valid UTF-8, else :class:`PathNotTextError`. A path a
    command passes to a flow becomes a Prefect parameter, sent to its server as JSON,
    which cannot carry the raw bytes of such a name. Files inside the inbox or inside a
    folder given to ``gaitwatch ingest`` may have any name: they are never parameters."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise PathNotTextError(
            f"{text_name(str(path))}: the path is not valid UTF-8 text; rename that folder or "
            "file, or drop the files into the inbox (names inside it may be anything)"
        ) from None
    return path


def text_name(name: str) -> str:
    """``name`` as text that can be stored, logged and printed. A file name that is not
    valid UTF-8 (a Latin-1 name from an old zip or a Windows copy) reaches Python with
    its undecodable bytes as lone surrogates, which DuckDB, polars and Prefect refuse to
    encode: each such byte is written ``\\xNN`` instead (``café`` in Latin-1 becomes
    ``caf\\xe9``). Valid names are returned unchanged."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = name.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a surrogate no file system name decodes to
            return name.encode("utf-8", "backslashreplace").decode("utf-8")
        return raw.decode("utf-8", "backslashreplace")
    return name


def is_os_junk(name: str) -> bool:
    """True for OS/archiver metadata: ``__MACOSX/`` trees, AppleDouble ``._x`` files,
    ``.DS_Store``, ``Thumbs.db``, and hidden (dot) files or folders. These are skipped
    without a result; everything else a user dropped gets a result."""
    parts = [p for p in re.split(r"[\\/]", name) if p]
    if not parts:
        return False
    if any(p == "__MACOSX" or (p.startswith(".") and p not in (".", "..")) for p in parts):
        return True
    return parts[-1].lower() in _OS_JUNK_NAMES


def check_member_name(name: str) -> str | None:
    """Return why an archive member name is unsafe (zip slip), or None if it is fine.

    We never extract to disk, but a name that climbs out of its folder, is absolute or
    carries a drive letter is a sign of a hostile archive and would mislead anyone
    reading ``source_file``: such members are refused.
    """
    if "\x00" in name:
        return "member name contains a NUL byte"
    if name.startswith(("/", "\\")):
        return "absolute member path"
    if re.match(r"^[A-Za-z]:", name):
        return "member path with a drive letter"
    parts = re.split(r"[\\/]", name)
    if any(p == ".." for p in parts):
        return "member path climbs out of the archive ('..')"
    return None


def zip_member_is_symlink(external_attr: int) -> bool:
    """Unix mode bits live in the high 16 bits of a zip member's external attributes."""
    return stat.S_ISLNK(external_attr >> 16)


# --------------------------------------------------------------------------- budgets


class Deadline:
    """Cooperative wall-clock limit for decoding one file (``limits.decode_timeout_s``).

    Readers call :meth:`check` every few thousand elements; CPU-bound C code cannot be
    interrupted from Python, so the check has to be frequent enough to be useful.
    """

    def __init__(self, source: str, seconds: float) -> None:
        self.source = source
        self.seconds = seconds
        self.start = time.monotonic()

    def check(self) -> None:
        if time.monotonic() - self.start > self.seconds:
            raise ResourceLimitError(
                self.source, f"decoding took longer than {self.seconds:g} s (decode_timeout_s)"
            )


class ArchiveBudgetExceeded(ResourceLimitError):
    """The archive as a whole is over budget (entries or total bytes): stop walking it."""


class ArchiveBudget:
    """What one top-level input may expand to, across all nested archives.

    Counts bytes actually produced by decompression and members actually seen.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.uncompressed = 0
        self.entries = 0

    def add_entry(self, source: str) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise ArchiveBudgetExceeded(
                source, f"archive holds more than {self.limits.max_entries} members (max_entries)"
            )

    def add_bytes(self, source: str, n: int) -> None:
        self.uncompressed += n
        if self.uncompressed > self.limits.max_uncompressed_bytes:
            raise ArchiveBudgetExceeded(
                source,
                "archive expands to more than "
                f"{self.limits.max_uncompressed_bytes} bytes (max_uncompressed_bytes): "
                "possible decompression bomb",
            )


ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
GZIP_MAGIC = b"\x1f\x8b"


def is_container_magic(head: bytes) -> bool:
    return head.startswith(GZIP_MAGIC) or head.startswith(ZIP_MAGICS)


class CappedWriter:
    """Write decompressed output to ``dst`` while measuring it.

    Refuses (typed errors) when the output exceeds ``max_bytes`` — or ``leaf_max`` when
    the first bytes show a plain file rather than a nested archive — the archive budget,
    or ``limits.max_ratio`` times the compressed bytes (past :data:`RATIO_CHECK_MIN_BYTES`).
    """

    def __init__(
        self,
        dst: IO[bytes],
        source: str,
        *,
        max_bytes: int,
        limits: Limits,
        leaf_max: int | None = None,
        budget: ArchiveBudget | None = None,
    ) -> None:
        self.dst = dst
        self.source = source
        self.max_bytes = max_bytes
        self.leaf_max = leaf_max
        self.limits = limits
        self.budget = budget
        self.total = 0

    def write(self, chunk: bytes, compressed_so_far: int | None) -> None:
        if not chunk:
            return
        if self.total == 0 and self.leaf_max is not None and not is_container_magic(chunk[:4]):
            self.max_bytes = min(self.max_bytes, self.leaf_max)
        self.total += len(chunk)
        if self.budget is not None:
            self.budget.add_bytes(self.source, len(chunk))
        if self.total > self.max_bytes:
            raise ResourceLimitError(
                self.source,
                f"decompresses to more than {self.max_bytes} bytes (size limit): possible decompression bomb",
            )
        if compressed_so_far is not None and self.total >= RATIO_CHECK_MIN_BYTES:
            if self.total > self.limits.max_ratio * max(compressed_so_far, 1):
                raise UnsafeInputError(
                    self.source,
                    f"compression ratio above {self.limits.max_ratio:g}:1 "
                    f"({compressed_so_far} bytes -> more than {self.total}): decompression bomb",
                )
        self.dst.write(chunk)


def copy_capped(src: IO[bytes], writer: CappedWriter, compressed_size: int | None) -> int:
    """Stream an already-decompressing reader (a zip member) through ``writer``.
    ``compressed_size`` is what the reader will consume at most, so the ratio is exact
    by the end and conservative before it."""
    while True:
        chunk = src.read(CHUNK)
        if not chunk:
            return writer.total
        writer.write(chunk, compressed_size)


def gunzip_capped(src: IO[bytes], writer: CappedWriter) -> int:
    """Stream-decompress gzip data (every member of a concatenated stream) from ``src``
    through ``writer``. zlib is never asked for more than one chunk of output at a time,
    and the ratio is measured against the compressed bytes consumed so far, so a bomb
    is stopped early."""
    source = writer.source
    consumed = 0
    d = zlib.decompressobj(wbits=31)
    pending = b""
    started = False
    while True:
        if not pending:
            pending = src.read(CHUNK)
            consumed += len(pending)
        if not pending:
            if d.eof or not started:
                break
            # input exhausted: let zlib hand out output it still holds, one chunk at a time
            out = d.decompress(b"", CHUNK)
            if not out:
                break
            writer.write(out, consumed)
            continue
        if d.eof:
            # another gzip member follows (concatenated .gz); zero padding after the last
            # member is common and harmless
            if not pending.strip(b"\x00"):
                pending = b""
                continue
            d = zlib.decompressobj(wbits=31)
        try:
            out = d.decompress(pending, CHUNK)
        except zlib.error as exc:
            raise CorruptFileError(source, f"damaged gzip data: {exc}", offset=consumed) from None
        started = True
        pending = d.unconsumed_tail or d.unused_data
        writer.write(out, consumed)
    if not started:
        raise EmptyFileError(source, "empty gzip file")
    if not d.eof:
        raise CorruptFileError(source, "gzip data truncated (no end-of-stream marker)", offset=consumed)
    return writer.total


def gunzip_bytes(data: bytes, source: str, limits: Limits) -> bytes:
    """In-memory gunzip of one file's bytes, capped at ``limits.max_file_bytes``."""
    out = io.BytesIO()
    gunzip_capped(io.BytesIO(data), CappedWriter(out, source, max_bytes=limits.max_file_bytes, limits=limits))
    return out.getvalue()


# --------------------------------------------------------------------------- XML

_UTF8_BOM = b"\xef\xbb\xbf"


def strip_xml_prolog_noise(data: bytes) -> bytes:
    """Drop a UTF-8 byte-order mark and whitespace before the XML declaration (Strava
    TCX exports start with blanks, which expat rejects)."""
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    return data.lstrip(b" \t\r\n")


def safe_parse_xml(
    data: bytes,
    source: str,
    limits: Limits,
    *,
    count_tag: str | None = None,
    deadline: Deadline | None = None,
) -> Element:
    """Parse untrusted XML into an ElementTree, refusing any DTD, entity declaration or
    external reference (defusedxml: no billion laughs, no XXE), elements nested deeper than
    ``limits.max_xml_depth``, and more than ``limits.max_records`` elements whose local
    name is ``count_tag`` (e.g. ``trkpt``).
    """
    if len(data) > limits.max_file_bytes:
        raise ResourceLimitError(source, f"file larger than {limits.max_file_bytes} bytes (max_file_bytes)")
    data = strip_xml_prolog_noise(data)
    if not data.strip():
        raise EmptyFileError(source, "empty XML file")
    depth = 0
    counted = 0
    elements = 0
    max_elements = limits.max_records * XML_ELEMENTS_PER_RECORD
    n = 0
    try:
        # no DTD at all (GPX/TCX never need one), hence no entities, internal or external
        it = iterparse(io.BytesIO(data), events=("start", "end"), forbid_dtd=True)
        for event, elem in it:
            n += 1
            if event == "start":
                depth += 1
                elements += 1
                if elements > max_elements:
                    raise ResourceLimitError(
                        source, f"more than {max_elements} XML elements ({XML_ELEMENTS_PER_RECORD} per max_records)"
                    )
                if depth > limits.max_xml_depth:
                    raise ResourceLimitError(
                        source, f"XML nested deeper than {limits.max_xml_depth} elements (max_xml_depth)"
                    )
                if count_tag is not None and local_name(elem.tag) == count_tag:
                    counted += 1
                    if counted > limits.max_records:
                        raise ResourceLimitError(
                            source, f"more than {limits.max_records} <{count_tag}> points (max_records)"
                        )
            else:
                depth -= 1
            if deadline is not None and n % 4096 == 0:
                deadline.check()
        root: Element | None = it.root  # type: ignore[attr-defined]
    except DefusedXmlException as exc:
        raise UnsafeInputError(
            source, f"XML entity/DTD feature refused ({type(exc).__name__}): possible XML bomb or XXE"
        ) from None
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise CorruptFileError(source, f"malformed XML: {_one_line(str(exc))}", offset=line) from None
    except (ValueError, LookupError, UnicodeError) as exc:
        # unknown encoding names in the XML declaration, bad bytes for the declared one
        raise CorruptFileError(source, f"malformed XML: {type(exc).__name__}: {_one_line(str(exc))}") from None
    if root is None:
        raise CorruptFileError(source, "malformed XML: no root element")
    return root


def local_name(tag: object) -> str:
    """``{namespace}name`` or ``prefix:name`` -> ``name``; comments/PIs -> ``""``."""
    if not isinstance(tag, str):
        return ""
    if tag.startswith("{"):
        return tag.rpartition("}")[2]
    return tag.rpartition(":")[2]


def iter_local(elem: Element, name: str) -> Iterator[Element]:
    """Direct children of ``elem`` whose local name is ``name`` (namespace-agnostic)."""
    for child in elem:
        if local_name(child.tag) == name:
            yield child


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
