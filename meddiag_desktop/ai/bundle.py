"""MONAI bundles as plugins: ``configs/metadata.json`` becomes the model card; running uses MONAI.

Reading a bundle (:func:`load_bundle_manifest`) only parses JSON. Running one
(:func:`run_bundle`) builds MONAI's own ``ConfigWorkflow`` from the inference
config, exactly as ``python -m monai.bundle run`` does, which can execute code
written in the config, so it is done only in the worker process and only for
bundles the user installed. The bundle's pre-processing, inferer and
post-processing run unchanged (DataLoader workers included); only the input is
set, generically, by overriding the dataset's ``data`` (whatever datalist key
the bundle reads), and the workflow is the one the bundle names (``run``,
``evaluating``...). The saved prediction is rounded to integer labels
(inverse transforms leave 1.9999999) and resampled (nearest neighbour) onto
the source grid; detection boxes and class probabilities are taken from the
evaluator's output.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from meddiag_desktop.ai.manifest import ManifestError, PluginManifest, parse_manifest

__all__ = ["is_bundle", "load_bundle_manifest", "run_bundle", "PALETTE", "bundle_config", "bundle_inputs",
           "workflow_id", "dataset_id", "check_bundle_input", "is_2d_bundle", "label_values"]

PALETTE = ["#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
           "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000", "#aaffc3"]

_CONFIG_NAMES = ("inference.json", "inference.yaml", "inference.yml")


def is_bundle(folder: str | Path) -> bool:
    """True for a folder in MONAI's model-zoo layout (``configs/metadata.json``)."""
    return (Path(folder) / "configs" / "metadata.json").is_file()


def _inference_config(folder: Path) -> Path | None:
    for name in _CONFIG_NAMES:
        p = folder / "configs" / name
        if p.is_file():
            return p
    return None


def _large_file_hashes(folder: Path) -> dict[str, dict[str, str]]:
    """``models/model.pt`` -> ``{"md5": ..., "sha256": ...}`` from ``large_files.json`` / ``.yml`` / ``.yaml``.

    Zoo bundles list their weights there with ``hash_type`` md5 (most) or sha256.
    """
    out: dict[str, dict[str, str]] = {}
    for name in ("large_files.json", "large_files.yml", "large_files.yaml"):
        p = folder / name
        if not p.is_file():
            continue
        try:
            text = p.read_text(encoding="utf-8")
            if name.endswith(".json"):
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except Exception:  # noqa: BLE001  (OSError, JSON/YAML errors, no pyyaml: no hash, not a crash)
            continue
        items = data.get("large_files", []) if isinstance(data, dict) else []
        for it in items if isinstance(items, list) else []:
            if not isinstance(it, dict) or not it.get("path") or not it.get("hash_val"):
                continue
            kind = str(it.get("hash_type", "")).lower()
            val = str(it["hash_val"]).lower()
            if kind in ("md5", "sha256"):
                key = str(it["path"])
                key = key[2:] if key.startswith("./") else key
                out.setdefault(key, {})[kind] = val
    return out


def bundle_config(folder: str | Path) -> dict:
    """The inference config as a dict (JSON or YAML; YAML needs pyyaml, part of the 'ai' extra)."""
    path = _inference_config(Path(folder))
    if path is None:
        raise ManifestError(f"{folder}: MONAI bundle without configs/inference.json or .yaml")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
    else:
        try:
            import yaml
        except ImportError:
            raise ManifestError(f"{path}: reading a YAML bundle config needs pyyaml (install the 'ai' extra)") from None
        data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: expected a mapping at the top level")
    return data


