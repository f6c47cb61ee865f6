"""A few long-lived threads shared by the readers, and the pattern they use to split work.

Starting threads costs more than reading a slice from the page cache (a few ms each on a busy
machine), so header scans and native pixel reads borrow threads from one lazily built pool.
The calling thread always works too: a reader makes progress even when every pooled thread
is busy with another reader, so nesting can never deadlock.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

__all__ = ["share_work", "io_threads", "gc_paused"]

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def io_threads() -> int:
    """Threads (the caller included) that read at once: I/O from the page cache scales to about the core count."""
    return max(2, min(4, os.cpu_count() or 1))


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="meddiag-io")
        return _pool


def share_work(work: Callable[[bool], None], stop: threading.Event, helpers: int | None = None) -> None:
    """Run ``work(True)`` on this thread and ``work(False)`` on ``helpers`` pooled threads.

    Each ``work`` pulls items from a shared source until none are left or ``stop`` is set; only
    the calling thread's ``work(True)`` should report progress or poll a cancel callback. The
    first error of any thread is raised here once all have stopped.
    """
    if helpers is None:
        helpers = io_threads() - 1
    errors: list[BaseException] = []

    def helper() -> None:
        try:
            work(False)
        except BaseException as exc:  # handed to the calling thread
            errors.append(exc)
            stop.set()

    pool = _get_pool()
    futures = [pool.submit(helper) for _ in range(helpers)]
    try:
        work(True)
    except BaseException:
        stop.set()
        raise
    finally:
        for f in futures:
            if not f.cancel():  # started: wait for it to see that the work ran out or stop is set
                f.result()
    if errors:
        raise errors[0]


_gc_lock = threading.Lock()
_gc_users = 0
_gc_was_enabled = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Hold Python's cyclic garbage collector off while a study is scanned or loaded.

    A load makes thousands of small objects (headers, tuples) that survive into the older
    generations, so collections run in the middle of a load over every object of the process
    (measured in a process holding torch and MONAI, 440k objects: up to 6 ms of a 75 ms
    300-slice load, median 0.6 ms). Reference counting still frees everything; cycles wait
    until the last concurrent load ends (nesting and threads are counted) and the collector is
    turned back on as it was.
    """
    global _gc_users, _gc_was_enabled
    with _gc_lock:
        if _gc_users == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and _gc_was_enabled:
                gc.enable()
