"""Run a plugin on a :class:`Volume` in this process (Qt-free; torch imported lazily).

The app never calls this directly: :func:`meddiag_desktop.ai.isolation.run_isolated`
calls it in a worker process so that a crashing plugin cannot take the viewer down.
Steps: check the input fits the model, verify weight hashes, resample to the
model's grid, normalise intensities, infer (sliding window, or patches for
classification) with progress and cancel, apply the manifest's ``[[postprocess]]``
steps (segmentation, on the model grid; see :mod:`meddiag_desktop.ai.postprocess`),
resample back to the source grid.
"""

from __future__ import annotations

import contextvars
import importlib
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from meddiag_desktop.ai.manifest import InputSpec, Normalization, PluginManifest, load_manifest
from meddiag_desktop.ai.resample import Grid, model_grid, resample_array_to_source, resample_to_grid
from meddiag_desktop.ai.results import ClassificationResult, Finding, SegmentationResult, label_statistics
from meddiag_desktop.ai.sliding_window import RunCancelled, count_windows, sliding_window_argmax
from meddiag_desktop.ai.weights import load_state_dict, verify_weights
from meddiag_desktop.core.volume import Volume

__all__ = [
    "RunOptions",
    "InputRefused",
    "PluginOutOfMemory",
    "RunCancelled",
    "choose_device",
    "check_input",
    "normalize",
    "attempt_plan",
    "run_plugin",
    "points_from_labels",
]

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]


class InputRefused(ValueError):
    """The volume does not fit the model (2D image, RGB, absurd spacing...)."""


class PluginOutOfMemory(RuntimeError):
    """Out of memory even on the CPU with the smallest batch."""


@dataclass
class RunOptions:
    """How to run: device (``auto``/``cpu``/``cuda``/``mps``), batch override, classification points."""

    device: str = "auto"
    sw_batch_size: int | None = None
    precision: str | None = None
    points_lps: list[tuple[float, float, float]] | None = None
    return_confidence: bool = False
    allow_bundle_code: bool = False
    extra: dict = field(default_factory=dict)
    #: run even outside the plugin's intended use (the reader chose "Run anyway" / --force); recorded
    force: bool = False


# ------------------------------------------------------------------ devices
def choose_device(preference: str = "auto") -> str:
    """CUDA, then Apple MPS, then CPU; an explicit choice that is unavailable raises ``InputRefused``."""
    import torch

    pref = (preference or "auto").lower()
    if pref == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if pref.startswith("cuda") and not torch.cuda.is_available():
        raise InputRefused("device 'cuda' requested but no CUDA GPU is available; use --device cpu or auto")
    if pref == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputRefused("device 'mps' requested but Apple MPS is not available")
    return pref


