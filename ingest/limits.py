"""Resource limits for reading untrusted files. Every reader honours them; a file that
exceeds one is refused with :class:`ingest.errors.ResourceLimitError` or
:class:`ingest.errors.UnsafeInputError`, never hung on. Overridable from gaitwatch.toml
(``[limits]``)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 256 * 1024 * 1024  # one decoded activity file
    max_uncompressed_bytes: int = 4 * 1024 * 1024 * 1024  # all members of one archive together
    max_ratio: float = 200.0  # uncompressed / compressed, per archive member and per .gz
    max_entries: int = 100_000  # members in one archive (Garmin bulk exports hold tens of thousands)
    max_nesting: int = 4  # zip inside zip inside ...
    max_xml_depth: int = 64  # element nesting in GPX/TCX
    max_records: int = 2_000_000  # samples in one activity (about 23 days at 1 Hz)
    decode_timeout_s: float = 120.0  # wall time to decode one file

    def with_overrides(self, overrides: dict[str, Any]) -> Limits:
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown limit(s): {', '.join(sorted(unknown))}")
        return replace(self, **overrides)


DEFAULT_LIMITS = Limits()

# Training journal (ingest/journal.py) validation bounds.
# Pain is recorded on the 0-10 numeric rating scale (NRS; Hawker et al. 2011, Arthritis
# Care Res 63 S11): 0 = no pain, 10 = worst imaginable.
PAIN_SCALE_MAX = 10
# One journal entry covers at most a day; longer is a typing error (e.g. 600 for 60).
JOURNAL_MAX_MINUTES = 24 * 60.0
