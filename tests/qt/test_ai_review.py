"""GUI: a refused plugin offers "Run anyway" (recorded), findings are proposals until the reader decides,
the risk panel and the report follow the decisions, and GUI runs and risk evaluations are audited."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from qt_helpers import open_and_wait

pytest.importorskip("pytestqt")

pytestmark = pytest.mark.gui
READER = "Dr Rita Reader"


def _audit(path=None):
    path = Path(path or os.environ["MEDDIAG_AUDIT_LOG"])
    return [json.loads(ln) for ln in path.read_text().splitlines()] if path.exists() else []


def test_refused_plugin_offers_run_anyway_and_marks_the_result(qtbot, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from tests.ai.plugin_factory import make_plugin

    from meddiag_desktop.ai.discovery import plugin_from_folder
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.qt.ai_panel import AIPanel

    info = plugin_from_folder(make_plugin(tmp_path / "plugins", "test.threshold", spacing=(1.5, 1.5, 2.0)), "user")
    panel = AIPanel(plugins=lambda: [info], run_options={"start_timeout": 60, "stall_timeout": 60}, prewarm=False)
    qtbot.addWidget(panel)
    panel.resize(460, 760)
    panel.show()
    a = np.full((40, 50, 60), -1000, np.int16)
    a[10:30, 10:40, 20:50] = 500
    panel.set_volume(Volume(a, (1.5, 1.5, 2.0), metadata={"modality": "MR", "study_uid": "1.2.3"}))
    before = len(_audit())
    panel.run_button.click()
    qtbot.waitUntil(lambda: panel.force_dialog is not None and panel.force_dialog.isVisible(), timeout=30000)
    assert "MR study; this plugin expects CT." in panel.force_dialog.text()
    assert panel.result is None and not panel.is_busy()
    if os.environ.get("MEDDIAG_SHOTS"):
        panel.force_dialog.grab().save(os.path.join(os.environ["MEDDIAG_SHOTS"], "run_anyway.png"))
    with qtbot.waitSignal(panel.runReady, timeout=90000) as blocker:
        panel.run_anyway_button.click()
    run = blocker.args[0]
    assert run.outside_intended_use == "MR study; this plugin expects CT."
    assert panel.result_use.text().startswith("OUTSIDE INTENDED USE (run anyway): MR study")
    assert panel.overlay.intended_use.startswith("OUTSIDE INTENDED USE")
    assert panel.overlay.legend().endswith("\u2014 outside intended use")  # the on-image legend says it too
    assert run.provenance.name.endswith("(outside intended use)")
    rows = [panel.review.table.item(r, 0).text() for r in range(panel.review.table.rowCount())]
    assert rows and all(r.endswith("(outside intended use)") for r in rows)
    events = _audit()[before:]
    assert [(e["outcome"], e.get("forced", False), e["via"]) for e in events] == \
        [("refused", False, "gui"), ("ok", True, "gui")]
    assert events[0]["mismatch"] == "MR study; this plugin expects CT."
    panel.shutdown(5000)


def _seg_run(vol):
    """An AI run (as the workflow returns it) with a lung, a nodule and a one-voxel false-positive nodule."""
    from types import SimpleNamespace

    from meddiag_desktop.report.model import Provenance
    from meddiag_desktop.workflow import AIRun, findings_from_result

    labels = np.zeros(vol.array.shape, np.uint8)
    labels[6:14, 8:24, 8:30] = 1
    labels[8:12, 12:18, 12:18] = 7  # the nodule, inside the lung
    labels[2, 40, 50] = 7  # the false positive
    result = SimpleNamespace(task="segmentation", plugin_id="test.seg", labels=labels,
                             label_names={1: "right lung", 7: "nodule"}, label_colors={1: "#3080ff", 7: "#ff3030"},
                             stats=[], intended_use="testing", device="cpu", timings={}, notes=[], warnings=[])
    prov = Provenance("test.seg", "Test segmentation", "0.1", ("0" * 64,), "cpu", "2026-11-29T10:00:00+00:00", "testing")
    sizes: dict = {}
    findings = findings_from_result(result, prov, vol, sizes)
    return AIRun(result, SimpleNamespace(id="test.seg"), prov, findings, "", sizes)


def test_reader_rejects_a_false_positive_and_risk_overlay_and_report_follow(qtbot, main_window, ct_series,
                                                                             monkeypatch, user_folders):
    monkeypatch.setenv("MEDDIAG_READER", READER)
    win = main_window
    vol = open_and_wait(qtbot, win, ct_series)
    panels = win.panels
    run = _seg_run(vol)
    panels.ai._on_result(run)
    review = panels.ai.review
    assert review.table.rowCount() == 3 and review.title.text().startswith("AI findings: 3 proposal(s)")
    assert review.table.item(1, 1).text().endswith("mL") and " mm, " in review.table.item(1, 1).text()
    qtbot.waitUntil(lambda: panels.risk.proposals.get("nodule_count") is not None, timeout=20000)
    assert panels.risk.proposals["nodule_count"].value == 2 and "nodule_count" not in panels.risk.derived

    fp_lps = vol.to_lps((50, 40, 2))
    fp = next(f for f in run.findings if f.point_lps is not None and np.allclose(f.point_lps, fp_lps))
    assert fp.key == "test.seg:seg:7:1"  # components are numbered in raster order: the false positive comes first
    review.select(fp.key)  # selecting a finding takes the views to it
    assert np.allclose(win.state.cursor, fp_lps)
    review.reject_button.click()
    review.accept_all_button.click()
    assert {f.key: f.status for f in panels.findings} == {"test.seg:seg:1": "accepted", "test.seg:seg:7:1": "rejected",
                                                          "test.seg:seg:7:2": "accepted"}
    assert all(f.decided_by == READER for f in panels.findings)
    qtbot.waitUntil(lambda: "nodule_count" in panels.risk.derived, timeout=20000)
    assert panels.risk.derived["nodule_count"].value == 1 and not panels.risk.proposals_label.isVisible()
    qtbot.waitUntil(lambda: panels.ai.overlay.labels[2, 40, 50] == 0, timeout=20000)  # the rejected one is hidden
    assert not win.error_banner.isVisible()
    assert panels.ai.overlay.labels[10, 15, 15] == 7

    for name, value in (("family_history", False), ("emphysema", False), ("spiculation", False),
                        ("nodule_type", "solid"), ("age", 60), ("sex", "female")):
        panels.risk.set_value(name, value)
    assert panels.risk.result is not None
    risk_events = [e for e in _audit(user_folders.audit_log) if e["action"] == "risk"]
    assert risk_events and risk_events[-1]["via"] == "gui" and "nodule_count" in risk_events[-1]["from_image"]

    from meddiag_desktop.qt.report_export import session_report
    from meddiag_desktop.report.dicom_sr import build_sr  # noqa: F401 - the SR path is exercised in tests/report

    report = session_report(win)
    names = [s.display_name for s in report.segments]
    assert names == ["right lung", "nodule"] and all(s.confirmed for s in report.segments)
    assert report.confirmed_by == [READER] and report.risks[0].inputs
    count = next(i for i in report.risks[0].inputs if i.name == "nodule_count")
    assert count.value == 1 and count.origin == "image"
    assert int((report.label_maps[0].array == 7).sum()) == int((run.result.labels == 7).sum()) - 1

    if os.environ.get("MEDDIAG_SHOTS"):
        panels.ai.window().grab().save(os.path.join(os.environ["MEDDIAG_SHOTS"], "window_review.png"))
