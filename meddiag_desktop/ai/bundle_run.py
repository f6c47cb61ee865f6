"""Running a MONAI bundle the way ``python -m monai.bundle run`` does (worker process only).

:func:`run_bundle` builds MONAI's own ``ConfigWorkflow`` from the inference
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

MONAI's ``ConfigWorkflow`` is built from the bundle's inference config and
metadata, with MONAI's defaults (the bundle's ``configs/logging.conf``,
``initialize``/``finalize``), and these overrides only: ``bundle_root``,
``output_dir``, ``<dataset>#data`` (the input, whatever datalist key the bundle
reads) and, when the user chose one, ``device``. DataLoader workers run as the
bundle asks (the worker process is not a daemon, so it may have children).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from meddiag_desktop.ai.bundle import (
    PALETTE,
    bundle_config,
    bundle_inputs,
    dataset_id,
    inference_config,
    is_2d_bundle,
    workflow_id,
)
from meddiag_desktop.ai.bundle_requirements import check_requirements
from meddiag_desktop.ai.detection import detections_from_outputs
from meddiag_desktop.ai.devices import choose_device
from meddiag_desktop.ai.errors import InputRefused, import_ai
from meddiag_desktop.ai.input_checks import check_bundle_input
from meddiag_desktop.ai.manifest import PluginManifest
from meddiag_desktop.ai.resample import volume_to_sitk
from meddiag_desktop.ai.results import ClassificationResult, DetectionResult, Finding, SegmentationResult, label_statistics
from meddiag_desktop.ai.sliding_window import count_windows
from meddiag_desktop.ai.weights import verify_weights
from meddiag_desktop.core.label_map import LabelMap

__all__ = ["run_bundle", "run_bundle_workflow", "write_inputs", "read_label_prediction", "inputs_for"]

_IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")


def slice_image(volume, z: int):
    """Slice ``z`` of ``volume`` as a 2D SimpleITK image (in-plane spacing; a 2D model's input file)."""
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.ascontiguousarray(volume.array[z]), isVector=volume.is_rgb)
    img.SetSpacing(tuple(volume.spacing[:2]))
    return img


def write_inputs(inputs: dict, folder: Path, z: int | None = None) -> dict:
    """Write each key's volumes as NIfTI; the dataset item: ``{key: path}`` or ``{key: [path per channel]}``.

    With ``z``: only that slice, as a 2D image (``<key>_s0003.nii.gz``), for 2D models run slice by slice.
    """
    import SimpleITK as sitk

    item: dict = {}
    tag = "" if z is None else f"_s{z:04d}"
    for key, volumes in inputs.items():
        paths = []
        for c, vol in enumerate(volumes):
            path = folder / (f"{key}{tag}_c{c}.nii.gz" if len(volumes) > 1 else f"{key}{tag}.nii.gz")
            sitk.WriteImage(volume_to_sitk(vol) if z is None else slice_image(vol, z), str(path))
            paths.append(str(path))
        item[key] = paths[0] if len(paths) == 1 else paths
    return item


def read_label_prediction(path: Path, reference) -> np.ndarray:
    """A saved prediction as integer labels on ``reference``'s grid (``[z, y, x]``).

    Values are rounded to the nearest integer first: inverse spatial transforms
    leave 1.9999999 where the label is 2, which a plain cast turns into 1.
    """
    import SimpleITK as sitk

    pred = sitk.ReadImage(str(path))
    if pred.GetNumberOfComponentsPerPixel() > 1 or pred.GetDimension() > 3:
        raise RuntimeError(f"the bundle saved a multi-channel prediction ({path.name}); expected a label map")
    arr = np.rint(sitk.GetArrayFromImage(pred).astype(np.float64))
    if arr.min() < 0 or arr.max() > 65535:
        raise RuntimeError(f"the bundle's prediction has values {arr.min():g}..{arr.max():g}, not label values")
    img = sitk.GetImageFromArray(arr.astype(np.uint16))
    img.CopyInformation(pred)
    out = sitk.Resample(img, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt16)
    labels = sitk.GetArrayFromImage(out)
    return labels.astype(np.uint8) if labels.max() < 256 else labels


def _tensor_list(x) -> list:
    torch = import_ai("torch")

    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy().tolist()
    return np.asarray(x, dtype=float).tolist()


