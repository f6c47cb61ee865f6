"""A current/prior pair made from the demo phantom, with a known rigid motion between them.

The *current* study is the phantom as generated. The *prior* is the same patient a
year earlier, lying differently on the table: its image is the current anatomy moved
by a known rigid transform (``prior = R @ current + t``, a few mm and a few degrees),
with one nodule absent (new in the current) and one smaller (grown since), written as
a different study (StudyDate, StudyInstanceUID, FrameOfReferenceUID) of the same
PatientID.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meddiag_desktop.core import Volume
from meddiag_desktop.reading.registration import RigidTransform

#: a small phantom: fast to make and to register, still with every organ and nodule
SMALL = dict(matrix_size=(192, 192), pixel_spacing_mm=1.8, n_slices=64, slice_spacing_mm=4.0)
CURRENT_DATE, PRIOR_DATE = "20260115", "20250110"


def euler_matrix(deg_xyz) -> np.ndarray:
    ax, ay, az = np.radians(deg_xyz)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


#: the known motion: 4 degrees about S, 2 about L, and (6, -4, 5) mm about the volume centre
TRUE_ROTATION_DEG = (2.0, 0.0, 4.0)
TRUE_SHIFT_MM = (6.0, -4.0, 5.0)


@dataclass
class PriorPair:
    current_dir: Path
    prior_dir: Path
    truth: RigidTransform  #: current LPS -> prior LPS
    new_nodule: object  #: the Nodule (current) absent from the prior
    grown_nodule: object  #: the Nodule (current) smaller in the prior
    prior_diameter_mm: float


def known_transform(center) -> RigidTransform:
    r = euler_matrix(TRUE_ROTATION_DEG)
    c = np.asarray(center, float)
    return RigidTransform(r, c + np.asarray(TRUE_SHIFT_MM) - r @ c, method="truth")


def make_prior_pair(root: Path, **params) -> PriorPair:
    """Write ``root/current`` and ``root/prior`` (DICOM) and return where and the true transform."""
    import SimpleITK as sitk

    from meddiag_desktop.demo._study import PATIENT, RESCALE_INTERCEPT, write_study_files
    from meddiag_desktop.demo.phantom import PhantomParams, make_chest_phantom
    from meddiag_desktop.io.dicom_write import write_series

    phantom = make_chest_phantom(PhantomParams(**{**SMALL, **params}))
    root = Path(root)
    write_study_files(phantom, root / "current")
    _restamp(root / "current" / "dicom", CURRENT_DATE)
    vol = phantom.volume()
    truth = known_transform(vol.center_lps())
    nodules = sorted(phantom.nodules, key=lambda n: -n.mean_diameter_mm)
    grown, new = nodules[0], nodules[1]
    hu = phantom.hu.astype(np.float32).copy()
    lung = float(phantom.params.lung_hu)
    idx = np.indices(hu.shape)  # z, y, x
    lps = (np.stack([idx[2], idx[1], idx[0]], -1).reshape(-1, 3) * np.asarray(vol.spacing)) @ np.asarray(
        vol.direction).T + np.asarray(vol.origin)
    nod = (phantom.labels == 7).reshape(-1)
    d_new = np.linalg.norm(lps - np.asarray(new.center_lps), axis=1)
    d_grown = np.linalg.norm(lps - np.asarray(grown.center_lps), axis=1)
    prior_diameter = grown.mean_diameter_mm * 0.6
    erase = nod & ((d_new < new.mean_diameter_mm) | ((d_grown < grown.mean_diameter_mm) & (d_grown > prior_diameter / 2)))
    flat = hu.reshape(-1)
    flat[erase] = lung + np.random.default_rng(1).normal(0, phantom.params.noise_sd_hu, int(erase.sum()))
    img = sitk.GetImageFromArray(hu)
    img.SetSpacing(vol.spacing)
    img.SetOrigin(vol.origin)
    img.SetDirection(tuple(np.asarray(vol.direction).ravel()))
    inv = sitk.AffineTransform(3)  # Resample maps output (prior) points to input (current) points
    inv.SetMatrix(tuple(truth.matrix.T.ravel()))
    inv.SetTranslation(tuple(-truth.matrix.T @ truth.offset))
    moved = sitk.GetArrayFromImage(sitk.Resample(img, img, inv, sitk.sitkLinear, -1000.0))
    stored = np.clip(np.round(moved) - RESCALE_INTERCEPT, 0, 4095).astype(np.uint16)
    from pydicom.uid import generate_uid

    write_series(stored, root / "prior" / "dicom", spacing=vol.spacing, origin=vol.origin, direction=vol.direction,
                 modality="CT", rescale_intercept=RESCALE_INTERCEPT, study_description="Synthetic chest CT (prior)",
                 series_description="Synthetic chest CT (demo)", study_uid=generate_uid(), series_uid=generate_uid(),
                 frame_of_reference_uid=generate_uid(), window=(1500.0, -600.0),
                 extra={"StudyDate": PRIOR_DATE, "SeriesDate": PRIOR_DATE, "BodyPartExamined": "CHEST"}, **PATIENT)
    return PriorPair(root / "current", root / "prior", truth, new, grown, prior_diameter)


def _restamp(folder: Path, date: str) -> None:
    """Give the generated current study a StudyDate and BodyPartExamined (the demo writer sets neither)."""
    import pydicom

    for f in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        ds.StudyDate = ds.SeriesDate = date
        ds.BodyPartExamined = "CHEST"
        ds.save_as(f)


def load(folder: Path) -> Volume:
    from meddiag_desktop import io

    return io.load(folder)
