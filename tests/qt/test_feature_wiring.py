"""The feature panels wired into the main window: AI results reach the viewer, the risk panel and the report."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from qt_helpers import open_and_wait

pytestmark = pytest.mark.gui


def _segmentation(vol):
    labels = np.zeros(vol.array.shape, np.uint8)
    labels[8:12, 10:20, 10:25] = 1  # a "lung"
    labels[9:11, 30:34, 40:44] = 7  # a nodule
    return SimpleNamespace(task="segmentation", plugin_id="test_seg", labels=labels,
                           label_names={1: "right lung", 7: "nodule"}, label_colors={1: "#3080ff", 7: "#ff3030"},
                           stats=[], intended_use="testing", device="cpu", timings={}, notes=[], warnings=[])


def test_ai_results_reach_overlay_risk_report_and_session(qtbot, main_window, ct_series, monkeypatch, user_folders):
    win = main_window
    vol = open_and_wait(qtbot, win, ct_series)
    panels = win.panels
    assert panels.ai is not None and panels.risk is not None
    assert user_folders.audit_log.read_text().count('"action": "open"') == 1
    seg = _segmentation(vol)
    panels.ai._on_result(seg)  # as the AI panel does when a run finishes
    assert all(w.slice_view._overlay is not None for w in win.slice_widgets.values())
    assert [f.status for f in panels.findings] == ["proposed", "proposed"]  # proposals feed no risk input
    qtbot.waitUntil(lambda: panels.risk.proposals.get("nodule_count") is not None, timeout=20000)
    assert "nodule_count" not in panels.risk.derived and panels.risk.proposals_label.isVisible()
    panels.findings.accept_all("Dr Test")
    qtbot.waitUntil(lambda: "nodule_count" in panels.risk.derived, timeout=20000)
    derived = panels.risk.derived
    assert derived["nodule_count"].value == 1
    seg_rows = win.tools.measurements_panel.segments
    qtbot.waitUntil(lambda: seg_rows.rowCount() == 2, timeout=20000)
    cls = SimpleNamespace(task="classification", plugin_id="test_cls", classes=["solid", "part_solid", "non_solid"],
                          findings=[SimpleNamespace(point_lps=(0.0, 0.0, 0.0), top_class="part_solid", source="user",
                                                    probabilities={"solid": 0.1, "part_solid": 0.8, "non_solid": 0.1})],
                          probabilities={"solid": 0.1, "part_solid": 0.8, "non_solid": 0.1}, explanation=None,
                          intended_use="testing", device="cpu", timings={}, notes=[], warnings=[])
    from meddiag_desktop.workflow import findings_from_result

    panels.findings.extend(findings_from_result(cls, None, vol))  # a classifier run's proposals...
    panels._on_result(cls)  # ...and its result (the segmentation overlay stays)
    assert "nodule_type" not in panels.risk.derived
    panels.findings.accept_all("Dr Test")
    qtbot.waitUntil(lambda: "nodule_type" in panels.risk.derived, timeout=20000)
    assert panels.risk.derived["nodule_type"].value == "part_solid"

    # the report holds the session: measurements, AI label map, key images without patient text
    from meddiag_desktop.core.measurements import Measurement
    from meddiag_desktop.qt.report_export import session_report

    c = win.state.cursor
    win.state.measurements.add(Measurement("distance", [c, c + (10, 0, 0)], (0, 0, -1)))
    report = session_report(win)
    assert [m.unit for m in report.measurements] == ["mm"] and abs(report.measurements[0].value - 10) < 1e-9
    assert len(report.label_maps) == 1 and len(report.key_images) == 3
    assert all(k.png.startswith(b"\x89PNG") for k in report.key_images)
    assert not win.error_banner.isVisible()

    # the session keeps the overlay (label map stored beside it) and restores it
    path = win.sessions.save()
    saved = win.sessions.store.load(win.sessions.key)
    assert saved.overlays["plugin_id"] == "test_seg" and path.parent == user_folders.sessions
    win.set_overlay(None)
    win.tools.measurements_panel.set_segments([], "")
    win.sessions.restore(saved)
    assert np.array_equal(win.restored_overlay.labels, seg.labels)
    assert all(w.slice_view._overlay is not None for w in win.slice_widgets.values())
    qtbot.waitUntil(lambda: seg_rows.rowCount() == 2, timeout=20000)  # its segment table comes back too


def test_about_and_export_report_dialogs_open(qtbot, main_window, ct_series, monkeypatch):
    win = main_window
    about = win.show_about()
    assert about is not None and about.isVisible()
    about.close()
    assert win.export_report() is None and "Open a study first" in win.last_error  # shown, not raised
    open_and_wait(qtbot, win, ct_series)
    dialog = win.export_report()
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=30000)
    dialog.close()