def run_bundle_workflow(folder: Path, manifest: PluginManifest, inputs: dict, device: str | None,
                        progress, note, slices: int | None = None) -> tuple[str, dict, list[dict], dict[str, float]]:
    """Run the workflow; return ``(output_dir, dataset item, evaluator outputs, timings)`` (output_dir is temporary).

    The caller reads the saved files before the temporary folder goes. ``slices``:
    run a 2D model on each of that many slices (one dataset item per slice, in order).
    ``evaluator outputs``: per item ``{"pred": ..., "box": ..., "label": ..., "label_scores": ...}`` as lists.
    """
    config = bundle_config(folder)
    wf = workflow_id(folder, config)
    ds = dataset_id(config)
    timings: dict[str, float] = {}
    tmp = Path(tempfile.mkdtemp(prefix="meddiag-bundle-"))
    try:
        return _run_in(tmp, folder, manifest, inputs, device, progress, config, wf, ds, timings, slices)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _run_in(tmp: Path, folder: Path, manifest: PluginManifest, inputs: dict, device, progress, config: dict,
            wf: str, ds: str, timings: dict, slices: int | None = None):
    torch = import_ai("torch")
    ConfigWorkflow = import_ai("monai.bundle").ConfigWorkflow

    (tmp / "in").mkdir()
    out_dir = tmp / "out"
    out_dir.mkdir()
    if slices:
        data = [write_inputs(inputs, tmp / "in", z) for z in range(slices)]
    else:
        data = [write_inputs(inputs, tmp / "in")]
    item = data[0]
    overrides = {"bundle_root": str(folder), "output_dir": str(out_dir), f"{ds}#data": data}
    if device and "device" in config:
        overrides["device"] = torch.device(device)
    logging_conf = folder / "configs" / "logging.conf"
    t = time.perf_counter()
    workflow = _build_workflow(ConfigWorkflow, folder, logging_conf, wf, overrides)
    workflow.initialize()
    timings["load_model_s"] = time.perf_counter() - t
    parser = workflow.parser
    outputs: list[dict] = []
    counter = {"done": 0, "total": 0}
    net = parser.get_parsed_content("network") if "network" in parser else None
    inferer = parser.get_parsed_content("inferer") if "inferer" in parser else None
    roi = getattr(inferer, "roi_size", None)
    total_fn = None
    if roi is not None and len(tuple(roi)) == 3 and type(inferer).__name__ == "SlidingWindowInferer":
        def total_fn(shape):
            return count_windows(shape, tuple(int(r) for r in roi), float(getattr(inferer, "overlap", 0.25)))

    if net is not None and hasattr(net, "register_forward_pre_hook"):
        def pre_hook(_module, args):
            x = args[0] if args else None
            counter["done"] += int(x.shape[0]) if hasattr(x, "shape") and total_fn is not None else 1
            if progress is not None:
                progress(counter["done"], max(counter["total"], counter["done"]) if counter["total"] else 0)

        net.register_forward_pre_hook(pre_hook)
    evaluator = parser.get_parsed_content("evaluator") if "evaluator" in parser else None
    if evaluator is not None and hasattr(evaluator, "add_event_handler"):
        Events = import_ai("ignite.engine").Events

        if total_fn is not None:
            def on_iter(engine):
                batch = engine.state.batch
                x = batch.get("image") if isinstance(batch, dict) else None
                if hasattr(x, "shape") and len(x.shape) == 5:
                    counter["total"] += total_fn(tuple(int(s) for s in x.shape[-3:]))

            evaluator.add_event_handler(Events.ITERATION_STARTED, on_iter)
        if manifest.task != "segmentation":
            def capture(engine):
                out = engine.state.output
                for o in out if isinstance(out, list) else [out]:
                    if isinstance(o, dict):
                        outputs.append({k: _tensor_list(v) for k, v in o.items()
                                        if k in ("pred", "box", "label", "label_scores", "scores")})

            evaluator.add_event_handler(Events.ITERATION_COMPLETED, capture)
    t = time.perf_counter()
    workflow.run()
    workflow.finalize()
    timings["infer_s"] = time.perf_counter() - t
    return str(tmp), item, outputs, timings


def _build_workflow(workflow_cls, folder: Path, logging_conf: Path, wf: str, overrides: dict):
    """MONAI's ConfigWorkflow with MONAI's defaults; no property checks (``workflow_type=None``), as the runner."""
    return workflow_cls(
        config_file=str(inference_config(folder)),
        meta_file=str(folder / "configs" / "metadata.json"),
        logging_file=str(logging_conf) if logging_conf.is_file() else False,
        run_id=wf,
        workflow_type=None,
        **overrides,
    )


