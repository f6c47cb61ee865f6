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


def _kind(path: Path) -> str:
    name = path.name.lower()
    return next((s.lstrip(".").split(".")[0].upper() for s in ITK_SUFFIXES if name.endswith(s)), "image")


def _reader(path: Path):
    import SimpleITK as sitk

    r = sitk.ImageFileReader()
    r.SetFileName(str(path))
    try:
        r.ReadImageInformation()
    except RuntimeError as exc:
        raise LoadError(
            f"{path.name}: not a readable {_kind(path)} file (its header is damaged, or it is not a {_kind(path)} file)",
            detail=str(exc).strip()[-500:],
        ) from None
    return r


def _is_nifti2(path: Path) -> bool:
    """NIfTI-2 header (SimpleITK reads only NIfTI-1): sizeof_hdr is 540."""
    import gzip
    import struct

    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as f:
            head = f.read(4)
    except (OSError, EOFError, ValueError, __import__("zlib").error):
        return False  # not readable as NIfTI-2: SimpleITK's reader reports why
    return len(head) == 4 and 540 in (struct.unpack("<i", head)[0], struct.unpack(">i", head)[0])


def _load_nifti2(path: Path) -> Volume:
    """NIfTI-2 through nibabel; RAS affine converted to our LPS geometry."""
    try:
        import nibabel as nib
    except ImportError:
        raise LoadError(f"{path.name}: NIfTI-2 files need the nibabel package; reinstall MedDiag Desktop") from None
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except Exception as exc:
        raise LoadError(f"{path.name}: not a readable NIfTI-2 file (its header or data is damaged)",
                        detail=f"{type(exc).__name__}: {exc}") from None
    affine = getattr(img, "affine", None)
    if affine is None:  # CIFTI-2 (.dconn/.dtseries/.dscalar.nii): a NIfTI-2 container without a voxel grid
        kind = "a CIFTI-2 file" if "cifti" in type(img).__name__.lower() else f"a {type(img).__name__}"
        raise LoadError(
            f"{path.name} is {kind} (values on brain surfaces and grayordinates, not an image on a voxel grid); "
            "it cannot be shown as a volume"
        )
    warnings = []
    while data.ndim > 3:
        warnings.append(f"{path.name} has {data.ndim} dimensions: showing the first volume.")
        data = data[..., 0]
    while data.ndim < 3:
        data = data[..., np.newaxis]
    m = np.diag([-1.0, -1.0, 1.0]) @ affine[:3, :3]
    spacing = np.linalg.norm(m, axis=0)
    if not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise LoadError(f"{path.name}: the affine gives no voxel size (spacing {spacing.round(4).tolist()}); the header is damaged")
    arr = np.ascontiguousarray(np.transpose(data, (2, 1, 0)))
    if arr.dtype.kind == "f" and arr.size and np.all(arr == np.rint(arr)) and arr.min() >= -32768 and arr.max() <= 32767:
        arr = arr.astype(np.int16)
    md = _file_metadata(path)
    origin = np.diag([-1.0, -1.0, 1.0]) @ affine[:3, 3]
    return Volume(arr, spacing=spacing, origin=origin, direction=m / spacing, metadata=md, warnings=warnings)


def _file_metadata(path: Path) -> dict:
    return {
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


def itk_series_info(path: Path) -> SeriesInfo:
    """Describe ``path`` as a series (header only)."""
    if _is_nifti2(path):
        vol = _load_nifti2(path)
        nx, ny, nz = vol.shape_xyz
        size = (nx, ny, nz)
    else:
        size = _reader(path).GetSize()
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

    if _is_nifti2(path):
        return _load_nifti2(path)
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
        raise LoadError(f"{path.name}: the image data cannot be read; the file may be truncated or damaged",
                        detail=str(exc).strip()[-500:]) from None
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
    md = _file_metadata(path)
    return Volume(arr, spacing=img.GetSpacing(), origin=img.GetOrigin(), direction=direction, metadata=md, warnings=warnings)
