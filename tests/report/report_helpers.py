"""Helpers of the report tests: a phantom with labels, a report, dciodvfy and pdftotext wrappers."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest

#: identifiers of the synthetic source series: none of them may leak from an anonymised export
PATIENT = {"patient_name": "Quixote^Alonso", "patient_id": "PID-7731-XQ", "patient_birth_date": "19470923",
           "patient_sex": "F"}
ACCESSION = "SYN0001"
NAMES = {1: "right lung", 2: "left lung", 3: "nodule"}
COLORS = {1: "#3fa7d6", 2: "#59cd90", 3: "#ff0054"}
SHAPE = (12, 40, 48)  # z, y, x
SPACING = (0.8, 0.8, 2.5)  # x, y, z mm


def phantom(shape=SHAPE) -> tuple[np.ndarray, np.ndarray]:
    """(HU int16, labels uint8): two 'lungs' at -820 HU with a 30 HU ball 'nodule' in the right one."""
    z, y, x = np.indices(shape)
    nz, ny, nx = shape
    hu = np.full(shape, 20, np.int16)  # soft tissue
    labels = np.zeros(shape, np.uint8)
    right = ((x - nx * 0.28) / (nx * 0.2)) ** 2 + ((y - ny / 2) / (ny * 0.35)) ** 2 < 1
    left = ((x - nx * 0.72) / (nx * 0.2)) ** 2 + ((y - ny / 2) / (ny * 0.35)) ** 2 < 1
    inside = (z >= 1) & (z <= nz - 2)
    labels[right & inside] = 1
    labels[left & inside] = 2
    ball = ((x - nx * 0.28) * SPACING[0]) ** 2 + ((y - ny / 2) * SPACING[1]) ** 2 + ((z - nz / 2) * SPACING[2]) ** 2 < 5.0**2
    labels[ball] = 3
    hu[(labels == 1) | (labels == 2)] = -820
    hu[labels == 3] = 30
    return hu, labels


def provenance():
    from meddiag_desktop.report import Provenance

    return Provenance("test.lungseg", "Test lung segmentation", "0.3.1", ("0f" * 32,), "cpu",
                      "2026-11-28T10:00:00+00:00", "testing only")


def make_report(volume, labels, **kw):
    """A report with the phantom segmentation, a reader measurement and a Brock risk estimate."""
    from meddiag_desktop.report import LabelMap, Measurement, build_report
    from meddiag_desktop.workflow.session import evaluate_risk

    lm = LabelMap(labels, NAMES, COLORS, provenance())
    risk = evaluate_risk(volume, "brock", {"family_history": True, "emphysema": False, "spiculation": False,
                                           "nodule_type": "solid"}, [lm])
    args = dict(label_maps=[lm], risks=[risk],
                measurements=[Measurement("Nodule long axis", 10.4, "mm", ((-2.0, 46.0, -86.0), (8.0, 46.0, -86.0)))],
                impression="Solid right lung nodule, 10 mm.", reader_name="Dr Rita Reader")
    args.update(kw)
    return build_report(volume, **args)


def tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def dciodvfy(path: Path) -> list[str]:
    """The error lines dciodvfy prints for ``path`` (it exits 0 even with errors)."""
    tool = shutil.which("dciodvfy")
    if tool is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed")
    out = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=120)
    return [ln for ln in (out.stdout + out.stderr).splitlines() if ln.startswith("Error")]


def seg_on_volume_grid(seg_path: Path, volume) -> np.ndarray:
    """The SEG read with pydicom alone and placed on the volume's grid by each frame's own geometry.

    Checks that the frames' orientation and pixel spacing are the volume's, and that each frame's
    ImagePositionPatient is the position of one slice of the volume; returns the segment numbers per voxel.
    """
    raw = pydicom.dcmread(seg_path)
    shared = raw.SharedFunctionalGroupsSequence[0]
    iop = [float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient]
    np.testing.assert_allclose(iop[:3], volume.direction[:, 0], atol=1e-4)
    np.testing.assert_allclose(iop[3:], volume.direction[:, 1], atol=1e-4)
    spacing = [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing]  # row (y), column (x)
    np.testing.assert_allclose(spacing, (volume.spacing[1], volume.spacing[0]), rtol=1e-5)
    assert (raw.Rows, raw.Columns) == volume.array.shape[1:3]
    frames = raw.pixel_array.reshape(int(raw.NumberOfFrames), raw.Rows, raw.Columns)
    labelmap = raw.SegmentationType == "LABELMAP"
    out = np.zeros(volume.array.shape[:3], np.uint16)
    for i, item in enumerate(raw.PerFrameFunctionalGroupsSequence):
        pos = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
        ijk = volume.to_index(pos)
        np.testing.assert_allclose(ijk[:2], 0, atol=1e-3)
        k = int(round(ijk[2]))
        assert abs(ijk[2] - k) < 1e-3, f"frame {i + 1} lies between slices {k} and {k + 1}"
        if labelmap:
            out[k][frames[i] > 0] = frames[i][frames[i] > 0]
        else:
            ident = item.get("SegmentIdentificationSequence") or shared.SegmentIdentificationSequence  # one segment
            out[k][frames[i].astype(bool)] = ident[0].ReferencedSegmentNumber
    return out


def pdf_text(path: Path) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run([tool, "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def sr_items(ds) -> list[tuple]:
    """(concept meaning, value) of every content item of an SR, depth first: codes by meaning, numbers as
    floats, text, person names, and spatial coordinates as a tuple of floats."""
    out: list[tuple] = []

    def walk(seq):
        for item in seq:
            name = item.ConceptNameCodeSequence[0].CodeMeaning if "ConceptNameCodeSequence" in item else ""
            if "ConceptCodeSequence" in item:
                out.append((name, item.ConceptCodeSequence[0].CodeMeaning))
            elif "MeasuredValueSequence" in item:
                out.append((name, float(item.MeasuredValueSequence[0].NumericValue)))
            elif "TextValue" in item:
                out.append((name, item.TextValue))
            elif "PersonName" in item:
                out.append((name, str(item.PersonName)))
            elif "GraphicData" in item:
                out.append((name, tuple(float(v) for v in item.GraphicData)))
            if "ContentSequence" in item:
                walk(item.ContentSequence)

    walk(ds.ContentSequence)
    return out
