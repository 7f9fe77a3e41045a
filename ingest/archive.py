"""Streaming access to .zip and .gz containers with the guards of :mod:`ingest.safety`.

Nothing is extracted to disk under its own name. A member is streamed into a spooled
temporary file (memory up to :data:`SPOOL_MEMORY_BYTES`, then an anonymous temp file),
measured while it is decompressed, handed to the caller, and closed: at most one member
is held at a time, whatever the archive's size. Nested archives (Garmin Connect bulk
exports: zips inside zips; Strava: ``activities/*.fit.gz``) are walked the same way.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from ingest.errors import (
    CorruptFileError,
    EmptyFileError,
    IngestError,
    ResourceLimitError,
    UnsafeInputError,
    UnsupportedFormatError,
)
from ingest.limits import Limits
from ingest.safety import (
    ArchiveBudget,
    ArchiveBudgetExceeded,
    CappedWriter,
    check_member_name,
    copy_capped,
    gunzip_capped,
    is_os_junk,
    zip_member_is_symlink,
)

SPOOL_MEMORY_BYTES = 32 * 1024 * 1024  # members larger than this spill to an anonymous temp file


def new_spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115


@dataclass
class Member:
    """One archive member: its display name and either its decompressed bytes (a
    spooled file positioned at 0, closed by the walker after the consumer is done) or
    the error that stopped it from being read."""

    name: str
    data: IO[bytes] | None
    error: IngestError | None


def gunzip_to_spool(src: IO[bytes], name: str, limits: Limits, budget: ArchiveBudget) -> IO[bytes]:
    """Decompress a gzip stream into a new spool (caller closes it). Plain files are
    capped at ``max_file_bytes``, nested archives by the archive budget."""
    spool = new_spool()
    try:
        writer = CappedWriter(
            spool, name, max_bytes=limits.max_uncompressed_bytes, leaf_max=limits.max_file_bytes,
            limits=limits, budget=budget,
        )
        gunzip_capped(src, writer)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def iter_zip(src: IO[bytes], archive_name: str, limits: Limits, budget: ArchiveBudget) -> Iterator[Member]:
    """Members of a zip file (``src`` must be seekable), in archive order.

    Refused per member, with a typed error, never silently: zip slip names, symlinks,
    encrypted members, bombs (size, ratio, budget), damaged data. Directory entries and
    OS metadata (``__MACOSX/``, ``._x``, ``.DS_Store``) are skipped without a result.
    Raises for the archive as a whole when its directory cannot be read or it holds
    more members than ``max_entries``.
    """
    try:
        zf = zipfile.ZipFile(src)
    except zipfile.LargeZipFile as exc:
        raise UnsupportedFormatError(archive_name, f"zip64 archive not supported: {exc}") from None
    except NotImplementedError as exc:
        # the stdlib stops reading the directory at a member that needs a newer zip
        # specification than it implements ("zip file version 8.4")
        raise UnsupportedFormatError(archive_name, unsupported_zip_reason(exc)) from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, IndexError, OverflowError) as exc:
        raise CorruptFileError(archive_name, f"damaged zip archive: {type(exc).__name__}: {exc}") from None
    with zf:
        infos = zf.infolist()
        if budget.entries + len(infos) > limits.max_entries:
            raise ResourceLimitError(
                archive_name, f"archive lists {len(infos)} members, more than max_entries={limits.max_entries}"
            )
        yielded = 0
        for info in infos:
            budget.add_entry(archive_name)
            raw = info.filename
            if raw.endswith(("/", "\\")) or info.is_dir():
                continue
            if is_os_junk(raw):
                continue
            name = f"{archive_name}/{raw}"
            yielded += 1
            reason = check_member_name(raw)
            if reason is not None:
                yield Member(name, None, UnsafeInputError(name, f"zip slip refused: {reason}"))
                continue
            if zip_member_is_symlink(info.external_attr):
                yield Member(name, None, UnsafeInputError(name, "symbolic link inside archive refused"))
                continue
            if info.flag_bits & 0x1:
                yield Member(name, None, UnsupportedFormatError(name, "encrypted zip member (password protected)"))
                continue
            spool = new_spool()
            try:
                try:
                    with zf.open(info) as member:
                        writer = CappedWriter(
                            spool, name, max_bytes=limits.max_uncompressed_bytes,
                            leaf_max=limits.max_file_bytes, limits=limits, budget=budget,
                        )
                        copy_capped(member, writer, info.compress_size)
                except IngestError as exc:
                    if isinstance(exc, ArchiveBudgetExceeded):
                        raise  # the whole archive is over budget: stop walking it
                    yield Member(name, None, exc)
                    continue
                except NotImplementedError as exc:
                    yield Member(name, None, UnsupportedFormatError(name, unsupported_zip_reason(exc, info)))
                    continue
                except Exception as exc:  # zipfile/zlib/bz2/lzma raise many types on damaged data
                    yield Member(name, None, CorruptFileError(name, f"damaged zip member: {type(exc).__name__}: {exc}"))
                    continue
                spool.seek(0)
                yield Member(name, spool, None)
            finally:
                spool.close()
        if yielded == 0:
            raise EmptyFileError(archive_name, "archive holds no files")


# zip compression methods Python's zipfile cannot extract (APPNOTE.TXT 4.4.5)
_ZIP_METHODS = {6: "Implode", 9: "Deflate64", 93: "Zstandard", 95: "XZ", 97: "WavPack", 98: "PPMd",
                99: "AES encryption"}


def unsupported_zip_reason(exc: NotImplementedError, info: zipfile.ZipInfo | None = None) -> str:
    """The zip feature the standard library refused, in words."""
    m = re.search(r"zip file version (\d+(?:\.\d+)?)", str(exc))
    if m:
        return f"zip member needs zip version {m.group(1)}, which is not supported"
    if "encryption" in str(exc):
        return f"encrypted zip member ({exc})"
    if info is not None and "compression" in str(exc):
        method = _ZIP_METHODS.get(info.compress_type, "unknown")
        return f"zip member uses compression method {info.compress_type} ({method}), which is not supported"
    return f"zip feature not supported: {exc}"
