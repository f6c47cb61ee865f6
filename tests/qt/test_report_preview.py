"""The report preview dialog: real PDF pages, edits reach the export, errors shown, text fallback."""

import os

if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
pytest.importorskip("reportlab")

from meddiag_desktop.qt.report_preview import ReportPreviewDialog  # noqa: E402


@pytest.fixture
def study(tmp_path):
    from meddiag_desktop.io import load
    from meddiag_desktop.io.dicom_write import write_series
    from meddiag_desktop.report import LabelMap, build_report

    hu = np.full((8, 32, 32), -800, np.int16)
    labels = np.zeros(hu.shape, np.uint8)
    labels[3:5, 10:15, 10:15] = 1
    hu[labels == 1] = 40
    folder = tmp_path / "src"
    write_series((hu + 1024).astype(np.int16), folder, spacing=(1.0, 1.0, 2.0), rescale_intercept=-1024.0,
                 patient_name="Preview^Pat", patient_id="PV-123")
    volume = load(folder)
    report = build_report(volume, label_maps=[LabelMap(labels, {1: "nodule"}, {1: "#ff0000"})],
                          impression="first draft")
    return folder, volume, report


@pytest.fixture
def dialog(qtbot, study):
    _, volume, report = study
    dlg = ReportPreviewDialog(report, volume)
    qtbot.addWidget(dlg)
    dlg.show()
    yield dlg
    qtbot.waitUntil(lambda: not dlg.is_busy(), timeout=30000)
    dlg.close()


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_shows_the_pdf_pages(qtbot, dialog):
    qtbot.waitUntil(lambda: dialog.page_count() >= 1 and not dialog.is_busy(), timeout=30000)
    assert "page" in dialog.status.text()


def test_export_writes_the_edited_report(qtbot, dialog, tmp_path):
    from meddiag_desktop.report.export import FILE_NAMES

    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=30000)
    dialog.impression.setPlainText("Edited impression: 8 mm nodule.")
    dialog.reader.setText("Dr P. Viewer")
    dialog.out_dir.setText(str(tmp_path / "out"))
    with qtbot.waitSignal(dialog.exported, timeout=60000) as sig:
        dialog.export_button.click()
    result = sig.args[0]
    assert sorted(p.name for p in result.paths.values()) == sorted(FILE_NAMES.values())
    if shutil.which("pdftotext"):
        import subprocess

        text = subprocess.run(["pdftotext", str(result.paths["pdf"]), "-"], capture_output=True, text=True).stdout
        assert "Edited impression" in text and "Dr P. Viewer" in text
    assert "Wrote" in dialog.status.text()


def test_export_into_the_source_folder_shows_the_reason(qtbot, dialog, study):
    folder, _, _ = study
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=30000)
    dialog.out_dir.setText(str(folder / "reports"))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: "source folder" in dialog.status.text(), timeout=30000)
    assert not (folder / "reports").exists()


def test_without_poppler_the_content_is_shown_as_text(qtbot, study, monkeypatch):
    import meddiag_desktop.qt.report_preview as rp

    monkeypatch.setattr(rp.shutil, "which", lambda name: None)
    _, volume, report = study
    dlg = ReportPreviewDialog(report, volume)
    qtbot.addWidget(dlg)
    with qtbot.waitSignal(dlg.pages_ready, timeout=30000) as sig:
        pass
    assert sig.args == [0]
    assert "Preview Pat" in dlg._text.toPlainText() and "nodule" in dlg._text.toPlainText()
    qtbot.waitUntil(lambda: not dlg.is_busy(), timeout=30000)
    dlg.close()


def test_anonymised_preview_shows_the_pseudonym_that_is_exported(qtbot, dialog, tmp_path):
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=30000)
    dialog.anonymize.setChecked(True)
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=30000)
    dialog.out_dir.setText(str(tmp_path / "anon"))
    with qtbot.waitSignal(dialog.exported, timeout=60000) as sig:
        dialog.export_button.click()
    result = sig.args[0]
    assert result.anonymized and result.pseudonym == dialog._deidentifier().pseudonym
    assert b"PV-123" not in result.paths["seg"].read_bytes()
