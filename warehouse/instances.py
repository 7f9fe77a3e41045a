"""The DuckDB files this process holds open for a whole run
(:meth:`warehouse.store.Warehouse.held`; :func:`warehouse.migrate.connect` reads it).

Apart from the registry this module imports nothing, so the reports layer can ask it
without loading the ingest layer (and polars) through :mod:`warehouse.migrate`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HELD: Counter[str] = Counter()
_LOCK = threading.Lock()  # flow tasks run in worker threads of the same process


def _key(path: Path | str) -> str:
    return str(Path(path).absolute())


def is_held(path: Path | str) -> bool:
    """True while this process holds ``path`` open read-write for a run."""
    with _LOCK:
        return _HELD[_key(path)] > 0


@contextmanager
def registered(path: Path | str) -> Iterator[None]:
    """Mark ``path`` as held for the duration of the block (nesting counts)."""
    key = _key(path)
    with _LOCK:
        _HELD[key] += 1
    try:
        yield
    finally:
        with _LOCK:
            _HELD[key] -= 1
            if _HELD[key] <= 0:
                del _HELD[key]
