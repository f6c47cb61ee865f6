"""Small generated studies for the batch tests: 64x64x32 chest phantoms at 5 mm, written as real DICOM."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_study(folder: Path, seed: int, patient_id: str | None = None) -> str:
    """A small chest CT phantom (one series) in ``folder``; returns its StudyInstanceUID."""
    from pydicom.uid import generate_uid

    from meddiag_desktop.demo.phantom import PhantomParams, make_chest_phantom
    from meddiag_desktop.io.dicom_write import write_series

    p = make_chest_phantom(PhantomParams(matrix_size=(64, 64), n_slices=32, pixel_spacing_mm=5.0,
                                         slice_spacing_mm=5.0, seed=seed))
    uid = generate_uid()
    write_series((p.hu + 1024).astype(np.uint16), folder, spacing=p.spacing, origin=p.origin, direction=p.direction,
                 rescale_intercept=-1024.0, study_uid=uid, patient_id=patient_id or f"BATCH{seed:04d}",
                 study_description="Batch test chest CT")
    return uid


def corrupt_study(folder: Path, seed: int) -> str:
    """A study whose headers are intact but whose pixel data is cut short: it scans, then fails to load."""
    uid = write_study(folder, seed)
    for f in sorted(folder.iterdir()):
        data = f.read_bytes()
        f.write_bytes(data[: len(data) - 3000])
    return uid


def tiny_plugin(root: Path, trust: bool = True) -> Path:
    """The tests' thresholding plugin at the studies' 5 mm grid (a few sliding-window steps)."""
    from tests.ai.plugin_factory import make_plugin

    return make_plugin(root, "test.threshold", spacing=(5.0, 5.0, 5.0), roi=(32, 32, 32), trust=trust)


def undecodable_study(folder: Path) -> str:
    """A small series whose headers say JPEG 2000 and whose fragments are garbage: it scans, the load fails."""
    import pydicom
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEG2000Lossless, generate_uid

    from meddiag_desktop.io.dicom_write import write_series

    uid = generate_uid()
    write_series(np.zeros((8, 16, 16), np.int16), folder, study_uid=uid, patient_id="BROKEN")
    for f in sorted(folder.iterdir()):
        ds = pydicom.dcmread(f)
        ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
        ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"garbage" * 20])
        ds["PixelData"].VR = "OB"
        ds.save_as(f, enforce_file_format=True)
    return uid


def audit_events(path: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
