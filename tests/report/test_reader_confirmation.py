"""Reader confirmation end to end: proposals stay out of the risk inputs and are marked in the PDF and SR;
a rejected false positive leaves the nodule count, the SEG, the SR and the PDF; the person observes what
the person confirmed. Also: the one measurement (table, risk inputs, PDF, SR) and forced runs in every output."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
from tests.report.report_helpers import COLORS, NAMES, dciodvfy, pdf_text, sr_items

from meddiag_desktop.cli import main
from meddiag_desktop.core.findings import FindingSet
from meddiag_desktop.report import LabelMap, Provenance, build_report
from meddiag_desktop.report.export import export_report
from meddiag_desktop.workflow.session import image_risk_inputs
from meddiag_desktop.workflow import findings_from_result

PID = "meddiag.chest-ct-seg"
READER = "Dr Rita Reader"


def _prov(outside: str = "") -> Provenance:
    from meddiag_desktop.ai.discovery import find_plugin

    return Provenance.from_plugin(find_plugin(PID), device="cpu", outside_intended_use=outside)


class _Seg:
    """What findings_from_result reads of a SegmentationResult."""

    task = "segmentation"
    plugin_id = PID

    def __init__(self, labels, names):
        self.labels, self.label_names = labels, names


def _with_false_positive(volume, labels):
    """The phantom's labels plus a one-voxel 'nodule' (the demo's 0.06 mL false positive) in the left lung."""
    out = labels.copy()
    z, y, x = np.argwhere(labels == 2)[len(np.argwhere(labels == 2)) // 2]
    out[z, y, x] = 3
    return out


def test_rejecting_the_false_positive_follows_to_risk_seg_sr_and_pdf(study, tmp_path):
    _, volume, labels = study
    labels = _with_false_positive(volume, labels)
    prov = _prov()
    findings = FindingSet(findings_from_result(_Seg(labels, NAMES), prov, volume))
    keys = [f.key for f in findings]
    assert keys == [f"{PID}:seg:1", f"{PID}:seg:2", f"{PID}:seg:3:1", f"{PID}:seg:3:2"]
    lm = LabelMap(labels, NAMES, COLORS, prov)
    # nothing confirmed: no nodule input from the image
    assert "nodule_count" not in image_risk_inputs(volume, [lm], findings=findings)
    assert image_risk_inputs(volume, [lm])["nodule_count"].value == 2  # unreviewed maps give both
    findings.reject(f"{PID}:seg:3:2", by=READER)  # the false positive
    findings.accept_all(READER)
    derived = image_risk_inputs(volume, [lm], findings=findings)
    assert derived["nodule_count"].value == 1 and derived["upper_lobe"].source == "segmentation"

    report = build_report(volume, label_maps=[lm], findings=findings, key_images=[], reader_name=READER)
    assert [s.display_name for s in report.segments] == ["right lung", "left lung", "nodule"]
    assert all(s.confirmed and s.decided_by == READER for s in report.segments)
    result = export_report(report, volume, tmp_path / "out")
    seg = pydicom.dcmread(result.paths["seg"])
    assert int((seg.pixel_array > 0).sum()) == int(np.isin(labels, [1, 2, 3]).sum()) - 1  # the FP voxel is gone
    sr = pydicom.dcmread(result.paths["sr"])
    items = sr_items(sr)
    assert ("Person Observer Name", "Reader^Rita^^Dr") in items
    assert [v for n, v in items if n == "AI finding status"] == ["Confirmed by reader"] * 3
    assert sum(1 for n, v in items if n == "Tracking Identifier" and str(v).startswith("nodule")) == 1
    text = " ".join(pdf_text(result.paths["pdf"]).split())
    assert "AI findings confirmed by: Dr Rita Reader." in text
    assert "unconfirmed" not in text and "nodule 2" not in text
    assert dciodvfy(result.paths["sr"]) == []


def test_headless_report_marks_every_ai_finding_unconfirmed_unless_accept_ai(study, tmp_path, capsys, audit_log):
    pytest.importorskip("torch")
    from tests.ai.plugin_factory import make_plugin

    folder, _, _ = study
    plugin = make_plugin(tmp_path / "plugins", "test.bright")
    out = tmp_path / "plain"
    rc = main(["report", str(folder), "--out", str(out), "--plugin", str(plugin), "--device", "cpu",
               "--reader", READER, "--json"])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    summary = json.loads(printed.out)
    assert summary["ok"] and summary["findings"] and all(f["status"] == "proposed" for f in summary["findings"])
    assert set(summary["outputs"]) == {"pdf", "seg", "sr"}
    text = " ".join(pdf_text(out / "report.pdf").split())
    assert "AI proposals: unconfirmed, not reviewed by a reader" in text and "AI proposal, unconfirmed" in text
    sr = pydicom.dcmread(out / "sr.dcm")
    items = sr_items(sr)
    assert [v for n, v in items if n == "AI finding status"] == ["AI proposal, unconfirmed"] * len(summary["findings"])
    assert not any(n == "Person Observer Name" for n, _ in items)  # the device alone observed
    assert ("Device Observer Name", "MedDiag Desktop") in items or any(n == "Device Observer UID" for n, _ in items)
    assert sr.SeriesDescription == "MedDiag measurement report (AI unconfirmed)"

    rc = main(["report", str(folder), "--out", str(tmp_path / "accepted"), "--plugin", str(plugin), "--device", "cpu",
               "--reader", READER, "--accept-ai", "--json"])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert all(f["status"] == "accepted" and f["decided_by"] == READER for f in json.loads(printed.out)["findings"])
    items = sr_items(pydicom.dcmread(tmp_path / "accepted" / "sr.dcm"))
    assert ("Person Observer Name", "Reader^Rita^^Dr") in items
    assert set(v for n, v in items if n == "AI finding status") == {"Confirmed by reader"}
    events = [json.loads(ln) for ln in audit_log.read_text().splitlines()]
    accepted = [e for e in events if e["outcome"] == "accepted"]
    assert len(accepted) == 1 and accepted[0]["via"] == "cli --accept-ai" and accepted[0]["findings"] >= 1


def test_one_nodule_has_one_size_in_table_risk_pdf_and_sr(study, tmp_path):
    """The phantom's 10 mm ball: the measurements table, the risk inputs, the PDF and the SR agree."""
    from meddiag_desktop.core.label_geometry import SIZE_NAMES, axial_diameters
    from meddiag_desktop.qt.measurements_panel import segment_rows  # Qt import only; no widget is made

    _, volume, labels = study
    findings = FindingSet(findings_from_result(_Seg(labels, NAMES), _prov(), volume))
    findings.accept_all(READER)
    lm = LabelMap(labels, NAMES, COLORS, _prov())
    table = next(r for r in segment_rows(volume, labels, NAMES) if r["name"] == "nodule")
    risk = image_risk_inputs(volume, [lm], findings=findings)
    report = build_report(volume, label_maps=[lm], findings=findings, key_images=[], reader_name=READER)
    result = export_report(report, volume, tmp_path / "out")
    long_mm, mean_mm = table["long_axis_mm"], table["mean_diameter_mm"]
    assert 9.0 <= mean_mm <= 11.0
    assert risk["diameter_mm"].value == long_mm and risk["nodule_size_mm"].value == mean_mm
    assert SIZE_NAMES["mean_diameter_mm"].lower() in risk["nodule_size_mm"].detail
    pdf_text(result.paths["pdf"])  # skips without poppler
    import subprocess

    lines = subprocess.run(["pdftotext", "-layout", str(result.paths["pdf"]), "-"], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.split()[:1] == ["Structure"])
    header_words = " ".join(lines[head:head + 3]).split()  # the column titles wrap over three lines
    for name in ("long_axis_mm", "short_axis_mm", "mean_diameter_mm"):
        assert all(w in header_words for w in SIZE_NAMES[name].split())
    row = next(ln for ln in lines if ln.split()[:1] == ["nodule"]).split()
    short_mm = axial_diameters(volume, labels == 3).short_axis_mm
    assert f"short axis {short_mm:.1f} mm" in risk["nodule_size_mm"].detail
    assert row[1:6] == [f"{table['volume_ml']:.2f}", "30", f"{long_mm:.1f}", f"{short_mm:.1f}", f"{mean_mm:.1f}"]
    items = sr_items(pydicom.dcmread(result.paths["sr"]))
    start = items.index(("Tracking Identifier", "nodule"))
    end = next((i for i in range(start + 1, len(items)) if items[i][0] == "Tracking Identifier"), len(items))
    group = items[start:end]
    assert ("Long Axis", long_mm) in group and ("Short Axis", short_mm) in group and ("Diameter", mean_mm) in group


