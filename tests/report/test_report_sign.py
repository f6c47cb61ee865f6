"""A report ready to sign: indication, technique, comparison, findings located by lobe, impression,
then sign-off on page 1; the new sections go through the same anonymisation and PHI check."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("reportlab")

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")

SECTIONS = ["Indication", "Technique", "Comparison", "Findings", "Impression", "Sign-off"]


def _text(pdf: bytes, tmp_path, first: int | None = None, last: int | None = None) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", "-layout"] + (["-f", str(first), "-l", str(last)] if first else []) + [str(path), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def demo():
    from meddiag_desktop.demo import demo_ground_truth, demo_study_dir
    from meddiag_desktop.io import load

    labels, nodules = demo_ground_truth()
    return load(demo_study_dir()), labels, nodules


def test_demo_nodules_are_located_by_lobe_as_the_phantom_placed_them(demo):
    """Thresholded lungs (no segmentation) and the ground-truth lung labels give each demo nodule's lobe."""
    from meddiag_desktop.report.location import locate, lung_model
    from meddiag_desktop.report.model import LabelMap

    volume, labels, nodules = demo
    truth = LabelMap(labels, {1: "right lung", 2: "left lung", 7: "nodule"})
    model = lung_model(volume)
    assert model is not None and set(model.extents) == {"left", "right"}
    assert len(nodules) == 5 and {n.upper_lobe for n in nodules} == {True, False}
    for n in nodules:
        expected = f"{n.lung} {'upper' if n.upper_lobe else 'lower'} lobe"
        assert locate(volume, n.center_lps, model=model).text == expected, n
        assert locate(volume, n.center_lps, [truth]).text == expected, n


@needs_poppler
def test_sections_in_reading_order_with_lobes_not_lps_and_sign_off_on_page_one(demo, tmp_path):
    from meddiag_desktop.report import Measurement, build_report
    from meddiag_desktop.report.model import ClassificationFinding, Comparison, LabelMap
    from meddiag_desktop.report.pdf import render_pdf

    volume, labels, nodules = demo
    n = next(x for x in nodules if x.lung == "right" and x.upper_lobe)
    c = np.asarray(n.center_lps)
    half = np.array([n.long_axis_mm / 2, 0.0, 0.0])
    m = Measurement("Distance 1", n.long_axis_mm, "mm", (tuple(c - half), tuple(c + half)))
    lm = LabelMap(np.where(labels == 7, 7, 0).astype(np.uint8), {7: "nodule"}, {7: "#ff0000"})
    left = next(x for x in nodules if x.lung == "left" and not x.upper_lobe)
    cls = ClassificationFinding({"solid": 0.8, "part_solid": 0.2}, tuple(left.center_lps))
    report = build_report(volume, measurements=[m], label_maps=[lm], key_images=[], classifications=[cls],
                          impression="Right upper lobe nodule.", reader_name="Dr Rita Reader",
                          comparison=Comparison("20240102", "CT chest"))
    assert report.measurements[0].location == "right upper lobe"
    assert report.classifications[0].location == "left lower lobe"
    nodule_rows = [s for s in report.segments if s.component]
    assert sorted(s.location for s in nodule_rows) == sorted(
        f"{x.lung} {'upper' if x.upper_lobe else 'lower'} lobe" for x in nodules)
    text = _text(render_pdf(report), tmp_path)
    heads = [next(i for i, line in enumerate(text.splitlines()) if line.strip().startswith(s)) for s in SECTIONS]
    assert heads == sorted(heads), f"sections out of order: {dict(zip(SECTIONS, heads))}"
    assert "2 mm slice thickness" in text and "study date 2026-01-15" in text  # demo header: 2 mm, 20260115
    assert "Prior study of 2024-01-02 (CT chest)" in text
    assert "right upper lobe" in text and "left lower lobe" in text
    assert "LPS" not in text, "locations must read by lobe, not as LPS coordinates"
    page1 = _text(render_pdf(report), tmp_path, 1, 1)
    assert "Sign-off" in page1 and "Dr Rita Reader" in page1 and "Date and time" in page1
    assert report.created_at[:10] in page1  # the date/time of the sign-off, filled in


