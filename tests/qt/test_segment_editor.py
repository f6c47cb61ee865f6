"""The segment editor driven through the real slice widgets with synthetic mouse events.

The study has anisotropic voxels (0.8 x 0.9 x 2.0 mm); expected voxels are computed
here from where the mouse events landed, not with the editing code under test.
"""

from __future__ import annotations

import shutil
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from qt_helpers import open_and_wait

pytestmark = pytest.mark.gui
LEFT, NONE = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton


def _send(w, kind, lps, button, buttons):
    sv = w.slice_view
    x, y = (round(c) for c in w.widget_pos(*sv.lps_to_display(lps)))
    types = {"press": QMouseEvent.Type.MouseButtonPress, "move": QMouseEvent.Type.MouseMove,
             "release": QMouseEvent.Type.MouseButtonRelease}
    pos = QPointF(x, y)
    QApplication.sendEvent(w, QMouseEvent(types[kind], pos, w.mapToGlobal(pos), button, buttons,
                                          Qt.KeyboardModifier.NoModifier))
    return sv.display_to_lps(*w.display_pos(x, y))  # where it landed


def _stroke(w, points):
    landed = [_send(w, "press", points[0], LEFT, LEFT)]
    landed += [_send(w, "move", p, NONE, LEFT) for p in points[1:]]
    _send(w, "release", points[-1], LEFT, NONE)
    return landed


def _within(vol, points, radius, normal=None):
    """Voxels whose centre is within ``radius`` mm of any of ``points`` (in-plane distance if ``normal``)."""
    k, j, i = np.indices(vol.array.shape)
    lps = vol.to_lps(np.stack([i, j, k], -1).reshape(-1, 3).astype(float))
    hit = np.zeros(len(lps), bool)
    for p in points:
        d = lps - p
        if normal is not None:
            d = d - np.outer(d @ normal, normal)
        hit |= np.einsum("ij,ij->i", d, d) <= radius**2 * (1 + 1e-9)
    return hit.reshape(vol.array.shape)


@pytest.fixture
def editing(qtbot, main_window, ct_series):
    win = main_window
    vol = open_and_wait(qtbot, win, ct_series)
    labels = np.zeros(vol.array.shape, np.uint8)
    labels[8:14, 10:30, 10:30] = 1
    seg = SimpleNamespace(task="segmentation", plugin_id="test_seg", labels=labels,
                          label_names={1: "right lung", 7: "nodule"}, label_colors={1: "#3080ff", 7: "#ff3030"},
                          stats=[], intended_use="testing", device="cpu", timings={}, notes=[], warnings=[])
    win.panels.ai._on_result(seg)  # as the AI panel does when a run finishes
    ed = win.segment_editor
    assert ed.editor is not None and ed.editor.labels is labels
    win.state.set_cursor(vol.to_lps((40, 30, 20)))
    qtbot.wait(20)
    return win, vol, labels, ed


def test_paint_stroke_in_the_axial_view_is_one_undo_step(qtbot, editing):
    win, vol, labels, ed = editing
    before = labels.copy()
    edited = []
    ed.segment_edited.connect(edited.append)
    ed.panel.set_tool("paint")
    ed.panel.set_label(7)
    ed.panel.radius.setValue(3.0)  # 2D disc (the default) in the axial view
    w = win.slice_widgets["axial"]
    c = win.state.cursor.copy()
    at = _send(w, "move", c, NONE, NONE)  # hovering shows the brush: a 3 mm circle around the mouse
    brush = w.slice_view.brush_cursor
    assert brush.visible and brush.radius == 3.0 and brush.centre == pytest.approx(tuple(at[:2] * (1, -1)))
    landed = _stroke(w, [c, c + (4, 0, 0), c + (8, 2, 0)])
    changed = labels != before
    assert changed.any() and (labels[changed] == 7).all()
    k = int(np.rint(vol.to_index(landed[0])[2]))
    assert set(np.nonzero(changed)[0]) == {k}  # one axial slice, the one shown
    normal = np.array([0.0, 0.0, 1.0])
    ends = _within(vol, [landed[0], landed[-1]], 3.0, normal)
    ends[np.arange(vol.array.shape[0]) != k] = False
    assert (labels[ends] == 7).all()  # the discs at press and release are painted
    path = [a + t * (b - a) for a, b in zip(landed, landed[1:]) for t in np.linspace(0, 1, 60)]
    along = _within(vol, path, 3.0 + 0.05, normal)  # the path sampled every 0.1 mm or finer
    assert not (changed & ~along).any()  # nothing beyond 3 mm of the mouse's path
    assert win.history.texts[-1] == "Paint nodule" and edited == [7]
    assert ed.edited_for(labels) == {7: "MANUAL"}  # the AI proposed no nodule: drawn by the reader
    assert win.state.cursor == pytest.approx(c)  # painting does not move the cursor
    win.history.undo()
    assert np.array_equal(labels, before) and ed.edited_for(labels) == {} and edited == [7, 7]
    win.history.redo()
    assert (labels[ends] == 7).all()
    ed.panel.set_tool("off")
    assert not brush.visible


