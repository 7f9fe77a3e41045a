"""Fast FIT decoding: fitfast (Rust) for the record columns, fitparse for the rest.

About 7k records/s with fitparse alone is 8 minutes for a 2,000-file backfill of one-hour
runs. Here each FIT file (one header of a chained file) goes through three steps:

1. ``walk``: a pure-Python pass over the message *headers* (not the field values) that
   checks what fitparse checks and fitfast does not (developer fields used before they
   are described, undefined local messages, truncation), notes fields whose size is not
   a multiple of their base type (decoded as bytes and ignored, as the FIT SDK and the
   reference do), counts records for ``Limits.max_records`` before any decoding,
   and cuts out the few messages the builder needs besides records (file_id, session,
   lap, activity, developer data descriptions) with their definition messages.
2. ``fitfast.records()`` decodes every record message to numpy columns (CRC checked).
3. the cut-out messages (a few hundred bytes) are decoded by ``fitfast.parse`` when the
   walk found them "plain" (no developer data; every field the builder reads, and every
   field fitparse post-processes, written with the profile's base type and size), and
   by fitparse otherwise (developer field names and units come from the reference code).
   ``fitfast.parse`` is about 50x cheaper than fitparse here (0.1 ms against 4 ms per
   file); see :func:`_summary_from_fitfast` for why its values are fitparse's.

Known fitfast 0.1.0 differences, handled here (see tests/test_fit_differential.py):

- a valid header CRC of 0x0000 makes it compute the file CRC without the header, so
  valid files are rejected: the stored CRC is translated to what it computes
  (:func:`_fitfast_bytes`), an exact transformation, so damage is still detected;
  12-byte headers need no translation;
- two developer field descriptions with the same name: the same field described
  twice (COROS "Effort Pace") is one column; two different fields would be merged into
  one column by fitfast, so such files are refused;
- ``enhanced_speed`` expanded from ``speed`` is 0.001 m/s low on some records (rounding
  when re-scaling): taken from ``speed`` itself, as fitparse does (same for altitude).
  A device writing both natively (FR55) writes the same value in both; were they ever
  to differ, fitparse keeps the native enhanced value and this path the plain one;
- ``compressed_speed_distance`` (old footpods) is not expanded into speed/distance: the
  walk expands it as fitparse does (12-bit speed and distance, distance accumulated with
  rollover, restarting at each definition), native fields winning;
- ``fitfast.parse`` does not resolve sub-fields (``avg_cadence`` stays ``avg_cadence``
  where fitparse says ``avg_running_cadence``; the builder reads both names), expands
  ``enhanced_avg_speed`` from ``avg_speed`` with the same rounding loss as records (taken
  from ``avg_speed`` itself), and reads a field by fitfast's profile base type where the
  file declares another one (such files take the fitparse route).

Anything else the fast path cannot promise raises :class:`FastPathRefused`; ``read_fit(decoder="auto")``
then decodes the file with fitparse, which also gives the error reason for bad files.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ingest.fit.common import CRC_TABLE as _CRC_BYTE
from ingest.fit.common import Budget, crc16
from ingest.fit.fields import (
    ACTIVITY_SOURCE_FIELDS,
    FILE_ID_SOURCE_FIELDS,
    RECORD_SOURCE_FIELDS,
    SUMMARY_SOURCE_FIELDS,
    DevColumn,
    RawSegment,
    enum_name,
    misaligned_note,
)
from ingest.fit.reference import DevTypes, decode_segment, distinct_dev_names

RECORD = 20
FILE_ID, SESSION, LAP, ACTIVITY = 0, 18, 19, 34
FIELD_DESCRIPTION, DEVELOPER_DATA_ID = 206, 207
#: Messages the builder needs besides records; decoded by fitparse after the cut.
SUMMARY_MESSAGES = frozenset({FILE_ID, SESSION, LAP, ACTIVITY, FIELD_DESCRIPTION, DEVELOPER_DATA_ID})
#: compressed_speed_distance (old footpods): 3 bytes, speed = bits 0-11 / 100 m/s,
#: distance = bits 12-23 / 16 m, accumulated with 12-bit rollover (FIT profile)
CSD_FIELD = 8


class FastPathRefused(Exception):
    """The fast path cannot promise fitparse's result for this file."""


