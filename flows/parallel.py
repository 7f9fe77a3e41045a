"""Moved to :mod:`ingest.batch` (issue 13: each layer owns its stage); kept so the bench
scripts' imports work until they switch."""

from ingest.batch import (
    DecodedFile,
    auto_chunk_size,
    decode_chunk,
    decode_paths,
    decode_results,
    encode_results,
    shutdown_pools,
)

__all__ = [
    "DecodedFile",
    "auto_chunk_size",
    "decode_chunk",
    "decode_paths",
    "decode_results",
    "encode_results",
    "shutdown_pools",
]
