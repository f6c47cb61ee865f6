"""Fixtures for GUI tests: a synthetic CT series with known geometry and a main window that is closed after."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from qt_helpers import ORIGIN, SPACING, synthetic_hu


@pytest.fixture
def ct_series(tmp_path):
    from meddiag_desktop.io.dicom_write import write_series

    folder = tmp_path / "ct"
    hu = synthetic_hu()
    write_series(
        (hu + 1024).astype(np.int16),
        folder,
        spacing=SPACING,
        origin=ORIGIN,
        rescale_intercept=-1024.0,
        window=(400.0, 40.0),
        patient_name="Test^Viewer",
        series_description="GUI test series",
    )
    return folder


@pytest.fixture
def main_window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDDIAG_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("MEDDIAG_SESSION_DIR", str(tmp_path / "sessions"))
    monkeypatch.setenv("MEDDIAG_AUDIT_LOG", str(tmp_path / "audit.log"))
    monkeypatch.setenv("MEDDIAG_AI_PREWARM", "0")  # no torch worker process per window
    monkeypatch.setenv("MEDDIAG_RESTORE_SESSION", "yes")
    from meddiag_desktop.qt.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
    assert not win.is_busy(), "a background task outlived the window"
