"""Plugin results of this session, so that a result already at hand is never computed again (Qt-free).

:func:`~meddiag_desktop.workflow.ai_run.run_ai` files every successful run here under a
:class:`RunKey`: the study grid (geometry and a SHA-256 of the voxels, see
:func:`volume_digest`), the plugin id and version, the digest of every file of the
plugin (weights, code, manifest: :func:`meddiag_desktop.ai.trust.hash_tree`, whose file
hashes are cached by path, size and times) and the options that change the output
(device, batch, precision, locations, forced run, extra input volumes). The
classifier takes its candidates from the cached segmentation, and the risk panel and
``meddiag report`` get the same run back without a worker process being started.

A changed weights file, plugin file or voxel gives another key, so a stale result is
never returned. Entries are kept least recently used first, up to ``capacity`` runs and
``max_bytes`` of label and explanation maps (the newest run is always kept);
:meth:`ResultCache.get` hands out a copy (arrays included), so an edit of a returned
label map cannot change what the next caller gets.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RunKey", "ResultCache", "SESSION_CACHE", "volume_digest", "plugin_digest", "run_key"]


@dataclass(frozen=True)
class RunKey:
    """What a plugin result depends on."""

    grid: str  # volume_digest of the study (and of any extra input volumes, in options)
    plugin_id: str
    version: str
    files: str  # digest of every file of the plugin folder (weights included)
    options: str  # JSON of the run options that change the output


def volume_digest(volume: Any) -> str:
    """SHA-256 of a volume's grid (shape, type, spacing, origin, direction) and voxels (about 0.07 s per 44 MB)."""
    arr = np.ascontiguousarray(volume.array)
    h = hashlib.sha256()
    geometry = {"shape": list(arr.shape), "dtype": arr.dtype.str, "spacing": [float(s) for s in volume.spacing],
                "origin": [float(o) for o in volume.origin],
                "direction": [float(d) for d in np.asarray(volume.direction, float).ravel()]}
    h.update(json.dumps(geometry, sort_keys=True).encode())
    h.update(memoryview(arr).cast("B"))
    return h.hexdigest()


def plugin_digest(info: Any) -> str | None:
    """Digest of every file of the plugin's folder, or None when it cannot be read (then nothing is cached)."""
    from meddiag_desktop.ai.trust import hash_tree, tree_digest

    folder = getattr(info, "path", None)
    if folder is None:
        return None
    try:
        return tree_digest(hash_tree(Path(folder)))
    except Exception:  # unreadable or unsafe: the run itself reports it (require_trusted)
        return None


def run_key(info: Any, volume: Any, options: Any, inputs: dict | None = None, *, grid: str | None = None) -> RunKey | None:
    """The cache key of running ``info`` on ``volume`` with ``options`` (a ``RunOptions``); None: not cacheable."""
    files = plugin_digest(info)
    if files is None:
        return None
    manifest = getattr(info, "manifest", None)
    opts = {
        "device": str(options.device),
        "batch": options.sw_batch_size,
        "precision": options.precision,
        "points": [[round(float(c), 4) for c in p] for p in (options.points_lps or [])],
        "force": bool(options.force),
        "inputs": {k: [volume_digest(v) for v in vols] for k, vols in sorted((inputs or {}).items())},
    }
    return RunKey(grid or volume_digest(volume), str(info.id), str(getattr(manifest, "version", "") or ""), files,
                  json.dumps(opts, sort_keys=True))


def _clone(run: Any) -> Any:
    """A copy of an AIRun that shares nothing mutable with it (result arrays, lists and dicts copied)."""
    return replace(run, result=copy.deepcopy(run.result), findings=list(run.findings), sizes=dict(run.sizes))


def _array_bytes(result: Any) -> int:
    return sum(int(getattr(getattr(result, name, None), "nbytes", 0) or 0) for name in ("labels", "explanation"))


class ResultCache:
    """Successful plugin runs by :class:`RunKey`, least recently used dropped beyond ``capacity``; thread-safe.

    ``hits`` and ``stored`` count what was served and filed (tests and benchmarks read them).
    """

    def __init__(self, capacity: int = 6, max_bytes: int = 1 << 30) -> None:
        self.capacity = int(capacity)
        self.max_bytes = int(max_bytes)  # label maps and explanation maps held, at most
        self._runs: OrderedDict[RunKey, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.stored = 0

    def __len__(self) -> int:
        return len(self._runs)

    def __contains__(self, key: RunKey) -> bool:
        return key in self._runs

    def get(self, key: RunKey | None) -> Any:
        """A copy of the run filed under ``key``, or None."""
        if key is None:
            return None
        with self._lock:
            run = self._runs.get(key)
            if run is None:
                return None
            self._runs.move_to_end(key)
            self.hits += 1
        return _clone(run)

    def put(self, key: RunKey | None, run: Any) -> None:
        """File a copy of ``run`` under ``key`` (nothing when ``key`` is None)."""
        if key is None or self.capacity <= 0:
            return
        kept = _clone(run)
        with self._lock:
            self._runs[key] = kept
            self._runs.move_to_end(key)
            self.stored += 1
            while len(self._runs) > self.capacity or (len(self._runs) > 1 and self.nbytes > self.max_bytes):
                self._runs.popitem(last=False)

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays held (label maps, explanation maps)."""
        return sum(_array_bytes(run.result) for run in self._runs.values())

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()


#: the results of this session (the app, or one ``meddiag report`` process)
SESSION_CACHE = ResultCache()
