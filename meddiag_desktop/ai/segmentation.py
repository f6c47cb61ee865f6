"""Segmentation by a native plugin: model grid, sliding window, ``[[postprocess]]``, back to the source grid.

The model is built and the input checked by :func:`meddiag_desktop.ai.runner.run_plugin`;
here the volume is resampled to the model's grid and normalised, inferred window by
window (with the out-of-memory fallback of :mod:`meddiag_desktop.ai.devices`), cleaned
up on the model grid, and resampled (nearest neighbour) onto the source grid.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from meddiag_desktop.ai.devices import autocast_dtype, run_with_fallback
from meddiag_desktop.ai.errors import import_ai
from meddiag_desktop.ai.manifest import InputSpec, PluginManifest
from meddiag_desktop.ai.postprocess import apply_postprocess
from meddiag_desktop.ai.preprocess import normalize
from meddiag_desktop.ai.resample import model_grid, resample_array_to_source, resample_to_grid
from meddiag_desktop.ai.results import SegmentationResult, label_statistics
from meddiag_desktop.ai.sliding_window import count_windows, sliding_window_argmax
from meddiag_desktop.core.label_map import LabelMap
from meddiag_desktop.core.volume import Volume

__all__ = ["segment", "total_windows"]


def segment(manifest: PluginManifest, volume: Volume, model, device: str, options, *,
            progress: Callable[[int, int], None] | None, cancel: Callable[[], bool] | None,
            note: Callable[[str], None], notes: list[str], warnings: list[str],
            timings: dict[str, float]) -> SegmentationResult:
    """Run the built ``model`` on ``volume``; ``notes``, ``warnings`` and ``timings`` go into the result."""
    torch = import_ai("torch")

    t = time.perf_counter()
    spec: InputSpec = manifest.input
    grid = model_grid(volume, spec.spacing_mm, spec.orientation)
    arr = normalize(resample_to_grid(volume, grid, spec.pad_value), spec.normalization)
    timings["resample_in_s"] = time.perf_counter() - t

    inf = manifest.inference
    roi_zyx = tuple(reversed(inf.roi_size))
    precision = options.precision or inf.precision

    def infer(dev: str, batch: int):
        model.to(dev)
        image = torch.from_numpy(arr)[None].to(dev)
        return sliding_window_argmax(
            image, model, roi_zyx, overlap=inf.overlap, blend=inf.blend, sw_batch_size=batch,
            progress=progress, cancel=cancel, autocast_dtype=autocast_dtype(dev, precision),
        )

    t = time.perf_counter()
    labels_model, used = run_with_fallback(infer, device, options.sw_batch_size or inf.sw_batch_size, note)
    timings["infer_s"] = time.perf_counter() - t

    labels_model = labels_model.numpy()
    if manifest.postprocess:
        # on the model grid: isotropic, the spacing the model was trained at, and usually smaller than the study
        t = time.perf_counter()
        apply_postprocess(labels_model, manifest.postprocess, grid.spacing)  # declared in the model card
        timings["postprocess_s"] = time.perf_counter() - t

    t = time.perf_counter()
    # classes the manifest does not name are not shown; cleared on the model grid (smaller than the
    # study's): nearest-neighbour resampling only copies values, so it is the same as clearing after
    known = np.zeros(max(256, int(labels_model.max()) + 1), dtype=bool)
    known[list(manifest.label_names())] = True
    labels_model[~known[labels_model]] = 0
    labels = resample_array_to_source(labels_model, grid, volume, labels=True)
    stats = label_statistics(labels, np.asarray(volume.array), volume.spacing, manifest.label_names(),
                             manifest.label_colors())
    timings["resample_out_s"] = time.perf_counter() - t
    return SegmentationResult(manifest.id, LabelMap(labels, manifest.label_names(), manifest.label_colors()), stats,
                              manifest.intended_use, used, timings, notes, warnings)


def total_windows(manifest: PluginManifest, volume: Volume) -> int:
    """Number of sliding windows a segmentation run will compute (for progress display)."""
    grid = model_grid(volume, manifest.input.spacing_mm, manifest.input.orientation)
    return count_windows(grid.shape_zyx, tuple(reversed(manifest.inference.roi_size)), manifest.inference.overlap)
