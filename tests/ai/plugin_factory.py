"""Build tiny plugins in a temporary folder: a thresholding 'network' with optional misbehaviour."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import numpy as np

MODULE = '''
import os, signal, time, ctypes
import torch

BEHAVIOUR = {behaviour!r}


class Threshold(torch.nn.Module):
    """1x1x1 conv: class 1 where the normalised intensity is above 0.5 (weights from the file)."""

    def __init__(self, classes=2):
        super().__init__()
        self.conv = torch.nn.Conv3d(1, classes, 1)

    def forward(self, x):
        if os.environ.get("TINYPLUGIN_IN_FORWARD"):  # tests wait for this file: the worker is inside forward
            open(os.environ["TINYPLUGIN_IN_FORWARD"], "w").close()
        if BEHAVIOUR == "raise":
            raise ValueError("plugin bug: shapes do not match")
        if BEHAVIOUR == "segfault":
            os.kill(os.getpid(), signal.SIGSEGV)
        if BEHAVIOUR == "null_pointer":
            ctypes.string_at(0)
        if BEHAVIOUR == "exit3":
            os._exit(3)
        if BEHAVIOUR == "hang":
            time.sleep(3600)
        if BEHAVIOUR == "oom_batch" and x.shape[0] > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        if BEHAVIOUR == "oom_always":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        if BEHAVIOUR == "slow":
            time.sleep(0.3)
        return self.conv(x)


def build(classes=2):
    return Threshold(classes)
'''

CLASSIFIER = '''
import torch


class MeanClassifier(torch.nn.Module):
    """Two classes from the mean normalised intensity of the patch centre."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(1, 2)

    def forward(self, x):
        c = x.shape[-1] // 2
        m = x[:, :, c - 2 : c + 2, c - 2 : c + 2, c - 2 : c + 2].mean(dim=(1, 2, 3, 4))[:, None]
        return self.fc(m)


def build():
    return MeanClassifier()