def _metadata(folder: Path) -> dict:
    try:
        meta = json.loads((folder / "configs" / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def bundle_inputs(folder: str | Path) -> dict[str, list[str]]:
    """Input keys of ``network_data_format.inputs`` with their channel names (BraTS: image -> T1c, T1, T2, FLAIR)."""
    fmt = _metadata(Path(folder)).get("network_data_format") or {}
    out: dict[str, list[str]] = {}
    for key, spec in (fmt.get("inputs") or {"image": {}}).items():
        spec = spec if isinstance(spec, dict) else {}
        n = int(spec.get("num_channels") or 1)
        names = spec.get("channel_def") or {}
        if n > 1 and len(names) >= n:  # one file per named channel (BraTS: T1c, T1, T2, FLAIR)
            out[str(key)] = [str(names.get(str(i), f"channel {i}")) for i in range(n)]
        else:  # one image; several channels without names are its colours (an RGB mammogram)
            out[str(key)] = [str(names.get("0", key))]
    return out


def is_2d_bundle(folder: str | Path) -> bool:
    """True when ``network_data_format.inputs`` gives a 2D ``spatial_shape`` (runs on 2D images or slice by slice)."""
    fmt = _metadata(Path(folder)).get("network_data_format") or {}
    inputs = fmt.get("inputs") or {}
    spec = inputs.get("image") or (next(iter(inputs.values())) if inputs else {}) or {}
    shape = spec.get("spatial_shape") if isinstance(spec, dict) else None
    return isinstance(shape, list) and len(shape) == 2


_WHERE_RE = re.compile(r"x\[\[(\d+)\]\]\s*>\s*[0-9.]+\s*,\s*(\d+)")


def label_values(config_text: str, channel_def: dict) -> dict[int, str]:
    """Label value -> name as the bundle really writes it.

    With ``argmax`` the channel index is the label value. Multi-label bundles
    (sigmoid, one channel per region) write their own values; the common idiom
    ``torch.where(x[[2]] > 0, 4, ...)`` in the post-processing maps channel 2 to
    value 4 (BraTS: 1 tumour core, 2 whole tumour, 4 enhancing tumour).
    """
    names = {int(k): str(v) for k, v in channel_def.items() if str(k).isdigit()}
    mapping = {int(c): int(v) for c, v in _WHERE_RE.findall(config_text)}
    if mapping and set(mapping) <= set(names):
        return {v: names[c] for c, v in sorted(mapping.items(), key=lambda cv: cv[1])}
    return {k: n for k, n in names.items() if k > 0 and n.lower() not in ("background", "bg")}


def workflow_id(folder: str | Path, config: dict | None = None) -> str:
    """The expression list to run: ``run`` (MONAI's default), else what the README runs, else ``evaluating``/``infer``."""
    folder = Path(folder)
    config = bundle_config(folder) if config is None else config
    if isinstance(config.get("run"), list):
        return "run"
    readme = folder / "docs" / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8", errors="replace")
        for m in re.finditer(r"monai\.bundle run\s+(?:--run_id\s+)?([A-Za-z_]\w*)[^\n]*inference\.(?:json|ya?ml)", text):
            if isinstance(config.get(m.group(1)), list):
                return m.group(1)
    for cand in ("evaluating", "inferring", "infer", "inference", "testing"):
        if isinstance(config.get(cand), list):
            return cand
    lists = [k for k, v in config.items() if isinstance(v, list) and v and all(isinstance(e, str) and e.startswith("$") for e in v)]
    raise ManifestError(f"{folder}: cannot tell which workflow runs inference (no 'run' list; expression lists: {lists})")


def dataset_id(config: dict) -> str:
    """Config id of the inference dataset (``dataset``, else the first ``*Dataset`` component with ``data``)."""
    if isinstance(config.get("dataset"), dict) and "data" in config["dataset"]:
        return "dataset"
    for key, val in config.items():
        if isinstance(val, dict) and "data" in val and "dataset" in str(val.get("_target_", "")).lower():
            return key
    raise ManifestError("the bundle's inference config has no dataset with 'data' to give the input to")


def load_bundle_manifest(folder: str | Path) -> PluginManifest:
    """Model card of a MONAI bundle from its ``configs/metadata.json`` (no code is run)."""
    folder = Path(folder)
    meta_path = folder / "configs" / "metadata.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ManifestError(f"{meta_path}: cannot read JSON ({err})") from None
    if not isinstance(meta, dict):
        raise ManifestError(f"{meta_path}: expected a JSON object")
    config_path = _inference_config(folder)
    if config_path is None:
        raise ManifestError(f"{folder}: MONAI bundle without configs/inference.json")
    fmt = meta.get("network_data_format") or {}
    inputs = fmt.get("inputs") or {}
    image = inputs.get("image") or (next(iter(inputs.values())) if inputs else {}) or {}
    outputs = fmt.get("outputs") or {}
    pred = outputs.get("pred") or (next(iter(outputs.values())) if outputs else {}) or {}
    task_text = f"{meta.get('task', '')} {meta.get('name', '')} {pred.get('format', '')}".lower()
    if "detect" in task_text or str(pred.get("type", "")).lower() == "object":
        task = "detection"
    elif "classif" in task_text and "segment" not in task_text:
        task = "classification"
    else:
        task = "segmentation"
    channel_def = pred.get("channel_def") or {}
    labels, classes = [], []
    if task == "classification":
        classes = [str(n) for k, n in sorted(channel_def.items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 0)
                   if str(k).isdigit()]
    elif task == "segmentation":
        try:
            config_text = config_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            config_text = ""
        for value, name in label_values(config_text, channel_def).items():
            labels.append({"value": value, "name": name, "color": PALETTE[(value - 1) % len(PALETTE)]})
    if task == "segmentation" and not labels:
        n = int(pred.get("num_channels") or 2)
        labels = [{"value": k, "name": f"label {k}", "color": PALETTE[(k - 1) % len(PALETTE)]} for k in range(1, max(n, 2))]
    if task == "classification" and len(classes) < 2:
        n = int(pred.get("num_channels") or 2)
        classes = [f"class {k}" for k in range(max(n, 2))]
    weights = []
    hashes = _large_file_hashes(folder)
    for cand in ("models/model.safetensors", "models/model.pt"):
        if (folder / cand).is_file():
            h = hashes.get(cand, {})
            weights.append({"file": cand, "sha256": h.get("sha256"), "md5": h.get("md5")})
            break
    authors = meta.get("authors", [])
    if isinstance(authors, str):
        authors = [authors]
    metrics = {str(k): v for k, v in (meta.get("eval_metrics") or {}).items() if isinstance(v, (int, float, str))}
    rng = image.get("value_range")
    ident = re.sub(r"[^A-Za-z0-9._-]+", "-", folder.resolve().name).strip("-") or "bundle"
    two_d = is_2d_bundle(folder)
    data = {
        "id": ident,
        "name": str(meta.get("name") or folder.name),
        "version": str(meta.get("version", "0")),
        "task": task,
        "kind": "monai_bundle",
        "authors": [str(a) for a in authors],
        "license": str(meta.get("license") or meta.get("copyright") or "see bundle"),
        "intended_use": str(meta.get("intended_use") or "not stated by the bundle"),
        "description": str(meta.get("description", "")),
        "input": {
            "modality": str(image.get("modality", "")),
            "channels": int(image.get("num_channels") or 1),
            "orientation": "native",
            "min_size_mm": 0.0 if two_d else 20.0,
        },
        "outputs": {"labels": labels, "classes": classes, "explanation": "none"},
        "weights": weights,
        "metrics": metrics,
        "training_data": str(meta.get("data_source", "")),
    }
    if isinstance(rng, list) and len(rng) == 2:
        data["description"] = (data["description"] + f" Network input value range {rng}.").strip()
    return parse_manifest(data, str(meta_path))


def check_bundle_input(manifest: PluginManifest, volume, folder: str | Path | None = None) -> list[str]:
    """Refuse inputs the bundle cannot take (a 2D image for a 3D model...); return warnings.

    2D bundles (``spatial_shape`` of two numbers) take 2D images and 3D studies,
    which their inferer runs slice by slice.
    """
    from meddiag_desktop.ai.runner import InputRefused

    warnings: list[str] = []
    two_d = is_2d_bundle(folder) if folder is not None else manifest.input.min_size_mm == 0
    if volume.is_rgb and manifest.input.channels != 3:
        raise InputRefused(f"{manifest.name} needs a greyscale {manifest.input.modality} image, not an RGB image")
    if any(not (0.001 <= s <= 50) for s in volume.spacing):
        raise InputRefused(f"voxel spacing {volume.spacing} mm is implausible; check the file's geometry")
    nx, ny, nz = volume.shape_xyz
    if not two_d and min(nx, ny, nz) < 4:
        raise InputRefused(
            f"{manifest.name} is a 3D model; this image is {nx}x{ny}x{nz} voxels, a 2D image or too thin a study"
        )
    want = manifest.input.modality.upper()
    have = volume.modality.upper()
    if have and want and have != want and not (want == "MAMMOGRAM" and have == "MG"):
        warnings.append(f"model expects {want} but the study is {have}; results may be meaningless")
    return warnings


def run_bundle(folder: Path, manifest: PluginManifest, volume, options, progress, cancel, note):
    """Run the bundle's own inference workflow on ``volume`` (worker process only).

    ``options.extra["bundle_inputs"]``: ``{key: [Volume per channel]}`` for
    multi-input bundles (the worker fills it); else ``volume`` is the bundle's
    first input. The result lies on the grid of the first volume given.
    """
    import shutil

    from meddiag_desktop.ai.bundle_requirements import check_requirements
    from meddiag_desktop.ai.bundle_run import (
        inputs_for,
        read_label_prediction,
        run_bundle_workflow,
        saved_json,
        saved_predictions,
        slice_aware,
        stack_slice_predictions,
    )
    from meddiag_desktop.ai.resample import volume_to_sitk
    from meddiag_desktop.ai.results import ClassificationResult, DetectionResult, Finding, SegmentationResult, label_statistics
    from meddiag_desktop.ai.runner import choose_device
    from meddiag_desktop.ai.weights import verify_weights

    notes = check_requirements(folder, _inference_config(folder), manifest.name)
    for text in notes:
        note(text)
    inputs = inputs_for(manifest, folder, volume, (options.extra or {}).get("bundle_inputs"))
    reference = next(iter(inputs.values()))[0]
    warnings = check_bundle_input(manifest, reference, folder)
    verify_weights(folder, manifest)
    device = choose_device(options.device)
    nz = reference.shape_xyz[2]
    slices = nz if is_2d_bundle(folder) and nz > 1 and not slice_aware(bundle_config(folder)) else None
    if slices:
        note(f"{manifest.name} is a 2D model: run on each of the {nz} slices")
    tmp, _item, outputs, timings = run_bundle_workflow(
        folder, manifest, inputs, None if (options.device or "auto") == "auto" else device, progress, note, slices
    )
    try:
        t = time.perf_counter()
        out_dir = Path(tmp) / "out"
        if manifest.task == "classification":
            preds = [o["pred"] for o in outputs if "pred" in o]
            if not preds:
                raise RuntimeError(f"bundle {manifest.id} gave no prediction")
            probs = np.asarray(preds[0], dtype=float).ravel()
            classes = list(manifest.outputs.classes)
            if len(classes) != probs.size:
                classes = [f"class {i}" for i in range(probs.size)]
            findings = []
            for z, pred in enumerate(preds if slices else preds[:1]):
                p = np.asarray(pred, dtype=float).ravel()
                if slices:
                    ny, nx = reference.array.shape[1:3]
                    where = tuple(float(c) for c in reference.to_lps(((nx - 1) / 2, (ny - 1) / 2, z)))
                    source = f"slice {z + 1} of {slices}"
                else:
                    where, source = tuple(float(c) for c in reference.center_lps()), "whole image"
                findings.append(Finding(where, {c: float(v) for c, v in zip(classes, p)}, source))
            return ClassificationResult(manifest.id, classes, findings, None, manifest.intended_use, device,
                                        timings, [], warnings)
        if manifest.task == "detection":
            from meddiag_desktop.ai.detection import detections_from_outputs

            boxes = detections_from_outputs(outputs, saved_json(out_dir))
            timings["resample_out_s"] = time.perf_counter() - t
            return DetectionResult(manifest.id, boxes, manifest.intended_use, device, timings, [], warnings)
        saved = saved_predictions(out_dir)
        if saved and slices:
            labels = stack_slice_predictions(out_dir, reference, slices)
        elif not saved:
            raise RuntimeError(f"bundle {manifest.id} wrote no prediction into its output_dir; its postprocessing "
                               "needs a SaveImaged writing to @output_dir")
        else:
            labels = read_label_prediction(saved[0], volume_to_sitk(reference))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    names, colors = dict(manifest.label_names()), dict(manifest.label_colors())
    for value in np.unique(labels):
        if value and int(value) not in names:  # a value the model card does not name: shown, named by number
            names[int(value)] = f"label {int(value)}"
            colors[int(value)] = PALETTE[(int(value) - 1) % len(PALETTE)]
            warnings.append(f"the bundle wrote label {int(value)}, which its metadata does not name")
    stats = label_statistics(labels, np.asarray(reference.array), reference.spacing, names, colors)
    timings["resample_out_s"] = time.perf_counter() - t
    return SegmentationResult(manifest.id, labels, names, colors, stats, manifest.intended_use, device, timings,
                              [], warnings)
