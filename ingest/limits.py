"""Resource limits for reading untrusted files. Every reader honours them; a file that
exceeds one is refused with :class:`ingest.errors.ResourceLimitError` or
:class:`ingest.errors.UnsafeInputError`, never hung on. Overridable from gaitwatch.toml
(``[limits]``)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
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
    # Recording times a clock can plausibly have set; activities outside are logged as
    # skipped, not analysed (warehouse.store). A watch whose clock was never set writes
    # times near the FIT epoch, 1989-12-31 (FIT SDK, Profile: date_time); one set wrong
    # writes years ahead. Either would give the athlete decades of empty weeks and a
    # "return after a break" flag on real ones. The first consumer GPS running watch
    # (Garmin Forerunner 201) shipped in 2003: 2000 leaves room. Local time written as
    # UTC is at most 14 h ahead (UTC+14): 36 h of slack past the time of loading.
    earliest_start_year: int = 2000
    max_start_ahead_h: float = 36.0

    def start_bound_broken(self, start: datetime, now: datetime) -> str | None:
        """The bound of a plausible recording time that ``start`` breaks, by its setting's
        name (``earliest_start_year``: an earlier year; ``max_start_ahead_h``: later than
        that after ``now``), or None. The one check of the activity loader and the
        journal; both datetimes aware (UTC) or both naive."""
        if start.year < self.earliest_start_year:
            return "earliest_start_year"
        if start > now + timedelta(hours=self.max_start_ahead_h):
            return "max_start_ahead_h"
        return None

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
