"""Fast FIT decoding: fitfast (Rust) for the record columns, fitparse for the rest.

About 7k records/s with fitparse alone is 8 minutes for a 2,000-file backfill of one-hour
runs. Here each FIT file (one header of a chained file) goes through three steps:

1. ``walk``: a pure-Python pass over the message *headers* (not the field values) that
   checks what fitparse checks and fitfast does not (field sizes that are not a multiple
   of their base type, developer fields used before they are described, undefined local
   messages, truncation), counts records for ``Limits.max_records`` before any decoding,
   and cuts out the few messages the builder needs besides records (file_id, session,
   lap, activity, developer data descriptions) with their definition messages.
2. ``fitfast.records()`` decodes every record message to numpy columns (CRC checked).
3. fitparse decodes the cut-out messages (a few hundred bytes): sessions, laps, file_id
   and developer field names come from the same code as the reference path.

Known fitfast 0.1.0 differences, handled here (see tests/test_fit_differential.py):

- a valid header CRC of 0x0000 makes it compute the file CRC without the header, so
  valid files are rejected: the stored CRC is translated to what it computes
  (:func:`_translated_crc`), an exact transformation, so damage is still detected;
- ``enhanced_speed`` expanded from ``speed`` is 0.001 m/s low on some records (rounding
  when re-scaling): taken from ``speed`` itself, as fitparse does (same for altitude).
  A device writing both natively (FR55) writes the same value in both; were they ever
  to differ, fitparse keeps the native enhanced value and this path the plain one;
- ``compressed_speed_distance`` (old footpods) is not expanded into speed/distance:
  such files are refused and fitparse decodes them.

Anything else unexpected raises :class:`FastPathRefused`; ``read_fit(decoder="auto")``
then decodes the file with fitparse, which also gives the error reason for bad files.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ingest.fit_fields import RECORD_SOURCE_FIELDS, DevColumn, RawSegment

if TYPE_CHECKING:
    from ingest.fit import _Budget

RECORD = 20
FILE_ID, SESSION, LAP, ACTIVITY = 0, 18, 19, 34
FIELD_DESCRIPTION, DEVELOPER_DATA_ID = 206, 207
#: Messages the builder needs besides records; decoded by fitparse after the cut.
SUMMARY_MESSAGES = frozenset({FILE_ID, SESSION, LAP, ACTIVITY, FIELD_DESCRIPTION, DEVELOPER_DATA_ID})
#: Record fields whose components fitfast 0.1.0 does not expand (compressed_speed_distance).
UNEXPANDED_RECORD_FIELDS = frozenset({8})


class FastPathRefused(Exception):
    """The fast path cannot promise fitparse's result for this file."""


@dataclass
class _Def:
    global_num: int
    size: int
    fields: list[tuple[int, int, int]]  # (field number, size, base type)
    little: bool


@dataclass
class Walk:
    """What the header walk learned about one FIT file."""

    records: int = 0
    messages: int = 0
    record_fields: set[int] = field(default_factory=set)
    cut: bytearray = field(default_factory=bytearray)  # definitions + summary messages


def decode(data: bytes, segments: list[tuple[int, int]], budget: _Budget) -> list[RawSegment]:
    """Decode each FIT file of ``data`` (byte ranges from ``ingest.fit.split_segments``)."""
    import fitfast
    import fitparse.records

    from ingest.fit import _FITPARSE_LOCK, _decode_fitparse

    walks = []
    for start, end in segments:
        seg = data[start:end]
        walk = _walk(seg, budget)
        budget.add(walk.records, walk.messages - walk.records)
        budget.check_time()
        walks.append((seg, walk))

    out: list[RawSegment] = []
    with _FITPARSE_LOCK:
        fitparse.records.DEV_TYPES.clear()
        try:
            for seg, walk in walks:
                try:
                    summary = _decode_fitparse(io.BytesIO(_cut_file(seg, walk)), budget)
                except Exception as exc:
                    raise FastPathRefused(f"fitparse on the summary messages: {exc}") from exc
                try:
                    # records() and count() check structure and file CRC; a FIT file
                    # without records is still checked (the cut above is not)
                    payload = _fitfast_bytes(seg)
                    if walk.records:
                        cols = fitfast.records(payload, "record", degrees=True)
                    else:
                        fitfast.count(payload)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as exc:  # noqa: B036 - a Rust panic is a BaseException
                    raise FastPathRefused(f"fitfast: {type(exc).__name__}: {exc}") from exc
                if walk.records:
                    _fill_records(summary, cols, walk)
                out.append(summary)
                budget.check_time()
        finally:
            fitparse.records.DEV_TYPES.clear()
    return out


