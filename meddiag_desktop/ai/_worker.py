"""Child-process side of :mod:`meddiag_desktop.ai.isolation` (imports torch; never Qt).

Messages sent to the parent: ``("stage", text)``, ``("progress", done, total)``,
``("note", text)``, ``("result", summary, files)``, ``("error", kind, message, traceback)``.

Everything the plugin prints or logs (MONAI logs to stdout) goes to the run's log
file, never to the app's stdout: file descriptors 1 and 2 are pointed at the log
before anything is imported, so DataLoader workers and native code write there too.
An error is reported by its root cause (see :mod:`meddiag_desktop.ai.failures`);
the full traceback is written to the log.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

import numpy as np

from meddiag_desktop.spawning import exit_with_parent as _exit_with_parent


def _send(conn, *msg) -> None:
    try:
        conn.send(msg)
    except (BrokenPipeError, OSError):  # parent gone: nothing left to do
        os._exit(0)


def _redirect_output(log_path: str | None) -> None:
    """Send stdout, stderr and logging of this process (and its children) to ``log_path``."""
    import logging
    import sys

    if not log_path:
        return
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, force=True,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")


def _own_process_group() -> None:
    """Lead a process group, so cancel/timeout can end DataLoader workers with this process."""
    if hasattr(os, "setpgid"):
        try:
            os.setpgid(0, 0)
        except OSError:
            pass


def _default_start_method() -> None:
    """Give this process the platform's default start method, as ``python -m monai.bundle run`` has.

    A spawned child inherits "spawn", so every DataLoader worker would start a
    fresh interpreter and import torch and MONAI again (spleen: 81 s instead of
    4 s on two cores).
    """
    import multiprocessing as mp

    if sys.platform.startswith("linux"):
        mp.set_start_method("fork", force=True)


#: glibc ``mallopt`` parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


def _keep_freed_memory() -> None:
    """Let freed memory be reused within this process instead of going back to the kernel each time.

    glibc serves every block over 32 MB (a batch of windows' activations) with its
    own ``mmap`` and unmaps it when freed, so each of the network's layers got
    fresh pages that the kernel first had to zero: on the bundled chest CT plugin
    2.6 million page faults, half of the sliding window's time on two cores. With
    ``mmap`` off and a high trim threshold, freed blocks stay on the heap and the
    next batch reuses them (after the first batch no page faults at all): the
    sliding window's system time fell from 6.5 s to 1.1 s. Where the arrays lie
    changes, never a value. (Transparent huge pages for torch's allocations,
    ``THP_MEM_ALLOC_ENABLE=1``, were slower still: the kernel compacts memory on
    the first touch.) The price: what was freed is kept until the process ends (peak
    resident memory on the demo 1.6 -> 1.9 GB), and a worker ends after its one run.
    Outside glibc (macOS, Windows, musl) the defaults stay.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no glibc
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(_M_MMAP_MAX, 0)
    mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)


def _volume(tmp: Path, entry: dict):
    from meddiag_desktop.core.volume import Volume

    geo = entry["geometry"]
    array = np.load(tmp / entry["file"], mmap_mode="r")
    return Volume(np.asarray(array), geo["spacing"], geo["origin"], np.asarray(geo["direction"]),
                  metadata={"modality": geo.get("modality", "")})


def worker_main(conn, request: dict | None = None, log_path: str | None = None) -> None:
    """Import torch, then wait for one request (unless given); run it; write arrays; report.

    Started ahead of need (:class:`~meddiag_desktop.ai.isolation.WorkerProcess`), the
    slow imports overlap with the caller loading the study.
    """
    _redirect_output(log_path)
    _own_process_group()
    _default_start_method()
    _exit_with_parent()
    _keep_freed_memory()
    try:
        from meddiag_desktop.ai.errors import import_ai

        torch = import_ai("torch")  # the slow part of starting a worker; missing: "install meddiag-desktop[ai]"
        import meddiag_desktop.ai.runner  # noqa: F401
        _send(conn, "ready")
        if request is None:
            try:
                request = conn.recv()
            except (EOFError, OSError):  # the app went away or closed the spare worker
                return
            if request is None:
                return
        if request.get("threads"):
            torch.set_num_threads(int(request["threads"]))
        _send(conn, "stage", "loading the model")
        from meddiag_desktop.ai.manifest_io import load_manifest
        from meddiag_desktop.ai.runner import RunOptions, run_plugin

        tmp = Path(request["tmpdir"])
        volume = _volume(tmp, {"file": "input.npy", "geometry": request["geometry"]})
        options = RunOptions(**request["options"])
        if request.get("inputs"):  # multi-input bundles: {key: [volume per channel]}
            options.bundle_inputs = {key: [_volume(tmp, e) for e in entries] for key, entries in request["inputs"].items()}
        folder = Path(request["plugin_path"])
        manifest = load_manifest(folder)
        result = run_plugin(
            folder, volume, options,
            progress=lambda d, t: _send(conn, "progress", int(d), int(t)),
            cancel=None,
            note=lambda text: _send(conn, "note", text),
            manifest=manifest,
        )
        files = {}
        for name, array in result.arrays().items():  # the parent: results.result_from_summary
            np.save(tmp / f"{name}.npy", array)
            files[name] = f"{name}.npy"
        _send(conn, "result", result.to_summary(), files)
    except BaseException as err:  # report everything; the parent decides what to show
        from meddiag_desktop.ai.failures import describe_failure

        tb = traceback.format_exc()
        print(tb, file=sys.stderr, flush=True)  # the log file
        kind, message = describe_failure(err)
        _send(conn, "error", kind, message, tb)
    finally:
        try:
            conn.close()
        except OSError:
            pass
        _exit_now()


def _exit_now() -> None:
    """End the process without the interpreter's teardown, its work being done and reported.

    Freeing torch's and the plugin's objects one by one took 0.4 s, during which the
    app waited for the process to end. The log is flushed first; DataLoader workers
    left behind are ended with the process group by the app (``isolation._stop``).
    """
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)
