"""Decode compressed DICOM pixel data in worker processes.

Native decoders (GDCM, libjpeg, OpenJPEG, Rust RLE) can abort or panic on a
damaged file, which would take the whole viewer down. Compressed frames are
therefore decoded in a small pool of spawned processes: a crash there costs
one file, reported as a :class:`LoadError`, and the pool is rebuilt. The
processes also decode in parallel, free of the GIL.

The workers are spawned with the caller's ``__main__`` hidden, so they never
re-import the main script: ``load()`` works from a script without an
``if __name__ == "__main__":`` guard, a notebook or a frozen app (as the AI
runner's worker in ``ai/isolation.py`` does). A worker's failure comes back as
the :class:`LoadError` it raised (pickled with its ``detail``), never as text.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from meddiag_desktop.io.errors import LoadCancelled, LoadError, unreadable_reason
from meddiag_desktop.io.pixel_decode import decode_in_process
from meddiag_desktop.spawning import exit_with_parent, main_hidden

__all__ = ["decode_isolated", "shutdown", "warm", "pool_size"]

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_warmed: ProcessPoolExecutor | None = None  # the pool warm() last started


def _workers() -> int:
    """One decode process per core (decoding is CPU-bound and each process has its own GIL)."""
    return max(1, min(16, os.cpu_count() or 1))


def pool_size() -> int:
    """How many decode processes the pool runs."""
    return _workers()


def _warm_child() -> int:
    """Run in a worker: import pydicom and its pixel decoders now, not on the first image."""
    import pydicom.pixels  # noqa: F401

    return os.getpid()


def warm() -> None:
    """Start the decode processes now (in the background) so that the first compressed image does not wait for them.

    Called by the scan when it finds compressed images; a pool already warmed is left alone, and
    a daemonic process (a Dask worker's), which may not start processes, starts none.
    """
    global _warmed
    if _in_daemon():
        return
    pool = _get_pool()
    with _lock:
        if _warmed is pool:
            return
        _warmed = pool
    try:
        with main_hidden():
            for _ in range(_workers()):
                pool.submit(_warm_child)
    except RuntimeError:  # shut down meanwhile
        pass


def _in_daemon() -> bool:
    """True in a daemonic process (a Dask or multiprocessing worker): it may not have children."""
    return bool(mp.current_process().daemon)


#: how much lower the decode processes' CPU priority is than the viewer's (POSIX nice steps)
NICE = 5


def _worker_init(parent_pid: int) -> None:
    """In each decode process: end with the parent, and yield the CPU to the viewer.

    Decoding is background work: at a lower priority a series that decodes (or the processes
    starting up ahead of time) never makes scrolling stutter, and on idle cores it runs at full
    speed all the same.
    """
    exit_with_parent(parent_pid)
    try:
        os.nice(NICE)
    except (AttributeError, OSError):  # not POSIX
        pass


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=_workers(), mp_context=mp.get_context("spawn"),
                                        initializer=_worker_init, initargs=(os.getpid(),))
        return _pool


def _reset_pool(broken: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)


def shutdown() -> None:
    """Stop the worker processes (at exit, or in tests)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


atexit.register(shutdown)


def _decode_in_child(path: str, what: str) -> np.ndarray:
    """Run in a worker process: decode all frames of ``path``; any failure is raised as a LoadError naming ``what``."""
    try:
        return decode_in_process(path, single_threaded=_workers() > 1)
    except (KeyboardInterrupt, SystemExit, LoadError):
        raise  # a LoadError is already a plain sentence: it reaches the caller as it is
    except MemoryError:
        raise LoadError(f"{what}: the image cannot be decoded: the decoded image does not fit in memory") from None
    except BaseException as exc:
        raise LoadError(f"{what}: the image cannot be decoded: {unreadable_reason(exc)}",
                        detail=f"{type(exc).__name__}: {exc}") from None


#: a decode may take this long plus DECODE_SECONDS_PER_MB per MB of decoded image before it counts as hung
DECODE_SECONDS_BASE = 15.0
DECODE_SECONDS_PER_MB = 0.25


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool whose worker hangs in native code (a damaged JPEG can make a decoder spin forever)."""
    for proc in list(getattr(pool, "_processes", {}).values()):
        try:
            proc.kill()
        except (OSError, AttributeError):
            pass
    _reset_pool(pool)


def _wait(future, timeout: float, cancel):
    """The future's result; TimeoutError after ``timeout`` s; LoadCancelled as soon as ``cancel()`` is true."""
    if cancel is None:
        return future.result(timeout=timeout)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return future.result(timeout=min(0.2, max(deadline - time.monotonic(), 0.001)))
        except TimeoutError:
            if cancel():
                raise LoadCancelled() from None
            if time.monotonic() >= deadline:
                raise


def decode_isolated(path: str, what: str, expected_bytes: int = 0, cancel=None) -> np.ndarray:
    """Decode ``path`` in a worker process; raise LoadError naming ``what`` on failure, crash or hang.

    ``expected_bytes`` (the decoded size the header declares) sets how long the decode may take;
    ``cancel()`` is polled while waiting (a cancelled decode stops the workers: one may be stuck).
    """
    if _in_daemon():
        # A daemonic process (a Dask worker scanning a study) may not start the pool: decode here.
        # Such a process is itself an isolated worker whose crash its parent reports.
        return _decode_in_child(path, what)
    timeout = DECODE_SECONDS_BASE + DECODE_SECONDS_PER_MB * expected_bytes / 2**20
    for attempt in (1, 2):
        pool = _get_pool()
        try:
            with main_hidden():  # the pool spawns its workers inside submit()
                future = pool.submit(_decode_in_child, path, what)
            return _wait(future, timeout, cancel)
        except LoadError as exc:  # raised in the worker: not chained to the worker's traceback text
            raise exc from None
        except LoadCancelled:
            if not future.done():
                _kill_pool(pool)
            raise
        except TimeoutError:
            _kill_pool(pool)
            raise LoadError(
                f"{what}: the image decoder did not finish within {timeout:.0f} s and was stopped; the compressed "
                "data is damaged"
            ) from None
        except (BrokenProcessPool, RuntimeError):  # RuntimeError: a pool shut down or broken while submitting
            _reset_pool(pool)
            if attempt == 2:
                raise LoadError(
                    f"{what}: the image decoder crashed on this file; the file is damaged or uses an "
                    "encoding the decoders cannot handle"
                ) from None
            # The pool may have broken because another file crashed it: try once more alone.
            continue
    raise AssertionError("unreachable")