def test_forced_run_says_outside_intended_use_in_seg_sr_and_pdf(study, tmp_path):
    _, volume, labels = study
    sentence = "MR study; this plugin expects CT."
    prov = _prov(sentence)
    lm = LabelMap(labels, NAMES, COLORS, prov)
    report = build_report(volume, label_maps=[lm], key_images=[])
    result = export_report(report, volume, tmp_path / "out")
    seg = pydicom.dcmread(result.paths["seg"], stop_before_pixels=True)
    algo = seg.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0]
    assert algo.AlgorithmName.endswith("(outside intended use)")
    sr = pydicom.dcmread(result.paths["sr"])
    assert sr.SeriesDescription == "MedDiag measurement report (AI outside intended use)"
    assert ("Outside intended use", "Yes") in sr_items(sr)
    text = " ".join(pdf_text(result.paths["pdf"]).split())
    assert "OUTSIDE INTENDED USE" in text and sentence in text


def test_a_reader_edited_label_is_the_readers_in_risk_and_report(study):
    """The segmentation editor's hook: after mark_label_edited, new components of the label count as edited."""
    _, volume, labels = study
    findings = FindingSet(findings_from_result(_Seg(labels, NAMES), _prov(), volume))
    findings.accept_all(READER)
    edited = _with_false_positive(volume, labels)  # the reader paints a second 'nodule'
    findings.mark_label_edited(3, by=READER)
    lm = LabelMap(edited, NAMES, COLORS, _prov())
    assert image_risk_inputs(volume, [lm], findings=findings)["nodule_count"].value == 2
    report = build_report(volume, label_maps=[lm], findings=findings, key_images=[])
    nodules = [s for s in report.segments if s.name == "nodule"]
    assert [s.status for s in nodules] == ["edited"] * 3 and all(s.decided_by == READER for s in nodules)
