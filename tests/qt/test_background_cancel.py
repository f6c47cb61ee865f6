"""A job that stops with a ``Cancelled`` (load, AI run) ends its BackgroundTask as cancelled, never as failed."""

from __future__ import annotations

import shutil

import pytest

from meddiag_desktop.qt.background import BackgroundTask


def _outcome(qtbot, fn, cancel_first: bool = False) -> list:
    task = BackgroundTask(fn, "test")
    seen: list = []
    task.succeeded.connect(lambda r: seen.append(("succeeded", r)))
    task.failed.connect(lambda msg, exc: seen.append(("failed", msg, exc)))
    task.cancelled.connect(lambda: seen.append(("cancelled",)))
    if cancel_first:
        task.cancel()
    with qtbot.waitSignal(task.finished, timeout=30000):
        task.start()
    assert task.done and not task.running
    return seen


@pytest.fixture
def pydicom_folder(tmp_path):
    from pydicom.data import get_testdata_file

    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), folder)
    return folder


def test_a_load_cancelled_inside_the_job_ends_cancelled(qtbot, pydicom_folder):
    from meddiag_desktop import io

    # the job's own cancel source says stop; the task's token was never set: only the type decides
    assert _outcome(qtbot, lambda progress, cancel: io.load(pydicom_folder, progress, lambda: True)) == [("cancelled",)]


def test_the_task_token_reaches_the_load(qtbot, pydicom_folder):
    from meddiag_desktop import io

    assert _outcome(qtbot, lambda progress, cancel: io.load(pydicom_folder, progress, cancel))[0][0] == "succeeded"
    assert _outcome(qtbot, lambda progress, cancel: io.load(pydicom_folder, progress, cancel), cancel_first=True) == [
        ("cancelled",)]


def test_a_cancelled_ai_run_ends_cancelled(qtbot):
    torch = pytest.importorskip("torch")
    from meddiag_desktop.ai.sliding_window import sliding_window_argmax

    net = torch.nn.Conv3d(1, 2, 1)

    def run(progress, cancel):
        return sliding_window_argmax(torch.zeros(1, 12, 12, 12), net, (8, 8, 8), progress=progress, cancel=lambda: True)

    assert _outcome(qtbot, run) == [("cancelled",)]


def test_a_load_error_still_fails_with_its_message(qtbot, tmp_path):
    from meddiag_desktop import io

    seen = _outcome(qtbot, lambda progress, cancel: io.load(tmp_path / "missing", progress, cancel))
    assert [s[0] for s in seen] == ["failed"]
    assert isinstance(seen[0][2], io.LoadError) and "no such file or folder" in seen[0][1]


def test_a_cancelled_registration_ends_cancelled(qtbot, ct_series):
    from meddiag_desktop import io
    from meddiag_desktop.reading.registration import register_rigid

    vol = io.load(ct_series)

    def run(progress, cancel):
        return register_rigid(vol, vol, progress=progress, cancel=lambda: True, spacing_mm=4.0)

    assert _outcome(qtbot, run) == [("cancelled",)]
