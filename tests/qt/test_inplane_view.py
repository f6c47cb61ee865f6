"""A single oblique image opens large in its own plane (not a strip), with correct letters and readout."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from meddiag_desktop.core import view_geometry as vg

from qt_helpers import open_and_wait

pytestmark = pytest.mark.gui


def _hover(widget, x: float, y: float) -> None:
    pos = QPointF(x, y)
    from PySide6.QtCore import Qt

    ev = QMouseEvent(QMouseEvent.Type.MouseMove, pos, widget.mapToGlobal(pos), Qt.MouseButton.NoButton,
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def _grey(widget) -> np.ndarray:
    """The view's rendered pixels as (h, w) grey levels, row 0 at the top."""
    img = widget.capture()
    w, h = img.width(), img.height()
    arr = np.frombuffer(img.constBits(), np.uint8, count=img.bytesPerLine() * h).reshape(h, img.bytesPerLine())
    return arr[:, : w * 3].reshape(h, w, 3).astype(float).mean(axis=2)


def _content_fractions(widget) -> tuple[float, float, float]:
    """(area, width, height) fractions of the view covered by image (non-black) pixels."""
    sv = widget.slice_view
    sv.set_crosshair_visible(False)
    sv.corner_text.VisibilityOff()
    sv.letters.VisibilityOff()
    widget.render_now()
    lit = _grey(widget) > 0
    sv.corner_text.VisibilityOn()
    sv.letters.VisibilityOn()
    sv.set_crosshair_visible(True)
    widget.render_now()
    cols = np.where(lit.mean(axis=0) > 0.2)[0]
    rows = np.where(lit.mean(axis=1) > 0.2)[0]
    h, w = lit.shape
    return float(lit.mean()), (np.ptp(cols) + 1) / w if cols.size else 0.0, (np.ptp(rows) + 1) / h if rows.size else 0.0


def _centre_readout(main_window, widget) -> tuple[str, np.ndarray]:
    px, py = widget.width() // 2, widget.height() // 2
    _hover(widget, px, py)
    lps = widget.slice_view.display_to_lps(*widget.display_pos(px, py))
    return widget.slice_view._readout, lps


def test_mr2_uncr_oblique_image_fills_the_view(qtbot, main_window, tmp_path):
    from pydicom.data import get_testdata_file

    src = get_testdata_file("MR2_UNCR.dcm")  # IOP 0.569/0.822/0, 0/0/-1: between coronal and sagittal
    folder = tmp_path / "mr2"
    folder.mkdir()
    shutil.copy(src, folder / "MR2_UNCR.dcm")
    vol = open_and_wait(qtbot, main_window, folder / "MR2_UNCR.dcm")
    assert vol.shape_xyz[2] == 1
    assert main_window.layout_name == vg.SAGITTAL
    w = main_window.slice_widgets[vg.SAGITTAL]
    sv = w.slice_view
    assert sv.frame_override is not None and sv.title == "Image plane"
    from PySide6.QtWidgets import QLabel

    assert main_window.frames[vg.SAGITTAL].findChild(QLabel, "view_title").text() == "Image plane"
    assert np.allclose(sv.frame[:, 0], vol.direction[:, 0] / np.linalg.norm(vol.direction[:, 0]))
    assert sv.letters.GetText(5) == "PL" and sv.letters.GetText(6) == "AR"
    assert sv.letters.GetText(7) == "S" and sv.letters.GetText(4) == "I"
    area, width, height = _content_fractions(w)
    # the image has black borders (content: rows 102-921, columns 8-1015 of 1024): still most of the view,
    # where the sagittal cut showed a strip about a tenth of the view wide
    assert area > 0.4 and width > 0.8 and height > 0.5, (area, width, height)
    text, lps = _centre_readout(main_window, w)
    ijk = np.rint(vol.to_index(lps)).astype(int)
    assert ijk[2] == 0 and abs(vol.to_index(lps)[2]) < 1e-6  # on the image
    assert np.all(np.abs(ijk[:2] - 511.5) <= 4)  # the view centre is the image centre
    value = float(vol.array[ijk[2], ijk[1], ijk[0]])
    assert text == main_window.state.value_text(value) and text
    assert sv.slice_info().count == 1


def test_synthetic_oblique_single_image_readout_and_pixels(qtbot, main_window, tmp_path):
    from meddiag_desktop.io.dicom_write import write_series

    t = np.radians(35)
    row, col = np.array([np.cos(t), np.sin(t), 0.0]), np.array([0.0, 0.0, -1.0])  # between coronal and sagittal
    direction = np.column_stack([row, col, np.cross(row, col)])
    nx, ny = 31, 25  # odd: the centre of the view is the centre of voxel (15, 12)
    j, i = np.mgrid[0:ny, 0:nx]
    stored = (100 + i * 20 + j * 7).astype(np.int16)[None]  # (z, y, x), every value distinct
    write_series(stored, tmp_path / "obl", spacing=(4.0, 4.0, 3.0), origin=(10.0, -5.0, 60.0), direction=direction,
                 modality="MR", window=(800.0, 400.0), series_description="Oblique single image")
    vol = open_and_wait(qtbot, main_window, tmp_path / "obl")
    assert vol.shape_xyz == (nx, ny, 1)
    view = vg.nearest_view(vg.image_normal(vol))
    assert view == vg.CORONAL and main_window.layout_name == view  # |normal . A| = cos 35 > sin 35
    w = main_window.slice_widgets[view]
    sv = w.slice_view
    assert sv.frame_override is not None
    area, width, height = _content_fractions(w)
    assert area > 0.5 and max(width, height) > 0.9, (area, width, height)
    text, lps = _centre_readout(main_window, w)
    assert np.array_equal(np.rint(vol.to_index(lps)).astype(int), (15, 12, 0))
    expected = int(stored[0, 12, 15])
    assert text == main_window.state.value_text(float(expected))
    # the pixel drawn at the centre has that voxel's grey (window 800/400: 0 at 0, white at 800)
    sv.set_crosshair_visible(False)
    w.render_now()
    grey = _grey(w)
    h = grey.shape[0]
    x, y = sv.lps_to_display(vol.to_lps((15, 12, 0)))
    shown = grey[h - 1 - int(round(y)), int(round(x))]
    assert shown == pytest.approx(expected / 800.0 * 255.0, abs=4.0)
    # scrolling keeps the image on screen (the slice cannot leave the image plane)
    before = main_window.state.cursor.copy()
    w.step_slices(3)
    assert np.allclose(main_window.state.cursor, before)
    # the other standard views are still standard (they cut the image along a line)
    assert all(main_window.slice_widgets[v].slice_view.frame_override is None for v in vg.VIEWS if v != view)


def test_aligned_single_image_keeps_the_standard_view(qtbot, main_window, tmp_path):
    from meddiag_desktop.io.dicom_write import write_series

    stored = (np.arange(20 * 16, dtype=np.int16).reshape(1, 16, 20) * 3)
    coronal = np.array([[1, 0, 0], [0, 0, -1], [0, -1, 0]], float).T
    write_series(stored, tmp_path / "cor", spacing=(1.0, 1.0, 2.0), direction=coronal, modality="MR")
    vol = open_and_wait(qtbot, main_window, tmp_path / "cor")
    assert main_window.layout_name == vg.CORONAL
    sv = main_window.slice_widgets[vg.CORONAL].slice_view
    assert sv.frame_override is None and sv.title == "Coronal"
    assert np.array_equal(sv.frame, vg.view_frame(vg.CORONAL))
    assert sv.letters.GetText(5) == "L" and sv.letters.GetText(7) == "S"
    assert vol.shape_xyz[2] == 1
