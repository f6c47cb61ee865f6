"""MONAI bundles as plugins: reading ``configs/metadata.json`` and the inference config (JSON/YAML; no code run).

:func:`load_bundle_manifest` turns the metadata into the model card
(:class:`~meddiag_desktop.ai.manifest.PluginManifest`); the other functions say
what a run needs (inputs and channels, 2D or 3D, which workflow, which dataset).
Running a bundle is :mod:`meddiag_desktop.ai.bundle_run`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from meddiag_desktop.ai.manifest import ManifestError, PluginManifest, parse_manifest

__all__ = ["is_bundle", "load_bundle_manifest", "PALETTE", "bundle_config", "bundle_inputs", "inference_config",
           "workflow_id", "dataset_id", "is_2d_bundle", "label_values"]

PALETTE = ["#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
           "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000", "#aaffc3"]

_CONFIG_NAMES = ("inference.json", "inference.yaml", "inference.yml")


def is_bundle(folder: str | Path) -> bool:
    """True for a folder in MONAI's model-zoo layout (``configs/metadata.json``)."""
    return (Path(folder) / "configs" / "metadata.json").is_file()


def inference_config(folder: str | Path) -> Path | None:
    """The bundle's ``configs/inference.json`` (or ``.yaml``/``.yml``), None when it has none."""
    folder = Path(folder)
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
    path = inference_config(Path(folder))
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
    config_path = inference_config(folder)
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