def _autocast_dtype(device: str, precision: str):
    import torch

    if device == "cpu" or precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def attempt_plan(device: str, batch: int) -> list[tuple[str, int]]:
    """Out-of-memory fallback: halve the batch down to 1 on ``device``, then the CPU with batch 1."""
    plan = []
    b = max(1, batch)
    while True:
        plan.append((device, b))
        if b == 1:
            break
        b = max(1, b // 2)
    if device != "cpu":
        plan.append(("cpu", 1))
    return plan


def _is_oom(err: BaseException) -> bool:
    import torch

    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(err, oom):
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


# --------------------------------------------------------------- validation
#: set while a forced run is under way in this context (reaches checks that are not given ``force``)
_FORCED: contextvars.ContextVar[bool] = contextvars.ContextVar("meddiag_forced_run", default=False)


def check_input(manifest: PluginManifest, volume: Volume, force: bool | None = None,
                folder: str | Path | None = None) -> list[str]:
    """Refuse volumes the model cannot handle; return warnings for doubtful ones.

    First the intended-use gate (:mod:`meddiag_desktop.ai.intended_use`): a study outside
    the declared domain raises :class:`~meddiag_desktop.ai.intended_use.OutsideIntendedUse`
    naming the mismatch, unless ``force`` (then the first warning starts with
    "Outside intended use").
    """
    from meddiag_desktop.ai.intended_use import domain_of, gate

    force = _FORCED.get() if force is None else force
    warnings: list[str] = gate(manifest, volume, folder, force)
    if volume.is_rgb:
        raise InputRefused(f"{manifest.name} needs a greyscale {manifest.input.modality} volume, not an RGB image")
    if any(not (0.01 <= s <= 50) for s in volume.spacing):
        raise InputRefused(f"voxel spacing {volume.spacing} mm is implausible; check the file's geometry")
    extent = [n * s for n, s in zip(volume.shape_xyz, volume.spacing)]
    if min(volume.shape_xyz) < 4 or min(extent) < manifest.input.min_size_mm:
        raise InputRefused(
            f"{manifest.name} is a 3D model; this image is {volume.shape_xyz[0]}x{volume.shape_xyz[1]}x"
            f"{volume.shape_xyz[2]} voxels ({' x '.join(f'{e:.0f}' for e in extent)} mm), too thin to be a 3D study"
        )
    want = manifest.input.modality.upper()
    domain = domain_of(manifest, folder)
    if want == "CT" and not (domain.values_reach or domain.value_range):
        lo, hi = volume.value_range()
        if lo > -200 or hi < 50:
            warnings.append(
                f"values {lo:.0f}..{hi:.0f} do not look like CT Hounsfield units; results may be meaningless"
            )
    if manifest.input.spacing_mm:
        ratio = max(s / m for s, m in zip(volume.spacing, manifest.input.spacing_mm))
        if ratio > 3:
            warnings.append(f"study spacing {volume.spacing} mm is much coarser than the model's {manifest.input.spacing_mm}")
    return warnings


def normalize(array: np.ndarray, norm: Normalization) -> np.ndarray:
    """Intensity normalisation as the manifest says (float32)."""
    a = array.astype(np.float32, copy=False)
    if norm.kind == "window":
        lo, hi = float(norm.min), float(norm.max)
        if norm.clip:
            a = np.clip(a, lo, hi)
        return ((a - lo) / (hi - lo) * (norm.out_max - norm.out_min) + norm.out_min).astype(np.float32)
    if norm.kind == "zscore":
        sel = a[a > (norm.min if norm.min is not None else 0)] if norm.nonzero else a
        mean = norm.mean if norm.mean is not None else float(sel.mean()) if sel.size else 0.0
        std = norm.std if norm.std is not None else float(sel.std()) if sel.size else 1.0
        return ((a - mean) / max(std, 1e-6)).astype(np.float32)
    return a


# ---------------------------------------------------------- plugin loading
@contextmanager
def plugin_import_path(folder: Path) -> Iterator[None]:
    """Make ``folder`` importable for the duration of the block only."""
    entry = str(folder)
    sys.path.insert(0, entry)
    importlib.invalidate_caches()
    try:
        yield
    finally:
        try:
            sys.path.remove(entry)
        except ValueError:
            pass


def load_entry(folder: Path, entry: str):
    """Import ``package.module:attr`` from the plugin folder (only when the plugin runs)."""
    module_name, _, attr = entry.partition(":")
    top = module_name.split(".")[0]
    loaded = sys.modules.get(top)
    if loaded is not None and not str(getattr(loaded, "__file__", "") or "").startswith(str(folder)):
        # another plugin's package of the same name: forget it so this folder's code is used
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[name]
    with plugin_import_path(folder):
        obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def build_model(folder: Path, manifest: PluginManifest):
    """Verify weights, build the network from the entry callable, load its state_dict (strict)."""
    paths = verify_weights(folder, manifest)
    factory = load_entry(folder, manifest.entry)
    model = factory(**manifest.model)
    state = {}
    for w, path in zip(manifest.weights, paths):
        state.update(load_state_dict(path, w.kind))
    model.load_state_dict(state, strict=True)
    return model.eval()


# -------------------------------------------------------------- inference
def _run_with_fallback(fn, device: str, batch: int, note: Callable[[str], None]):
    import torch

    plan = attempt_plan(device, batch)
    last = None
    for i, (dev, b) in enumerate(plan):
        try:
            return fn(dev, b), dev
        except RunCancelled:
            raise
        except Exception as err:
            if not _is_oom(err):
                raise
            last = err
            if dev.startswith("cuda"):
                torch.cuda.empty_cache()
            if i + 1 < len(plan):
                nd, nb = plan[i + 1]
                where = "on the CPU" if nd == "cpu" and dev != "cpu" else f"on {nd}"
                note(f"out of memory on {dev} with batch {b}; retrying {where} with batch {nb}")
    raise PluginOutOfMemory(f"out of memory even with batch 1 on the CPU: {last}")


def run_plugin(
    folder: str | Path,
    volume: Volume,
    options: RunOptions | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    note: Callable[[str], None] | None = None,
    manifest: PluginManifest | None = None,
):
    """Run the plugin in ``folder`` on ``volume``; returns a Segmentation- or ClassificationResult."""
    options = options or RunOptions()
    folder = Path(folder)
    from meddiag_desktop.ai.trust import require_trusted

    require_trusted(folder, for_run=True)  # before any plugin module is imported or bundle config parsed
    manifest = manifest or load_manifest(folder)
    notes: list[str] = []

    def _note(text: str) -> None:
        notes.append(text)
        if note is not None:
            note(text)

    token = _FORCED.set(bool(options.force))  # the bundle runner's own check_input sees it too
    try:
        if manifest.kind == "monai_bundle":
            from meddiag_desktop.ai.bundle import run_bundle

            if not options.allow_bundle_code:
                raise InputRefused(
                    f"{folder} is a MONAI bundle whose config can run code; only bundles you installed "
                    "(user plugin folder, MEDDIAG_PLUGIN_PATH, or a folder given explicitly) are run"
                )
            check_input(manifest, volume, options.force, folder)  # the gate reads the bundle's metadata
            result = run_bundle(folder, manifest, volume, options, progress, cancel, _note)
        elif manifest.task == "segmentation":
            result = _segment(folder, manifest, volume, options, progress, cancel, _note, notes)
        else:
            result = _classify(folder, manifest, volume, options, progress, cancel, _note, notes)
    finally:
        _FORCED.reset(token)
    if manifest.task == "segmentation" and getattr(result, "labels", None) is not None:
        from meddiag_desktop.ai.intended_use import plausibility_warnings

        result.warnings = list(result.warnings) + plausibility_warnings(manifest, result.labels, volume.spacing,
                                                                        volume.direction)
    return result


def _prepare(folder, manifest, volume, options) -> tuple[list, str, object, dict[str, float]]:
    """What both tasks do first: check the input, choose the device, build the model (timed)."""
    t = time.perf_counter()
    warnings = check_input(manifest, volume, options.force, folder)
    device = choose_device(options.device)
    model = build_model(folder, manifest)
    return warnings, device, model, {"load_model_s": time.perf_counter() - t}


def _segment(folder, manifest, volume, options, progress, cancel, note, notes) -> SegmentationResult:
    import torch

    warnings, device, model, timings = _prepare(folder, manifest, volume, options)

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
            progress=progress, cancel=cancel, autocast_dtype=_autocast_dtype(dev, precision),
        )

    t = time.perf_counter()
    labels_model, used = _run_with_fallback(infer, device, options.sw_batch_size or inf.sw_batch_size, note)
    timings["infer_s"] = time.perf_counter() - t

    labels_model = labels_model.numpy()
    if manifest.postprocess:
        # on the model grid: isotropic, the spacing the model was trained at, and usually smaller than the study
        from meddiag_desktop.ai.postprocess import apply_postprocess

        t = time.perf_counter()
        apply_postprocess(labels_model, manifest.postprocess, grid.spacing)  # declared in the model card
        timings["postprocess_s"] = time.perf_counter() - t

    t = time.perf_counter()
    labels = resample_array_to_source(labels_model, grid, volume, labels=True)
    known = np.zeros(max(256, int(labels.max()) + 1), dtype=bool)
    known[list(manifest.label_names())] = True
    labels[~known[labels]] = 0  # classes the manifest does not name are not shown
    stats = label_statistics(labels, np.asarray(volume.array), volume.spacing, manifest.label_names(),
                             manifest.label_colors())
    timings["resample_out_s"] = time.perf_counter() - t
    return SegmentationResult(manifest.id, labels, manifest.label_names(), manifest.label_colors(), stats,
                              manifest.intended_use, used, timings, notes, warnings)


