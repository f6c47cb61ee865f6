"""Classification by a native plugin: a patch around each location, class probabilities, occlusion map.

Each location (LPS mm: given by the reader, the components of a label found by
a segmentation plugin via :func:`points_from_labels`, else the volume centre)
gets a patch on the model's grid; with ``explanation = "occlusion"`` blocks of
the patch are blanked in turn and the drop of the top class's probability,
resampled onto the source grid, is the explanation map.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from meddiag_desktop.ai.devices import autocast_dtype, run_with_fallback
from meddiag_desktop.ai.errors import import_ai
from meddiag_desktop.ai.manifest import InputSpec, PluginManifest
from meddiag_desktop.ai.preprocess import normalize
from meddiag_desktop.ai.resample import _AXES, Grid, resample_array_to_source, resample_to_grid
from meddiag_desktop.ai.results import ClassificationResult, Finding
from meddiag_desktop.ai.sliding_window import RunCancelled
from meddiag_desktop.core.label_geometry import label_components
from meddiag_desktop.core.volume import Volume

__all__ = ["classify", "points_from_labels", "patch_grid"]


def points_from_labels(labels: np.ndarray, volume: Volume, value: int, min_voxels: int = 3) -> list[tuple]:
    """LPS centroids of the connected components of ``labels == value`` (largest first)."""
    comps = [c for c in label_components(volume, labels, value, diameters=False) if c.voxels >= min_voxels]
    comps.sort(key=lambda c: (-c.voxels, c.index))
    return [tuple(float(v) for v in c.centroid_lps) for c in comps]


def patch_grid(point: tuple[float, float, float], spec: InputSpec, volume: Volume) -> Grid:
    """The model's patch (``spec.patch_size`` at ``spec.spacing_mm``) centred on ``point``."""
    axes = np.asarray(volume.direction, float) if spec.orientation == "native" else _AXES[spec.orientation]
    spacing = tuple(spec.spacing_mm or volume.spacing)
    size = np.asarray(spec.patch_size, dtype=float)
    origin = np.asarray(point, float) - axes @ ((size - 1) / 2 * np.asarray(spacing))
    return Grid(tuple(int(s) for s in spec.patch_size), spacing, tuple(float(o) for o in origin), tuple(axes.ravel()))


def classify(manifest: PluginManifest, volume: Volume, model, device: str, options, *,
             progress: Callable[[int, int], None] | None, cancel: Callable[[], bool] | None,
             note: Callable[[str], None], notes: list[str], warnings: list[str],
             timings: dict[str, float]) -> ClassificationResult:
    """Classify ``options.points_lps`` (else the volume centre) with the built ``model``."""
    torch = import_ai("torch")

    spec = manifest.input
    points = [tuple(float(c) for c in p) for p in (options.points_lps or [])]
    source = "user"
    if not points:
        points = [tuple(float(c) for c in volume.center_lps())]
        source = "volume centre"
        warnings.append("no location given: classified the patch at the centre of the volume")

    classes = manifest.outputs.classes
    explain = manifest.outputs.explanation == "occlusion"
    pz, py, px = reversed(spec.patch_size)
    block = [max(1, s // 4) for s in (pz, py, px)]
    occl = [(a, b, c) for a in range(0, pz, block[0]) for b in range(0, py, block[1]) for c in range(0, px, block[2])]
    per_point = 1 + (len(occl) if explain else 0)
    total = per_point * len(points)
    explanation = np.zeros(volume.array.shape[:3], np.float32) if explain else None
    findings: list[Finding] = []
    fill = float(normalize(np.array([spec.pad_value], np.float32), spec.normalization)[0])

    def infer(dev: str, batch: int):
        model.to(dev)
        if progress:
            progress(0, total)
        ac = autocast_dtype(dev, options.precision or manifest.inference.precision)
        out = []
        done = 0

        def forward(x):
            with torch.no_grad():
                if ac is None:
                    return torch.softmax(model(x).float(), dim=1)
                with torch.autocast(device_type=dev.split(":")[0], dtype=ac):
                    return torch.softmax(model(x).float(), dim=1)

        for point in points:
            grid = patch_grid(point, spec, volume)
            patch = normalize(resample_to_grid(volume, grid, spec.pad_value), spec.normalization)
            x = torch.from_numpy(patch)[None, None].to(dev)
            if cancel is not None and cancel():
                raise RunCancelled("cancelled")
            probs = forward(x)[0]
            done += 1
            if progress:
                progress(done, total)
            top = int(probs.argmax())
            heat = None
            if explain:
                drops = torch.zeros(len(occl))
                for b0 in range(0, len(occl), batch):
                    if cancel is not None and cancel():
                        raise RunCancelled("cancelled")
                    chunk = occl[b0 : b0 + batch]
                    xs = x.repeat(len(chunk), 1, 1, 1, 1)
                    for i, (a, b, c) in enumerate(chunk):
                        xs[i, :, a : a + block[0], b : b + block[1], c : c + block[2]] = fill
                    drops[b0 : b0 + len(chunk)] = (probs[top] - forward(xs)[:, top]).clamp_min(0).cpu()
                    done += len(chunk)
                    if progress:
                        progress(done, total)
                heat = np.zeros((pz, py, px), np.float32)
                for d, (a, b, c) in zip(drops.numpy(), occl):
                    heat[a : a + block[0], b : b + block[1], c : c + block[2]] = d
            out.append((point, grid, probs.float().cpu().numpy(), heat))
        return out

    t = time.perf_counter()
    raw, used = run_with_fallback(infer, device, options.sw_batch_size or manifest.inference.sw_batch_size, note)
    timings["infer_s"] = time.perf_counter() - t
    t = time.perf_counter()
    for point, grid, probs, heat in raw:
        findings.append(Finding(point, {c: float(p) for c, p in zip(classes, probs)}, source))
        if heat is not None and explanation is not None:
            np.maximum(explanation, resample_array_to_source(heat, grid, volume, labels=False), out=explanation)
    timings["resample_out_s"] = time.perf_counter() - t
    return ClassificationResult(manifest.id, list(classes), findings, explanation, manifest.intended_use, used,
                                timings, notes, warnings)