def slice_aware(config: dict) -> bool:
    """True when the bundle's inferer runs a 2D model over the slices of a 3D image itself (``SliceInferer``)."""
    inferer = config.get("inferer")
    return isinstance(inferer, dict) and "SliceInferer" in str(inferer.get("_target_", ""))


def stack_slice_predictions(out_dir: Path, reference, n: int) -> np.ndarray:
    """Per-slice saved predictions (``..._s0003...``) stacked into one label map on ``reference``'s grid."""
    saved = saved_predictions(out_dir)
    labels = None
    for z in range(n):
        match = [p for p in saved if f"_s{z:04d}" in p.name]
        if len(match) != 1:
            raise RuntimeError(f"the bundle saved {len(match)} predictions for slice {z + 1}; expected one")
        lab = read_label_prediction(match[0], slice_image(reference, z))
        if labels is None:
            labels = np.zeros(reference.array.shape[:3], dtype=np.uint16)
        labels[z] = lab
    return labels.astype(np.uint8) if labels is not None and labels.max() < 256 else labels


def saved_predictions(out_dir: Path) -> list[Path]:
    return sorted(p for p in out_dir.rglob("*") if p.is_file() and p.name.endswith(_IMAGE_SUFFIXES))


def saved_json(out_dir: Path) -> list[dict]:
    """JSON files a bundle wrote (detection savers write boxes this way)."""
    found = []
    for p in sorted(out_dir.rglob("*.json")):
        try:
            found.append(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return found


def inputs_for(manifest: PluginManifest, folder: Path, volume, given: dict | None) -> dict:
    """The volumes per input key: those given, else ``volume`` for the bundle's first key; checked."""
    keys = bundle_inputs(folder)
    inputs = given or {next(iter(keys)): [volume]}
    for key, vols in inputs.items():
        want = keys.get(key)
        if want is None:
            raise InputRefused(f"{manifest.name} has no input {key!r}; its inputs are {', '.join(keys)}")
        if len(want) > 1 and len(vols) != len(want):
            raise InputRefused(f"{manifest.name} input {key!r} needs {len(want)} channels ({', '.join(want)}), "
                             f"got {len(vols)}")
        for v in vols:
            check_bundle_input(manifest, v, folder)
    return inputs


def run_bundle(folder: Path, manifest: PluginManifest, volume, options, progress, cancel, note):
    """Run the bundle's own inference workflow on ``volume`` (worker process only).

    ``options.bundle_inputs``: ``{key: [Volume per channel]}`` for multi-input
    bundles (the worker fills it); else ``volume`` is the bundle's first input.
    The result lies on the grid of the first volume given.
    """
    for text in check_requirements(folder, inference_config(folder), manifest.name):
        note(text)
    inputs = inputs_for(manifest, folder, volume, getattr(options, "bundle_inputs", None))
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
            preds = [np.asarray(o["pred"], dtype=float).ravel() for o in outputs if "pred" in o]
            if not preds:
                raise RuntimeError(f"bundle {manifest.id} gave no prediction")
            classes = list(manifest.outputs.classes)
            if len(classes) != preds[0].size:
                classes = [f"class {i}" for i in range(preds[0].size)]
            findings = _class_findings(preds, classes, reference, slices)
            return ClassificationResult(manifest.id, classes, findings, None, manifest.intended_use, device,
                                        timings, [], warnings)
        if manifest.task == "detection":
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
    return SegmentationResult(manifest.id, LabelMap(labels, names, colors), stats, manifest.intended_use, device,
                              timings, [], warnings)


def _class_findings(preds: list[np.ndarray], classes: list[str], reference, slices: int | None) -> list[Finding]:
    """One finding for the whole image, or one per slice (at its centre) for a 2D model run slice by slice."""
    if not slices:
        where = tuple(float(c) for c in reference.center_lps())
        return [Finding(where, {c: float(v) for c, v in zip(classes, preds[0])}, "whole image")]
    ny, nx = reference.array.shape[1:3]
    return [Finding(tuple(float(c) for c in reference.to_lps(((nx - 1) / 2, (ny - 1) / 2, z))),
                    {c: float(v) for c, v in zip(classes, p)}, f"slice {z + 1} of {slices}")
            for z, p in enumerate(preds)]
