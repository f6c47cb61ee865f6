"""The report model's numbers and the PDF read back as text and as rendered pages."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from tests.report.report_helpers import NAMES, SPACING, make_report, pdf_text

from meddiag_desktop.report import AI_STATEMENT, render_pdf


def test_segment_findings_measure_on_the_source_grid(study):
    _, volume, labels = study
    report = make_report(volume, labels)
    by_name = {s.name: s for s in report.segments if s.component is None}
    assert set(by_name) == set(NAMES.values())
    voxel_ml = np.prod(SPACING) / 1000
    nodule = by_name["nodule"]
    assert nodule.voxels == int((labels == 3).sum())
    assert nodule.volume_ml == pytest.approx(nodule.voxels * voxel_ml)
    assert nodule.mean_hu == pytest.approx(30.0)
    assert by_name["right lung"].mean_hu == pytest.approx(-820.0)
    assert 8.0 <= nodule.longest_diameter_mm <= 11.5  # a 10 mm ball on a 0.8 mm grid
    assert nodule.provenance.plugin_id == "test.lungseg"
    assert report.patient.patient_name == "Quixote Alonso"
    assert report.patient.accession_number == "SYN0001"
    risk = report.risks[0]
    origins = {i.name: i.origin for i in risk.inputs}
    assert origins["age"] == origins["sex"] == origins["nodule_size_mm"] == "image"
    assert origins["family_history"] == origins["nodule_type"] == "entered"


def test_pdf_text_has_patient_findings_risk_and_disclaimer(study, tmp_path):
    _, volume, labels = study
    path = tmp_path / "r.pdf"
    path.write_bytes(render_pdf(make_report(volume, labels)))
    text = pdf_text(path)
    flat = " ".join(text.split())
    for needle in ("Quixote Alonso", "PID-7731-XQ", "1947-09-23", "SYN0001", "right lung", "nodule",
                   "Solid right lung nodule", "Brock", "Contribution of each input", "Provenance",
                   "test.lungseg", "0f0f0f0f", "Dr Rita Reader", "Signature", "Nodule long axis"):
        assert needle in flat, needle
    assert " ".join(AI_STATEMENT.split()) in flat
    pages = re.findall(r"Page (\d+) of (\d+)", text)
    assert pages and all(t == pages[0][1] for _, t in pages)
    assert [int(p) for p, _ in pages] == list(range(1, int(pages[0][1]) + 1))


def test_pdf_renders_every_page(study, tmp_path):
    if shutil.which("pdftoppm") is None or shutil.which("pdfinfo") is None:
        pytest.skip("poppler-utils not installed")
    _, volume, labels = study
    path = tmp_path / "r.pdf"
    path.write_bytes(render_pdf(make_report(volume, labels)))
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    n = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(path), str(tmp_path / "page")], check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == n >= 2
    assert all(p.stat().st_size > 2000 for p in pngs)  # not blank


def test_empty_report_still_renders(study, tmp_path):
    from meddiag_desktop.report import build_report

    _, volume, _ = study
    path = tmp_path / "r.pdf"
    path.write_bytes(render_pdf(build_report(volume)))
    flat = " ".join(pdf_text(path).split())
    assert "No impression has been entered" in flat and "No measurements or AI findings" in flat


def test_key_images_are_pngs_of_the_lesion(study):
    _, volume, labels = study
    report = make_report(volume, labels)
    assert report.key_images and report.key_images[0].png.startswith(b"\x89PNG")
    assert "nodule" in report.key_images[0].caption


def test_key_image_of_a_monochrome1_radiograph_shows_low_values_white():
    import io

    from PIL import Image

    from meddiag_desktop.core import Volume
    from meddiag_desktop.report.key_images import render_axial

    arr = np.zeros((1, 20, 20), np.int16)
    arr[0, :, :10] = 100  # left half low, right half high
    arr[0, :, 10:] = 900
    pixels = {}
    for flag in (True, False):
        vol = Volume(arr, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3), metadata={"monochrome1": flag, "modality": "CR"})
        img = np.asarray(Image.open(io.BytesIO(render_axial(vol, 0, window=(1000, 500), size=20))).convert("L"))
        pixels[flag] = (int(img[5, 2]), int(img[5, 17]))
    assert pixels[True][0] > pixels[True][1]  # MONOCHROME1: the low value is the bright one
    assert pixels[False][0] < pixels[False][1]
    assert all(abs(a + b - 255) <= 1 for a, b in zip(pixels[True], pixels[False]))  # the same ramp, reversed
