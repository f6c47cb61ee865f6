"""Start ``spawn`` child processes without re-running the caller's main script.

A spawned child imports the parent's ``__main__`` again (by its file or module spec) before
it runs its target. Our children's code (the AI worker, the decode pool, Dask's batch
workers) lives in this package and needs nothing from the caller's script, while an
unguarded script, a notebook or a frozen app must never run twice. So ``__main__``'s file
and spec are hidden while a child starts. One home for the trick, used by every place that
spawns.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator

__all__ = ["main_hidden"]

_LOCK = threading.Lock()  # two threads spawning at once must not restore each other's state


@contextlib.contextmanager
def main_hidden() -> Iterator[None]:
    """While the block starts child processes, ``__main__`` has no ``__file__`` and a ``None`` spec."""
    main = sys.modules.get("__main__")
    with _LOCK:
        saved = {k: main.__dict__[k] for k in ("__spec__", "__file__") if main is not None and k in main.__dict__}
        try:
            if main is not None:
                main.__dict__["__spec__"] = None
                main.__dict__.pop("__file__", None)
            yield
        finally:
            if main is not None:
                main.__dict__.update(saved)
                if "__spec__" not in saved:
                    main.__dict__.pop("__spec__", None)
