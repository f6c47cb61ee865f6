"""Research image files (NIfTI, NRRD, MetaImage) through SimpleITK.

ITK reads every format into LPS, so NIfTI's RAS geometry arrives already
converted and matches DICOM-derived volumes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from meddiag_desktop.core.volume import Volume
from meddiag_desktop.io.errors import LoadError
from meddiag_desktop.io.series import SeriesInfo

__all__ = ["ITK_SUFFIXES", "is_itk_file", "itk_series_info", "load_itk"]

ITK_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
#: files that are the data half of a header we read through the header
DATA_SUFFIXES = (".raw", ".zraw", ".raw.gz")


def is_itk_file(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in ITK_SUFFIXES)


def _reader(path: Path):
    import SimpleITK as sitk

    r = sitk.ImageFileReader()
    r.SetFileName(str(path))
    try:
        r.ReadImageInformation()
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown error"
        raise LoadError(f"{path.name}: not a readable {path.suffix or 'image'} file ({first[:200]})") from None
    return r


def itk_series_info(path: Path) -> SeriesInfo:
    """Describe ``path`` as a series (header only)."""
    r = _reader(path)
    size = r.GetSize()
    return SeriesInfo(
        series_uid=f"file:{path.resolve()}",
        key=f"file:{path.resolve()}",
        description=path.name,
        modality="",
        image_count=int(size[2]) if len(size) > 2 else 1,
        patient_name="",
        study_description=str(path.parent),
        rows=int(size[1]) if len(size) > 1 else 1,
        columns=int(size[0]),
        path=path,
    )


def load_itk(path: Path) -> Volume:
    """Load a NIfTI/NRRD/MetaImage file as a Volume (integer data kept, floats kept float32)."""
    import SimpleITK as sitk

    r = _reader(path)
    dim = r.GetDimension()
    ncomp = r.GetNumberOfComponents()
    warnings: list[str] = []
    size = r.GetSize()
    if dim > 3:
        if dim == 4 and size[3] > 1:
            warnings.append(f"{path.name} is a 4D image with {size[3]} volumes: showing the first one.")
        r.SetExtractIndex([0] * dim)
        r.SetExtractSize(list(size[:3]) + [0] * (dim - 3))
    try:
        img = r.Execute()
    except RuntimeError as exc:
        msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown error"
        raise LoadError(f"{path.name}: the image data cannot be read ({msg[:200]}); the file may be truncated") from None
    if img.GetDimension() == 2:
        img = sitk.JoinSeries(img)
    arr = sitk.GetArrayFromImage(img)
    if ncomp == 3 and arr.ndim == 4:
        if arr.dtype != np.uint8:
            lo, hi = float(arr.min()), float(arr.max())
            arr = ((arr - lo) * (255.0 / max(hi - lo, 1e-12))).astype(np.uint8)
    elif ncomp != 1:
        raise LoadError(f"{path.name}: images with {ncomp} components per voxel are not supported")
    elif arr.dtype == np.float64 or arr.dtype == np.float32:
        finite = np.isfinite(arr)
        if not finite.all():
            warnings.append(f"{int((~finite).sum())} voxel(s) are NaN or infinite: shown as 0.")
            arr = np.where(finite, arr, 0)
        if arr.size and np.all(arr == np.rint(arr)) and arr.min() >= -32768 and arr.max() <= 32767:
            arr = arr.astype(np.int16)  # integer values stored as float: int16 is lossless
        else:
            arr = arr.astype(np.float32)
    direction = np.array(img.GetDirection(), float).reshape(3, 3)
    if abs(abs(np.linalg.det(direction)) - 1) > 1e-3:
        raise LoadError(f"{path.name}: the orientation matrix is not a rotation (determinant {np.linalg.det(direction):.3f})")
    md = {
        "source": "file",
        "path": str(path),
        "series_description": path.name,
        "study_description": "",
        "modality": "",
        "units": "",
        "patient_name": "",
        "window_presets": [],
        "source_folder": str(path.parent),
    }
    return Volume(arr, spacing=img.GetSpacing(), origin=img.GetOrigin(), direction=direction, metadata=md, warnings=warnings)
