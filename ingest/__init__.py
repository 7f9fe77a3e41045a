"""ingest: watch files (FIT, GPX, TCX, and .gz/.zip archives of them) -> one canonical schema.

The entry point is :func:`read_path` (files, folders, archives; one result per leaf) and
:func:`read_bytes` (one file's bytes). See :mod:`ingest.schema` for the frames returned.
"""

from ingest.reader import ReadResult, iter_bytes, read_bytes, read_path

__all__ = ["ReadResult", "iter_bytes", "read_bytes", "read_path"]