@dataclass
class _Def:
    global_num: int
    size: int
    fields: list[tuple[int, int, int]]  # (field number, size, base type)
    little: bool
    numbers: frozenset[int] = frozenset()
    #: why fitfast.parse may not decode this summary message like fitparse ("" = it may)
    not_plain: str = ""
    #: offset of compressed_speed_distance in a record's body (None: not in this definition)
    csd_offset: int | None = None


@dataclass
class Walk:
    """What the header walk learned about one FIT file."""

    records: int = 0
    messages: int = 0
    record_fields: set[int] = field(default_factory=set)
    cut: bytearray = field(default_factory=bytearray)  # definitions + summary messages
    #: summary data messages in file order: (definition, message body)
    summary: list[tuple[_Def, bytes]] = field(default_factory=list)
    #: why the cut goes to fitparse rather than fitfast.parse ("" = fitfast may decode it)
    needs_fitparse: str = ""
    #: fields decoded as bytes (size not a multiple of the base type's): (message number,
    #: field number, size, base type name), one per definition, like the reference reports
    misaligned: list[tuple[int, int, int, str]] = field(default_factory=list)
    #: every field_description's field_name: (developer key, byte offset in the file,
    #: size, name bytes), to tell fitfast's columns of two fields of one name apart
    dev_names: list[tuple[tuple[int, int], int, int, bytes]] = field(default_factory=list)
    #: compressed_speed_distance expanded as the reference does: record index -> (speed
    #: m/s, distance m); fitfast 0.1.0 does not expand it
    csd: dict[int, tuple[float, float]] = field(default_factory=dict)
    csd_accumulator: int = 0


def decode(data: bytes, segments: list[tuple[int, int]], budget: Budget) -> list[RawSegment]:
    """Decode each FIT file of ``data`` (byte ranges from ``ingest.fit.split_segments``)."""
    walks = []
    for start, end in segments:
        seg = data[start:end]
        walk = _walk(seg, budget)
        budget.add(walk.records, walk.messages - walk.records)
        budget.check_time()
        walks.append((seg, walk))

    dev_types: DevTypes = {}  # the reference's developer types, shared by chained files
    return [_decode_one(seg, walk, budget, dev_types) for seg, walk in walks]


def _decode_one(seg: bytes, walk: Walk, budget: Budget, dev_types: DevTypes) -> RawSegment:
    """One walked FIT file: summary messages, then records."""
    import fitfast

    cut = _cut_file(seg, walk)
    if walk.needs_fitparse:
        try:
            summary = decode_segment(io.BytesIO(cut), budget, dev_types)
        except Exception as exc:
            raise FastPathRefused(f"fitparse on the summary messages: {exc}") from exc
    else:
        try:
            summary = _summary_from_fitfast(cut, walk)
        except FastPathRefused:
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: B036 - a Rust panic is a BaseException
            raise FastPathRefused(f"fitfast on the summary messages: {type(exc).__name__}: {exc}") from exc
    # the reference reports misaligned fields of the cut only; the walk saw the whole file
    summary.notes = [misaligned_note(walk.misaligned)] if walk.misaligned else []
    try:
        # records() and count() check structure and file CRC; a FIT file
        # without records is still checked (the cut above is not)
        payload, renamed = _renamed_dev_fields(seg, walk)
        payload = _fitfast_bytes(payload)
        if walk.records:
            cols = fitfast.records(payload, "record", degrees=True)
        else:
            fitfast.count(payload)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: B036 - a Rust panic is a BaseException
        raise FastPathRefused(f"fitfast: {type(exc).__name__}: {exc}") from exc
    if walk.records:
        _fill_records(summary, cols, walk, renamed)
    budget.check_time()
    return summary