def _fill_records(raw: RawSegment, cols: dict[str, np.ndarray], walk: Walk) -> None:
    n = len(cols.get("timestamp", ()))
    if n != walk.records or any(len(v) != n for v in cols.values()):
        raise FastPathRefused(f"fitfast returned {n} records, the walk counted {walk.records}")
    raw.n_records = n
    raw.records = {name: cols[name] for name in RECORD_SOURCE_FIELDS if name in cols}
    # fitparse's enhanced_speed/altitude expanded from speed/altitude equals the scaled
    # field itself; fitfast's re-scaling loses 0.001 m/s on some records
    for src, dst in (("speed", "enhanced_speed"), ("altitude", "enhanced_altitude")):
        if src in raw.records:
            base = raw.records.get(dst, np.full(n, np.nan))
            raw.records[dst] = np.where(np.isfinite(raw.records[src]), raw.records[src], base)
    # developer fields: fitfast names columns after field_description.field_name
    described = _dev_descriptions(raw, cols)
    clash = {d for d in described if d in _NATIVE_RECORD_NAMES or d.startswith("unknown_")}
    if clash:
        raise FastPathRefused(f"developer field name(s) equal native ones: {sorted(clash)}")
    for name in (d for d in described if d in cols):
        source, units, native = described[name]
        raw.dev_records.append(DevColumn(source, name, units, native, cols[name]))


def _dev_descriptions(
    raw: RawSegment, cols: dict[str, np.ndarray]
) -> dict[str, tuple[str, str | None, int | None]]:
    """field_name -> (source, units, native_field_num) of every developer field.

    Not filtered on native_mesg_num: Stryd declares bike_profile/sdm_profile for fields
    it writes in records."""
    out: dict[str, tuple[str, str | None, int | None]] = {}
    for desc in raw.dev_descriptions:
        if desc.name in out and desc.name in cols:  # fitfast merged them into one column
            raise FastPathRefused(f"two developer fields named {desc.name!r}")
        out[desc.name] = (desc.source, desc.units, desc.native_field_num)
    return out


# --------------------------------------------------------------------------------------
# The header walk


def _base_sizes() -> dict[int, int]:
    from fitparse.records import BASE_TYPES

    return {num: bt.size for num, bt in BASE_TYPES.items()}


_BASE_SIZE = _base_sizes()


def _native_record_names() -> frozenset[str]:
    from fitparse.profile import MESSAGE_TYPES

    rec = MESSAGE_TYPES[RECORD]
    names = {f.name for f in rec.fields.values()}
    for f in rec.fields.values():
        names |= {sub.name for sub in (f.subfields or [])}
    return frozenset(names)


_NATIVE_RECORD_NAMES = _native_record_names()


def _walk(seg: bytes, budget: _Budget) -> Walk:
    """Walk message headers of one FIT file; refuse what fitparse would reject."""
    header_size = seg[0]
    (data_size,) = struct.unpack_from("<I", seg, 4)
    pos, end = header_size, header_size + data_size
    if end + 2 != len(seg):
        raise FastPathRefused("segment length does not match its header")
    walk = Walk()
    cut = walk.cut
    defs: list[_Def | None] = [None] * 16
    declared: set[int] = set()  # developer_data_index values declared
    described: dict[tuple[int, int], int] = {}  # (developer_data_index, field number) -> base type
    deadline_check = 4096
    messages = 0
    records = 0
    while pos < end:
        h = seg[pos]
        if h & 0x80:  # compressed-timestamp header: data message
            local = (h >> 5) & 0x3
            compressed = True
        elif h & 0x40:  # definition message
            pos = _definition(seg, pos, end, h, defs, described, walk)
            continue
        else:
            local = h & 0xF
            compressed = False
        d = defs[local]
        if d is None:
            raise FastPathRefused(f"data message with undefined local message type {local}")
        nxt = pos + 1 + d.size
        if nxt > end:
            raise FastPathRefused("message runs past the end of the data")
        gnum = d.global_num
        if gnum == RECORD:
            records += 1
        elif gnum in SUMMARY_MESSAGES:
            if compressed:
                raise FastPathRefused("summary message with a compressed timestamp")
            body = seg[pos + 1 : nxt]
            if gnum == DEVELOPER_DATA_ID:
                index = _field_u8(d, body, 3)
                if index is not None:
                    declared.add(index)
            elif gnum == FIELD_DESCRIPTION:
                index, number = _field_u8(d, body, 0), _field_u8(d, body, 1)
                base = _field_u8(d, body, 2)
                if index not in declared or number is None or base not in _BASE_SIZE:
                    raise FastPathRefused("developer field described without its developer id")
                described[(index, number)] = base
            cut += seg[pos:nxt]
        messages += 1
        pos = nxt
        if messages >= deadline_check:
            deadline_check += 4096
            budget.check_time()
    walk.messages = messages
    walk.records = records
    return walk


