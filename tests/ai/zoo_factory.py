"""Real MONAI Model Zoo bundles for tests: copied to a temp folder, seeded random weights from ``network_def``.

The bundles live in ``<repo>/../shared/zoo_bundles`` (configs unchanged); tests skip
when that folder is absent. Inputs are small synthetic volumes written here.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

_REPO = Path(__file__).resolve().parents[2]
#: the ``shared`` folder beside the checkout (a worktree sits one level deeper)
ZOO = next((p / "shared" / "zoo_bundles" for p in (_REPO.parent, _REPO.parent.parent)
            if (p / "shared" / "zoo_bundles").is_dir()), _REPO.parent / "shared" / "zoo_bundles")

#: synthetic input per bundle: (channels, shape x,y,z, spacing, modality kind)
INPUTS = {
    "spleen_ct_segmentation": (1, (72, 64, 48), (1.5, 1.5, 2.0), "ct"),
    "pancreas_ct_dints_segmentation": (1, (64, 64, 64), (1.0, 1.0, 1.0), "ct"),
    "brats_mri_segmentation": (4, (64, 64, 48), (1.0, 1.0, 1.0), "mr"),
    "ventricular_short_axis_3label": (1, (96, 96, 6), (1.4, 1.4, 8.0), "mr"),
    "lung_nodule_ct_detection": (1, (96, 96, 64), (0.703125, 0.703125, 1.25), "ct"),
    "breast_density_classification": (1, (120, 96, 1), (0.1, 0.1, 1.0), "mg"),
}


def inference_config(bundle: Path) -> Path:
    for name in ("inference.json", "inference.yaml", "inference.yml"):
        if (bundle / "configs" / name).is_file():
            return bundle / "configs" / name
    raise FileNotFoundError(bundle)


def copy_bundle(name: str, dest: Path) -> Path:
    """Copy zoo bundle ``name`` (configs, scripts, docs) into ``dest/name``."""
    src = ZOO / name
    out = dest / name
    shutil.copytree(src, out)
    (out / "models").mkdir(exist_ok=True)
    return out


def build_weights(bundle: Path, seed: int = 0) -> Path:
    """``models/model.pt``: the state_dict of the bundle's own ``network_def`` with seeded random weights."""
    import torch
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(inference_config(bundle)))
    parser.read_meta(str(bundle / "configs" / "metadata.json"))
    parser["bundle_root"] = str(bundle)
    sys.path.insert(0, str(bundle))
    try:
        torch.manual_seed(seed)
        net = parser.get_parsed_content("network_def", instantiate=True)
    finally:
        sys.path.remove(str(bundle))
    path = bundle / "models" / "model.pt"
    torch.save(net.state_dict(), path)
    return path


def synthetic_array(shape_xyz, kind: str, seed: int, channel: int = 0) -> np.ndarray:
    """Smooth blobs in a plausible value range, ``[x, y, z]`` float32 (nibabel order)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed + 17 * channel)
    noise = gaussian_filter(rng.standard_normal(shape_xyz).astype(np.float32), 3.0)
    noise /= max(float(np.abs(noise).max()), 1e-6)
    if kind == "ct":
        return (noise * 400.0).astype(np.float32)  # -400..400 HU
    return (noise * 300.0 + 400.0).astype(np.float32)


def write_input(name: str, folder: Path, seed: int = 1) -> list[Path]:
    """Synthetic NIfTI input(s) for bundle ``name``: one file per channel (``image_c0.nii.gz``...)."""
    import nibabel as nib

    channels, shape, spacing, kind = INPUTS[name]
    folder.mkdir(parents=True, exist_ok=True)
    affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])  # LPS-like axes, as DICOM-derived NIfTIs are
    affine[:3, 3] = [40.0, 30.0, -20.0]
    paths = []
    for c in range(channels):
        arr = synthetic_array(shape, kind, seed, c)
        path = folder / f"image_c{c}.nii.gz"
        nib.save(nib.Nifti1Image(arr, affine), str(path))
        paths.append(path)
    return paths


def write_4d(paths: list[Path], dest: Path) -> Path:
    """Stack single-channel NIfTIs into one 4D NIfTI (channel last, as BraTS ships them)."""
    import nibabel as nib

    imgs = [nib.load(str(p)) for p in paths]
    arr = np.stack([np.asarray(i.dataobj) for i in imgs], axis=-1)
    nib.save(nib.Nifti1Image(arr, imgs[0].affine), str(dest))
    return dest


def relist_weights(bundle: Path) -> str:
    """Put our weights' MD5 into the copy's ``large_files.yml`` (it lists the zoo's trained weights); return it."""
    import hashlib
    import re

    md5 = hashlib.md5((bundle / "models" / "model.pt").read_bytes()).hexdigest()
    lf = bundle / "large_files.yml"
    text = lf.read_text()
    # the hash_val line that follows the models/model.pt entry
    text = re.sub(r'(path: "models/model\.pt"\s*\n(?:\s+\w+: .*\n)*?\s+hash_val: )"[0-9a-f]+"', rf'\g<1>"{md5}"', text)
    lf.write_text(text)
    return md5


def prepare(name: str, dest: Path) -> Path:
    """Copy, build seeded random weights, list their MD5: a runnable copy of zoo bundle ``name``."""
    bundle = copy_bundle(name, dest)
    build_weights(bundle)
    relist_weights(bundle)
    return bundle
