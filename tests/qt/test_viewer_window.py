"""The main window driven as a user would: open, scroll, window/level, click, read values, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from meddiag_desktop.core import view_geometry as vg

from qt_helpers import ORIGIN, SHAPE_XYZ, SPACING, open_and_wait, synthetic_hu

pytestmark = pytest.mark.gui


def send_mouse(widget, kind, x, y, button=Qt.MouseButton.NoButton, buttons=None, modifiers=Qt.KeyboardModifier.NoModifier):
    types = {"press": QMouseEvent.Type.MouseButtonPress, "move": QMouseEvent.Type.MouseMove, "release": QMouseEvent.Type.MouseButtonRelease}
    pos = QPointF(x, y)
    ev = QMouseEvent(types[kind], pos, widget.mapToGlobal(pos), button, buttons if buttons is not None else button, modifiers)
    QApplication.sendEvent(widget, ev)


def send_wheel(widget, x, y, delta, modifiers=Qt.KeyboardModifier.NoModifier):
    pos = QPointF(x, y)
    ev = QWheelEvent(pos, widget.mapToGlobal(pos), QPoint(0, 0), QPoint(0, delta), Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, ev)


def test_open_series_shows_volume_in_all_views(qtbot, main_window, ct_series):
    vol = open_and_wait(qtbot, main_window, ct_series)
    assert vol.shape_xyz == SHAPE_XYZ
    assert np.allclose(vol.spacing, SPACING) and np.allclose(vol.origin, ORIGIN)
    assert np.array_equal(vol.array, synthetic_hu())
    assert len(main_window.browser.series_items()) == 1
    assert np.allclose(main_window.state.cursor, vol.center_lps())
    assert main_window.state.window == (400.0, 40.0)  # the DICOM tag preset
    qtbot.waitUntil(lambda: all(w.render_count > 0 for w in main_window.slice_widgets.values()))
    assert main_window.volume_widget.render_count > 0
    assert "Test Viewer" in main_window.windowTitle()


def test_keys_scroll_by_expected_slices(qtbot, main_window, ct_series):
    open_and_wait(qtbot, main_window, ct_series)
    axial = main_window.slice_widgets["axial"]
    start = axial.slice_view.slice_info()
    z0 = main_window.state.cursor[2]
    qtbot.keyClick(axial, Qt.Key.Key_Up)
    qtbot.keyClick(axial, Qt.Key.Key_Up)
    assert axial.slice_view.slice_info().index == start.index + 2
    # the first step snaps the (between-slices) centre onto a slice
    assert main_window.state.cursor[2] == pytest.approx(ORIGIN[2] + (start.index + 2) * SPACING[2])
    assert abs(main_window.state.cursor[2] - (z0 + 2 * SPACING[2])) <= SPACING[2] / 2
    qtbot.keyClick(axial, Qt.Key.Key_PageDown)
    assert axial.slice_view.slice_info().index == start.index + 2 - 10
    qtbot.keyClick(axial, Qt.Key.Key_End)
    assert axial.slice_view.slice_info().index == SHAPE_XYZ[2] - 1
    # the other views' slices did not move, their crosshair did
    sag = main_window.slice_widgets["sagittal"].slice_view
    assert sag.slice_info().position == pytest.approx(main_window.state.cursor[0])


def test_wheel_scrolls_each_view(qtbot, main_window, ct_series):
    vol = open_and_wait(qtbot, main_window, ct_series)
    for view, axis, sign, spacing in (("axial", 2, 1, SPACING[2]), ("coronal", 1, -1, SPACING[1]), ("sagittal", 0, 1, SPACING[0])):
        w = main_window.slice_widgets[view]
        before = main_window.state.cursor.copy()
        idx = w.slice_view.slice_info().index
        send_wheel(w, 50, 50, 3 * 120)  # three notches forward
        assert w.slice_view.slice_info().index == idx + 3
        assert abs(main_window.state.cursor[axis] - before[axis] - sign * 3 * spacing) <= spacing / 2 + 1e-9
        mid = main_window.state.cursor.copy()
        send_wheel(w, 50, 50, -120)
        assert w.slice_view.slice_info().index == idx + 2
        assert main_window.state.cursor[axis] - mid[axis] == pytest.approx(-sign * spacing)
        send_wheel(w, 50, 50, 60)  # half a notch (hi-res wheel) does nothing yet...
        assert w.slice_view.slice_info().index == idx + 2
        send_wheel(w, 50, 50, 60)  # ...the second half completes one slice
        assert w.slice_view.slice_info().index == idx + 3
    assert vol is main_window.state.volume


def test_right_drag_changes_window_level_by_expected_amount(qtbot, main_window, ct_series):
    vol = open_and_wait(qtbot, main_window, ct_series)
    w = main_window.slice_widgets["coronal"]
    w0, l0 = main_window.state.window
    sens = vg.wl_sensitivity(vol)
    rb = Qt.MouseButton.RightButton
    send_mouse(w, "press", 100, 100, rb)
    send_mouse(w, "move", 130, 120, Qt.MouseButton.NoButton, rb)
    send_mouse(w, "move", 140, 80, Qt.MouseButton.NoButton, rb)
    send_mouse(w, "release", 140, 80, rb, Qt.MouseButton.NoButton)
    expected = vg.drag_window_level(w0, l0, 40, -20, sens)
    assert main_window.state.window == pytest.approx(expected)
    prop = main_window.slice_widgets["axial"].slice_view.image_actor.GetProperty()
    assert (prop.GetColorWindow(), prop.GetColorLevel()) == pytest.approx(expected)
    assert main_window.window_presets.currentText() == "Custom"


def test_presets_set_exact_window(qtbot, main_window, ct_series):
    open_and_wait(qtbot, main_window, ct_series)
    combo = main_window.window_presets
    for name, width, level in (("Lung", 1500, -600), ("Bone", 1800, 400), ("Brain", 80, 40)):
        combo.select_preset(name)
        assert main_window.state.window == (width, level)
        for w in main_window.slice_widgets.values():
            prop = w.slice_view.image_actor.GetProperty()
            assert (prop.GetColorWindow(), prop.GetColorLevel()) == (width, level)
    assert combo.itemText(0).endswith("400/40  (file)")  # the DICOM tag preset comes first


@pytest.mark.parametrize("view", vg.VIEWS)
def test_click_sets_cursor_and_readout_shows_voxel_value(qtbot, main_window, ct_series, view):
    vol = open_and_wait(qtbot, main_window, ct_series)
    w = main_window.slice_widgets[view]
    sv = w.slice_view
    # aim at voxel (40, 10, z) on the current slice
    info = vg.slice_info("axial", vol, main_window.state.cursor)
    target_ijk = np.array([40, 10, 11])
    target = vol.to_lps(target_ijk)
    # keep the view's slice: move only in-plane
    plane = main_window.state.cursor.copy()
    f = vg.view_frame(view)
    target_in_plane = target - f[:, 2] * ((target - plane) @ f[:, 2])
    wx, wy = w.widget_pos(*sv.lps_to_display(target_in_plane))
    px, py = round(wx), round(wy)
    expected = sv.display_to_lps(*w.display_pos(px, py))
    send_mouse(w, "press", px, py, Qt.MouseButton.LeftButton)
    send_mouse(w, "release", px, py, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)
    assert np.allclose(main_window.state.cursor, expected)
    assert np.linalg.norm(main_window.state.cursor - target_in_plane) <= sv.world_per_pixel()
    # hover: the readout shows exactly this voxel's value
    send_mouse(w, "move", px, py)
    ijk = np.rint(vol.to_index(expected)).astype(int)
    value = int(synthetic_hu()[ijk[2], ijk[1], ijk[0]])
    assert main_window.readout.text().startswith(f"{value} HU")
    assert sv._readout == f"{value} HU"
    others = [w2.slice_view._readout for v2, w2 in main_window.slice_widgets.items() if v2 != view]
    assert others == ["", ""]  # only the view under the mouse shows the value
    assert info.count == SHAPE_XYZ[2]


def test_broken_file_shows_error_and_window_survives(qtbot, main_window, ct_series, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "junk.dcm").write_bytes(b"DICM" + b"\x00\xff" * 300)
    (bad / "notes.txt").write_text("not an image")
    with qtbot.waitSignal(main_window.load_failed, timeout=30000) as blocker:
        main_window.open_path(str(bad))
    assert blocker.args[0]
    assert main_window.error_banner.isVisible()
    assert main_window.error_banner.text
    vol = open_and_wait(qtbot, main_window, ct_series)  # still works afterwards
    assert vol.shape_xyz == SHAPE_XYZ
    assert not main_window.error_banner.isVisible()


def test_screenshot_has_content_in_every_view(qtbot, main_window, ct_series):
    from meddiag_desktop.qt.screenshot import grab_window

    open_and_wait(qtbot, main_window, ct_series)
    img = grab_window(main_window).toImage().convertToFormat(grab_window(main_window).toImage().Format.Format_RGB888)
    w, h = img.width(), img.height()
    arr = np.frombuffer(img.constBits(), np.uint8, count=img.bytesPerLine() * h).reshape(h, img.bytesPerLine())[:, : w * 3]
    arr = arr.reshape(h, w, 3).astype(float)
    for widget in (*main_window.slice_widgets.values(), main_window.volume_widget):
        pos = widget.mapTo(main_window, QPoint(0, 0))
        region = arr[pos.y() : pos.y() + widget.height(), pos.x() : pos.x() + widget.width()]
        assert region.size > 0
        assert region.std() > 10, f"{widget.objectName()} looks empty"


def test_recent_studies_remember_opened_folder(qtbot, main_window, ct_series):
    open_and_wait(qtbot, main_window, ct_series)
    assert main_window.recent.items[0] == str(ct_series.resolve())
    from meddiag_desktop.qt.recent_studies import RecentStudies

    assert RecentStudies(main_window.recent.path).items[0] == str(ct_series.resolve())


def test_single_image_opens_large_in_its_plane_and_layouts_switch(qtbot, main_window):
    from meddiag_desktop.core import Volume

    rgb = np.zeros((1, 30, 40, 3), np.uint8)
    rgb[0, 10:20, 15:25] = (255, 0, 0)
    coronal_image = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float).T  # rows run Inferior, normal Posterior
    with qtbot.waitSignal(main_window.volume_shown):
        main_window.show_volume(Volume(rgb, direction=coronal_image, metadata={"modality": "XC"}))
    assert main_window.layout_name == "coronal"
    assert main_window.frames["coronal"].isVisible() and not main_window.frames["axial"].isVisible()
    main_window.set_layout("four")
    assert all(f.isVisible() for k, f in main_window.frames.items() if k != "compare")
    assert "compare" not in main_window.frames  # made only when a compare series is opened
    main_window.set_layout("3d")
    assert main_window.frames["3d"].isVisible() and not main_window.frames["coronal"].isVisible()


def test_number_keys_apply_window_presets(qtbot, main_window, ct_series):
    open_and_wait(qtbot, main_window, ct_series)
    presets = main_window.window_presets.presets
    assert presets[1].name == "Brain"  # after the file's own preset
    axial = main_window.slice_widgets["axial"]
    main_window.activateWindow()
    qtbot.waitUntil(main_window.isActiveWindow)  # shortcuts need the active window
    axial.setFocus()
    qtbot.keyClick(axial, Qt.Key.Key_3)  # third entry: Lung
    assert main_window.state.window == (1500.0, -600.0)
    qtbot.keyClick(axial, Qt.Key.Key_1)  # the DICOM tag preset
    assert main_window.state.window == (400.0, 40.0)


def test_overlay_and_side_panels(qtbot, main_window, ct_series):
    from types import SimpleNamespace

    from PySide6.QtWidgets import QLabel

    vol = open_and_wait(qtbot, main_window, ct_series)
    labels = (vol.array > 800).astype(np.uint8)
    overlay = SimpleNamespace(labels=labels, lut=lambda: np.array([[0, 0, 0, 0], [255, 0, 0, 128]], np.uint8))
    main_window.set_overlay(overlay)
    assert all(w.slice_view._overlay is not None for w in main_window.slice_widgets.values())
    heat = SimpleNamespace(heat=np.random.default_rng(0).random(vol.array.shape), rgba=lambda t: np.full(t.shape + (4,), 200, np.uint8))
    main_window.set_overlay(heat)
    main_window.set_overlay(None)
    assert all(w.slice_view._overlay is None for w in main_window.slice_widgets.values())
    d1 = main_window.add_side_panel(QLabel("risk"), "Risk")
    d2 = main_window.add_side_panel(QLabel("ai"), "AI")
    qtbot.waitUntil(lambda: d2 in main_window.tabifiedDockWidgets(d1), timeout=3000)
    assert not main_window.error_banner.isVisible()


def test_ctrl_wheel_zooms_about_the_mouse_and_middle_drag_pans(qtbot, main_window, ct_series):
    open_and_wait(qtbot, main_window, ct_series)
    w = main_window.slice_widgets["axial"]
    sv = w.slice_view
    anchor = (120, 90)
    before = sv.display_to_view(*w.display_pos(*anchor))
    send_wheel(w, *anchor, 2 * 120, Qt.KeyboardModifier.ControlModifier)
    assert sv.zoom == pytest.approx(1.1**2)
    assert np.allclose(sv.display_to_view(*w.display_pos(*anchor)), before)  # the point under the mouse stays
    cursor = main_window.state.cursor.copy()
    assert sv.slice_info().index == vg.slice_info("axial", main_window.state.volume, cursor).index
    mm_per_px = sv.world_per_pixel()
    focal = np.array(sv.renderer.GetActiveCamera().GetFocalPoint()[:2])
    mb = Qt.MouseButton.MiddleButton
    send_mouse(w, "press", 100, 100, mb)
    send_mouse(w, "move", 130, 110, Qt.MouseButton.NoButton, mb)
    send_mouse(w, "release", 130, 110, mb, Qt.MouseButton.NoButton)
    moved = np.array(sv.renderer.GetActiveCamera().GetFocalPoint()[:2]) - focal
    assert np.allclose(moved, [-30 * mm_per_px, 10 * mm_per_px])  # image follows the mouse (screen y is down)
    assert np.allclose(main_window.state.cursor, cursor)  # panning and zooming never move the cursor
