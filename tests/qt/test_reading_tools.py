"""Reading tools driven with synthetic mouse events on a study with anisotropic voxels (0.8 x 0.9 x 2.0 mm).

Expected values are computed here from the placed points and the known voxel values,
not with the measurement code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from meddiag_desktop.core import view_geometry as vg

from qt_helpers import ORIGIN, SPACING, open_and_wait, synthetic_hu

pytestmark = pytest.mark.gui
LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton


def send(widget, kind, x, y, button=NONE, buttons=None):
    types = {"press": QMouseEvent.Type.MouseButtonPress, "move": QMouseEvent.Type.MouseMove,
             "release": QMouseEvent.Type.MouseButtonRelease, "double": QMouseEvent.Type.MouseButtonDblClick}
    pos = QPointF(x, y)
    ev = QMouseEvent(types[kind], pos, widget.mapToGlobal(pos), button, buttons if buttons is not None else button,
                     Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


class Pointer:
    """Mouse on one slice view, aimed at LPS points; remembers where each event really landed (LPS)."""

    def __init__(self, win, view):
        self.w = win.slice_widgets[view]
        self.sv = self.w.slice_view

    def px(self, lps):
        x, y = self.w.widget_pos(*self.sv.lps_to_display(lps))
        return round(x), round(y)

    def landed(self, lps):
        return self.sv.display_to_lps(*self.w.display_pos(*self.px(lps)))

    def drag(self, *points):
        x, y = self.px(points[0])
        send(self.w, "press", x, y, LEFT)
        for p in points[1:]:
            x, y = self.px(p)
            send(self.w, "move", x, y, NONE, LEFT)
        send(self.w, "release", x, y, LEFT, NONE)
        return [self.landed(p) for p in points]

    def click(self, p):
        return self.drag(p)[0]

    def hover(self, p):
        send(self.w, "move", *self.px(p), NONE, NONE)


@pytest.fixture
def study(qtbot, main_window, ct_series):
    vol = open_and_wait(qtbot, main_window, ct_series)
    main_window.state.set_cursor(vol.to_lps((32, 24, 10)))  # on a voxel layer: slice 11 of 30
    qtbot.wait(20)
    return main_window, vol


def only(win):
    ms = list(win.state.measurements)
    assert len(ms) == 1, [m.kind for m in ms]
    return ms[0]


def test_distance_by_drag_and_angle_by_clicks(qtbot, study):
    win, vol = study
    c = win.state.cursor.copy()
    ptr = Pointer(win, vg.AXIAL)
    win.state.set_tool("distance")
    a, b = ptr.drag(c + (-12, -8, 0), c + (0, 0, 0), c + (9, 14, 0))[::2]
    m = only(win)
    assert m.kind == "distance"
    np.testing.assert_allclose(m.points, [a, b], atol=1e-9)
    expected = math.sqrt(sum((b - a) ** 2))
    assert expected > 20
    assert win.state.text_for(m) == f"{expected:.1f} mm"
    assert abs(np.asarray(m.points)[:, 2] - c[2]).max() < 1e-9  # in the axial plane of the cursor

    win.state.measurements.remove(m.id)
    win.state.set_tool("angle")
    p1, v, p2 = ptr.click(c + (15, 0, 0)), ptr.click(c), ptr.click(c + (0, 15, 0))
    qtbot.wait(10)
    m = only(win)
    assert m.kind == "angle"
    u, w = p1 - v, p2 - v
    expected = math.degrees(math.acos(float(u @ w) / (np.linalg.norm(u) * np.linalg.norm(w))))
    assert abs(expected - 90) < 5
    assert win.state.text_for(m) == f"{expected:.1f}\u00b0"


def test_ellipse_roi_area_and_hu_statistics_on_anisotropic_voxels(qtbot, study):
    win, vol = study
    c = win.state.cursor.copy()
    ptr = Pointer(win, vg.AXIAL)
    win.state.set_tool("ellipse")
    p0, p1 = ptr.drag(c + (-9, -6, 0), c + (9, 6, 0))
    m = only(win)
    centre = (p0 + p1) / 2
    ax, ay = abs(p1[0] - p0[0]) / 2, abs(p1[1] - p0[1]) / 2
    hu = synthetic_hu()
    k = 10
    ii, jj = np.meshgrid(np.arange(hu.shape[2]), np.arange(hu.shape[1]), indexing="xy")
    x, y = ORIGIN[0] + ii * SPACING[0], ORIGIN[1] + jj * SPACING[1]
    inside = ((x - centre[0]) / ax) ** 2 + ((y - centre[1]) / ay) ** 2 <= 1
    vals = hu[k][inside].astype(float)
    text = win.state.text_for(m)
    assert text.splitlines()[0] == f"{math.pi * ax * ay:.1f} mm\u00b2"
    assert f"mean {vals.mean():.1f} \u00b1 {vals.std(ddof=1):.1f} HU" in text
    assert f"min {vals.min():.0f}  max {vals.max():.0f}  n={len(vals)}" in text
    # the list shows the same values
    panel = win.tools.measurements_panel
    assert panel.table.rowCount() == 1 and f"{vals.mean():.1f}" in panel.table.item(0, 1).text()


def test_freehand_point_and_nodule_axes(qtbot, study):
    win, vol = study
    c = win.state.cursor.copy()
    ptr = Pointer(win, vg.AXIAL)
    win.state.set_tool("freehand")
    outline = ptr.drag(*(c + (10 * math.cos(t), 7 * math.sin(t), 0) for t in np.linspace(0, 2 * math.pi, 24)[:-1]))
    m = only(win)
    xy = np.asarray(m.points)[:, :2]
    shoelace = abs(float(np.dot(xy[:, 0], np.roll(xy[:, 1], -1)) - np.dot(xy[:, 1], np.roll(xy[:, 0], -1)))) / 2
    assert len(m.points) == len(outline)
    assert win.state.text_for(m).startswith(f"{shoelace:.1f} mm\u00b2")
    assert abs(shoelace - math.pi * 70) < 0.1 * math.pi * 70

    win.state.measurements.remove(m.id)
    win.state.set_tool("point")
    p = ptr.click(c + (3, 4, 0))
    m = only(win)
    ijk = np.rint(vol.to_index(p)).astype(int)
    assert win.state.text_for(m) == f"{synthetic_hu()[ijk[2], ijk[1], ijk[0]]} HU"

    win.state.measurements.remove(m.id)
    win.state.set_tool("nodule_axes")
    a, b = ptr.drag(c + (-8, 0, 0), c + (8, 0, 0))
    d1, d2 = ptr.drag(c + (0, -5, 0), c + (0, 5, 0))
    m = only(win)
    long_, short = np.linalg.norm(b - a), np.linalg.norm(d2 - d1)
    assert win.state.text_for(m).startswith(f"L {long_:.1f} \u00d7 S {short:.1f} mm")
    # the calipers reach the risk model's nodule size
    panels = win.panels
    assert panels.nodule_measurement is not None
    assert abs(panels.nodule_measurement.long_axis_mm - long_) < 1e-6
    size = lambda: getattr(panels.risk.derived.get("nodule_size_mm"), "value", None)  # noqa: E731
    qtbot.waitUntil(lambda: size() is not None and abs(size() - (long_ + short) / 2) <= 0.005 + 1e-9, timeout=3000)


def test_measurement_shows_only_within_half_a_slice_and_in_other_views(qtbot, study):
    win, vol = study
    c = win.state.cursor.copy()
    win.state.set_tool("distance")
    Pointer(win, vg.AXIAL).drag(c + (-10, 0, 0), c + (10, 0, 0))  # along L-R through the cursor
    m = only(win)
    ax, co = win.slice_widgets[vg.AXIAL].layer, win.slice_widgets[vg.CORONAL].layer
    qtbot.wait(10)
    assert m.id in ax.visible_ids
    assert m.id not in co.visible_ids  # a distance drawn in the axial plane is only drawn in its plane
    win.state.step_slice(vg.AXIAL, 1)
    qtbot.wait(10)
    assert m.id not in ax.visible_ids  # one slice (2 mm) away: hidden
    win.state.step_slice(vg.AXIAL, -1)
    win.state.set_tool("point")
    Pointer(win, vg.AXIAL).click(c)
    pid = [x.id for x in win.state.measurements if x.kind == "point"][0]
    qtbot.wait(10)
    assert all(pid in w.layer.visible_ids for w in win.slice_widgets.values())  # a point lies in all three


def test_handle_drag_is_one_undo_step_and_undo_redo_round_trip(qtbot, study):
    win, vol = study
    c = win.state.cursor.copy()
    ptr = Pointer(win, vg.AXIAL)
    win.state.set_tool("distance")
    a, b = ptr.drag(c + (-10, 0, 0), c + (10, 0, 0))
    original = only(win).points
    win.state.set_tool("navigate")
    _, _, _, end = ptr.drag(b, b + (3, 2, 0), b + (6, 5, 0), b + (8, 9, 0))
    m = only(win)
    np.testing.assert_allclose(m.points[1], end, atol=1e-9)
    np.testing.assert_allclose(m.points[0], a, atol=1e-9)
    h = win.state.history
    assert h.texts == ["Add distance", "Edit distance"]  # the whole drag is one step
    assert win.state.text_for(m) == f"{np.linalg.norm(end - a):.1f} mm"
    win.tools.undo_action.trigger()
    np.testing.assert_allclose(only(win).points, original)
    win.tools.undo_action.trigger()
    assert len(win.state.measurements) == 0
    win.tools.redo_action.trigger()
    win.tools.redo_action.trigger()
    np.testing.assert_allclose(only(win).points[1], end, atol=1e-9)
    hp = win.tools.history_panel
    assert hp.count() == 3 and hp.currentRow() == 2
    hp.setCurrentRow(0)  # clicking the first row goes back to the start
    assert len(win.state.measurements) == 0 and h.index == 0


def test_window_level_drag_is_one_undo_step(qtbot, study):
    win, vol = study
    w = win.slice_widgets[vg.AXIAL]
    before = win.state.window
    send(w, "press", 200, 200, Qt.MouseButton.RightButton)
    for i in range(1, 6):
        send(w, "move", 200 + 10 * i, 200 + 4 * i, NONE, Qt.MouseButton.RightButton)
    send(w, "release", 250, 220, Qt.MouseButton.RightButton, NONE)
    after = win.state.window
    assert after != before
    assert len(win.state.history.texts) == 1 and win.state.history.texts[0].startswith("Window/level")
    win.state.history.undo()
    assert win.state.window == before
    win.state.history.redo()
    assert win.state.window == after


def test_rename_delete_and_jump_to(qtbot, study):
    win, vol = study
    c = win.state.cursor.copy()
    win.state.set_tool("distance")
    Pointer(win, vg.AXIAL).drag(c + (-10, 0, 0), c + (10, 0, 0))
    m = only(win)
    panel = win.tools.measurements_panel
    panel.rename(m.id, "Aorta")
    assert only(win).label == "Aorta" and panel.table.item(0, 0).text() == "Aorta"
    win.state.step_slice(vg.AXIAL, 5)
    panel.table.selectRow(0)
    panel.jump_to_selected()
    assert abs(win.state.cursor[2] - c[2]) < 1e-9  # back on the measurement's slice
    panel.delete_selected()
    assert len(win.state.measurements) == 0
    win.state.history.undo()
    assert only(win).label == "Aorta"


def test_layouts_double_click_maximise_and_cine(qtbot, study):
    win, vol = study
    win.set_layout("1x3")
    qtbot.wait(10)
    assert [k for k, f in win.frames.items() if f.isVisible()] == [vg.AXIAL, vg.CORONAL, vg.SAGITTAL]
    w = win.slice_widgets[vg.CORONAL]
    send(w, "double", 100, 100, LEFT)
    assert win.layout_name == vg.CORONAL and not win.frames[vg.AXIAL].isVisible()
    send(w, "double", 100, 100, LEFT)
    assert win.layout_name == "1x3"
    win.set_layout("four")
    cine = win.tools.cine
    cine.fps.setValue(50)
    start = vg.slice_info(vg.AXIAL, vol, win.state.cursor).index
    cine.play(vg.AXIAL)
    qtbot.waitUntil(lambda: vg.slice_info(vg.AXIAL, vol, win.state.cursor).index >= start + 3, timeout=3000)
    assert cine.playing
    send(win.slice_widgets[vg.AXIAL], "press", 50, 50, Qt.MouseButton.MiddleButton)  # any interaction stops it
    send(win.slice_widgets[vg.AXIAL], "release", 50, 50, Qt.MouseButton.MiddleButton, NONE)
    assert not cine.playing


def test_shortcut_help_lists_every_tool_and_keys_are_configurable(qtbot, tmp_path, monkeypatch, ct_series, new_window):
    import json

    cfg = tmp_path / "cfg2"
    cfg.mkdir()
    (cfg / "shortcuts.json").write_text(json.dumps({"tool.distance": "M", "bogus": "X"}))
    monkeypatch.setenv("MEDDIAG_CONFIG_DIR", str(cfg))  # over new_window's private folder
    win = new_window()
    try:
        assert win.tools.actions["tool.distance"].shortcut().toString() == "M"
        assert "bogus" in win.statusBar().currentMessage()
        win.tools.actions["help.shortcuts"].trigger()
        assert win.tools.help.isVisible()
        text = win.tools.help.label.text()
        for name in ("Distance", "Angle", "Ellipse ROI", "Freehand ROI", "Point probe", "Nodule long / short axis",
                     "Undo", "Redo", "Cine"):
            assert name in text, name
        win.tools.help.toggle()
        assert not win.tools.help.isVisible()
        win.tools.actions["tool.distance"].trigger()
        assert win.state.tool == "distance"
        win.tools.actions["tool.navigate"].trigger()
        assert win.state.tool == "navigate"
    finally:
        win.close()


def test_user_window_preset_and_modality_default_persist(qtbot, study, tmp_path):
    win, vol = study
    win.state.set_window(1234.0, -321.0)
    win.tools.save_preset("My nodules")
    assert any(p.name == "My nodules" for p in win.window_presets.presets)
    win.tools.set_default_window()
    from meddiag_desktop.qt.user_presets import UserPresets

    again = UserPresets()
    assert again.default_for("CT") == (1234.0, -321.0)
    assert [p.name for p in again.for_modality("CT")] == ["My nodules"]


def test_segment_statistics_volume_mean_and_longest_diameter(qtbot, study):
    win, vol = study
    labels = np.zeros(vol.array.shape, np.uint8)
    labels[5:9, 10:20, 30:42] = 3  # z 4 x y 10 x x 12 voxels
    hu = synthetic_hu()
    task = win.panels.show_segment_statistics(labels, {3: "box", 4: "absent"})
    with qtbot.waitSignal(task.finished, timeout=20000):
        pass
    seg = win.tools.measurements_panel.segments
    assert seg.rowCount() == 1 and seg.item(0, 0).text() == "box"
    n = 4 * 10 * 12
    assert seg.item(0, 1).text() == f"{n * 0.8 * 0.9 * 2.0 / 1000:.2f}"
    assert seg.item(0, 2).text() == f"{hu[5:9, 10:20, 30:42].mean():.0f} HU"
    # Fleischner long axis on the axial slice (core/label_geometry): the greatest caliper over directions
    # in the x-y plane, the span of voxel centres plus one voxel's projected extent, every 0.5 degrees
    t = np.deg2rad(np.arange(0.0, 180.0, 0.5))
    widths = np.abs(11 * 0.8 * np.cos(t)) + np.abs(9 * 0.9 * np.sin(t)) + np.hypot(0.8 * np.cos(t), 0.9 * np.sin(t))
    assert seg.horizontalHeaderItem(3).text().startswith("Long axis")
    assert seg.item(0, 3).text() == f"{widths.max():.1f}"


def test_escape_cancels_a_measurement_being_placed_then_leaves_the_tool(qtbot, study):
    win, vol = study
    c = win.state.cursor.copy()
    ptr = Pointer(win, vg.AXIAL)
    win.tools.actions["tool.angle"].trigger()
    ptr.drag(c, c + (10, 0, 0))  # first arm placed, the third point follows the mouse
    ptr.hover(c + (10, 10, 0))
    assert win.slice_widgets[vg.AXIAL]._placement.active
    win.tools.actions["tool.navigate"].trigger()  # Esc
    assert win.state.tool == "angle" and not win.slice_widgets[vg.AXIAL]._placement.active
    win.tools.actions["tool.navigate"].trigger()
    assert win.state.tool == "navigate" and len(win.state.measurements) == 0


def test_compare_view_scrolls_in_sync_with_a_series_of_the_same_frame_of_reference(qtbot, main_window, tmp_path):
    from meddiag_desktop.io.dicom_write import write_series

    for_uid = "1.2.826.0.1.3680043.8.498.4242"
    hu = synthetic_hu()
    write_series((hu + 1024).astype(np.int16), tmp_path / "a", spacing=SPACING, origin=ORIGIN,
                 rescale_intercept=-1024.0, frame_of_reference_uid=for_uid, series_description="thin")
    thick = hu[::3][:10]  # 6 mm slices covering the same range
    write_series((thick + 1024).astype(np.int16), tmp_path / "b", spacing=(SPACING[0], SPACING[1], 6.0),
                 origin=ORIGIN, rescale_intercept=-1024.0, frame_of_reference_uid=for_uid, series_description="thick")
    win = main_window
    open_and_wait(qtbot, win, tmp_path / "a")
    task = win.compare.open_series(str(tmp_path / "b"))
    with qtbot.waitSignal(task.finished, timeout=30000):
        pass
    qtbot.wait(20)
    assert win.layout_name == "compare" and win.frames["compare"].isVisible()
    assert win.compare.synchronised
    for steps in (3, 6, -2):
        win.state.step_slice(vg.AXIAL, steps)
        assert abs(win.compare.slice_position() - win.state.cursor[2]) < 1e-6
    info = win.compare.widget.slice_view.slice_info()
    assert info.index == int(np.rint((win.state.cursor[2] - ORIGIN[2]) / 6.0))
    win.compare.state.step_slice(vg.AXIAL, 1)  # and the other way round
    assert abs(win.state.cursor[2] - win.compare.slice_position()) < 1e-6
    win.compare.sync_action.setChecked(False)
    z = win.compare.slice_position()
    win.state.step_slice(vg.AXIAL, 2)
    assert win.compare.slice_position() == z


def test_ellipse_statistics_on_an_oblique_volume(qtbot, main_window):
    """Acquired rotated 25 degrees about the patient axis: the axial view reslices obliquely."""
    from meddiag_desktop.core import Volume

    win = main_window
    a = math.radians(25)
    direction = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    hu = synthetic_hu()
    vol = Volume(hu, SPACING, ORIGIN, direction, metadata={"modality": "CT", "units": "HU"})
    with qtbot.waitSignal(win.volume_shown):
        win.show_volume(vol)
    assert not win.slice_widgets[vg.AXIAL].slice_view.aligned
    win.state.set_cursor(vol.to_lps((32, 24, 10)))
    qtbot.wait(20)
    c = win.state.cursor.copy()
    win.state.set_tool("ellipse")
    p0, p1 = Pointer(win, vg.AXIAL).drag(c + (-8, -5, 0), c + (8, 5, 0))
    centre, ax, ay = (p0 + p1) / 2, abs(p1[0] - p0[0]) / 2, abs(p1[1] - p0[1]) / 2
    k, j, i = np.mgrid[0:hu.shape[0], 0:hu.shape[1], 0:hu.shape[2]]
    lps = vol.to_lps(np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1))
    dz = lps[:, 2] - centre[2]
    inside = (((lps[:, 0] - centre[0]) / ax) ** 2 + ((lps[:, 1] - centre[1]) / ay) ** 2 <= 1) & (dz >= -1) & (dz < 1)
    vals = hu.ravel()[inside].astype(float)
    text = win.state.text_for(only(win))
    assert text.splitlines()[0] == f"{math.pi * ax * ay:.1f} mm\u00b2"
    assert f"mean {vals.mean():.1f} \u00b1 {vals.std(ddof=1):.1f} HU" in text and f"n={len(vals)}" in text


def test_keys_choose_tools_and_question_mark_opens_the_help(qtbot, study):
    from PySide6.QtTest import QTest

    win, vol = study
    w = win.slice_widgets[vg.AXIAL]
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)  # shortcuts need the active window
    w.setFocus()
    QTest.keyClick(w, Qt.Key.Key_D)
    assert win.state.tool == "distance"
    QTest.keyClick(w, Qt.Key.Key_Escape)
    assert win.state.tool == "navigate"
    QTest.keyClick(w, Qt.Key.Key_Question, Qt.KeyboardModifier.ShiftModifier)
    assert win.tools.help.isVisible()
    QTest.keyClick(win.tools.help, Qt.Key.Key_Escape)
    assert not win.tools.help.isVisible()
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    QTest.keyClick(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # nothing to undo: no error
    assert not win.error_banner.isVisible()
