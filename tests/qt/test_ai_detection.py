"""GUI: a detection result's boxes are proposed findings in the AI panel, drawn in the slice views where the
slice cuts them (dashed yellow while proposed, green once accepted, hidden once rejected), and the report
lists the accepted box as a finding and the unreviewed one as a proposal."""

from __future__ import annotations

import os

import numpy as np
import pytest

from qt_helpers import open_and_wait

pytest.importorskip("pytestqt")
pytestmark = pytest.mark.gui
READER = "Dr Rita Reader"
PID = "lung_nodule_ct_detection"


def _det_run(vol):
    from types import SimpleNamespace

    from meddiag_desktop.ai.results import Detection, DetectionResult
    from meddiag_desktop.report.model import Provenance
    from meddiag_desktop.workflow import AIRun, findings_from_result

    a = tuple(float(c) for c in vol.to_lps((30, 30, 10)))
    b = tuple(float(c) for c in vol.to_lps((12, 14, 4)))
    c = tuple(float(c) for c in vol.to_lps((50, 20, 16)))
    result = DetectionResult(PID, [Detection(a, (12.0, 10.0, 8.0), 0.91, 0), Detection(b, (6.0, 6.0, 6.0), 0.47, 0),
                                   Detection(c, (8.0, 8.0, 6.0), 0.3, 0)], "research only")
    prov = Provenance(PID, "Lung nodule detection", "0.6.9", ("0" * 64,), "cpu", "2026-11-29T10:00:00+00:00",
                      "research only")
    return AIRun(result, SimpleNamespace(id=PID), prov, findings_from_result(result, prov, vol), "", {})


def _drawn(win, view, i):
    """(visible, colour, number of line pieces) of box ``i`` in ``view``."""
    layer = win.overlays._det_layers[view]
    item = layer._items[i]
    return (bool(item.actor.GetVisibility()), tuple(round(v, 2) for v in item.actor.GetProperty().GetColor()),
            item.poly.GetNumberOfLines())


def test_boxes_are_proposals_drawn_by_status_and_reach_the_report(qtbot, main_window, ct_series, monkeypatch):
    monkeypatch.setenv("MEDDIAG_READER", READER)
    win = main_window
    vol = open_and_wait(qtbot, win, ct_series)
    panels = win.panels
    run = _det_run(vol)
    panels.ai._on_result(run)
    ai, review = panels.ai, panels.ai.review

    # the results table: one row per box with its score, centre and size
    assert ai.table.rowCount() == 3
    assert [ai.table.horizontalHeaderItem(c).text() for c in range(4)] == ["Box", "Score", "Centre (LPS mm)",
                                                                          "Size x, y, z (mm)"]
    assert (ai.table.item(0, 0).text(), ai.table.item(0, 1).text()) == ("nodule 1", "0.91")
    assert ai.table.item(0, 3).text() == "12.0 \u00d7 10.0 \u00d7 8.0"
    assert review.table.rowCount() == 3 and review.title.text().startswith("AI findings: 3 proposal(s)")
    assert review.table.item(0, 0).text() == "nodule 1"
    assert review.table.item(0, 1).text() == "12.0 \u00d7 10.0 \u00d7 8.0 mm, score 0.91"

    a, b = run.result.detections[0], run.result.detections[1]
    review.select(f"{PID}:det:1")  # selecting a box takes the views to its centre
    assert np.allclose(win.state.cursor, a.center_lps)
    yellow, green = (1.0, 0.85, 0.1), (0.2, 0.85, 0.3)
    for view in ("axial", "coronal", "sagittal"):
        visible, colour, pieces = _drawn(win, view, 0)
        assert visible and colour == yellow and pieces > 4, view  # dashed: many pieces
        assert not _drawn(win, view, 1)[0]  # the other box is not on these slices
    axial = win.overlays._det_layers["axial"]._items[0]
    assert axial.text.GetInput() == "AI? nodule 0.91"
    review.accept_button.click()
    for view in ("axial", "coronal", "sagittal"):
        assert _drawn(win, view, 0) == (True, green, 1), view  # accepted: one solid rectangle
    assert win.overlays._det_layers["axial"]._items[0].text.GetInput() == "nodule 0.91"

    review.select(f"{PID}:det:2")
    assert np.allclose(win.state.cursor, b.center_lps) and _drawn(win, "axial", 1)[0]
    review.reject_button.click()
    assert not _drawn(win, "axial", 1)[0]  # rejected: hidden
    review.select(f"{PID}:det:1")
    if os.environ.get("MEDDIAG_SHOTS"):
        from meddiag_desktop.qt.screenshot import save_window_png

        panels._docks["AI"].raise_()
        qtbot.wait(200)
        save_window_png(win, os.path.join(os.environ["MEDDIAG_SHOTS"], "detections.png"))
        review.select(f"{PID}:det:3")
        qtbot.wait(200)
        save_window_png(win, os.path.join(os.environ["MEDDIAG_SHOTS"], "detections_proposed.png"))
        review.select(f"{PID}:det:1")
    assert {f.key: f.status for f in panels.findings} == {f"{PID}:det:1": "accepted", f"{PID}:det:2": "rejected",
                                                          f"{PID}:det:3": "proposed"}
    assert panels.detection is run.result and not win.error_banner.isVisible()

    from meddiag_desktop.qt.report_export import session_report

    report = session_report(win)
    assert [(d.display_name, d.status, d.decided_by) for d in report.detections] == [
        ("nodule 1", "accepted", READER), ("nodule 3", "proposed", "")]
    assert report.confirmed_by == [READER]
    # the risk panel re-derives its inputs after each result and decision: let it finish before the window closes
    qtbot.waitUntil(lambda: not win.panels._risk_timer.isActive() and not win.is_busy(), timeout=30000)