def _fill_records(
    raw: RawSegment, cols: dict[str, np.ndarray], walk: Walk, renamed: dict[tuple[int, int], str]
) -> None:
    n = len(cols.get("timestamp", ()))
    if n != walk.records or any(len(v) != n for v in cols.values()):
        raise FastPathRefused(f"fitfast returned {n} records, the walk counted {walk.records}")
    raw.n_records = n
    raw.records = {name: cols[name] for name in RECORD_SOURCE_FIELDS if name in cols}
    if walk.csd:
        # the reference keeps a field the device wrote over the same field expanded from a
        # component: native speed/distance where valid, else the footpod's
        idx = np.fromiter(walk.csd.keys(), dtype=np.int64)
        for pos, name in enumerate(("speed", "distance")):
            expanded = np.full(n, np.nan)
            expanded[idx] = np.fromiter((v[pos] for v in walk.csd.values()), dtype=np.float64)
            written = raw.records.get(name)
            raw.records[name] = expanded if written is None else np.where(np.isfinite(written), written, expanded)
    # fitparse's enhanced_speed/altitude expanded from speed/altitude equals the scaled
    # field itself; fitfast's re-scaling loses 0.001 m/s on some records
    for src, dst in (("speed", "enhanced_speed"), ("altitude", "enhanced_altitude")):
        if src in raw.records:
            base = raw.records.get(dst, np.full(n, np.nan))
            raw.records[dst] = np.where(np.isfinite(raw.records[src]), raw.records[src], base)
    # developer fields: fitfast names columns after field_description.field_name (two
    # different fields of one name were renamed for it: _renamed_dev_fields)
    described = _dev_descriptions(raw, cols, renamed)
    clash = {d for d in described if d in _NATIVE_RECORD_NAMES or d.startswith("unknown_")}
    if clash:
        raise FastPathRefused(f"developer field name(s) equal native ones: {sorted(clash)}")
    present = {key: name for name, (key, *_rest) in described.items() if name in cols}
    names = distinct_dev_names({key: _original_name(raw, key) for key in present})
    for column, (key, source, units, native) in described.items():
        if column in cols:
            raw.dev_records.append(DevColumn(source, names[key], units, native, cols[column]))


def _dev_descriptions(
    raw: RawSegment, cols: dict[str, np.ndarray], renamed: dict[tuple[int, int], str]
) -> dict[str, tuple[tuple[int, int], str, str | None, int | None]]:
    """fitfast column name -> (developer key, source, units, native_field_num) of every
    developer field.

    Not filtered on native_mesg_num: Stryd declares bike_profile/sdm_profile for fields
    it writes in records."""
    out: dict[str, tuple[tuple[int, int], str, str | None, int | None]] = {}
    for desc in raw.dev_descriptions:
        if desc.key is None:
            raise FastPathRefused("developer field description without a field number")
        column = renamed.get(desc.key, desc.name)
        if column in out and out[column][0] != desc.key and column in cols:
            raise FastPathRefused(f"two different developer fields named {desc.name!r}")  # not renamed
        out[column] = (desc.key, desc.source, desc.units, desc.native_field_num)
    return out


def _original_name(raw: RawSegment, key: tuple[int, int]) -> str:
    return next(d.name for d in raw.dev_descriptions if d.key == key)


