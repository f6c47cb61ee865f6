"""Loading paths of the main window: study browser, cancel, drag and drop, the screenshot command."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication

from qt_helpers import SHAPE_XYZ, open_and_wait

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def two_series(tmp_path):
    from meddiag_desktop.io.dicom_write import write_series

    folder = tmp_path / "study"
    big = np.zeros((12, 20, 24), np.int16)
    big[6, 10, 12] = 500
    small = np.full((5, 16, 16), 77, np.int16)
    study = "1.2.826.0.1.3680043.8.498.1"
    write_series(big, folder / "a", spacing=(1, 1, 2), study_uid=study, series_description="Big series", series_number=1)
    write_series(small, folder / "b", spacing=(1, 1, 3), study_uid=study, series_description="Small series", series_number=2)
    return folder


def test_browser_lists_series_and_double_click_opens_another(qtbot, main_window, two_series):
    vol = open_and_wait(qtbot, main_window, two_series)
    assert vol.shape_xyz == (24, 20, 12)  # the largest series opens first
    items = main_window.browser.series_items()
    assert len(items) == 2
    assert items[0].font(0).bold() != items[1].font(0).bold()
    small = next(i for i in items if "Small" in i.text(0))
    with qtbot.waitSignal(main_window.volume_shown, timeout=30000):
        main_window.browser.tree.itemDoubleClicked.emit(small, 0)
    assert main_window.state.volume.shape_xyz == (16, 16, 5)
    assert small.font(0).bold()


def test_cancel_stops_a_running_load(qtbot, main_window, monkeypatch):
    started = threading.Event()

    def slow_open(target, progress=None, cancel=None, on_partial=None):
        started.set()
        for i in range(500):
            progress(i, 500)
            if cancel():
                from meddiag_desktop.io import LoadCancelled

                raise LoadCancelled()
            threading.Event().wait(0.01)
        raise AssertionError("not cancelled")

    monkeypatch.setattr("meddiag_desktop.qt.main_window.open_study", slow_open)
    main_window.open_path("/nonexistent")
    assert started.wait(10)
    qtbot.waitUntil(lambda: main_window.progress.isVisible())
    with qtbot.waitSignal(main_window._task.finished, timeout=10000):
        main_window.progress.cancel_button.click()
    assert not main_window.is_busy()
    assert not main_window.error_banner.isVisible()
    assert main_window.state.volume is None


def test_drop_folder_opens_it(qtbot, main_window, ct_series):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(ct_series))])
    pos = QPointF(200, 200)
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(main_window, enter)
    assert enter.isAccepted()
    with qtbot.waitSignal(main_window.volume_shown, timeout=30000):
        drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(main_window, drop)
    assert main_window.state.volume.shape_xyz == SHAPE_XYZ


def _quadrant_std(img: QImage) -> list[float]:
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    arr = np.frombuffer(img.constBits(), np.uint8, count=img.bytesPerLine() * h).reshape(h, -1)[:, : 3 * w].reshape(h, w, 3)
    # the view grid lies right of the study browser and below the toolbar
    grid = arr[int(h * 0.08) : int(h * 0.95), int(w * 0.25) :]
    gh, gw = grid.shape[:2]
    quads = [grid[: gh // 2, : gw // 2], grid[: gh // 2, gw // 2 :], grid[gh // 2 :, : gw // 2], grid[gh // 2 :, gw // 2 :]]
    return [float(q.astype(float).std()) for q in quads]


def test_screenshot_command_saves_all_four_views(tmp_path, ct_series):
    out = tmp_path / "shot.png"
    env = dict(os.environ, MEDDIAG_CONFIG_DIR=str(tmp_path / "cfg"), MEDDIAG_REPORT_MODULES="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "meddiag_desktop", str(ct_series), "--screenshot", str(out), "--size", "1200x800"],
        env=env, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    assert "heavy_imported=none" in proc.stderr
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1200, 800)
    assert all(s > 10 for s in _quadrant_std(img)), _quadrant_std(img)


def test_screenshot_command_fails_cleanly_on_bad_input(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.dcm").write_bytes(b"\x00" * 10)
    env = dict(os.environ, MEDDIAG_CONFIG_DIR=str(tmp_path / "cfg"), PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "meddiag_desktop", str(bad), "--screenshot", str(tmp_path / "x.png")],
        env=env, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 1
    assert "meddiag:" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.png").exists()


def test_opening_one_dicom_file_opens_its_whole_series(qtbot, main_window, two_series):
    one = sorted((two_series / "a").glob("*.dcm"))[3]
    vol = open_and_wait(qtbot, main_window, one)
    assert vol.shape_xyz == (24, 20, 12)  # all 12 slices, not the one file
    assert len(main_window.browser.series_items()) == 1  # the series of the file's folder


def test_a_nifti_file_gets_its_own_entry_in_the_study_browser(qtbot, main_window, tmp_path):
    import SimpleITK as sitk

    arr = np.arange(6 * 10 * 12, dtype=np.int16).reshape(6, 10, 12)
    path = tmp_path / "research scan.nii.gz"
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.5, 0.6, 2.0))
    sitk.WriteImage(img, str(path))
    vol = open_and_wait(qtbot, main_window, path)
    assert vol.shape_xyz == (12, 10, 6)
    items = main_window.browser.series_items()
    assert [i.text(0) for i in items] == ["research scan.nii.gz"]
    assert items[0].text(2) == "6" and items[0].font(0).bold()  # its slices, and it is the open one


def test_compressed_series_shows_while_it_decodes_and_ends_complete(qtbot, main_window, tmp_path):
    """A JPEG 2000 series is on screen from its first decoded slice; the same volume then fills in."""
    import pydicom
    from pydicom.uid import JPEG2000Lossless

    from meddiag_desktop.io import load
    from meddiag_desktop.io.dicom_write import write_series

    rng = np.random.default_rng(5)
    stored = rng.integers(0, 1500, size=(8, 64, 64)).astype(np.int16)
    for p in write_series(stored, tmp_path / "j2k", spacing=(0.8, 0.8, 2.0), rescale_intercept=-1024):
        ds = pydicom.dcmread(p)
        ds.compress(JPEG2000Lossless)
        ds.save_as(p)
    seen, messages = [], []
    main_window.state.volume_changed.connect(lambda v: seen.append((v, main_window.is_busy())))
    main_window.statusBar().messageChanged.connect(lambda m: messages.append((m, len(seen))))
    with qtbot.waitSignal(main_window.volume_shown, timeout=60000):
        main_window.open_path(str(tmp_path / "j2k"))
    assert seen and seen[0][0] is not None and seen[0][1], "nothing was shown while the series was decoding"
    decoding = [m for m in messages if m[0].startswith("Decoding")]
    # shown when the first slice (the middle one, where the views open) was in, not at the end
    assert decoding and decoding[0] == ("Decoding: 1 of 8 slices", 1), messages
    vol = main_window.state.volume
    assert vol is seen[0][0] and len(seen) == 1  # shown once, then filled in place
    np.testing.assert_array_equal(vol.array, load(tmp_path / "j2k").array)
    assert main_window.statusBar().currentMessage().startswith("Loaded 64x64x8")


def test_an_open_started_before_the_window_reports_its_whole_time(qtbot, main_window, two_series, monkeypatch):
    """Start-up opens the study before the window exists, and the window takes the task over before the
    event loop runs: the status bar counts from the task's start (it said "in 0.00 s" for the demo)."""
    import time

    import meddiag_desktop.qt.main_window as mw

    real = mw.open_study
    loaded = threading.Event()

    def slow_open(*args, **kwargs):
        time.sleep(0.3)  # the load's own time, before the window takes the task over
        try:
            return real(*args, **kwargs)
        finally:
            loaded.set()

    monkeypatch.setattr(mw, "open_study", slow_open)
    task = mw.start_open_task(str(two_series))
    assert loaded.wait(30)  # done on its thread; its result waits in the (not yet running) event loop
    with qtbot.waitSignal(main_window.volume_shown, timeout=30000):
        main_window.adopt_task(task, "Opening")
    assert main_window.load_seconds >= 0.3
    assert f"in {main_window.load_seconds:.2f} s" in main_window.statusBar().currentMessage()


