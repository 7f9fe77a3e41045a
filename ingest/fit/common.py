"""What both FIT decoders share: framing of chained files, the per-file budget, CRC-16.

Nothing here imports a decoder; :mod:`ingest.fit.reference` (fitparse) and
:mod:`ingest.fit.fast` (fitfast) both build on it.
"""

from __future__ import annotations

import struct
import time

from ingest.errors import CorruptFileError, ResourceLimitError
from ingest.limits import Limits

#: Every message counts against this multiple of ``Limits.max_records`` (hrv, gps_metadata
#: and other per-second messages come on top of records).
MAX_MESSAGES_PER_RECORD = 8
#: Check the wall-time budget every this many messages.
BUDGET_CHECK_EVERY = 512

_HEADER = struct.Struct("<BBHI4s")


def split_segments(
    source_file: str, data: bytes, warnings: list[str]
) -> tuple[list[tuple[int, int]], CorruptFileError | None]:
    """(start, end) byte ranges of each FIT file in ``data`` (chained files hold several).

    Only header fields are read. A last file whose header claims more bytes than the file
    holds is returned cut at the end of the data, together with the truncation error to
    raise if decoding does not fail earlier for another reason (the first damage found in
    the stream is the more useful reason); nothing of the claimed size is allocated.
    """
    segments: list[tuple[int, int]] = []
    pos = 0
    n = len(data)
    while pos < n:
        if segments and not any(data[pos:]):
            # zero padding after the last file: harmless, but say so
            warnings.append(f"{n - pos} zero bytes after the last FIT file ignored")
            break
        if n - pos < 12:
            what = "FIT file" if not segments else "data after the FIT file"
            raise CorruptFileError(
                source_file, f"{what} truncated: {n - pos} bytes where a 12-byte header was expected", pos
            )
        header_size, _proto, _profile, data_size, magic = _HEADER.unpack_from(data, pos)
        if magic != b".FIT" or header_size < 12:
            if not segments:
                raise CorruptFileError(source_file, "not a FIT file: bad header", pos)
            prev_start, prev_end = segments[-1]
            raise CorruptFileError(
                source_file,
                f"{n - prev_end} bytes after the end the FIT header declares "
                f"({prev_end - prev_start} bytes) are not a chained FIT file",
                pos,
            )
        end = pos + header_size + data_size + 2  # + file CRC
        if end > n:
            segments.append((pos, n))
            return segments, CorruptFileError(
                source_file,
                f"FIT file truncated: header declares {data_size} data bytes, "
                f"only {max(0, n - pos - header_size)} present",
                n,
            )
        segments.append((pos, end))
        pos = end
    return segments, None


# --------------------------------------------------------------------------------------
# The per-file budget


class Budget:
    """Wall time and message counts for one file; raises ResourceLimitError."""

    def __init__(self, source_file: str, limits: Limits) -> None:
        self.source_file = source_file
        self.limits = limits
        self.deadline = time.monotonic() + limits.decode_timeout_s
        self.records = 0
        self.messages = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise ResourceLimitError(
                self.source_file, f"FIT decoding exceeded the {self.limits.decode_timeout_s:g} s limit"
            )

    def add(self, records: int, messages: int) -> None:
        self.records += records
        self.messages += messages
        if self.records > self.limits.max_records:
            raise ResourceLimitError(
                self.source_file,
                f"FIT file holds more than {self.limits.max_records} records (limit)",
            )
        if self.messages > self.limits.max_records * MAX_MESSAGES_PER_RECORD:
            raise ResourceLimitError(
                self.source_file,
                f"FIT file holds more than {self.limits.max_records * MAX_MESSAGES_PER_RECORD} "
                "messages (limit)",
            )



def exc_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]



def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


#: CRC-16 state after one byte b from state 0 (the table of the byte-wise CRC)
CRC_TABLE = _crc_table()


def crc16(data: bytes, crc: int = 0) -> int:
    """FIT CRC-16 (CRC-16/ARC) of ``data``, a byte at a time: about 5x fitparse's
    ``Crc.calculate``, which goes a nibble at a time (the cut of a one-hour run: 1.4 kB)."""
    table = CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc
