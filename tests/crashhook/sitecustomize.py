"""Test-only crash injection for ``gaitwatch`` subprocesses (never in production code).

A test puts this folder first on the child's PYTHONPATH and sets
``GAITWATCH_TEST_KILL_AFTER_GROUPS=N``: Python imports this module at start-up, and the
process SIGKILLs itself right after the N-th load group (files committed in one
transaction, :func:`warehouse.files.load_group`) returned: a real crash, no cleanup.
Without the variable nothing is patched.
"""

from __future__ import annotations

import os
import signal
import threading

_LIMIT = int(os.environ.get("GAITWATCH_TEST_KILL_AFTER_GROUPS", "0") or 0)

if _LIMIT:
    import warehouse.files as _files

    _original = _files.load_group
    _lock = threading.Lock()
    _count = [0]

    def _load_group_then_maybe_die(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = _original(*args, **kwargs)
        with _lock:
            _count[0] += 1
            if _count[0] >= _LIMIT:
                os.kill(os.getpid(), signal.SIGKILL)
        return out

    _files.load_group = _load_group_then_maybe_die
