"""Fixtures for GUI tests: a synthetic CT series with known geometry and a main window that is closed after."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from qt_helpers import ORIGIN, SPACING, synthetic_hu


@pytest.fixture(scope="session", autouse=True)
def _private_user_folders(tmp_path_factory):
    """Sessions, the audit log and AI worker pre-start stay out of the real user's folders,
    also for app subprocesses (they inherit the environment)."""
    import os

    root = tmp_path_factory.mktemp("user")
    saved = {k: os.environ.get(k) for k in ("MEDDIAG_SESSION_DIR", "MEDDIAG_AUDIT_LOG", "MEDDIAG_AI_PREWARM")}
    os.environ.update(MEDDIAG_SESSION_DIR=str(root / "sessions"), MEDDIAG_AUDIT_LOG=str(root / "audit.log"),
                      MEDDIAG_AI_PREWARM="0")
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


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
    """Makes shown main windows with private user folders; closes those still open after the test."""
    monkeypatch.setenv("MEDDIAG_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("MEDDIAG_SESSION_DIR", str(tmp_path / "sessions"))
    monkeypatch.setenv("MEDDIAG_AUDIT_LOG", str(tmp_path / "audit.log"))
    monkeypatch.setenv("MEDDIAG_AI_PREWARM", "0")  # no torch worker process per window
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
