"""Inputs for MONAI bundles: one file per channel, or one 4D file split into its volumes; PNG/JPEG images.

``meddiag infer BUNDLE --input image=T1c.nii.gz --input image=T1.nii.gz ...``
gives a key's channels in the order of the bundle's ``network_data_format``
``channel_def``; one 4D NIfTI (BraTS ships them so) is split into its volumes,
never cut to the first. 3D files go through :func:`meddiag_desktop.io.load`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from meddiag_desktop.ai.errors import InputRefused
from meddiag_desktop.core.volume import Volume

__all__ = ["load_channels", "parse_input_specs", "map_inputs", "IMAGE_2D_SUFFIXES"]

IMAGE_2D_SUFFIXES = (".png", ".jpg", ".jpeg")


def _is_4d_nifti(path: Path) -> int:
    """Number of volumes of a NIfTI with more than one (0 for anything else)."""
    if not path.name.lower().endswith((".nii", ".nii.gz")):
        return 0
    import nibabel as nib

    try:
        shape = nib.load(str(path)).shape
    except Exception:  # noqa: BLE001  (io.load will say what is wrong with it)
        return 0
    if len(shape) >= 4 and int(np.prod(shape[3:])) > 1:
        return int(np.prod(shape[3:]))
    return 0


def _split_4d(path: Path) -> list[Volume]:
    import SimpleITK as sitk

    img = sitk.ReadImage(str(path))
    if img.GetDimension() != 4:
        raise ValueError(f"{path}: expected a 4D image, SimpleITK reads {img.GetDimension()}D")
    size = list(img.GetSize())
    direction = np.asarray(img.GetDirection(), float).reshape(4, 4)[:3, :3]
    out = []
    for t in range(size[3]):
        vol = sitk.Extract(img, size[:3] + [0], [0, 0, 0, t])
        out.append(Volume(sitk.GetArrayFromImage(vol), vol.GetSpacing(), vol.GetOrigin(), direction,
                          metadata={"source": str(path), "volume_index": t}))
    return out


def _load_2d(path: Path) -> Volume:
    """PNG/JPEG as a one-slice volume (greyscale, or RGB kept as RGB), 1 mm pixels."""
    from PIL import Image

    with Image.open(path) as im:
        if im.mode in ("RGB", "RGBA", "P", "CMYK"):
            arr = np.asarray(im.convert("RGB"))
            return Volume(arr[None], metadata={"source": str(path)})
        arr = np.asarray(im.convert("I;16") if im.mode.startswith("I") else im.convert("L"))
    return Volume(arr[None].astype(np.float32), metadata={"source": str(path)})


def load_channels(path: str | Path) -> list[Volume]:
    """The volumes in ``path``: several for a 4D NIfTI, one otherwise."""
    path = Path(path)
    if path.suffix.lower() in IMAGE_2D_SUFFIXES:
        return [_load_2d(path)]
    if _is_4d_nifti(path):
        return _split_4d(path)
    from meddiag_desktop.io import load

    return [load(path)]


def parse_input_specs(specs: list[str]) -> list[tuple[str, str]]:
    """``["image=a.nii", "label=b.nii"]`` -> ``[("image", "a.nii"), ...]``; a bare path has key ``""``."""
    out = []
    for spec in specs:
        key, sep, path = spec.partition("=")
        if not sep or "/" in key or "\\" in key or not key:
            key, path = "", spec
        out.append((key, path))
    return out


def map_inputs(pairs: list[tuple[str, list[Volume]]], keys: dict[str, list[str]]) -> dict[str, list[Volume]]:
    """Channels per bundle input key: a bare path goes to the first key; a key's files append in order."""
    first = next(iter(keys))
    mapped: dict[str, list[Volume]] = {}
    for key, vols in pairs:
        key = key or first
        if key not in keys:
            raise InputRefused(f"the bundle has no input {key!r}; its inputs are: "
                               + ", ".join(f"{k} ({', '.join(c)})" for k, c in keys.items()))
        mapped.setdefault(key, []).extend(vols)
    for key, vols in mapped.items():
        want = keys[key]
        if len(vols) != len(want):
            raise InputRefused(
                f"input {key!r} needs {len(want)} channel(s) ({', '.join(want)}) and got {len(vols)}; give one "
                f"{len(want)}-volume 4D file or --input {key}=PATH once per channel, in that order"
            )
    return mapped
