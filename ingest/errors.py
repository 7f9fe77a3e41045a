"""gaitwatch's own ingest exceptions.

Callers of :mod:`ingest` never see a raw fitparse, gpxpy, lxml or zipfile exception:
readers wrap them in one of these, carrying where things failed and a one-line,
human reason. ``status`` says how the input is recorded in ``ingest_log``:
``rejected`` (an error) or ``skipped`` (readable, but not an activity we load).
"""

from __future__ import annotations


class GaitwatchError(Exception):
    """Base class of every error gaitwatch raises on purpose."""


class PathNotTextError(GaitwatchError):
    """A path given to a command is not valid UTF-8 (:func:`ingest.safety.text_path`)."""


class IngestError(GaitwatchError):
    """An input could not be turned into an activity.

    Parameters
    ----------
    source:
        The file's name as dropped (``archive.zip/inner/x.fit`` for archive members).
    reason:
        One line a runner can read, e.g. ``"FIT file truncated: expected 1200 bytes, got 800"``.
    offset:
        Byte offset (binary formats) or line number (XML) where the problem was found.
    """

    status: str = "rejected"

    def __init__(self, source: str, reason: str, offset: int | None = None) -> None:
        self.source = source
        self.reason = reason
        self.offset = offset
        where = f" (at {offset})" if offset is not None else ""
        super().__init__(f"{source}: {reason}{where}")

    def __reduce__(self) -> tuple[type[IngestError], tuple[str, str, int | None]]:
        # Exceptions pickle as cls(*args); ours take (source, reason, offset). Process
        # pools, Dask and Prefect results pickle them.
        return (type(self), (self.source, self.reason, self.offset))

    def one_line(self) -> str:
        """The reason as shown to users: no traceback, no newlines."""
        return " ".join(str(self).split())


class UnsupportedFormatError(IngestError):
    """Not a FIT, GPX or TCX file (or archive of them), judged by content and name."""


class CorruptFileError(IngestError):
    """Bad CRC, truncated, malformed header or XML: the bytes are damaged."""


class EmptyFileError(CorruptFileError):
    """Zero bytes, or a container with nothing in it."""


class NotAnActivityError(IngestError):
    """Readable, but not a recorded activity: FIT settings/monitoring files, GPX routes,
    metadata-only GPX, tracks without timestamps. Logged as ``skipped``."""

    status = "skipped"


class ImplausibleTimeError(IngestError):
    """An activity recorded at a time no clock could have set (before
    ``Limits.earliest_start_year``, or far ahead of the time of loading): logged as
    ``skipped`` by the warehouse, not analysed."""

    status = "skipped"


class UnsafeInputError(IngestError):
    """Hostile input refused: zip slip, absolute paths, symlinks, decompression bombs,
    XML entity expansion or external entities."""


class ResourceLimitError(IngestError):
    """A configured limit (size, time, records, nesting) was exceeded while reading."""
