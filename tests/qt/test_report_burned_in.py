"""Export dialog: an anonymised report of a study with burned-in annotation asks before it keeps key images."""

import os

if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
pytest.importorskip("reportlab")

from meddiag_desktop.qt.report_preview import ReportPreviewDialog  # noqa: E402


@pytest.fixture
def burned_in_study(tmp_path):
    """A US-like series that says BurnedInAnnotation YES, with one key image in its report."""
    import pydicom

    from meddiag_desktop.io import load
    from meddiag_desktop.io.dicom_write import write_series
    from meddiag_desktop.report import KeyImage, build_report
    from meddiag_desktop.report.key_images import render_axial

    folder = tmp_path / "src"
    write_series(np.full((3, 16, 16), 100, np.int16), folder, spacing=(1.0, 1.0, 2.0),
                 patient_name="Burned^Pat", patient_id="BI-1")
    for f in folder.glob("*.dcm"):
        ds = pydicom.dcmread(f)
        ds.BurnedInAnnotation = "YES"
        ds.save_as(f)
    volume = load(folder)
    report = build_report(volume, key_images=[KeyImage(render_axial(volume, 1), "axial")], impression="normal")
    return volume, report


@pytest.mark.parametrize("answer", ["Yes", "No"])
def test_anonymised_export_asks_before_keeping_key_images(qtbot, burned_in_study, tmp_path, monkeypatch, answer):
    from PySide6.QtWidgets import QMessageBox

    volume, report = burned_in_study
    asked = []

    def question(parent, title, text, *a, **k):
        asked.append(text)
        return getattr(QMessageBox.StandardButton, answer)

    monkeypatch.setattr(QMessageBox, "question", question)
    dialog = ReportPreviewDialog(report, volume)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=30000)
    dialog.anonymize.setChecked(True)
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=30000)
    dialog.out_dir.setText(str(tmp_path / "out"))
    with qtbot.waitSignal(dialog.exported, timeout=60000) as sig:
        dialog.export_button.click()
    result = sig.args[0]
    assert len(asked) == 1 and "BurnedInAnnotation YES" in asked[0]
    images = len(re.findall(rb"/Subtype\s*/Image", result.paths["pdf"].read_bytes()))
    if answer == "Yes":
        assert images >= 1 and not [w for w in result.warnings if "key images" in w]
    else:
        assert images == 0 and "key images left out" in dialog.status.text()
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=30000)
    dialog.close()