def test_the_decode_processes_start_once_the_reader_pauses_after_the_first_study(qtbot, main_window, two_series,
                                                                                    monkeypatch):
    """So that the first compressed study opened does not wait for them (0.5-1 s) before its first slice,
    and their start-up does not slow a scroll."""
    import time

    import meddiag_desktop.io.decode_pool as dp
    import meddiag_desktop.qt.reader_idle as reader_idle

    calls = []
    monkeypatch.setattr(dp, "warm", lambda: calls.append(threading.current_thread().name))
    monkeypatch.setattr(reader_idle, "QUIET_S", 0.3)
    monkeypatch.setenv("MEDDIAG_DECODE_PREWARM", "1")
    open_and_wait(qtbot, main_window, two_series)
    end = time.monotonic() + 1.0
    while time.monotonic() < end:  # the reader scrolls for a second: nothing starts meanwhile
        main_window.state.step_slice("axial", 1 if int(time.monotonic() * 10) % 2 else -1)
        qtbot.wait(50)
    assert calls == []
    qtbot.waitUntil(lambda: len(calls) > 0, timeout=5000)  # then a pause of 0.3 s
    assert calls == ["meddiag-decode-warm"]  # once, off the UI thread
    open_and_wait(qtbot, main_window, two_series)
    qtbot.wait(500)
    assert len(calls) == 1  # not again for the next study