def test_headless_key_images_are_zoomed_to_the_lesion_and_named_as_the_findings_table(demo):
    from PIL import Image
    import io

    from meddiag_desktop.report import build_report
    from meddiag_desktop.report.model import LabelMap

    volume, labels, _ = demo
    lm = LabelMap(np.where(np.isin(labels, (1, 2, 7)), labels, 0).astype(np.uint8),
                  {1: "right lung", 2: "left lung", 7: "nodule"}, {7: "#ff0000"})
    report = build_report(volume, label_maps=[lm])
    where = {s.display_name: s.location for s in report.segments if s.component}
    assert len(report.key_images) == 2
    for k in report.key_images:
        # "Axial image 85/150, left upper lobe: nodule 4 outlined"
        head, rest = k.caption.split(": ", 1)
        name = rest.split(" outlined")[0]
        assert head.startswith("Axial image ") and head.endswith(where[name]), k.caption
        w, h = Image.open(io.BytesIO(k.png)).size
        assert abs(w - h) <= 2  # a 120 mm square around the lesion, not the 346 mm wide slice


@needs_poppler
def test_without_a_prior_the_comparison_says_none_and_missing_indication_says_so(study, tmp_path):
    from meddiag_desktop.report import build_report
    from meddiag_desktop.report.pdf import render_pdf

    _, volume, _ = study
    report = build_report(volume, key_images=[])
    assert report.comparison is None and report.technique.modality == "CT"
    text = " ".join(_text(render_pdf(report), tmp_path).split())
    assert "Comparison None." in text and "Indication Not given." in text


def _with_reason(folder, reason: str) -> None:
    import pydicom

    for f in folder.glob("*.dcm"):
        ds = pydicom.dcmread(f)
        ds.ReasonForStudy = reason
        ds.ContrastBolusAgent = "Iohexol"
        ds.save_as(f)


@needs_poppler
def test_header_indication_is_printed_and_cleaned_of_the_patient_in_anonymised_exports(study, tmp_path):
    """An indication from the header naming the patient reads in the report, and is cleaned when anonymised;
    the prior's date moves with the study date; the PHI verifier passes the export."""
    from meddiag_desktop.io import load
    from meddiag_desktop.report import build_report
    from meddiag_desktop.report.anonymize import Deidentifier, pseudonymise_report
    from meddiag_desktop.report.export import export_report
    from meddiag_desktop.report.model import Comparison, shift_da
    from meddiag_desktop.report.pdf import render_pdf

    folder, _, _ = study
    _with_reason(folder, "Follow-up of nodule, Alonso Quixote")
    volume = load(folder)
    report = build_report(volume, key_images=[], comparison=Comparison("20240102", "prior of Quixote"))
    assert report.indication == "Follow-up of nodule, Alonso Quixote"
    assert report.technique.contrast == "Iohexol"
    plain = " ".join(_text(render_pdf(report), tmp_path).split())
    assert "Follow-up of nodule, Alonso Quixote" in plain and "contrast: Iohexol" in plain

    deid = Deidentifier()
    anon = pseudonymise_report(report, deid)
    assert report.indication_source == "ReasonForStudy"
    assert anon.indication == "[removed]"  # the profile removes ReasonForStudy: so does the report
    assert anon.technique.contrast == "given"  # ContrastBolusAgent is replaced by the profile: the fact stays
    typed = pseudonymise_report(replace(report, indication="Follow-up of nodule, Alonso Quixote",
                                        indication_source=""), deid)
    assert typed.indication == "Follow-up of nodule, [removed] [removed]"  # the reader's words, cleaned
    assert "Quixote" not in anon.comparison.description
    assert anon.comparison.study_date == shift_da("20240102", deid.shift) != "20240102"
    out = tmp_path / "anon"
    result = export_report(report, volume, out, anonymize=True)  # runs the PHI verifier on every file
    text = " ".join(_text(result.paths["pdf"].read_bytes(), tmp_path).split())
    assert "Quixote" not in text and "Alonso" not in text and "Iohexol" not in text
    assert "2024-01-02" not in text


def test_small_air_spaces_are_not_taken_for_lungs(study):
    """The 12-slice phantom's 'lungs' hold a few mL: no lobe is claimed, the side still is."""
    from meddiag_desktop.report.location import locate, lung_model

    _, volume, _ = study
    assert lung_model(volume) is None
    c = volume.center_lps()
    assert locate(volume, c + (-10.0, 0, 0)).text == "right side"  # LPS -x: the patient's right
    assert locate(volume, c + (10.0, 0, 0)).text == "left side"
