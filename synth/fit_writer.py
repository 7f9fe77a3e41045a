"""A small FIT encoder for activity files (enough for gaitwatch's sample data and benchmark).

Writes protocol 2.0 files: a 14-byte header with its CRC, definition and data messages
(little-endian, normal headers, no compressed timestamps, no developer fields) and the
file CRC. Field numbers, base types, scales and offsets follow the FIT profile as shipped
in fitparse 1.2 (``fitparse/profile.py``); values are given in the profile's units
(seconds, metres, m/s, mm, ms, %) and scaled here, once.

Record messages are encoded as numpy structured arrays (one ``tobytes()`` per chunk), and
the CRC runs over many byte lanes at once, so a one-hour 1 Hz file takes a few ms.

Reference: Garmin FIT SDK, "Flexible and Interoperable Data Transfer (FIT) Protocol",
sections 3.3 (file header, CRC) and 4 (messages); Profile.xlsx for the message fields.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np

# FIT time starts at 1989-12-31T00:00:00Z.
FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
FIT_EPOCH_UNIX = 631065600

PROTOCOL_VERSION = 0x20  # 2.0
PROFILE_VERSION = 2132  # 21.32


@dataclass(frozen=True)
class BaseType:
    code: int  # FIT base type byte (endian bit included)
    np_dtype: str  # little-endian numpy type of the raw value
    invalid: int  # the "no value" raw value

    @property
    def size(self) -> int:
        return np.dtype(self.np_dtype).itemsize


ENUM = BaseType(0x00, "u1", 0xFF)
SINT8 = BaseType(0x01, "i1", 0x7F)
UINT8 = BaseType(0x02, "u1", 0xFF)
SINT16 = BaseType(0x83, "<i2", 0x7FFF)
UINT16 = BaseType(0x84, "<u2", 0xFFFF)
SINT32 = BaseType(0x85, "<i4", 0x7FFFFFFF)
UINT32 = BaseType(0x86, "<u4", 0xFFFFFFFF)
UINT8Z = BaseType(0x0A, "u1", 0x00)
UINT16Z = BaseType(0x8B, "<u2", 0x0000)
UINT32Z = BaseType(0x8C, "<u4", 0x00000000)


@dataclass(frozen=True)
class Field:
    num: int
    base: BaseType
    scale: float = 1.0
    offset: float = 0.0


# Global message numbers and the fields we write, from the FIT profile (fitparse/profile.py).
MESG_NUM = {
    "file_id": 0,
    "session": 18,
    "lap": 19,
    "record": 20,
    "event": 21,
    "device_info": 23,
    "activity": 34,
}

_TS = Field(253, UINT32)

FIELDS: dict[str, dict[str, Field]] = {
    "file_id": {
        "type": Field(0, ENUM),
        "manufacturer": Field(1, UINT16),
        "product": Field(2, UINT16),
        "serial_number": Field(3, UINT32Z),
        "time_created": Field(4, UINT32),
    },
    "device_info": {
        "timestamp": _TS,
        "device_index": Field(0, UINT8),
        "device_type": Field(1, UINT8),
        "manufacturer": Field(2, UINT16),
        "serial_number": Field(3, UINT32Z),
        "product": Field(4, UINT16),
        "software_version": Field(5, UINT16, 100),
    },
    "event": {
        "timestamp": _TS,
        "event": Field(0, ENUM),
        "event_type": Field(1, ENUM),
        "data": Field(3, UINT32),
        "event_group": Field(4, UINT8),
    },
    "record": {
        "timestamp": _TS,
        "position_lat": Field(0, SINT32),  # semicircles
        "position_long": Field(1, SINT32),
        "altitude": Field(2, UINT16, 5, 500),
        "heart_rate": Field(3, UINT8),
        "cadence": Field(4, UINT8),  # running: strides/min (one foot); cycling: rpm
        "distance": Field(5, UINT32, 100),
        "speed": Field(6, UINT16, 1000),
        "power": Field(7, UINT16),
        "temperature": Field(13, SINT8),
        "vertical_oscillation": Field(39, UINT16, 10),  # mm
        "stance_time_percent": Field(40, UINT16, 100),
        "stance_time": Field(41, UINT16, 10),  # ms
        "fractional_cadence": Field(53, UINT8, 128),
        "enhanced_speed": Field(73, UINT32, 1000),
        "enhanced_altitude": Field(78, UINT32, 5, 500),
        "vertical_ratio": Field(83, UINT16, 100),  # %
        "stance_time_balance": Field(84, UINT16, 100),  # % left
        "step_length": Field(85, UINT16, 10),  # mm
    },
    "lap": {
        "timestamp": _TS,
        "message_index": Field(254, UINT16),
        "event": Field(0, ENUM),
        "event_type": Field(1, ENUM),
        "start_time": Field(2, UINT32),
        "start_position_lat": Field(3, SINT32),
        "start_position_long": Field(4, SINT32),
        "end_position_lat": Field(5, SINT32),
        "end_position_long": Field(6, SINT32),
        "total_elapsed_time": Field(7, UINT32, 1000),
        "total_timer_time": Field(8, UINT32, 1000),
        "total_distance": Field(9, UINT32, 100),
        "total_cycles": Field(10, UINT32),  # running: total_strides
        "total_calories": Field(11, UINT16),
        "avg_speed": Field(13, UINT16, 1000),
        "max_speed": Field(14, UINT16, 1000),
        "avg_heart_rate": Field(15, UINT8),
        "max_heart_rate": Field(16, UINT8),
        "avg_cadence": Field(17, UINT8),  # running: avg_running_cadence (strides/min)
        "max_cadence": Field(18, UINT8),
        "avg_power": Field(19, UINT16),
        "total_ascent": Field(21, UINT16),
        "total_descent": Field(22, UINT16),
        "lap_trigger": Field(24, ENUM),
        "sport": Field(25, ENUM),
        "sub_sport": Field(39, ENUM),
        "avg_vertical_oscillation": Field(77, UINT16, 10),
        "avg_stance_time_percent": Field(78, UINT16, 100),
        "avg_stance_time": Field(79, UINT16, 10),
        "avg_fractional_cadence": Field(80, UINT8, 128),
        "max_fractional_cadence": Field(81, UINT8, 128),
        "enhanced_avg_speed": Field(110, UINT32, 1000),
        "enhanced_max_speed": Field(111, UINT32, 1000),
        "avg_vertical_ratio": Field(118, UINT16, 100),
        "avg_stance_time_balance": Field(119, UINT16, 100),
        "avg_step_length": Field(120, UINT16, 10),
    },
    "session": {
        "timestamp": _TS,
        "message_index": Field(254, UINT16),
        "event": Field(0, ENUM),
        "event_type": Field(1, ENUM),
        "start_time": Field(2, UINT32),
        "start_position_lat": Field(3, SINT32),
        "start_position_long": Field(4, SINT32),
        "sport": Field(5, ENUM),
        "sub_sport": Field(6, ENUM),
        "total_elapsed_time": Field(7, UINT32, 1000),
        "total_timer_time": Field(8, UINT32, 1000),
        "total_distance": Field(9, UINT32, 100),
        "total_cycles": Field(10, UINT32),  # running: total_strides
        "total_calories": Field(11, UINT16),
        "avg_speed": Field(14, UINT16, 1000),
        "max_speed": Field(15, UINT16, 1000),
        "avg_heart_rate": Field(16, UINT8),
        "max_heart_rate": Field(17, UINT8),
        "avg_cadence": Field(18, UINT8),  # running: avg_running_cadence (strides/min)
        "max_cadence": Field(19, UINT8),
        "avg_power": Field(20, UINT16),
        "total_ascent": Field(22, UINT16),
        "total_descent": Field(23, UINT16),
        "first_lap_index": Field(25, UINT16),
        "num_laps": Field(26, UINT16),
        "trigger": Field(28, ENUM),
        "avg_vertical_oscillation": Field(89, UINT16, 10),
        "avg_stance_time_percent": Field(90, UINT16, 100),
        "avg_stance_time": Field(91, UINT16, 10),
        "avg_fractional_cadence": Field(92, UINT8, 128),
        "max_fractional_cadence": Field(93, UINT8, 128),
        "enhanced_avg_speed": Field(124, UINT32, 1000),
        "enhanced_max_speed": Field(125, UINT32, 1000),
        "avg_vertical_ratio": Field(132, UINT16, 100),
        "avg_stance_time_balance": Field(133, UINT16, 100),
        "avg_step_length": Field(134, UINT16, 10),
    },
    "activity": {
        "timestamp": _TS,
        "total_timer_time": Field(0, UINT32, 1000),
        "num_sessions": Field(1, UINT16),
        "type": Field(2, ENUM),
        "event": Field(3, ENUM),
        "event_type": Field(4, ENUM),
        "local_timestamp": Field(5, UINT32),
    },
}

# Enum values used by the generator (FIT profile "types").
FILE_ACTIVITY = 4
MANUFACTURER_GARMIN = 1
MANUFACTURER_DEVELOPMENT = 255
SPORT = {"generic": 0, "running": 1, "cycling": 2, "training": 10}
SUB_SPORT = {"generic": 0, "street": 2, "road": 7, "strength_training": 20}
EVENT_TIMER = 0
EVENT_LAP = 9
EVENT_SESSION = 8
EVENT_ACTIVITY = 26
EVENT_TYPE_START = 0
EVENT_TYPE_STOP = 1
EVENT_TYPE_STOP_ALL = 4
TIMER_TRIGGER_MANUAL = 0
TIMER_TRIGGER_AUTO = 1
LAP_TRIGGER_DISTANCE = 2
LAP_TRIGGER_SESSION_END = 7
SESSION_TRIGGER_ACTIVITY_END = 0
ACTIVITY_MANUAL = 0

# --- CRC -------------------------------------------------------------------------------
# The FIT CRC is CRC-16/ARC (reflected polynomial 0xA001, initial value 0, no final xor).


def _make_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint16)
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table[i] = crc
    return table


_CRC_TABLE = _make_table()
_CRC_TABLE_PY = [int(x) for x in _CRC_TABLE]
_LANE = 256  # bytes per lane in the parallel CRC


def _crc_py(data: bytes, crc: int = 0) -> int:
    table = _CRC_TABLE_PY
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


@lru_cache(maxsize=4)
def _shift_tables(n: int) -> tuple[list[int], list[int]]:
    """Tables for "feed n zero bytes into state c": linear in c, so one table per state byte."""
    states = np.concatenate([np.arange(256, dtype=np.uint16), np.arange(256, dtype=np.uint16) << 8])
    for _ in range(n):
        states = _CRC_TABLE[states & 0xFF] ^ (states >> 8)
    return [int(x) for x in states[:256]], [int(x) for x in states[256:]]


def crc16(data: bytes) -> int:
    """FIT CRC of ``data``.

    The CRC (initial value 0) is linear over GF(2), so the data is split into equal lanes
    (zero-padded at the front, which leaves a zero-initialised CRC unchanged), the lanes are
    run in parallel with numpy and the lane CRCs are combined with precomputed shift tables.
    """
    n = len(data)
    if n < 4 * _LANE:
        return _crc_py(data)
    pad = (-n) % _LANE
    buf = np.frombuffer(b"\x00" * pad + data, dtype=np.uint8).reshape(-1, _LANE)
    crcs = np.zeros(buf.shape[0], dtype=np.uint16)
    cols = buf.T.astype(np.uint16)
    for j in range(_LANE):
        crcs = _CRC_TABLE[(crcs ^ cols[j]) & 0xFF] ^ (crcs >> 8)
    lo, hi = _shift_tables(_LANE)
    crc = 0
    for c in crcs.tolist():
        crc = lo[crc & 0xFF] ^ hi[crc >> 8] ^ c
    return crc


# --- encoding ---------------------------------------------------------------------------


def fit_time(dt: datetime) -> int:
    """Seconds since the FIT epoch for an aware datetime."""
    return int((dt - FIT_EPOCH).total_seconds())


def semicircles(deg: float | np.ndarray) -> np.ndarray:
    """Degrees to FIT semicircles (2^31 semicircles = 180 degrees)."""
    return np.round(np.asarray(deg, dtype=np.float64) * (2**31 / 180.0))


def _raw_array(field: Field, values: np.ndarray) -> np.ndarray:
    """Physical values (NaN = no value) to raw integers of the field's base type."""
    v = np.asarray(values, dtype=np.float64)
    raw = np.round((v + field.offset) * field.scale)
    info = np.iinfo(np.dtype(field.base.np_dtype))
    bad = ~np.isfinite(raw) | (raw < info.min) | (raw > info.max)
    raw = np.where(bad, field.base.invalid, raw)
    return raw.astype(field.base.np_dtype)