def test_no_decode_processes_are_started_when_turned_off(qtbot, main_window, two_series, monkeypatch):
    import meddiag_desktop.io.decode_pool as dp
    import meddiag_desktop.qt.reader_idle as reader_idle

    calls = []
    monkeypatch.setattr(dp, "warm", lambda: calls.append(1))
    monkeypatch.setattr(reader_idle, "QUIET_S", 0.05)
    open_and_wait(qtbot, main_window, two_series)  # MEDDIAG_DECODE_PREWARM=0 (tests/conftest.py)
    qtbot.wait(300)
    assert calls == []


def test_the_ai_worker_is_started_ahead_only_once_the_reader_pauses(qtbot, main_window, two_series, monkeypatch):
    """Importing torch ahead of the next run costs a second of CPU: during a scroll it took the axial view
    from 67-74 to 58-60 fps (bench_scroll), so the spare worker waits for a pause too."""
    import time

    import meddiag_desktop.ai.isolation as isolation
    import meddiag_desktop.qt.reader_idle as reader_idle

    started = []

    class Spare:
        used = False

        def __init__(self, *args, **kwargs):
            started.append(time.monotonic())

        def is_alive(self):
            return True

        def close(self):
            pass

    monkeypatch.setattr(isolation, "WorkerProcess", Spare)
    monkeypatch.setattr(reader_idle, "QUIET_S", 0.3)
    monkeypatch.setenv("MEDDIAG_AI_PREWARM", "1")
    open_and_wait(qtbot, main_window, two_series)
    main_window.panels.ensure_built()  # as the deferred build does after the first frames
    end = time.monotonic() + 1.0
    while time.monotonic() < end:  # the reader scrolls for a second
        main_window.state.step_slice("axial", 1 if int(time.monotonic() * 10) % 2 else -1)
        qtbot.wait(50)
    assert started == []
    qtbot.waitUntil(lambda: len(started) > 0, timeout=5000)
    assert started[0] >= end