def _definition(
    seg: bytes,
    pos: int,
    end: int,
    h: int,
    defs: list[_Def | None],
    described: dict[tuple[int, int], int],
    walk: Walk,
) -> int:
    if pos + 6 > end:
        raise FastPathRefused("definition message runs past the end of the data")
    little = seg[pos + 2] == 0
    gnum = struct.unpack_from("<H" if little else ">H", seg, pos + 3)[0]
    nfields = seg[pos + 5]
    p = pos + 6
    if p + 3 * nfields > end:
        raise FastPathRefused("definition message runs past the end of the data")
    fields = []
    size = 0
    for _ in range(nfields):
        num, fsize, base = seg[p], seg[p + 1], seg[p + 2]
        bsize = _BASE_SIZE.get(base)
        if bsize is None:  # fitparse reads it as bytes; rustyfit panics on some
            raise FastPathRefused(f"unknown base type {base:#x}")
        if fsize == 0 or fsize % bsize:
            raise FastPathRefused(f"field size {fsize} is not a multiple of its base type size {bsize}")
        fields.append((num, fsize, base))
        size += fsize
        p += 3
    if h & 0x20:  # developer fields
        if p + 1 > end:
            raise FastPathRefused("definition message runs past the end of the data")
        ndev = seg[p]
        p += 1
        if p + 3 * ndev > end:
            raise FastPathRefused("definition message runs past the end of the data")
        for _ in range(ndev):
            num, fsize, index = seg[p], seg[p + 1], seg[p + 2]
            dev_base = described.get((index, num))
            if dev_base is None:
                raise FastPathRefused("developer field used before it is described")
            if fsize == 0 or fsize % _BASE_SIZE[dev_base]:
                raise FastPathRefused("developer field size is not a multiple of its base type size")
            size += fsize
            p += 3
    if gnum == RECORD:
        nums = {f[0] for f in fields}
        if nums & UNEXPANDED_RECORD_FIELDS:
            raise FastPathRefused("compressed_speed_distance is not expanded by fitfast")
        walk.record_fields |= nums
    defs[h & 0xF] = _Def(gnum, size, fields, little)
    if gnum in SUMMARY_MESSAGES:  # the cut needs only the definitions its messages use
        walk.cut += seg[pos:p]
    return p


def _field_u8(d: _Def, body: bytes, number: int) -> int | None:
    """A one-byte field of a data message body; None when absent or invalid (0xFF)."""
    offset = 0
    for num, fsize, _base in d.fields:
        if num == number:
            value = body[offset] if fsize >= 1 else None
            return None if value == 0xFF else value
        offset += fsize
    return None


def _cut_file(seg: bytes, walk: Walk) -> bytes:
    """A FIT file holding the definitions and summary messages only (CRC not checked:
    fitfast checks the original's)."""
    from fitparse.records import Crc

    header = bytearray(seg[:12])
    header[0] = 12
    header[4:8] = struct.pack("<I", len(walk.cut))
    body = bytes(header) + bytes(walk.cut)
    return body + struct.pack("<H", Crc.calculate(body))


# --------------------------------------------------------------------------------------
# CRC translation for fitfast


def _fitfast_bytes(seg: bytes) -> bytes:
    """The segment with its stored file CRC translated to what fitfast computes.

    The FIT file CRC covers header + data. With a valid 14-byte header the CRC state
    after the header is 0, so fitfast's CRC over the data alone agrees; with a header CRC
    of 0x0000 (allowed) or a 12-byte header it is not. CRC-16 is linear:
    crc(state s, data) = crc(0, data) XOR zeros(s, len(data)), where zeros() runs the
    state through len(data) zero bytes. So the stored CRC is valid for the spec exactly
    when stored XOR zeros(s, n) is valid for fitfast.
    """
    from fitparse.records import Crc

    header_size = seg[0]
    state = Crc.calculate(seg[:header_size])
    if state == 0:
        return seg
    n = len(seg) - header_size - 2
    (stored,) = struct.unpack_from("<H", seg, len(seg) - 2)
    translated = stored ^ _zeros(state, n)
    return seg[:-2] + struct.pack("<H", translated)


def _zeros(state: int, n: int) -> int:
    """CRC state after ``n`` zero bytes, by squaring the one-byte linear map."""
    from fitparse.records import Crc

    step = [Crc.calculate(b"\x00", 1 << i) for i in range(16)]  # images of basis vectors
    result = state
    while n:
        if n & 1:
            result = _apply(step, result)
        step = [_apply(step, _apply(step, 1 << i)) for i in range(16)]
        n >>= 1
    return result


def _apply(linear: list[int], x: int) -> int:
    out = 0
    i = 0
    while x:
        if x & 1:
            out ^= linear[i]
        x >>= 1
        i += 1
    return out
