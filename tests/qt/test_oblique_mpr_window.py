"""Oblique MPR and measurement usability driven with mouse events in the main window."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from meddiag_desktop.core import view_geometry as vg

from qt_helpers import open_and_wait

pytestmark = pytest.mark.gui
LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton
CTRL = Qt.KeyboardModifier.ControlModifier
NOMOD = Qt.KeyboardModifier.NoModifier


def send(widget, kind, x, y, button=NONE, buttons=None, mods=NOMOD):
    types = {"press": QMouseEvent.Type.MouseButtonPress, "move": QMouseEvent.Type.MouseMove,
             "release": QMouseEvent.Type.MouseButtonRelease}
    pos = QPointF(x, y)
    ev = QMouseEvent(types[kind], pos, widget.mapToGlobal(pos), button,
                     buttons if buttons is not None else button, mods)
    QApplication.sendEvent(widget, ev)


def px(w, lps):
    return w.widget_pos(*w.slice_view.lps_to_display(lps))


def drag_px(w, points, mods=NOMOD):
    send(w, "press", *points[0], LEFT, mods=mods)
    for p in points[1:]:
        send(w, "move", *p, NONE, LEFT, mods=mods)
    send(w, "release", *points[-1], LEFT, NONE, mods=mods)


def arc(w, radius_px, start_deg, end_deg, steps=6):
    """Widget points on a circle about the cursor (angles counter-clockwise on screen, y up)."""
    cx, cy = w.slice_view.lps_to_display(w.state.cursor)
    out = []
    for a in np.linspace(start_deg, end_deg, steps):
        x, y = cx + radius_px * math.cos(math.radians(a)), cy + radius_px * math.sin(math.radians(a))
        out.append(w.widget_pos(x, y))
    return out


@pytest.fixture
def study(qtbot, main_window, ct_series):
    vol = open_and_wait(qtbot, main_window, ct_series)
    qtbot.wait(20)
    return main_window, vol


def test_ctrl_drag_rotates_reslices_measures_in_lps_and_o_resets(qtbot, study):
    win, vol = study
    ax, cor = win.slice_widgets[vg.AXIAL], win.slice_widgets[vg.CORONAL]
    c = win.state.cursor.copy()
    drag_px(ax, arc(ax, 120, 0.0, 30.0), mods=CTRL)  # Ctrl+drag: 30 degrees counter-clockwise
    assert win.oblique.tilt_deg(vg.CORONAL) == pytest.approx(30.0, abs=0.6)  # whole display pixels
    np.testing.assert_allclose(win.state.cursor, c)  # turning never moves the cursor
    sv = cor.slice_view
    assert sv.oblique_frame is not None and sv.geom is sv.oblique_frame
    n = sv.frame[:, 2]
    assert n @ np.array([-0.5, -math.sqrt(3) / 2, 0.0]) == pytest.approx(1.0, abs=1e-4)  # A turned towards R
    assert "Oblique 3" in sv.corner_text.GetText(3) and "Oblique" not in ax.slice_view.corner_text.GetText(3)

    # a distance drawn in the oblique coronal view: points in LPS on that plane, true 3D length
    win.state.set_tool("distance")
    right, up = sv.frame[:, 0], sv.frame[:, 1]
    a_lps, b_lps = c - 15.0 * right, c + 15.0 * right + 10.0 * up
    drag_px(cor, [px(cor, a_lps), px(cor, b_lps)])
    (m,) = list(win.state.measurements)
    pts = np.asarray(m.points)
    np.testing.assert_allclose(pts @ n, c @ n, atol=1e-9)  # in the oblique plane through the cursor
    np.testing.assert_allclose(np.asarray(m.normal), n, atol=1e-12)
    assert abs(pts[1, 1] - pts[0, 1]) > 10.0  # it runs obliquely through A-P: not in any standard plane
    length = float(np.linalg.norm(pts[1] - pts[0]))
    k = sv.world_per_pixel()
    assert length == pytest.approx(math.hypot(30.0, 10.0), abs=2 * k)  # known length, to a pixel at each end
    assert win.state.text_for(m) == f"{length:.1f} mm"
    assert m.id in cor.layer.visible_ids and m.id not in ax.layer.visible_ids

    # stepping the oblique view goes along its own normal
    cor.step_slices(4)
    d = win.state.cursor - c
    np.testing.assert_allclose(d - n * (d @ n), 0.0, atol=1e-9)
    assert abs(d @ n) > 1.0
    win.state.set_cursor(c)

    # one key (O) and the View menu entry reset exactly
    act = win.tools.actions["mpr.reset_oblique"]
    assert act.shortcut().toString() == "O" and act in win._view_menu.actions()
    act.trigger()
    assert not win.oblique.is_oblique
    for v, w in win.slice_widgets.items():
        assert w.slice_view.oblique_frame is None and w.slice_view.geom == v
        assert np.array_equal(w.slice_view.frame, vg.view_frame(v))
        assert "Oblique" not in w.slice_view.corner_text.GetText(3)
    assert m.id not in cor.layer.visible_ids  # the oblique distance is not in the standard coronal plane
    win.tools.jump_to(m.id)  # Measurements panel "Go to": its oblique plane comes back
    assert abs(cor.slice_view.frame[:, 2] @ n) == pytest.approx(1.0, abs=1e-9)
    assert m.id in cor.layer.visible_ids


def test_grabbing_a_crosshair_lines_outer_part_rotates_and_double_oblique_composes(qtbot, study):
    win, vol = study
    ax, cor, sag = (win.slice_widgets[v] for v in vg.VIEWS)
    cx, cy = ax.slice_view.lps_to_display(win.state.cursor)
    near = ax.widget_pos(cx + 10, cy)  # on the horizontal line but near the centre: a plain click
    assert not ax.over_rotate_handle(ax.display_pos(*near))
    grab = ax.widget_pos(cx + 100, cy)
    assert ax.over_rotate_handle(ax.display_pos(*grab))
    before = win.state.cursor.copy()
    drag_px(ax, [grab])  # a click there without turning is an ordinary click: it moves the cursor
    assert not win.oblique.is_oblique and np.linalg.norm(win.state.cursor - before) > 10.0
    drag_px(ax, arc(ax, 100, 0.0, -20.0))  # clockwise 20 degrees, navigate tool, no modifier
    assert win.oblique.tilt_deg(vg.SAGITTAL) == pytest.approx(20.0, abs=0.6)
    n_sag = win.oblique.frame(vg.SAGITTAL)[:, 2]
    # then Ctrl+drag in the (now oblique) coronal view: axial and sagittal turn about its normal
    n_cor = win.oblique.frame(vg.CORONAL)[:, 2]
    drag_px(cor, arc(cor, 120, 90.0, 105.0), mods=CTRL)
    np.testing.assert_allclose(win.oblique.frame(vg.CORONAL)[:, 2], n_cor, atol=1e-12)
    assert win.oblique.tilt_deg(vg.AXIAL) == pytest.approx(15.0, abs=0.6)
    assert sag.slice_view.frame[:, 2] @ n_sag < math.cos(math.radians(10))  # sagittal turned again
    assert "Oblique" in ax.slice_view.corner_text.GetText(3)  # double-oblique: every plane tilted
    assert abs(sag.slice_view.frame[:, 2] @ np.array([0.0, 0.0, 1.0])) > 0.05


def test_an_roi_started_on_a_caliper_end_is_an_roi(qtbot, study):
    win, vol = study
    ax = win.slice_widgets[vg.AXIAL]
    c = win.state.cursor.copy()
    win.state.set_tool("distance")
    drag_px(ax, [px(ax, c), px(ax, c + (20.0, 0.0, 0.0))])
    (caliper,) = list(win.state.measurements)
    before = list(caliper.points)
    start = px(ax, c + (0.8, 0.8, 0.0))  # on the caliper's end handle
    assert ax.layer.handle_at(win.state.measurements, *ax.display_pos(*start)) is not None
    for tool in ("ellipse", "freehand"):
        win.state.set_tool(tool)
        drag_px(ax, [start, px(ax, c + (-10.0, 5.0, 0.0)), px(ax, c + (-14.0, 14.0, 0.0)),
                     px(ax, c + (-2.0, 12.0, 0.0))])
        kinds = sorted(m.kind for m in win.state.measurements)
        assert tool in kinds, kinds
        assert win.state.measurements.get(caliper.id).points == before  # the caliper did not move
    win.state.set_tool("distance")  # a caliper tool still grabs the end to edit it
    drag_px(ax, [start, px(ax, c + (-5.0, -5.0, 0.0))])
    assert win.state.measurements.get(caliper.id).points != before
    assert len(win.state.measurements) == 3


def test_labels_pushed_from_their_shape_in_a_small_view_keep_a_leader_line(qtbot, study):
    win, vol = study
    win.set_layout("four")
    win.resize(900, 650)  # small views
    qtbot.wait(50)
    ax = win.slice_widgets[vg.AXIAL]
    ax.render_now()
    k = ax.slice_view.world_per_pixel()  # mm per pixel
    c = win.state.cursor.copy()
    win.state.set_tool("ellipse")
    # three ROIs 25 px apart: their labels (two lines, 32 px high) cannot all sit beside their shapes
    for dy in (-25.0, 0.0, 25.0):
        drag_px(ax, [px(ax, c + (-8.0 * k, (dy - 7.0) * k, 0.0)), px(ax, c + (8.0 * k, (dy + 7.0) * k, 0.0))])
    ax.render_now()
    items = [ax.layer._items[mid] for mid in ax.layer.visible_ids]
    assert len(items) == 3
    leaders = [it for it in items if it.leader.GetVisibility()]
    assert leaders, "no label was pushed away: the test does not test leaders"
    for it in leaders:
        a, b = np.array(it.leader_points.GetPoint(0))[:2], np.array(it.leader_points.GetPoint(1))[:2]
        shape = np.array([ax.slice_view.view_to_display(u, v) for u, v in it.outline_uv])
        assert np.min(np.linalg.norm(shape - b, axis=1)) < 1e-3  # ends on its own shape
        assert np.linalg.norm(a - b) > 14.0
    width, height = ax.slice_view.renderer.GetSize()
    for it in items:  # kept inside the view (a label wider than the view starts at its left edge)
        x0, y0, x1, y1 = it.label_box
        assert x0 >= 4 and (x1 <= width - 4 or x0 == 4) and 0 <= y0 and y1 <= height