def points_from_labels(labels: np.ndarray, volume: Volume, value: int, min_voxels: int = 3) -> list[tuple]:
    """LPS centroids of the connected components of ``labels == value`` (largest first)."""
    from meddiag_desktop.core.label_geometry import label_components

    comps = [c for c in label_components(volume, labels, value, diameters=False) if c.voxels >= min_voxels]
    comps.sort(key=lambda c: (-c.voxels, c.index))
    return [tuple(float(v) for v in c.centroid_lps) for c in comps]


def _patch_grid(point: tuple[float, float, float], spec: InputSpec, volume: Volume) -> Grid:
    from meddiag_desktop.ai.resample import _AXES

    axes = np.asarray(volume.direction, float) if spec.orientation == "native" else _AXES[spec.orientation]
    spacing = tuple(spec.spacing_mm or volume.spacing)
    size = np.asarray(spec.patch_size, dtype=float)
    origin = np.asarray(point, float) - axes @ ((size - 1) / 2 * np.asarray(spacing))
    return Grid(tuple(int(s) for s in spec.patch_size), spacing, tuple(float(o) for o in origin), tuple(axes.ravel()))


def _classify(folder, manifest, volume, options, progress, cancel, note, notes) -> ClassificationResult:
    import torch

    warnings, device, model, timings = _prepare(folder, manifest, volume, options)
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
        ac = _autocast_dtype(dev, options.precision or manifest.inference.precision)
        out = []
        done = 0

        def forward(x):
            with torch.no_grad():
                if ac is None:
                    return torch.softmax(model(x).float(), dim=1)
                with torch.autocast(device_type=dev.split(":")[0], dtype=ac):
                    return torch.softmax(model(x).float(), dim=1)

        for point in points:
            grid = _patch_grid(point, spec, volume)
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
    raw, used = _run_with_fallback(infer, device, options.sw_batch_size or manifest.inference.sw_batch_size, note)
    timings["infer_s"] = time.perf_counter() - t
    t = time.perf_counter()
    for point, grid, probs, heat in raw:
        findings.append(Finding(point, {c: float(p) for c, p in zip(classes, probs)}, source))
        if heat is not None and explanation is not None:
            np.maximum(explanation, resample_array_to_source(heat, grid, volume, labels=False), out=explanation)
    timings["resample_out_s"] = time.perf_counter() - t
    return ClassificationResult(manifest.id, list(classes), findings, explanation, manifest.intended_use, used,
                                timings, notes, warnings)


def total_windows(manifest: PluginManifest, volume: Volume) -> int:
    """Number of sliding windows a segmentation run will compute (for progress display)."""
    grid = model_grid(volume, manifest.input.spacing_mm, manifest.input.orientation)
    return count_windows(grid.shape_zyx, tuple(reversed(manifest.inference.roi_size)), manifest.inference.overlap)
