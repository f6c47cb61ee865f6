"""Write a volume as a classic single-frame DICOM series (CT or MR).

Used to make the demo study and test studies with exactly known geometry, so
that everything we show goes through the same DICOM reading path as a real
study. Files are written atomically (temporary name, then rename).
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid

__all__ = ["write_series", "SOP_CLASS_CT", "SOP_CLASS_MR"]

SOP_CLASS_CT = "1.2.840.10008.5.1.4.1.1.2"
SOP_CLASS_MR = "1.2.840.10008.5.1.4.1.1.4"


def _ds_str(v: float) -> str:
    """Format a float as a DICOM DS (at most 16 characters)."""
    s = f"{v:.6f}".rstrip("0").rstrip(".")
    if s in ("-0", ""):
        s = "0"
    if len(s) > 16:
        s = f"{v:.8g}"
    return s


def write_series(
    array_zyx: np.ndarray,
    out_dir: str | os.PathLike,
    *,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    direction: np.ndarray | None = None,
    modality: str = "CT",
    rescale_slope: float = 1.0,
    rescale_intercept: float = 0.0,
    patient_name: str = "Demo^Patient",
    patient_id: str = "DEMO0001",
    patient_birth_date: str = "19580412",
    patient_sex: str = "M",
    study_description: str = "Synthetic study",
    series_description: str = "Synthetic series",
    study_uid: str | None = None,
    series_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
    series_number: int = 1,
    window: tuple[float, float] | None = None,
    slice_positions: Sequence[Sequence[float]] | None = None,
    file_names: Sequence[str] | None = None,
    gantry_tilt: float | None = None,
    extra: dict | None = None,
    instance_uid_seed: str | None = None,
) -> list[Path]:
    """Write ``array_zyx`` (stored values) as one file per slice into ``out_dir``.

    The geometry is that of :class:`~meddiag_desktop.core.Volume`: ``direction``
    columns are the LPS directions of x (columns), y (rows) and z (slices).
    ``slice_positions`` overrides the ImagePositionPatient of each slice (to
    make uneven or duplicate spacing); ``file_names`` overrides the names (to
    shuffle them). ``instance_uid_seed`` makes SOP Instance UIDs derive from
    it, so the same call writes byte-identical files. Returns the written paths
    in slice order.
    """
    arr = np.asarray(array_zyx)
    if arr.ndim != 3:
        raise ValueError(f"write_series needs a (z, y, x) array, got shape {arr.shape}")
    if arr.dtype not in (np.int16, np.uint16):
        raise ValueError(f"write_series stores int16 or uint16 values, got {arr.dtype}")
    d = np.eye(3) if direction is None else np.asarray(direction, float).reshape(3, 3)
    sx, sy, sz = (float(s) for s in spacing)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    for_uid = frame_of_reference_uid or generate_uid()
    sop_class = SOP_CLASS_CT if modality == "CT" else SOP_CLASS_MR
    nz = arr.shape[0]
    names = list(file_names) if file_names is not None else [f"IM{k + 1:05d}.dcm" for k in range(nz)]
    if len(names) != nz:
        raise ValueError(f"{len(names)} file names for {nz} slices")
    now = _dt.datetime(2026, 1, 15, 9, 30, 0)
    paths: list[Path] = []
    for k in range(nz):
        pos = (
            np.asarray(slice_positions[k], float)
            if slice_positions is not None
            else np.asarray(origin, float) + d[:, 2] * sz * k
        )
        sop_uid = generate_uid(entropy_srcs=[instance_uid_seed, str(k)]) if instance_uid_seed else generate_uid()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds = Dataset()
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = sop_uid
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
        ds.AccessionNumber = "SYN0001"
        ds.Modality = modality
        ds.Manufacturer = "MedDiag synthetic"
        ds.StudyDescription = study_description
        ds.SeriesDescription = series_description
        ds.PatientName = patient_name
        ds.PatientID = patient_id
        ds.PatientBirthDate = patient_birth_date
        ds.PatientSex = patient_sex
        ds.SliceThickness = _ds_str(sz)
        if gantry_tilt is not None:
            ds.GantryDetectorTilt = _ds_str(gantry_tilt)
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = "1"
        ds.SeriesNumber = series_number
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [_ds_str(v) for v in pos]
        ds.ImageOrientationPatient = [_ds_str(v) for v in (*d[:, 0], *d[:, 1])]
        ds.FrameOfReferenceUID = for_uid
        ds.PositionReferenceIndicator = ""
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = int(arr.shape[1]), int(arr.shape[2])
        ds.PixelSpacing = [_ds_str(sy), _ds_str(sx)]  # row spacing, column spacing
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1 if arr.dtype == np.int16 else 0
        if modality in ("CT", "PT") or rescale_slope != 1.0 or rescale_intercept != 0.0:
            ds.RescaleIntercept = _ds_str(rescale_intercept)
            ds.RescaleSlope = _ds_str(rescale_slope)
            ds.RescaleType = "HU" if modality == "CT" else "US"
        if window is not None:
            ds.WindowCenter = _ds_str(window[1])
            ds.WindowWidth = _ds_str(window[0])
        for key, value in (extra or {}).items():
            setattr(ds, key, value)
        ds.PixelData = np.ascontiguousarray(arr[k]).tobytes()
        path = out / names[k]
        tmp = path.with_name(path.name + ".part")
        ds.save_as(tmp, enforce_file_format=True)
        os.replace(tmp, path)
        paths.append(path)
    return paths