def test_erase_and_threshold_paint_with_a_sphere_then_the_seg_export_has_the_edits(qtbot, editing, tmp_path):
    win, vol, labels, ed = editing
    before = labels.copy()
    ed.panel.set_tool("erase")
    ed.panel.set_label(1)
    ed.panel.shape.setCurrentIndex(ed.panel.shape.findData("sphere"))
    ed.panel.radius.setValue(4.0)
    w = win.slice_widgets["coronal"]
    centre = vol.to_lps((20, 20, 11))
    landed = _stroke(w, [centre])[0]
    sphere = _within(vol, [landed], 4.0)
    assert np.array_equal(labels == 0, (before == 0) | sphere)

    ed.panel.set_tool("paint")
    ed.panel.set_label(7)
    ed.panel.limit.setChecked(True)
    ed.panel.low.setValue(-50)
    ed.panel.high.setValue(50)
    ed.panel.overwrite.setChecked(False)  # keep the right lung: paint only where no segment is
    mark = labels.copy()
    edge = vol.to_lps((10, 20, 11))  # the right lung's first column (away from the 900 HU rod)
    win.state.set_cursor(edge)  # the axial view shows slice 11
    landed = _stroke(win.slice_widgets["axial"], [edge])[0]
    hu = vol.array
    want = _within(vol, [landed], 4.0) & (hu >= -50) & (hu <= 50)
    assert (want & (mark == 1)).any() and (want & (mark == 0)).any()  # the brush straddles the lung's edge
    assert np.array_equal(labels != mark, want & (mark == 0))
    assert win.history.texts[-2:] == ["Erase right lung", "Paint nodule"]
    assert ed.edited_for(labels) == {1: "SEMIAUTOMATIC", 7: "MANUAL"}

    from meddiag_desktop.qt.report_export import session_report

    report = session_report(win)
    assert report.label_maps[0].edited == {1: "SEMIAUTOMATIC", 7: "MANUAL"}
    assert np.array_equal(report.label_maps[0].array, labels)

    # the exported DICOM SEG: valid for dciodvfy, read back by highdicom with the edits and their types
    hd = pytest.importorskip("highdicom")
    import pydicom

    from meddiag_desktop.report import export_report

    result = export_report(report, vol, tmp_path / "export")
    tool = shutil.which("dciodvfy")
    if tool is not None:
        out = subprocess.run([tool, str(result.paths["seg"])], capture_output=True, text=True, timeout=120)
        assert [ln for ln in (out.stdout + out.stderr).splitlines() if ln.startswith("Error")] == []
    seg = hd.seg.segread(result.paths["seg"])
    numbers = {seg.get_segment_description(n).segment_label: n for n in seg.segment_numbers}
    assert {name: seg.get_segment_description(n).algorithm_type.value for name, n in numbers.items()} == {
        "right lung": "SEMIAUTOMATIC", "nodule": "MANUAL"}
    sops = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in vol.metadata["files"]]
    pixels = seg.get_pixels_by_source_instance(sops, combine_segments=True, skip_overlap_checks=True)
    assert np.array_equal(pixels == numbers["nodule"], labels == 7)
    assert np.array_equal(pixels == numbers["right lung"], labels == 1)


def test_islands_fill_and_errors_through_the_panel(qtbot, editing):
    win, vol, labels, ed = editing
    labels[10, 40:44, 40:44] = 1  # a second piece of the right lung
    win.state.set_cursor(vol.to_lps((42, 42, 10)))  # the axial view shows slice 10
    ed.panel.set_label(1)
    ed.panel.set_tool("remove_island")
    with qtbot.waitSignal(ed.edit_done, timeout=20000):  # computed off the UI thread
        _stroke(win.slice_widgets["axial"], [vol.to_lps((42, 42, 10))])
    assert not labels[10, 40:44, 40:44].any() and (labels == 1).sum() == 6 * 20 * 20
    labels[11, 15:18, 15:18] = 0  # a hole
    ed.panel.fill_plane.setCurrentIndex(0)  # 3D
    with qtbot.waitSignal(ed.edit_done, timeout=20000):
        ed.fill_holes()
    assert (labels == 1).sum() == 6 * 20 * 20 and ed.panel.status.text() == "Fill holes: 9 voxels filled."
    assert win.history.texts[-1] == "Fill holes of right lung (3D)"
    ed.panel.set_tool("keep_island")
    with qtbot.waitSignal(ed.edit_done, timeout=20000):
        _stroke(win.slice_widgets["axial"], [vol.to_lps((60, 5, 10))])  # background: said, not raised
    assert "click inside right lung" in win.last_error and win.error_banner.isVisible()


def test_layers_outline_legend_and_surfaces(qtbot, editing):
    win, vol, labels, ed = editing
    from meddiag_desktop.ai.overlay import HeatOverlay

    heat = np.zeros(vol.array.shape, np.float32)
    heat[5:15, 20:40, 20:40] = 1.0
    win.set_overlay(HeatOverlay("test_cls", heat, plugin_name="Nodule type", plugin_version="2.1"))
    sv = win.slice_widgets["axial"].slice_view
    assert set(sv.layers) == {"segmentation", "classification"}  # the classifier did not replace it
    assert sv.legend.texts[0] == "AI: test_seg" and "AI: Nodule type 2.1 (explanation map)" in sv.legend.texts
    ed.panel.outline.setChecked(True)
    assert all(w.slice_view.layers["segmentation"].outline for w in win.slice_widgets.values())
    assert win.overlays.wait(30000)
    qtbot.waitUntil(lambda: 1 in win.volume_widget.volume_view.surfaces.actors, timeout=30000)
    ed.panel.surfaces.setChecked(False)
    assert not win.volume_widget.volume_view.surfaces.actors[1].GetVisibility()
