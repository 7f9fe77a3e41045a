"""FIT reader: bytes of a ``.fit`` file -> :class:`ingest.schema.ParsedActivity` list.

Two decoders feed one builder (:mod:`ingest.fit.build`):

- :mod:`ingest.fit.reference`: fitparse (about 7k records/s), the reference, with the
  FIT SDK's rule for fields whose size does not fit their base type;
- :mod:`ingest.fit.fast`: fitfast (Rust; ~100x faster), which refuses any file it cannot
  decode exactly like the reference; ``decoder="auto"`` then falls back.

Both deliver :class:`ingest.fit.fields.RawSegment` per FIT file (a chained file holds
several); framing, budget and CRC live in :mod:`ingest.fit.common`. The decoders do not
import each other's private names; the fast path uses the reference's public
``decode_segment`` for the few summary messages fitfast cannot decode like fitparse.
The quirks handled are listed in docs/ingest.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from ingest.errors import CorruptFileError, EmptyFileError, IngestError, ResourceLimitError
from ingest.fit.build import build, group_segments
from ingest.fit.common import Budget, exc_line, split_segments
from ingest.fit.fields import RawSegment, enum_name
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.schema import ParsedActivity

__all__ = ["Decoder", "DecodePath", "decode_path", "enum_name", "read_fit", "split_segments"]

Decoder = Literal["auto", "fast", "fitparse"]


@dataclass(frozen=True)
class DecodePath:
    """Which decoder read a file: ``"fast"``, ``"reference"`` (fitparse after the fast
    path refused it, ``fallback`` says why) or ``"none"`` (no decoder could: ``error``)."""

    path: Literal["fast", "reference", "none"]
    fallback: str | None = None
    error: str | None = None


def read_fit(
    source_file: str,
    data: bytes,
    limits: Limits | None = None,
    *,
    decoder: Decoder = "auto",
) -> list[ParsedActivity]:
    """Decode one FIT file into activities (one, unless chained files hold several).

    Parameters
    ----------
    source_file:
        Name as dropped, used in errors and ``ActivityMeta.source_file``.
    data:
        The file's bytes (decompressed).
    limits:
        Resource limits (``max_file_bytes``, ``max_records``, ``decode_timeout_s``).
    decoder:
        ``"auto"`` (fast path, fitparse when the fast path refuses the file),
        ``"fast"`` (fast path only; raises where it refuses) or ``"fitparse"``.

    Raises
    ------
    EmptyFileError, CorruptFileError, NotAnActivityError, ResourceLimitError
        Always one of ours, with a one-line reason; never a decoder's own exception.
    """
    return _read(source_file, data, limits, decoder)[0]


def decode_path(source_file: str, data: bytes, limits: Limits | None = None) -> DecodePath:
    """Which path ``read_fit(decoder="auto")`` takes for ``data`` (for the benchmark's
    share of files on the fast path, and its fallback reasons)."""
    try:
        return _read(source_file, data, limits, "auto")[1]
    except IngestError as exc:
        return DecodePath("none", error=exc.reason)


def _read(
    source_file: str, data: bytes, limits: Limits | None, decoder: Decoder
) -> tuple[list[ParsedActivity], DecodePath]:
    limits = limits or DEFAULT_LIMITS
    if not data:
        raise EmptyFileError(source_file, "empty file (0 bytes)")
    if len(data) > limits.max_file_bytes:
        raise ResourceLimitError(
            source_file, f"FIT file of {len(data)} bytes exceeds the limit of {limits.max_file_bytes}"
        )
    budget = Budget(source_file, limits)
    warnings: list[str] = []
    segments, truncation = split_segments(source_file, data, warnings)
    raw, path = _decode(source_file, data, segments, budget, decoder, truncation)
    for seg in raw:
        warnings.extend(n for n in seg.notes if n not in warnings)
    groups = group_segments(source_file, raw, warnings)
    sha = hashlib.sha256(data).hexdigest()
    activities = []
    used = path.path if path.fallback is None else f"{path.path}: {path.fallback}"
    for group in groups:
        try:
            activities.append(build(source_file, sha, group, list(warnings)))
            activities[-1].meta.decoder = used
        except IngestError:
            raise
        except Exception as exc:  # a bug in a corner we did not foresee: still one line
            raise CorruptFileError(source_file, f"FIT content not understood: {exc_line(exc)}") from exc
    return activities, path


def _decode(
    source_file: str,
    data: bytes,
    segments: list[tuple[int, int]],
    budget: Budget,
    decoder: Decoder,
    truncation: CorruptFileError | None,
) -> tuple[list[RawSegment], DecodePath]:
    from ingest.fit import reference

    fallback = "the file is truncated" if truncation is not None else None
    if decoder in ("auto", "fast") and truncation is None:
        from ingest.fit import fast

        try:
            return fast.decode(data, segments, budget), DecodePath("fast")
        except fast.FastPathRefused as refusal:
            if decoder == "fast":
                raise CorruptFileError(source_file, f"fast FIT decoder refused the file: {refusal}") from None
            fallback = str(refusal)
    out = reference.decode_all(source_file, data, segments, budget, truncation)
    if truncation is not None:  # fitparse cannot have read past the end; be sure anyway
        raise truncation
    return out, DecodePath("reference", fallback=fallback)
