"""Detection boxes in the report: one finding per box (centre, size, score), the reader's decisions followed,
accepted boxes listed as findings in the PDF and the SR (centre as a 3D point, size along x, y, z),
unconfirmed ones marked as proposals, rejected ones left out."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from tests.report.report_helpers import dciodvfy, pdf_text, sr_items

from meddiag_desktop.ai.results import Detection, DetectionResult
from meddiag_desktop.core.findings import FindingSet
from meddiag_desktop.report import Provenance, build_report
from meddiag_desktop.report.build import detection_findings
from meddiag_desktop.report.export import export_report
from meddiag_desktop.workflow import findings_from_result

PID = "lung_nodule_ct_detection"
READER = "Dr Rita Reader"


def test_accepted_boxes_are_findings_proposals_are_marked_rejected_are_gone(study, tmp_path):
    _, volume, _ = study
    c1 = tuple(float(v) for v in volume.to_lps((20, 24, 10)))
    c2 = tuple(float(v) for v in volume.to_lps((40, 40, 5)))
    c3 = tuple(float(v) for v in volume.to_lps((10, 12, 14)))
    result = DetectionResult(PID, [Detection(c1, (6.0, 8.0, 4.0), 0.9, 0), Detection(c2, (3.0, 3.0, 3.0), 0.4, 0),
                                   Detection(c3, (5.0, 5.0, 5.0), 0.25, 0)], "research only")
    prov = Provenance(PID, "Lung nodule detection", "0.6.9", ("0" * 64,), "cpu", "2026-11-29T10:00:00+00:00",
                      "research only")
    findings = FindingSet(findings_from_result(result, prov, volume))
    f1 = findings.get(f"{PID}:det:1")
    assert f1.display_name == "nodule 1" and f1.label_value is None
    assert (f1.kind, f1.name, f1.point_lps, f1.size_mm, f1.score) == ("detection", "nodule", c1, (6.0, 8.0, 4.0), 0.9)
    assert [f.key for f in findings] == [f"{PID}:det:{i}" for i in (1, 2, 3)]
    assert all(f.status == "proposed" for f in findings)
    findings.accept(f"{PID}:det:1", READER)
    findings.reject(f"{PID}:det:2", READER)  # the false positive

    dets = detection_findings(result, prov, findings)
    assert [(d.display_name, d.status) for d in dets] == [("nodule 1", "accepted"), ("nodule 3", "proposed")]
    report = build_report(volume, detections=dets, findings=findings, key_images=[], reader_name=READER)
    assert report.confirmed_by == [READER] and [d.display_name for d in report.unconfirmed] == ["nodule 3"]
    assert report.provenances == [prov]
    out = export_report(report, volume, tmp_path / "out")
    assert set(out.paths) == {"pdf", "sr"}

    items = sr_items(pydicom.dcmread(out.paths["sr"]))
    tracking = [v for n, v in items if n == "Tracking Identifier"]
    assert "nodule 1" in tracking and "nodule 3" in tracking and "nodule 2" not in tracking
    assert [v for n, v in items if n.startswith("Box size along")] == [6.0, 8.0, 4.0, 5.0, 5.0, 5.0]
    assert [v for n, v in items if n == "Detection score"] == [0.9, 0.25]
    points = [v for _, v in items if isinstance(v, tuple)]
    assert np.allclose(points[0], c1, atol=1e-3) and np.allclose(points[-1], c3, atol=1e-3)
    assert [v for n, v in items if n == "AI finding status"] == ["Confirmed by reader", "AI proposal, unconfirmed"]
    assert ("Person Observer Name", "Reader^Rita^^Dr") in items
    assert dciodvfy(out.paths["sr"]) == []

    text = " ".join(pdf_text(out.paths["pdf"]).split())
    assert "Detected findings (AI, confirmed by the reader)" in text
    assert "AI detection proposals: unconfirmed, not reviewed by a reader (1)" in text
    assert "nodule 1" in text and "nodule 3" in text and "nodule 2" not in text
    assert "6.0 × 8.0 × 4.0" in text and "0.90" in text


def test_headless_session_lists_boxes_as_proposals_until_accept_ai(study, monkeypatch, audit_log):
    """``meddiag report --plugin`` with a detection bundle (the lung bundle needs torchvision, which cannot be
    installed here, so the worker's run is replaced by its result): boxes are proposals, --accept-ai accepts them."""
    from types import SimpleNamespace

    import meddiag_desktop.ai.discovery as discovery
    import meddiag_desktop.workflow as workflow
    from meddiag_desktop.workflow.session import accept_all, run_plugins
    from meddiag_desktop.workflow import AIRun

    _, volume, _ = study
    centre = tuple(float(v) for v in volume.to_lps((20, 24, 10)))
    result = DetectionResult(PID, [Detection(centre, (6.0, 8.0, 4.0), 0.9, 0)], "research only")
    prov = Provenance(PID, "Lung nodule detection", "0.6.9", ("0" * 64,), "cpu", "2026-11-29T10:00:00+00:00",
                      "research only")
    monkeypatch.setattr(discovery, "find_plugin", lambda pid: SimpleNamespace(id=pid, ok=True))
    monkeypatch.setattr(workflow, "run_ai", lambda info, vol, **kw: AIRun(result, info, prov,
                                                                            findings_from_result(result, prov, vol)))
    session = run_plugins(volume, [PID])
    assert [(d.display_name, d.status) for d in session.detections] == [("nodule 1", "proposed")]
    assert session.classifications == [] and session.label_maps == []
    report = build_report(volume, detections=session.detections, findings=session.findings, key_images=[])
    assert [d.display_name for d in report.unconfirmed] == ["nodule 1"]
    assert accept_all(session, READER) == 1
    assert [(d.status, d.decided_by) for d in session.detections] == [("accepted", READER)]


def _saved_by_the_lung_bundle(tmp_path, volume, centres):
    """Boxes written by lung_nodule_ct_detection's own scripts/detection_saver.py, read back as the worker does."""
    import json
    import sys
    from tests.ai import zoo_factory as zf

    if not zf.ZOO.is_dir():
        pytest.skip("zoo bundles not found")
    torch = pytest.importorskip("torch")
    from monai.data import MetaTensor

    from meddiag_desktop.ai.detection import detections_from_outputs

    bundle = zf.copy_bundle("lung_nodule_ct_detection", tmp_path / "bundle")
    sys.path.insert(0, str(bundle))
    try:
        from scripts.detection_saver import DetectionSaver
    finally:
        sys.path.remove(str(bundle))
        sys.modules.pop("scripts", None)
    out = tmp_path / "saved"
    out.mkdir()
    saver = DetectionSaver(output_dir=str(out), filename="result.json", output_transform=lambda x: x,
                           batch_transform=lambda x: [{"filename_or_obj": "case.nii.gz"} for _ in x])
    boxes = torch.tensor([[*c, 6.0, 8.0, 4.0] for c in centres])

    class _State:
        batch = [{"image": MetaTensor(torch.zeros(1, 2, 2, 2))}]
        output = [{"box": boxes, "label": torch.tensor([0] * len(centres)),
                   "label_scores": torch.tensor([0.3, 0.8][: len(centres)])}]

    class _Engine:
        state = _State()

    saver._started(_Engine())
    saver(_Engine())
    saver._finalize(_Engine())
    return detections_from_outputs([], [json.loads(p.read_text()) for p in out.rglob("*.json")])


def test_boxes_the_lung_bundles_saver_wrote_reach_the_sr_unchanged(study, tmp_path):
    _, volume, _ = study
    c_low = tuple(float(v) for v in volume.to_lps((20, 24, 10)))
    c_high = tuple(float(v) for v in volume.to_lps((40, 40, 5)))
    dets = _saved_by_the_lung_bundle(tmp_path, volume, [c_low, c_high])
    assert [d.score for d in dets] == pytest.approx([0.8, 0.3])  # highest score first
    result = DetectionResult(PID, dets, "research only")
    prov = Provenance(PID, "Lung nodule detection", "0.6.9", ("0" * 64,), "cpu", "2026-11-29T10:00:00+00:00",
                      "research only")
    findings = FindingSet(findings_from_result(result, prov, volume))
    findings.accept(f"{PID}:det:1", READER)
    report = build_report(volume, detections=detection_findings(result, prov, findings), findings=findings,
                          key_images=[], reader_name=READER)
    out = export_report(report, volume, tmp_path / "out", pdf=False)
    items = sr_items(pydicom.dcmread(out.paths["sr"]))
    points = [v for _, v in items if isinstance(v, tuple)]
    assert np.allclose(points[0], c_high, atol=1e-3) and np.allclose(points[-1], c_low, atol=1e-3)
    assert [v for n, v in items if n == "AI finding status"] == ["Confirmed by reader", "AI proposal, unconfirmed"]
