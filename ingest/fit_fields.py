"""Moved to :mod:`ingest.fit.fields`; this name stays for callers of the old layout."""

from ingest.fit.fields import *  # noqa: F403
