"""Start ``spawn`` child processes without re-running the caller's main script.

A spawned child imports the parent's ``__main__`` again (by its file or module spec) before
it runs its target. Our children's code (the AI worker, the decode pool, Dask's batch
workers) lives in this package and needs nothing from the caller's script, while an
unguarded script, a notebook or a frozen app must never run twice. So ``__main__``'s file
and spec are hidden while a child starts. One home for the trick, used by every place that
spawns. Also here: :func:`exit_with_parent`, which every spawned child runs so that it never
outlives the app.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator

__all__ = ["main_hidden", "exit_with_parent"]

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


def exit_with_parent(parent_pid: int | None = None, poll_s: float = 1.0) -> None:
    """In a child process: end it as soon as its parent (the app) is gone (killed, crashed).

    A daemon thread polls the parent's pid every ``poll_s`` s, so a hung plugin or a decoder spinning
    in native code never lingers as an orphan. ``parent_pid`` defaults to the current parent (pass
    the app's pid from a pool initialiser's arguments to name it explicitly).
    """
    parent = os.getppid() if parent_pid is None else parent_pid

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="meddiag-parent-watch", daemon=True).start()