def _renamed_dev_fields(seg: bytes, walk: Walk) -> tuple[bytes, dict[tuple[int, int], str]]:
    """The file for fitfast with two different developer fields of one name told apart.

    fitfast names a developer column after field_description.field_name, so two fields
    of one name (Moxy: SmO2 in fields 0 and 2) would be merged into one column. The
    later keys' names get their last character replaced (same length), and the file CRC
    is corrected for the changed bytes (CRC-16 is linear: each changed byte adds the CRC
    of its difference run through the bytes after it). Returns the bytes and key ->
    the name fitfast will use."""
    keys_by_name: dict[bytes, list[tuple[int, int]]] = {}
    for key, _at, _size, name in walk.dev_names:
        keys = keys_by_name.setdefault(name, [])
        if key not in keys:
            keys.append(key)
    clashes = {name: sorted(keys)[1:] for name, keys in keys_by_name.items() if len(keys) > 1}
    if not clashes:
        return seg, {}
    taken = set(keys_by_name)
    new_names: dict[tuple[int, int], bytes] = {}
    for name, later in clashes.items():
        for key in later:
            if not name or name[-1] >= 0x80:  # empty, or ends inside a UTF-8 sequence
                raise FastPathRefused(f"two different developer fields named {name!r}")
            new = next(
                (c for c in (name[:-1] + bytes([ch]) for ch in b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") if c not in taken),
                None,
            )
            if new is None:
                raise FastPathRefused(f"two different developer fields named {name!r}")
            taken.add(new)
            new_names[key] = new
    out = bytearray(seg)
    end = len(seg) - 2  # the file CRC covers everything before it
    delta = 0
    for key, at, _size, name in walk.dev_names:
        if key in new_names:
            i = at + len(name) - 1  # the last character of the name
            diff = out[i] ^ new_names[key][-1]
            out[i] = new_names[key][-1]
            delta ^= _zeros(_CRC_BYTE[diff], end - i - 1)
    (stored,) = struct.unpack_from("<H", out, end)
    struct.pack_into("<H", out, end, stored ^ delta)
    renamed = {key: new.decode("utf-8", errors="replace") for key, new in new_names.items()}
    return bytes(out), renamed


# --------------------------------------------------------------------------------------
# The header walk


def _base_sizes() -> dict[int, int]:
    from fitparse.records import BASE_TYPES

    return {num: bt.size for num, bt in BASE_TYPES.items()}


_BASE_SIZE = _base_sizes()
_BYTE = 0x0D


def _base_names() -> dict[int, str]:
    from fitparse.records import BASE_TYPES

    return {num: str(bt.name) for num, bt in BASE_TYPES.items()}


_BASE_NAME = _base_names()


def _read_record_numbers() -> dict[int, int]:
    """Record field numbers whose value (or a sub-field's/component's) the builder reads
    -> the base type the profile gives them."""
    from fitparse.profile import MESSAGE_TYPES

    wanted = set(RECORD_SOURCE_FIELDS)
    fields = MESSAGE_TYPES[RECORD].fields
    out = {}
    for num, f in fields.items():
        names = {f.name, *(sub.name for sub in (f.subfields or []))}
        names |= {fields[c.def_num].name for c in (f.components or []) if c.def_num in fields}
        if names & wanted:
            out[num] = getattr(f.type, "base_type", f.type).identifier
    return out


#: fitfast 0.1.0 reads a record field with the profile's base type whatever the file
#: declares (a damaged definition declaring timestamp as sint32 gave 2079 where
#: fitparse, reading sint32, gave 1943: issue #11). Such files go to the reference.
_READ_RECORD_NUMBERS = _read_record_numbers()


def _native_record_names() -> frozenset[str]:
    from fitparse.profile import MESSAGE_TYPES

    rec = MESSAGE_TYPES[RECORD]
    names = {f.name for f in rec.fields.values()}
    for f in rec.fields.values():
        names |= {sub.name for sub in (f.subfields or [])}
    return frozenset(names)


_NATIVE_RECORD_NAMES = _native_record_names()


# --------------------------------------------------------------------------------------
# Summary messages with fitfast.parse: when its values are fitparse's


@dataclass(frozen=True)
class _SummaryPlan:
    """How one summary message type (file_id, session, lap, activity) is checked and read.

    All of it is derived from fitparse's profile (the reference), not written by hand.
    """

    kind: str  # fitfast's message name
    #: field number -> FIT profile name (of the field, not of a sub-field) for every field
    #: the builder reads; fitfast.parse names its keys so (tests/test_fit_differential.py)
    read: dict[int, str]
    #: field number -> the base type the file must declare (with one value, no array) for
    #: fitfast to be used: every field read, and every field fitparse post-processes
    #: (date/time types, components), which could make fitparse reject the message
    strict: dict[int, int]
    #: component source field number -> target name: fitparse expands e.g. avg_speed into
    #: enhanced_avg_speed (same bits, same scale: the source's own value)
    expand: dict[int, str]
    #: target field number -> (name, scale, offset) of those targets, which a file may also
    #: write itself: then whichever comes later in the definition is fitparse's value
    targets: dict[int, tuple[str, Any, Any]]
    #: fields whose presence sends the message to fitparse (a post-processing we do not
    #: mirror: localtime_into_day raises on values past midnight, uneven components)
    refuse: frozenset[int]


_PROCESSED_TYPES = frozenset({"date_time", "local_date_time", "localtime_into_day"})
_STRING = 0x07


def _summary_plan(gnum: int, kind: str, names: tuple[str, ...]) -> _SummaryPlan:
    from fitparse.profile import MESSAGE_TYPES

    fields = MESSAGE_TYPES[gnum].fields
    wanted = set(names)
    read: dict[int, str] = {}
    strict: dict[int, int] = {}
    expand: dict[int, str] = {}
    targets: dict[int, tuple[str, Any, Any]] = {}
    refuse: set[int] = set()
    for num, f in fields.items():
        subs = list(f.subfields or [])
        comps = list(f.components or [])
        types = {f.type.name, *(sub.type.name for sub in subs)}
        types |= {fields[c.def_num].type.name for c in comps if c.def_num in fields}
        if f.name in wanted or any(sub.name in wanted for sub in subs):
            read[num] = f.name
        if num in read or comps or types & _PROCESSED_TYPES:
            strict[num] = getattr(f.type, "base_type", f.type).identifier
        if "localtime_into_day" in types or any(
            sub.scale != f.scale or sub.offset != f.offset for sub in subs
        ):
            refuse.add(num)
        for c in comps:
            target = fields.get(c.def_num)
            if target is None or target.name not in wanted:
                continue
            if (c.scale, c.offset, c.bit_offset, c.accumulate) == (f.scale, f.offset, 0, False) and (
                c.bits >= 8 * _BASE_SIZE[strict[num]]
            ):
                expand[num] = target.name
                targets[c.def_num] = (target.name, target.scale, target.offset)
            else:
                refuse.add(num)
    for num in targets:  # read from the message bytes: fitfast merges them with expansions
        read.pop(num, None)
    return _SummaryPlan(kind, read, strict, expand, targets, frozenset(refuse))


_SUMMARY_PLANS: dict[int, _SummaryPlan] = {
    FILE_ID: _summary_plan(FILE_ID, "file_id", FILE_ID_SOURCE_FIELDS),
    SESSION: _summary_plan(SESSION, "session", SUMMARY_SOURCE_FIELDS),
    LAP: _summary_plan(LAP, "lap", SUMMARY_SOURCE_FIELDS),
    ACTIVITY: _summary_plan(ACTIVITY, "activity", ACTIVITY_SOURCE_FIELDS),
}


def _not_plain(gnum: int, fields: list[tuple[int, int, int]], has_dev_fields: bool) -> str:
    """Why fitfast.parse may decode a message of this definition unlike fitparse ("" if not)."""
    plan = _SUMMARY_PLANS.get(gnum)
    if plan is None:  # developer data descriptions: names and units come from fitparse
        return "developer data"
    if has_dev_fields:
        return "developer fields in a summary message"
    numbers = [f[0] for f in fields]
    if len(set(numbers)) != len(numbers):
        return "a field defined twice"
    for num, size, base in fields:
        need = plan.strict.get(num)
        # one value (a string is one value of any length)
        if need is not None and (base != need or (size != _BASE_SIZE[base] and base != _STRING)):
            return f"{plan.kind} field {num} not written with the profile's base type"
        if num in plan.refuse:
            return f"{plan.kind} field {num} needs fitparse's own processing"
    return ""


def _summary_from_fitfast(cut: bytes, walk: Walk) -> RawSegment:
    """The summary messages of one FIT file, as ``ingest.fit._decode_fitparse`` gives them.

    Only for walks without developer data whose summary definitions are all "plain"
    (:func:`_not_plain`). Then, for every field the builder reads, fitfast.parse yields
    what fitparse yields: the value scaled as ``float(raw) / scale`` (numbers the file
    declares with the profile's base type; tests/test_fit_differential.py checks fitfast
    on every raw value of each scale), date_time fields as Unix seconds (fitparse's raw
    value + the FIT epoch, for device-relative values too), and enums as numbers, named
    here with fitparse's profile (:func:`ingest.fit.enum_name`). Only fields whose number
    is in the message's definition are read, so a name fitfast's newer profile gives to a
    field fitparse does not know cannot stand in for one it does.
    """
    import fitfast

    parsed = fitfast.parse(cut, enum_names=False)
    by_kind: dict[int, list[tuple[dict[Any, Any], _Def, bytes]]] = {}
    for gnum, plan in _SUMMARY_PLANS.items():
        msgs = parsed.get(plan.kind, [])
        defs = [(d, body) for d, body in walk.summary if d.global_num == gnum]
        if len(msgs) != len(defs):
            raise FastPathRefused(f"fitfast.parse found {len(msgs)} {plan.kind} messages, the walk {len(defs)}")
        by_kind[gnum] = [(m, d, body) for m, (d, body) in zip(msgs, defs, strict=True)]
    raw = RawSegment()
    for gnum in (SESSION, LAP):
        plan = _SUMMARY_PLANS[gnum]
        rows = raw.sessions if gnum == SESSION else raw.laps
        for msg, d, body in by_kind[gnum]:
            out: dict[str, Any] = {}
            for num in d.numbers:
                name = plan.read.get(num)
                if name is None:
                    continue
                value = msg.get(name)
                if name in ("sport", "sub_sport"):
                    out[name] = enum_name(name, value)
                elif _is_number(value):
                    out[name] = value
            if d.numbers & plan.targets.keys() or d.numbers & plan.expand.keys():
                _expand(plan, d, body, out)
            rows.append(out)
    if by_kind[FILE_ID]:
        msg, d, _ = by_kind[FILE_ID][0]
        fid: dict[str, Any] = {}
        for num in d.numbers:
            name = _SUMMARY_PLANS[FILE_ID].read.get(num)
            value = msg.get(name) if name else None
            if name == "type":
                fid["type"] = enum_name("file", value)
            elif name == "manufacturer":
                fid["manufacturer"] = enum_name("manufacturer", value)
            elif name == "product":
                fid["product"] = value
            elif name == "product_name" and isinstance(value, str):
                fid["product_name"] = value
            elif name in ("serial_number", "time_created") and _is_int(value):
                fid[name] = value
        raw.file_id = fid
    if by_kind[ACTIVITY]:
        msg, d, _ = by_kind[ACTIVITY][0]
        plan = _SUMMARY_PLANS[ACTIVITY]
        raw.activity = {
            plan.read[num]: msg[plan.read[num]]
            for num in d.numbers
            if num in plan.read and _is_int(msg.get(plan.read[num]))
        }
    return raw


def _expand(plan: _SummaryPlan, d: _Def, body: bytes, out: dict[str, Any]) -> None:
    """fitparse's component expansion (avg_speed -> enhanced_avg_speed) and the target
    field written natively, in definition order: the later valid value stays in fitparse's
    dict. Native targets are read from the bytes with fitparse's base type and scale,
    since fitfast.parse reports the expansion under the same name."""
    from fitparse.records import BASE_TYPES

    offset = 0
    for num, size, base in d.fields:
        target = plan.expand.get(num)
        if target is not None:
            source = out.get(plan.read[num])
            if source is not None:  # an invalid source expands to nothing
                out[target] = source
        elif num in plan.targets:
            name, scale, off = plan.targets[num]
            bt = BASE_TYPES[base]  # the profile's (strict): one number
            (raw,) = struct.unpack_from(("<" if d.little else ">") + bt.fmt, body, offset)
            value = bt.parse(raw)
            if value is not None:
                if scale:
                    value = float(value) / scale
                if off:
                    value = value - off
                out[name] = value
        offset += size


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _walk(seg: bytes, budget: Budget) -> Walk:
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
            if d.csd_offset is not None:
                _expand_csd(walk, records, seg[pos + 1 + d.csd_offset : pos + 4 + d.csd_offset])
            elif not compressed:
                # The following messages with this same header byte (up to 4096, each whole
                # before the end) are records of this definition too: count them with one
                # scan of their header bytes (strided slice + lstrip, in C) instead of a
                # Python pass each (~1 ms per one-hour file). What stops the run (another
                # header, a message past the end) is then handled one message at a time.
                stride = 1 + d.size
                ahead = min((end - nxt) // stride, 4096)
                heads = seg[nxt : nxt + ahead * stride : stride]
                run = ahead - len(heads.lstrip(seg[pos : pos + 1]))
                records += run
                messages += run
                nxt += run * stride
            records += 1
        elif gnum in SUMMARY_MESSAGES:
            if compressed:
                raise FastPathRefused("summary message with a compressed timestamp")
            body = seg[pos + 1 : nxt]
            walk.summary.append((d, body))
            if d.not_plain and not walk.needs_fitparse:
                walk.needs_fitparse = d.not_plain
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
                name_at = _field_slice(d, body, 3)  # field_name
                if name_at is not None:
                    start, size = name_at
                    raw_name = body[start : start + size].split(b"\0")[0]
                    walk.dev_names.append(((index, number), pos + 1 + start, size, raw_name))
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
        if fsize % bsize:
            # the FIT SDK's rule (and the reference's): decode as bytes, keep going. fitfast
            # skips such a field; a record field the builder reads would need checking
            if gnum == RECORD and num in _READ_RECORD_NUMBERS:
                raise FastPathRefused(f"record field {num} of {fsize} bytes is not a multiple of its base type")
            walk.misaligned.append((gnum, num, fsize, _BASE_NAME[base]))
            base = _BYTE
        elif fsize == 0:
            raise FastPathRefused("field of size 0")
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
        if len(nums) != len(fields):
            raise FastPathRefused("a record field defined twice in one definition")
        for num, _size, base in fields:
            profile_base = _READ_RECORD_NUMBERS.get(num)
            if profile_base is not None and base != profile_base:
                raise FastPathRefused(f"record field {num} not declared with the profile's base type")
        walk.record_fields |= nums
    d = _Def(gnum, size, fields, little)
    if gnum == RECORD and CSD_FIELD in {f[0] for f in fields}:
        at = _field_slice(d, b"", CSD_FIELD)
        if at is None or at[1] != 3 or dict((f[0], f[2]) for f in fields)[CSD_FIELD] != _BYTE:
            raise FastPathRefused("compressed_speed_distance not written as 3 bytes")
        d.csd_offset = at[0]
        walk.csd_accumulator = 0  # the reference restarts the distance here (fitparse)
    defs[h & 0xF] = d
    if gnum in SUMMARY_MESSAGES:  # the cut needs only the definitions its messages use
        walk.cut += seg[pos:p]
        d.numbers = frozenset(f[0] for f in fields)
        d.not_plain = _not_plain(gnum, fields, bool(h & 0x20))
    return p


def _expand_csd(walk: Walk, index: int, raw: bytes) -> None:
    """fitparse's component expansion of compressed_speed_distance, for one record."""
    if raw == b"\xff\xff\xff":  # invalid byte array: nothing to expand
        return
    value = raw[0] | raw[1] << 8 | raw[2] << 16
    speed, dist = value & 0xFFF, (value >> 12) & 0xFFF
    acc = walk.csd_accumulator
    total = dist + (acc & ~0xFFF)
    if dist < (acc & 0xFFF):  # rolled over
        total += 0x1000
    walk.csd_accumulator = total
    walk.csd[index] = (float(speed) / 100, float(total) / 16)


def _field_slice(d: _Def, body: bytes, number: int) -> tuple[int, int] | None:
    """(offset, size) of a field in a data message body; None when absent."""
    offset = 0
    for num, fsize, _base in d.fields:
        if num == number:
            return offset, fsize
        offset += fsize
    return None


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
    """A FIT file holding the definitions and summary messages only (its CRC is made
    up; fitfast checks the original's)."""
    header = bytearray(seg[:12])
    header[0] = 12
    header[4:8] = struct.pack("<I", len(walk.cut))
    body = bytes(header) + bytes(walk.cut)
    return body + struct.pack("<H", crc16(body))


# --------------------------------------------------------------------------------------
# CRC translation for fitfast


def _fitfast_bytes(seg: bytes) -> bytes:
    """The segment with its stored file CRC translated to what fitfast computes.

    The FIT file CRC covers header + data. After a 14-byte header fitfast computes the
    CRC over the data alone; with a valid header CRC the CRC state after the header is 0,
    so the two agree; with a header CRC of 0x0000 (allowed) they do not. (For a 12-byte
    header fitfast computes the CRC over header and data: nothing to translate.) CRC-16 is linear:
    crc(state s, data) = crc(0, data) XOR zeros(s, len(data)), where zeros() runs the
    state through len(data) zero bytes. So the stored CRC is valid for the spec exactly
    when stored XOR zeros(s, n) is valid for fitfast.
    """
    from fitparse.records import Crc

    header_size = seg[0]
    if header_size == 12:
        # no header CRC: fitfast then computes the file CRC over header + data, as the
        # spec says (measured: fr70-run-footpod-compressed-timestamps.fit)
        return seg
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
