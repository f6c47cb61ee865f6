"""The batch dialog runs a real batch (LocalCluster, 1 worker) off the UI thread and shows its progress."""

from __future__ import annotations

import shutil
import time

import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("distributed")


@pytest.mark.gui
def test_batch_dialog_runs_a_batch_and_shows_progress(qtbot, archive, plugin, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDDIAG_PLUGIN_PATH", str(plugin.parent))
    from meddiag_desktop.qt.batch_dialog import BatchDialog

    studies = tmp_path / "selection"
    shutil.copytree(archive["root"] / "study0", studies / "study0")
    shutil.copytree(archive["root"] / "truncated", studies / "truncated")
    dialog = BatchDialog(input_folder=str(studies))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.start()
    assert "Cannot start: choose an output folder" in dialog.status.text() and dialog.task is None
    dialog.output.edit.setText(str(tmp_path / "out"))
    dialog.workers.setValue(1)
    dialog.set_plugins_checked(["test.threshold"])
    dialog.start()
    assert not dialog.start_button.isEnabled() and dialog.cancel_button.isEnabled()
    ticks = []
    started = time.monotonic()
    # the UI thread stays free: events are processed (the timer below ticks) while the batch runs
    qtbot.waitUntil(lambda: ticks.append(time.monotonic() - started) or (dialog.task and dialog.task.done),
                    timeout=120_000)
    assert len(ticks) > 20
    uid = archive["good"]["study0"]
    assert dialog.outcome is not None and dialog.outcome.progress.done == 1
    assert "Finished: 1 done, 1 failed" in dialog.status.text()
    items = [dialog.log.item(i).text() for i in range(dialog.log.count())]
    assert any(t.startswith(f"study0  {uid}: done") for t in items)
    assert any("truncated" in t and "FAILED" in t for t in items)
    assert "Dask dashboard" in dialog.dashboard.text()
    assert (tmp_path / "out" / uid / "batch-done.json").exists() and dialog.start_button.isEnabled()


@pytest.mark.gui
def test_the_file_menu_opens_the_batch_dialog(qtbot, tmp_path, monkeypatch):
    from meddiag_desktop.qt.batch_dialog import BatchDialog
    from meddiag_desktop.qt.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    (action,) = [a for a in win.file_menu.actions() if a.text() == "&Batch AI over studies..."]
    action.trigger()
    dialog = win.batch_dialog
    assert isinstance(dialog, BatchDialog) and dialog.isVisible()
    ids = [dialog.plugins.item(i).data(0x0100) for i in range(dialog.plugins.count())]
    assert "meddiag.chest-ct-seg" in ids  # the bundled plugins are offered
    action.trigger()
    assert win.batch_dialog is dialog  # one dialog per window
    win.close()
    assert not dialog.isVisible()
