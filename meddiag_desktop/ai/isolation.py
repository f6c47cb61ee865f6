"""Run a plugin in a separate process so that nothing it does can take the viewer down.

The worker is started with the ``spawn`` method (a fresh interpreter that loads
torch itself) and talks through a one-way :func:`multiprocessing.Pipe`; the
volume and the label map travel as ``.npy`` files in a private temporary
folder. The parent watches for:

* an exception in the plugin -> :class:`PluginFailed` with the plugin's message;
* the process dying (segfault, ``os._exit``) -> :class:`PluginCrashed` naming the signal/status;
* no progress for ``stall_timeout`` seconds -> :class:`PluginHung` (the process is killed);
* ``cancel()`` returning True -> the process is terminated (within 2 s) and
  :class:`RunCancelled` is raised; no partial result is returned.

Out of GPU memory is handled in the worker (smaller batch, then CPU) and the
steps taken come back as ``notes``.

The worker is *not* a daemon process, so plugins may start their own processes
(MONAI bundles' DataLoader workers); it leads its own process group, and cancel,
timeouts and the app's exit end the whole group. It still dies with the app (it
watches its parent). Its stdout, stderr and logging go to a log file in the
user's log folder (:func:`plugin_log_dir`), never to the app's stdout; errors
name the log, which holds the full traceback.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import shutil
import signal
import tempfile
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from meddiag_desktop.ai.discovery import PluginInfo, plugin_from_folder
from meddiag_desktop.ai.errors import InputRefused
from meddiag_desktop.ai.input_checks import check_input
from meddiag_desktop.ai.results import ClassificationResult, DetectionResult, SegmentationResult, result_from_summary
from meddiag_desktop.ai.runner import RunOptions
from meddiag_desktop.ai.sliding_window import RunCancelled
from meddiag_desktop.core.volume import Volume

__all__ = ["PluginError", "PluginFailed", "PluginCrashed", "PluginHung", "RunCancelled", "WorkerProcess", "run_isolated",
           "plugin_log_dir"]


class PluginError(RuntimeError):
    """A plugin run failed; the message says why and what to do."""


class PluginFailed(PluginError):
    """The plugin raised an exception (``kind`` is its type name, ``details`` its traceback)."""

    def __init__(self, message: str, kind: str = "", details: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.details = details


class PluginCrashed(PluginError):
    """The worker process died (segfault, abort, ``os._exit``)."""


class PluginHung(PluginError):
    """The worker made no progress for too long and was stopped."""


_REFUSAL_KINDS = {"InputRefused", "WeightsError", "ManifestError", "PluginOutOfMemory", "BundleRequirementError"}
_REFUSAL_KINDS |= {"PluginUntrusted", "UnsafePluginFile"}  # ai/trust.py: refused in the worker too
_REFUSAL_KINDS |= {"AIExtraMissing"}  # ai/errors.py: torch or MONAI not installed; the message names the extra

_LIVE_WORKERS: weakref.WeakSet = weakref.WeakSet()


def plugin_log_dir() -> Path:
    """Where plugin runs write their logs: ``<user data folder>/logs`` (created on demand)."""
    from meddiag_desktop.paths import user_data_dir

    path = user_data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _new_log_path(name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:80]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return plugin_log_dir() / f"{safe}-{stamp}-{os.getpid()}-{next(_LOG_COUNTER)}.log"


def _counter():
    n = 0
    while True:
        n += 1
        yield n


_LOG_COUNTER = _counter()


@atexit.register
def _stop_all_workers() -> None:
    """Non-daemon workers would keep the app waiting at exit: end them first (runs before multiprocessing's join)."""
    for w in list(_LIVE_WORKERS):
        try:
            w.close()
            _stop(w._proc)
        except Exception:
            pass


def _death_reason(code: int | None) -> str:
    if code is None:
        return "stopped responding"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        extra = " (a segmentation fault in native code)" if name == "SIGSEGV" else ""
        return f"was killed by {name}{extra}"
    return f"exited with status {code}"


def _start_without_main(proc) -> None:
    """Start a spawn child without re-running the parent's ``__main__`` (:mod:`meddiag_desktop.spawning`)."""
    from meddiag_desktop.spawning import main_hidden

    with main_hidden():
        proc.start()


class WorkerProcess:
    """A spawned worker process, started ahead of need so that torch is imported by the time it runs.

    Serves exactly one run (a fresh process per run keeps plugins from affecting
    each other); :meth:`close` ends an unused one.
    """

    def __init__(self, name: str = "meddiag-plugin-worker") -> None:
        from meddiag_desktop.ai import _worker

        ctx = mp.get_context("spawn")
        self._conn, child_conn = ctx.Pipe(duplex=True)
        #: the run's log: the plugin's stdout, stderr and logging, and the traceback of a failure
        self.log_path = _new_log_path(name)
        self._proc = ctx.Process(target=_worker.worker_main, args=(child_conn, None, str(self.log_path)),
                                 daemon=False, name=name)  # not a daemon: DataLoader workers are its children
        _start_without_main(self._proc)
        child_conn.close()
        self.used = False
        _LIVE_WORKERS.add(self)

    def is_alive(self) -> bool:
        return self._proc.is_alive()

    def take(self, request: dict):
        """Hand over the request; return the process and its connection (now owned by the caller)."""
        if self.used:
            raise RuntimeError("a worker process serves one run only")
        self.used = True
        self._conn.send(request)
        return self._proc, self._conn

    def close(self) -> None:
        """End the worker if it was never used (a used one is ended by its run)."""
        if not self.used:
            self.used = True
            try:
                self._conn.send(None)
            except (OSError, BrokenPipeError):
                pass
            self._proc.join(0.5)
            _stop(self._proc)
            self._conn.close()
            try:  # a spare worker that ran nothing leaves no empty log behind
                if self.log_path.stat().st_size == 0:
                    self.log_path.unlink()
            except OSError:
                pass

    def __del__(self) -> None:  # never leave an idle worker behind
        try:
            self.close()
        except Exception:
            pass


def _kill_group(proc) -> None:
    """SIGKILL the worker's process group (the worker and its DataLoader workers), if it leads one.

    After the worker has exited its pid is not reused while its group has
    members, so the group is killed only when the worker said it made one
    (``proc._meddiag_group``, set on its first message).
    """
    pid = proc.pid
    if pid is None or not hasattr(os, "killpg"):
        return
    try:
        if getattr(proc, "_meddiag_group", False) or os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _stop(proc) -> None:
    """Terminate, then kill (with its children): the worker is gone within about 1.5 s."""
    if proc.is_alive():
        proc.terminate()
        proc.join(1.0)
    if proc.is_alive():
        _kill_group(proc)
        proc.kill()
        proc.join(1.0)
    _kill_group(proc)  # children left behind by a worker that did exit


def run_isolated(
    plugin: PluginInfo | str | Path,
    volume: Volume,
    options: RunOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    *,
    on_stage: Callable[[str], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    stall_timeout: float = 180.0,
    start_timeout: float = 120.0,
    threads: int | None = None,
    worker: WorkerProcess | None = None,
    inputs: dict[str, list[Volume]] | None = None,
) -> SegmentationResult | ClassificationResult | DetectionResult:
    """Run ``plugin`` on ``volume`` in a worker process and return its result.

    Parameters
    ----------
    plugin:
        a :class:`PluginInfo` from discovery, or a plugin folder (treated as ``explicit``).
    progress:
        ``progress(done, total)`` with windows done / total, called in this thread.
    cancel:
        polled about every 0.1 s; returning True stops the worker and raises :class:`RunCancelled`.
    worker:
        a :class:`WorkerProcess` started earlier (its imports already done); one is
        started here when missing. A worker serves one run, then ends.
    stall_timeout:
        seconds without any message from the worker once inference has started
        (first progress report) before it is declared hung; ``start_timeout``
        applies before that (torch import, model loading, resampling).
    inputs:
        MONAI bundles with several inputs or channels: ``{key: [volume per channel]}``
        (BraTS: ``{"image": [t1c, t1, t2, flair]}``); the result lies on ``volume``'s grid.
    """
    info = plugin if isinstance(plugin, PluginInfo) else plugin_from_folder(Path(plugin), "explicit")
    if not info.ok:
        raise PluginError(f"plugin {info.id} cannot be used: {info.error}")
    from meddiag_desktop.ai.trust import require_trusted

    require_trusted(info)  # no plugin code without the user's consent, pinned to a hash (ai/trust.py)
    manifest = info.manifest
    from dataclasses import replace

    options = replace(options or RunOptions(), allow_bundle_code=info.allow_bundle_code)
    if manifest.kind == "monai_bundle":
        if not info.allow_bundle_code:
            raise InputRefused(f"{info.path} is a MONAI bundle in the app's own folder; bundles run only from the user's folders")
        from meddiag_desktop.ai.bundle import inference_config
        from meddiag_desktop.ai.bundle_requirements import check_requirements
        from meddiag_desktop.ai.bundle_run import inputs_for

        # refuse what cannot run before starting anything: missing packages, channels, 2D/3D misfits
        check_requirements(Path(info.path), inference_config(Path(info.path)), manifest.name)
        inputs_for(manifest, Path(info.path), volume, inputs)
        from meddiag_desktop.ai.input_checks import check_bundle_input
        from meddiag_desktop.ai.intended_use import gate

        # the intended-use gate first (channels are the bundle's input mapping's to check)
        warnings = gate(manifest, volume, info.path, options.force)
        warnings += check_bundle_input(manifest, volume, info.path)
    else:
        warnings = check_input(manifest, volume, options.force, info.path)  # refuse misfits (and out-of-domain studies) first

    candidate_source = None
    if manifest.task == "classification" and not options.points_lps and manifest.input.candidates_from:
        options, candidate_source = _find_candidates(
            manifest, volume, options, progress, cancel, on_stage, on_note, stall_timeout, start_timeout, threads
        )

    tmp = Path(tempfile.mkdtemp(prefix="meddiag-ai-"))
    proc = None
    conn = None
    reported = False
    try:
        np.save(tmp / "input.npy", np.ascontiguousarray(volume.array))
        request_inputs = {}
        for key, vols in (inputs or {}).items():
            request_inputs[key] = []
            for c, v in enumerate(vols):
                name = f"input_{len(request_inputs)}_{c}.npy"
                np.save(tmp / name, np.ascontiguousarray(v.array))
                request_inputs[key].append({"file": name, "geometry": _geometry(v)})
        request = {
            "tmpdir": str(tmp),
            "plugin_path": str(info.path),
            "geometry": {
                "spacing": list(volume.spacing),
                "origin": list(volume.origin),
                "direction": np.asarray(volume.direction).tolist(),
                "modality": volume.modality,
            },
            "options": asdict(options),
            "threads": threads,
            "inputs": request_inputs,
        }
        if worker is None or not worker.is_alive() or worker.used:
            if worker is not None:
                worker.close()
            worker = WorkerProcess(name=f"meddiag-plugin-{info.id}")
        proc, conn = worker.take(request)
        last = time.monotonic()
        started = False
        while True:
            if cancel is not None and cancel():
                _stop(proc)
                raise RunCancelled(f"{manifest.name}: cancelled")
            msg = None
            if conn.poll(0.1):
                try:
                    msg = conn.recv()
                except (EOFError, OSError):
                    proc.join(2.0)
                    raise PluginCrashed(
                        f"plugin {info.id} {_death_reason(proc.exitcode)}; the viewer is unaffected, "
                        "report this to the plugin's authors"
                    ) from None
            if msg is None:
                if not proc.is_alive():
                    raise PluginCrashed(
                        f"plugin {info.id} {_death_reason(proc.exitcode)}; the viewer is unaffected, "
                        "report this to the plugin's authors"
                    )
                limit = stall_timeout if started else start_timeout
                if time.monotonic() - last > limit:
                    _stop(proc)
                    raise PluginHung(
                        f"plugin {info.id} made no progress for {limit:.0f} s and was stopped "
                        "(it may be stuck, or need a faster device)"
                    )
                continue
            last = time.monotonic()
            proc._meddiag_group = True  # the worker made its process group before its first message
            kind = msg[0]
            if kind == "progress":
                started = True
                if progress is not None:
                    progress(msg[1], msg[2])
            elif kind == "ready":
                pass
            elif kind == "stage":
                if on_stage is not None:
                    on_stage(msg[1])
            elif kind == "note":
                if on_note is not None:
                    on_note(msg[1])
            elif kind == "error":
                _, etype, message, tb = msg
                proc.join(2.0)
                if etype == "RunCancelled":
                    raise RunCancelled(message)
                if etype in _REFUSAL_KINDS:
                    exc = {"InputRefused": InputRefused}.get(etype)
                    if exc is not None:
                        raise exc(message)
                    raise PluginFailed(message, etype, tb)
                raise PluginFailed(f"plugin {info.id} failed: {etype}: {message} (full traceback in {worker.log_path})",
                                   etype, tb)
            elif kind == "result":
                _, summary, files = msg
                result = _rebuild(summary, files, tmp)
                reported = True  # the worker ends by itself now; no need to wait for it here
                if candidate_source:
                    for f in getattr(result, "findings", []):
                        f.source = candidate_source
                result.warnings = list(dict.fromkeys(warnings + result.warnings))
                return result
    finally:
        if proc is not None:
            if reported:
                _reap_later(proc)
            else:
                _stop(proc)
        if conn is not None:
            conn.close()
        if worker is not None:
            worker.used = True
        shutil.rmtree(tmp, ignore_errors=True)


def _reap_later(proc) -> None:
    """Wait for a worker that sent its result to end, in a background thread.

    Its memory goes back to the kernel as it ends (0.15 s for the chest CT plugin's
    2 GB), time the caller spends on the result instead. A worker still there after
    5 s is stopped as :func:`_stop` does, with any processes it left behind.
    """
    import threading

    def reap() -> None:
        proc.join(5.0)
        _stop(proc)

    threading.Thread(target=reap, name="meddiag-worker-reaper", daemon=True).start()


def _find_candidates(manifest, volume, options, progress, cancel, on_stage, on_note, stall, start, threads):
    """Locations to classify: components of a label found by the segmentation plugin the manifest names."""
    from dataclasses import replace

    from meddiag_desktop.ai.discovery import find_plugin
    from meddiag_desktop.ai.classification import points_from_labels

    seg_info = find_plugin(manifest.input.candidates_from)
    if on_stage is not None:
        on_stage(f"finding candidates with {seg_info.manifest.name if seg_info.manifest else seg_info.id}")
    seg = run_isolated(seg_info, volume, RunOptions(device=options.device, force=options.force), progress, cancel, on_stage=on_stage,
                       on_note=on_note, stall_timeout=stall, start_timeout=start, threads=threads)
    points = points_from_labels(seg.labels, volume, manifest.input.candidates_label)
    label_name = seg.label_names.get(manifest.input.candidates_label, f"label {manifest.input.candidates_label}")
    if not points:
        raise InputRefused(
            f"{manifest.name}: {seg_info.id} found no {label_name} to classify; "
            "give the location to classify (X, Y, Z in LPS mm, e.g. --point=X,Y,Z)"
        )
    return replace(options, points_lps=points), f"{label_name} found by {seg_info.id}"


def _geometry(volume: Volume) -> dict:
    return {"spacing": list(volume.spacing), "origin": list(volume.origin),
            "direction": np.asarray(volume.direction).tolist(), "modality": volume.modality}


def _rebuild(summary: dict, files: dict, tmp: Path):
    """The worker's result again: its ``to_summary()`` and the ``.npy`` files of its ``arrays()``."""
    return result_from_summary(summary, {name: np.load(tmp / file) for name, file in files.items()})