'''


def write_weights(path: Path, classifier: bool = False) -> str:
    import torch
    from safetensors.torch import save_file

    if classifier:
        state = {"fc.weight": torch.tensor([[-20.0], [20.0]]), "fc.bias": torch.tensor([10.0, -10.0])}
    else:
        w = torch.zeros(2, 1, 1, 1, 1)
        w[1] = 10.0
        state = {"conv.weight": w, "conv.bias": torch.tensor([0.0, -5.0])}
    save_file(state, str(path))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_plugin(root: Path, plugin_id: str = "test.threshold", behaviour: str = "ok", *, spacing=(2.0, 2.0, 2.0),
                orientation: str = "LPS", roi=(16, 16, 16), sha: str | None = None, extra: str = "",
                classifier: bool = False, trust: bool = True) -> Path:
    """A plugin folder under ``root``; returns its path (trusted through the real API unless ``trust=False``)."""
    folder = root / plugin_id
    pkg = folder / "tinyplugin"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "model.py").write_text(CLASSIFIER if classifier else MODULE.format(behaviour=behaviour))
    digest = write_weights(folder / "weights.safetensors", classifier)
    if classifier:
        task_block = textwrap.dedent("""
            [plugin]
            task = "classification"
            [input]
            patch_size = [16, 16, 16]
            [outputs]
            classes = ["dark", "bright"]
        """)
    else:
        task_block = textwrap.dedent("""
            [plugin]
            task = "segmentation"
            [[outputs.labels]]
            value = 1
            name = "bright"
            color = "#ff8800"
        """)
    text = textwrap.dedent(f"""
        [plugin]
        id = "{plugin_id}"
        name = "Test {plugin_id}"
        version = "0.1.0"
        authors = ["tests"]
        license = "MIT"
        intended_use = "testing only"
        entry = "tinyplugin.model:build"

        [input]
        modality = "CT"
        spacing_mm = [{spacing[0]}, {spacing[1]}, {spacing[2]}]
        orientation = "{orientation}"
        pad_value = -1000
        normalization = {{ kind = "window", min = -1000, max = 1000 }}

        [inference]
        roi_size = [{roi[0]}, {roi[1]}, {roi[2]}]
        overlap = 0.25
        sw_batch_size = 4

        [[weights]]
        file = "weights.safetensors"
        sha256 = "{sha or digest}"
    """)
    # merge the task-specific tables (TOML allows each table once: build by hand)
    import tomllib

    data = tomllib.loads(text)
    extra_data = tomllib.loads(task_block + extra)
    for k, v in extra_data.items():
        if isinstance(v, dict):
            data.setdefault(k, {}).update(v)
        else:
            data[k] = v
    (folder / "plugin.toml").write_text(_dump_toml(data))
    if trust:
        trust_for_tests(folder)
    return folder


def trust_for_tests(folder: Path) -> Path:
    """Record consent for ``folder`` as ``meddiag plugins trust`` would, in the test's own settings folder.

    The trust store lives in ``$MEDDIAG_CONFIG_DIR`` (inherited by worker processes);
    a test must point it at a temporary folder first (``monkeypatch.setenv``).
    """
    import os

    if not os.environ.get("MEDDIAG_CONFIG_DIR"):
        raise RuntimeError("set MEDDIAG_CONFIG_DIR to a temporary folder before trusting a test plugin")
    from meddiag_desktop.ai.trust import trust_plugin

    trust_plugin(folder, via="tests")
    return folder


def install_entry_points(site: Path, *entry_points: tuple[str, str], dist: str = "acme_plugins") -> Path:
    """Install a distribution's metadata into the folder ``site`` as pip would (``<dist>-0.1.dist-info``), with
    ``(name, value)`` entry points in the ``meddiag_desktop.plugins`` group; put ``site`` on ``sys.path`` to see them."""
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = ["[meddiag_desktop.plugins]"] + [f"{name} = {value}" for name, value in entry_points]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return site


def _dump_toml(data: dict) -> str:
    """Minimal TOML writer for the manifests above (tables, arrays of tables, scalars, lists)."""

    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + " }"
        raise TypeError(v)

    lines = []
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict) and not (isinstance(v, list) and v and isinstance(v[0], dict))}
    for k, v in scalars.items():
        lines.append(f"{k} = {val(v)}")
    for k, v in data.items():
        if isinstance(v, dict):
            sub_tables = {kk: vv for kk, vv in v.items() if isinstance(vv, list) and vv and isinstance(vv[0], dict)}
            lines.append(f"\n[{k}]")
            for kk, vv in v.items():
                if kk not in sub_tables:
                    lines.append(f"{kk} = {val(vv)}")
            for kk, vv in sub_tables.items():
                for item in vv:
                    lines.append(f"\n[[{k}.{kk}]]")
                    lines += [f"{a} = {val(b)}" for a, b in item.items()]
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for item in v:
                lines.append(f"\n[[{k}]]")
                lines += [f"{a} = {val(b)}" for a, b in item.items()]
    return "\n".join(lines) + "\n"


def rotation(axis: int, deg: float) -> np.ndarray:
    """The 3x3 rotation by ``deg`` degrees about array axis ``axis`` (a direction for :func:`box_volume`)."""
    t = np.deg2rad(deg)
    c, s = np.cos(t), np.sin(t)
    r = np.eye(3)
    i, j = [a for a in range(3) if a != axis]
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def box_volume(shape=(40, 50, 60), spacing=(1.5, 1.5, 2.0), direction=None, origin=(0.0, 0.0, 0.0)) -> "Volume":
    """CT-like volume: air with a bright (500 HU) box; array (z, y, x)."""
    from meddiag_desktop.core.volume import Volume

    a = np.full(shape, -1000, np.int16)
    z, y, x = shape
    a[z // 4 : 3 * z // 4, y // 5 : 4 * y // 5, x // 3 : 5 * x // 6] = 500
    return Volume(a, spacing, origin, np.eye(3) if direction is None else direction, metadata={"modality": "CT"})


# ------------------------------------------------------------ a MONAI bundle
#: configs/inference.json of a tiny MONAI model-zoo bundle (3D UNet, random weights), as users install them
TINY_BUNDLE_INFERENCE = {
    "imports": ["$import glob", "$import os"],
    "bundle_root": ".",
    "output_dir": "$@bundle_root + '/eval'",
    "dataset_dir": "/workspace/data",
    "datalist": "$list(sorted(glob.glob(@dataset_dir + '/*.nii.gz')))",
    "device": "$torch.device('cpu')",
    "network_def": {"_target_": "UNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 2,
                    "channels": [4, 8], "strides": [2], "num_res_units": 0},
    "network": "$@network_def.to(@device)",
    "preprocessing": {"_target_": "Compose", "transforms": [
        {"_target_": "LoadImaged", "keys": "image"},
        {"_target_": "EnsureChannelFirstd", "keys": "image"},
        {"_target_": "Orientationd", "keys": "image", "axcodes": "RAS"},
        {"_target_": "Spacingd", "keys": "image", "pixdim": [2.0, 2.0, 2.0], "mode": "bilinear"},
        {"_target_": "ScaleIntensityRanged", "keys": "image", "a_min": -1000, "a_max": 1000,
         "b_min": 0.0, "b_max": 1.0, "clip": True},
        {"_target_": "EnsureTyped", "keys": "image"}]},
    "dataset": {"_target_": "Dataset", "data": "$[{'image': i} for i in @datalist]", "transform": "@preprocessing"},
    "dataloader": {"_target_": "DataLoader", "dataset": "@dataset", "batch_size": 1, "shuffle": False, "num_workers": 0},
    "inferer": {"_target_": "SlidingWindowInferer", "roi_size": [32, 32, 32], "sw_batch_size": 2, "overlap": 0.25},
    "postprocessing": {"_target_": "Compose", "transforms": [
        {"_target_": "Activationsd", "keys": "pred", "softmax": True},
        {"_target_": "Invertd", "keys": "pred", "transform": "@preprocessing", "orig_keys": "image",
         "nearest_interp": False, "to_tensor": True},
        {"_target_": "AsDiscreted", "keys": "pred", "argmax": True},
        {"_target_": "SaveImaged", "keys": "pred", "output_dir": "@output_dir", "output_postfix": "seg",
         "resample": False, "separate_folder": False}]},
    "handlers": [{"_target_": "CheckpointLoader", "load_path": "$@bundle_root + '/models/model.pt'",
                  "load_dict": {"model": "@network"}}],
    "evaluator": {"_target_": "SupervisedEvaluator", "device": "@device", "val_data_loader": "@dataloader",
                  "network": "@network", "inferer": "@inferer", "postprocessing": "@postprocessing",
                  "val_handlers": "@handlers", "amp": False},
    "initialize": ["$monai.utils.set_determinism(seed=123)"],
    "run": ["$@evaluator.run()"],
}

#: its configs/metadata.json
TINY_BUNDLE_METADATA = {
    "version": "0.1.0", "monai_version": "1.4.0", "name": "Tiny test bundle",
    "task": "Box segmentation", "description": "random 3D UNet", "authors": "tests",
    "copyright": "Copyright (c) tests", "intended_use": "Testing only, not for diagnosis",
    "eval_metrics": {"mean_dice": 0.5},
    "network_data_format": {
        "inputs": {"image": {"type": "image", "format": "hounsfield", "modality": "CT", "num_channels": 1,
                             "spatial_shape": [32, 32, 32], "dtype": "float32", "value_range": [0, 1]}},
        "outputs": {"pred": {"type": "image", "format": "segmentation", "num_channels": 2,
                             "spatial_shape": [32, 32, 32], "dtype": "float32", "value_range": [0, 1],
                             "channel_def": {"0": "background", "1": "box"}}},
    },
}


def write_tiny_bundle(root: Path, trust: bool = True) -> Path:
    """Write the tiny bundle (configs/ and models/model.pt, seeded random UNet) into ``root`` (trusted unless told)."""
    import torch
    from monai.networks.nets import UNet

    (root / "configs").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "configs" / "inference.json").write_text(json.dumps(TINY_BUNDLE_INFERENCE, indent=1))
    (root / "configs" / "metadata.json").write_text(json.dumps(TINY_BUNDLE_METADATA, indent=1))
    torch.manual_seed(7)
    net = UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(4, 8), strides=(2,), num_res_units=0)
    torch.save(net.state_dict(), root / "models" / "model.pt")
    if trust:
        trust_for_tests(root)
    return root
