"""Child-process side of :mod:`meddiag_desktop.ai.isolation` (imports torch; never Qt).

Messages sent to the parent: ``("stage", text)``, ``("progress", done, total)``,
``("note", text)``, ``("result", summary, files)``, ``("error", kind, message, traceback)``.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

import numpy as np


def _send(conn, *msg) -> None:
    try:
        conn.send(msg)
    except (BrokenPipeError, OSError):  # parent gone: nothing left to do
        os._exit(0)


def _exit_with_parent(poll_s: float = 1.0) -> None:
    """End this worker if the app dies (killed, crashed): a hung plugin must not outlive it."""
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="meddiag-parent-watch", daemon=True).start()


def worker_main(conn, request: dict | None = None) -> None:
    """Import torch, then wait for one request (unless given); run it; write arrays; report.

    Started ahead of need (:class:`~meddiag_desktop.ai.isolation.WorkerProcess`), the
    slow imports overlap with the caller loading the study.
    """
    _exit_with_parent()
    try:
        import torch  # noqa: F401  (the slow part of starting a worker)

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
        from meddiag_desktop.ai.manifest import load_manifest
        from meddiag_desktop.ai.results import SegmentationResult
        from meddiag_desktop.ai.runner import RunOptions, run_plugin
        from meddiag_desktop.core.volume import Volume

        tmp = Path(request["tmpdir"])
        array = np.load(tmp / "input.npy", mmap_mode="r")
        geo = request["geometry"]
        volume = Volume(np.asarray(array), geo["spacing"], geo["origin"], np.asarray(geo["direction"]),
                        metadata={"modality": geo.get("modality", "")})
        options = RunOptions(**request["options"])
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
        if isinstance(result, SegmentationResult):
            np.save(tmp / "labels.npy", result.labels)
            files["labels"] = "labels.npy"
        elif getattr(result, "explanation", None) is not None:
            np.save(tmp / "explanation.npy", result.explanation)
            files["explanation"] = "explanation.npy"
        _send(conn, "result", result.summary(), files)
    except BaseException as err:  # report everything; the parent decides what to show
        _send(conn, "error", type(err).__name__, str(err) or type(err).__name__, traceback.format_exc())
    finally:
        try:
            conn.close()
        except OSError:
            pass
