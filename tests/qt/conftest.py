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
def new_window(qtbot, tmp_path, monkeypatch):
    """Makes shown main windows (user folders: the autouse ``user_folders``); closes those still open after the test."""
    monkeypatch.setenv("MEDDIAG_RESTORE_SESSION", "yes")
    from meddiag_desktop.qt.main_window import MainWindow

    made = []

    def make(size=(1200, 800)):
        win = MainWindow()
        qtbot.addWidget(win)
        win.resize(*size)
        win.show()
        qtbot.waitExposed(win)
        made.append(win)
        return win

    yield make
    for win in made:
        if win.isVisible():
            win.close()
        assert not win.is_busy(), f"a background task outlived the window: {[t.name for t in win._tasks if t.running]}"


@pytest.fixture
def main_window(new_window):
    return new_window()
