"""MONAI bundles as plugins: ``configs/metadata.json`` becomes the model card; running uses MONAI.

Reading a bundle (:func:`load_bundle_manifest`) only parses JSON. Running one
(:func:`run_bundle`) parses ``configs/inference.json`` with MONAI's
``ConfigWorkflow``, which can execute code written in the config, so it is
done only in the worker process and only for bundles the user installed.
The bundle's own pre-processing, inferer and post-processing are used
unchanged, so labels are what MONAI's bundle runner produces; the saved
prediction is then resampled (nearest neighbour) onto the source grid.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from meddiag_desktop.ai.manifest import ManifestError, PluginManifest, parse_manifest

__all__ = ["is_bundle", "load_bundle_manifest", "run_bundle", "PALETTE"]

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


def _sha256_from_large_files(folder: Path) -> dict[str, str]:
    """``models/model.pt`` -> sha256 from ``large_files.yml/json`` where it gives a SHA-256."""
    out: dict[str, str] = {}
    for name in ("large_files.json",):
        p = folder / name
        if p.is_file():
            try:
                items = json.loads(p.read_text()).get("large_files", [])
            except (OSError, ValueError):
                continue
            for it in items:
                if str(it.get("hash_type", "")).lower() == "sha256" and it.get("path") and it.get("hash_val"):
                    out[str(it["path"]).lstrip("./")] = str(it["hash_val"]).lower()
    return out


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
    if _inference_config(folder) is None:
        raise ManifestError(f"{folder}: MONAI bundle without configs/inference.json")
    fmt = meta.get("network_data_format") or {}
    inputs = fmt.get("inputs") or {}
    image = inputs.get("image") or (next(iter(inputs.values())) if inputs else {}) or {}
    outputs = fmt.get("outputs") or {}
    pred = outputs.get("pred") or (next(iter(outputs.values())) if outputs else {}) or {}
    task_text = f"{meta.get('task', '')} {pred.get('format', '')}".lower()
    task = "classification" if "classif" in task_text and "segment" not in task_text else "segmentation"
    channel_def = pred.get("channel_def") or {}
    labels, classes = [], []
    for i, (key, name) in enumerate(sorted(channel_def.items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 0)):
        if not str(key).isdigit():
            continue
        if task == "classification":
            classes.append(str(name))
        elif int(key) > 0 and str(name).lower() not in ("background", "bg"):
            labels.append({"value": int(key), "name": str(name), "color": PALETTE[(int(key) - 1) % len(PALETTE)]})
    if task == "segmentation" and not labels:
        n = int(pred.get("num_channels") or 2)
        labels = [{"value": k, "name": f"label {k}", "color": PALETTE[(k - 1) % len(PALETTE)]} for k in range(1, max(n, 2))]
    if task == "classification" and len(classes) < 2:
        n = int(pred.get("num_channels") or 2)
        classes = [f"class {k}" for k in range(max(n, 2))]
    weights = []
    hashes = _sha256_from_large_files(folder)
    for cand in ("models/model.safetensors", "models/model.pt"):
        if (folder / cand).is_file():
            weights.append({"file": cand, "sha256": hashes.get(cand)})
            break
    authors = meta.get("authors", [])
    if isinstance(authors, str):
        authors = [authors]
    metrics = {str(k): v for k, v in (meta.get("eval_metrics") or {}).items() if isinstance(v, (int, float, str))}
    rng = image.get("value_range")
    ident = re.sub(r"[^A-Za-z0-9._-]+", "-", folder.resolve().name).strip("-") or "bundle"
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
        },
        "outputs": {"labels": labels, "classes": classes, "explanation": "none"},
        "weights": weights,
        "metrics": metrics,
        "training_data": str(meta.get("data_source", "")),
    }
    if isinstance(rng, list) and len(rng) == 2:
        data["description"] = (data["description"] + f" Network input value range {rng}.").strip()
    return parse_manifest(data, str(meta_path))


def run_bundle(folder: Path, manifest: PluginManifest, volume, options, progress, cancel, note):
    """Run the bundle's own inference workflow on ``volume`` (worker process only)."""
    import SimpleITK as sitk
    import torch
    from monai.bundle import ConfigWorkflow

    from meddiag_desktop.ai.resample import volume_to_sitk
    from meddiag_desktop.ai.results import SegmentationResult, label_statistics
    from meddiag_desktop.ai.runner import RunCancelled, check_input, choose_device
    from meddiag_desktop.ai.weights import verify_weights

    if manifest.task != "segmentation":
        raise ValueError(f"{folder}: only segmentation bundles can be run for now")
    timings: dict[str, float] = {}
    t = time.perf_counter()
    warnings = check_input(manifest, volume)
    verify_weights(folder, manifest)
    device = choose_device(options.device)
    with tempfile.TemporaryDirectory(prefix="meddiag-bundle-") as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        image_path = tmp / "in" / "image.nii.gz"
        img = volume_to_sitk(volume)
        sitk.WriteImage(img, str(image_path))
        out_dir = tmp / "out"
        out_dir.mkdir()
        workflow = ConfigWorkflow(
            config_file=str(_inference_config(folder)),
            meta_file=str(folder / "configs" / "metadata.json"),
            workflow_type="infer",
            bundle_root=str(folder),
            output_dir=str(out_dir),
            dataset_dir=str(tmp / "in"),
            datalist=[str(image_path)],
            device=torch.device(device),
        )
        workflow.initialize()
        timings["load_model_s"] = time.perf_counter() - t
        counter = {"done": 0, "total": 0}
        try:
            net = workflow.parser.get_parsed_content("network")
            inferer = workflow.parser.get_parsed_content("inferer")
        except Exception:  # bundles without those ids: no progress, still runs
            net, inferer = None, None
        roi = getattr(inferer, "roi_size", None)
        if roi is not None:
            from meddiag_desktop.ai.sliding_window import count_windows

            counter["total_fn"] = lambda shape: count_windows(shape, tuple(roi), float(getattr(inferer, "overlap", 0.25)))

        def pre_hook(_module, args):
            x = args[0]
            if cancel is not None and cancel():
                raise RunCancelled("cancelled")
            counter["done"] += int(x.shape[0])
            if progress is not None:
                progress(counter["done"], max(counter["total"], counter["done"]))

        if net is not None and hasattr(net, "register_forward_pre_hook"):
            net.register_forward_pre_hook(pre_hook)
        evaluator = None
        try:
            evaluator = workflow.parser.get_parsed_content("evaluator")
        except Exception:
            pass
        if evaluator is not None and "total_fn" in counter and hasattr(evaluator, "add_event_handler"):
            from ignite.engine import Events

            def on_iter(engine):
                batch = engine.state.batch
                x = batch["image"] if isinstance(batch, dict) else batch[0]
                counter["total"] = counter["total_fn"](tuple(int(s) for s in x.shape[-3:]))

            evaluator.add_event_handler(Events.ITERATION_STARTED, on_iter)
        t = time.perf_counter()
        workflow.run()
        workflow.finalize()
        timings["infer_s"] = time.perf_counter() - t
        t = time.perf_counter()
        saved = sorted(p for p in out_dir.rglob("*") if p.is_file() and p.name.endswith((".nii.gz", ".nii", ".nrrd", ".mha")))
        if not saved:
            raise RuntimeError(f"bundle {manifest.id} wrote no prediction into its output_dir; its postprocessing needs a SaveImaged writing to @output_dir")
        pred = sitk.ReadImage(str(saved[0]))
        if pred.GetNumberOfComponentsPerPixel() > 1 or pred.GetDimension() > 3:
            raise RuntimeError(f"bundle {manifest.id} saved a multi-channel prediction; expected a label map")
        pred = sitk.Cast(pred, sitk.sitkUInt16)
        labels = sitk.GetArrayFromImage(sitk.Resample(pred, img, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt16))
    labels = labels.astype(np.uint8) if labels.max() < 256 else labels
    stats = label_statistics(labels, np.asarray(volume.array), volume.spacing, manifest.label_names(), manifest.label_colors())
    timings["resample_out_s"] = time.perf_counter() - t
    return SegmentationResult(manifest.id, labels, manifest.label_names(), manifest.label_colors(), stats,
                              manifest.intended_use, device, timings, [], warnings)
