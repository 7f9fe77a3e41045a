"""Moved to :mod:`ingest.fit.fast`; this name stays for callers of the old layout."""

from ingest.fit.fast import *  # noqa: F403
from ingest.fit.fast import FastPathRefused, crc16, decode

__all__ = ["FastPathRefused", "crc16", "decode"]