_STRUCT = {"u1": "<B", "i1": "<b", "<u2": "<H", "<i2": "<h", "<u4": "<I", "<i4": "<i"}
_RANGE = {k: (int(np.iinfo(np.dtype(k)).min), int(np.iinfo(np.dtype(k)).max)) for k in _STRUCT}


def _raw_scalar(field: Field, value: float) -> bytes:
    """One physical value to the field's raw bytes (invalid value when out of range)."""
    fmt = _STRUCT[field.base.np_dtype]
    lo, hi = _RANGE[field.base.np_dtype]
    if not math.isfinite(value):
        return struct.pack(fmt, field.base.invalid)
    # round half to even, like numpy.round in the vectorised path
    raw = round((value + field.offset) * field.scale)
    if raw < lo or raw > hi:
        raw = field.base.invalid
    return struct.pack(fmt, raw)


class FitWriter:
    """Build one FIT file in memory.

    >>> w = FitWriter()
    >>> w.message("file_id", {"type": 4, "manufacturer": 1, "serial_number": 1})
    >>> data = w.to_bytes()
    """

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._local: dict[tuple[str, tuple[str, ...]], int] = {}
        self._next_local = 0

    def _local_num(self, mesg: str, names: tuple[str, ...]) -> int:
        key = (mesg, names)
        if key in self._local:
            return self._local[key]
        num = self._next_local % 16
        self._next_local += 1
        # A reused local number is simply redefined: definitions apply to what follows.
        for k, v in list(self._local.items()):
            if v == num:
                del self._local[k]
        self._local[key] = num
        spec = FIELDS[mesg]
        out = bytearray(struct.pack("<BBBHB", 0x40 | num, 0, 0, MESG_NUM[mesg], len(names)))
        for name in names:
            f = spec[name]
            out += struct.pack("<BBB", f.num, f.base.size, f.base.code)
        self._parts.append(bytes(out))
        return num

    def message(self, mesg: str, values: Mapping[str, float | int | None]) -> None:
        """Write one message; ``None`` values are left out of the definition."""
        items = [(k, v) for k, v in values.items() if v is not None]
        names = tuple(k for k, _ in items)
        num = self._local_num(mesg, names)
        spec = FIELDS[mesg]
        out = bytearray([num])
        for name, value in items:
            out += _raw_scalar(spec[name], float(value))
        self._parts.append(bytes(out))

    def records(self, mesg: str, columns: Mapping[str, np.ndarray]) -> None:
        """Write many messages of one definition at once from equal-length columns
        (physical units, NaN = invalid value for that sample)."""
        names = tuple(columns)
        if not names:
            return
        n = len(next(iter(columns.values())))
        if n == 0:
            return
        num = self._local_num(mesg, names)
        spec = FIELDS[mesg]
        dtype = np.dtype([("hdr", "u1")] + [(name, spec[name].base.np_dtype) for name in names])
        arr = np.empty(n, dtype=dtype)
        arr["hdr"] = num
        for name in names:
            arr[name] = _raw_array(spec[name], columns[name])
        self._parts.append(arr.tobytes())

    def to_bytes(self) -> bytes:
        data = b"".join(self._parts)
        header = struct.pack("<BBHI4s", 14, PROTOCOL_VERSION, PROFILE_VERSION, len(data), b".FIT")
        header += struct.pack("<H", crc16(header))
        body = header + data
        return body + struct.pack("<H", crc16(body))
