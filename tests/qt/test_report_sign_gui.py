"""Report ready to sign, in the GUI: key images the reader chooses (no crosshair, zoomed, captioned by
view, image and lobe) reach the PDF; the preview follows typing."""

import os

if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import io  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
pytest.importorskip("reportlab")

from qt_helpers import open_and_wait  # noqa: E402

needs_poppler = pytest.mark.skipif(shutil.which("pdfimages") is None, reason="poppler-utils not installed")


def _crosshair_pixels(png: bytes) -> int:
    """Pixels in the colours of the sagittal and coronal crosshair lines an axial view draws."""
    from PIL import Image

    from meddiag_desktop.core import view_geometry as vg
    from meddiag_desktop.render.slice_view import VIEW_COLOURS

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), int)
    n = 0
    for view in (vg.SAGITTAL, vg.CORONAL):
        c = np.round(np.asarray(VIEW_COLOURS[view]) * 255)
        n += int((np.abs(rgb - c).max(axis=2) <= 6).sum())
    return n


def _png(qimage) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    qimage.save(buf, "PNG")
    return bytes(data)


@pytest.fixture
def demo_window(qtbot, main_window):
    from meddiag_desktop.demo import demo_ground_truth, demo_study_dir

    _, nodules = demo_ground_truth()
    vol = open_and_wait(qtbot, main_window, demo_study_dir())
    return main_window, vol, nodules


@needs_poppler
def test_added_view_is_zoomed_without_crosshair_captioned_and_in_the_pdf(qtbot, demo_window, tmp_path):
    from meddiag_desktop.core import view_geometry as vg
    from meddiag_desktop.core.measurements import Measurement
    from meddiag_desktop.qt.report_export import session_report
    from meddiag_desktop.qt.report_preview import ReportPreviewDialog
    from meddiag_desktop.report.pdf import render_pdf

    win, vol, nodules = demo_window
    n = next(x for x in nodules if x.lung == "right" and x.upper_lobe)
    c = np.asarray(n.center_lps)
    win.state.set_cursor(c)
    win.state.measurements.add(Measurement("distance", [c - (6, 0, 0), c + (6, 0, 0)], (0, 0, 1)))
    axial = win.slice_widgets[vg.AXIAL]
    axial.setFocus()
    axial.render_now()
    as_shown = _png(axial.capture())
    assert _crosshair_pixels(as_shown) > 50, "the view shows its crosshair (the test looks for the right colours)"
    zoom_before = axial.slice_view.zoom

    assert session_report(win).comparison is None  # no prior open: "Comparison: none"
    from types import SimpleNamespace

    win.compare.prior = SimpleNamespace(study_date="20240102", description="CT chest")  # as the priors view sets it
    report = session_report(win)
    win.compare.prior = None
    assert (report.comparison.study_date, report.comparison.description) == ("20240102", "CT chest")
    info = vg.slice_info(vg.AXIAL, vol, c)
    assert [(m.name, m.location, m.image) for m in report.measurements] == [
        ("Distance 1", "right upper lobe", f"axial image {info.index + 1}/{info.count}")]
    dialog = ReportPreviewDialog(report, vol, parent=win)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.set_key_images([])
    qtbot.mouseClick(dialog.add_view_button, __import__("PySide6.QtCore").QtCore.Qt.MouseButton.LeftButton)
    keys = dialog.key_images()
    assert len(keys) == 1 and dialog.key_list.count() == 1
    info = vg.slice_info(vg.AXIAL, vol, c)
    assert keys[0].caption.startswith(f"Axial image {info.index + 1}/{info.count}, right upper lobe: Distance 1 12.")
    assert _crosshair_pixels(keys[0].png) == 0
    assert axial.slice_view.zoom == zoom_before and axial.slice_view.crosshair_visible  # the view is put back
    # zoomed to the finding: the measurement (yellow) spans a good part of the image, not a few pixels
    from PIL import Image

    from meddiag_desktop.render.measurement_layer import COLOURS

    rgb = np.asarray(Image.open(io.BytesIO(keys[0].png)).convert("RGB"), int)
    yellow = np.abs(rgb - np.round(np.asarray(COLOURS["normal"]) * 255)).max(axis=2) <= 6
    xs = np.nonzero(yellow.any(axis=0))[0]
    assert xs.size and (xs.max() - xs.min()) > rgb.shape[1] * 0.08

    dialog.add_current_view()  # a second one, then reorder and remove
    dialog.set_key_images([keys[0], dataclass_replace(dialog.key_images()[1], caption="second")])
    dialog.key_list.setCurrentRow(1)
    dialog.move_key_image(-1)
    assert [k.caption for k in dialog.key_images()][0] == "second"
    dialog.remove_key_image()  # removes the selected one (now first)
    assert [k.caption for k in dialog.key_images()] == [keys[0].caption]

    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render_pdf(dialog.current_report()))
    subprocess.run(["pdfimages", "-png", str(pdf), str(tmp_path / "img")], check=True, capture_output=True)
    w, h = Image.open(io.BytesIO(keys[0].png)).size
    embedded = [p for p in tmp_path.glob("img-*.png") if Image.open(p).size == (w, h)]
    assert embedded, "the chosen key image is embedded in the PDF"
    assert all(_crosshair_pixels(p.read_bytes()) == 0 for p in embedded)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "right upper lobe" in text
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=60000)
    dialog.close()


def dataclass_replace(obj, **kw):
    import dataclasses

    return dataclasses.replace(obj, **kw)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_preview_follows_typing_without_losing_the_caret(qtbot, tmp_path):
    from meddiag_desktop.io import load
    from meddiag_desktop.io.dicom_write import write_series
    from meddiag_desktop.qt.report_preview import ReportPreviewDialog
    from meddiag_desktop.report import build_report

    hu = np.full((4, 24, 24), -800, np.int16)
    write_series((hu + 1024).astype(np.int16), tmp_path / "s", spacing=(1.0, 1.0, 2.0), rescale_intercept=-1024.0)
    volume = load(tmp_path / "s")
    dialog = ReportPreviewDialog(build_report(volume, key_images=[]), volume)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.preview_count == 1 and not dialog.is_busy(), timeout=30000)
    first = dialog.shown_report
    dialog.impression.setFocus()
    qtbot.keyClicks(dialog.impression, "No nodule")
    assert dialog.impression.textCursor().position() == len("No nodule")
    assert dialog.preview_count == 1  # typing does not wait for a render: it comes after a pause
    qtbot.waitUntil(lambda: dialog.shown_report is not None and dialog.shown_report.impression == "No nodule"
                    and not dialog.is_busy(), timeout=30000)
    assert first.impression == "" and dialog.preview_count < 1 + len("No nodule")  # debounced: not one render per key
    assert dialog.impression.toPlainText() == "No nodule" and dialog.impression.textCursor().position() == 9
    dialog.close()
