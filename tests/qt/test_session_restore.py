"""A session survives ``kill -9``: the app autosaves, is killed, and a new window restores it intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qt_helpers import open_and_wait

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]

CHILD = r'''
import sys, numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from meddiag_desktop.core.measurements import Measurement
from meddiag_desktop.qt.main_window import MainWindow

app = QApplication([])
win = MainWindow()
win.resize(1000, 700)
win.show()

def edit(vol):
    st = win.state
    c = vol.to_lps((32, 24, 10))
    st.set_cursor(c)
    n = (0.0, 0.0, -1.0)
    st.measurements.add(Measurement("distance", [c + (-9, 1, 0), c + (7, 5, 0)], n, label="Aorta"))
    st.measurements.add(Measurement("ellipse", [c, c + (6, 0, 0), c + (0, 4, 0)], n))
    st.measurements.add(Measurement("nodule_axes", [c + (-4, 0, 0), c + (4, 0, 0), c + (0, -2, 0), c + (0, 2, 0)], n))
    st.set_window(1500.0, -600.0)
    win.set_layout("1x3")
    win.slice_widgets["axial"].slice_view.zoom = 2.5
    win.slice_widgets["axial"].slice_view.pan[:] = (3.0, -4.0)
    st.set_cursor(c + (2.0, 0.0, 0.0))  # a last change: autosave follows within MEDDIAG_AUTOSAVE_MS
    QTimer.singleShot(1500, lambda: print("EDITED", win.sessions.saves, flush=True))

win.volume_shown.connect(edit)
win.open_path(sys.argv[1])
app.exec()
'''


def test_session_restored_after_kill(qtbot, tmp_path, monkeypatch, ct_series, new_window):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MEDDIAG_CONFIG_DIR=str(tmp_path / "cfg"),
               MEDDIAG_SESSION_DIR=str(tmp_path / "sessions"), MEDDIAG_AUDIT_LOG=str(tmp_path / "audit.log"),
               MEDDIAG_AI_PREWARM="0", MEDDIAG_AUTOSAVE_MS="300")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.Popen([sys.executable, str(script), str(ct_series)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 90
        line = ""
        while time.time() < deadline and not line.startswith("EDITED"):
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert line.startswith("EDITED") and int(line.split()[1]) >= 1, proc.stderr.read() if proc.poll() is not None else line
        os.kill(proc.pid, signal.SIGKILL)  # no clean exit: the lock file stays
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    sessions = list((tmp_path / "sessions").glob("*.json"))
    assert len(sessions) == 1 and list((tmp_path / "sessions").glob("*.lock"))
    assert not any(ct_series.rglob("*.json"))  # never written beside the study

    for k, v in env.items():
        if k.startswith("MEDDIAG_"):
            monkeypatch.setenv(k, v)
    monkeypatch.setenv("MEDDIAG_RESTORE_SESSION", "yes")  # the restore dialog answered Yes
    win = new_window((1000, 700))
    try:
        vol = open_and_wait(qtbot, win, ct_series)
        st = win.state
        ms = list(st.measurements)
        assert [m.kind for m in ms] == ["distance", "ellipse", "nodule_axes"]
        assert ms[0].label == "Aorta"
        c = vol.to_lps((32, 24, 10))
        np.testing.assert_allclose(ms[0].points, [c + (-9, 1, 0), c + (7, 5, 0)], atol=1e-9)
        assert st.window == (1500.0, -600.0)
        assert win.layout_name == "1x3"
        np.testing.assert_allclose(st.cursor, c + (2.0, 0.0, 0.0), atol=1e-6)
        sv = win.slice_widgets["axial"].slice_view
        assert sv.zoom == 2.5 and tuple(sv.pan) == (3.0, -4.0)
        assert win.sessions.last_restored is not None
        assert st.history.texts == []  # the restored state is the start of the history
        table = win.tools.measurements_panel.table
        assert table.rowCount() == 3 and table.item(0, 0).text() == "Aorta"
    finally:
        win.close()
    assert not list((tmp_path / "sessions").glob("*.lock"))  # a clean close removes the lock


@pytest.mark.parametrize("regrid", [False, True])
def test_session_of_a_study_now_read_onto_another_grid_keeps_measurements_not_views(
        qtbot, user_folders, new_window, ct_series, regrid):
    import json

    from meddiag_desktop.core.measurements import Measurement

    first = new_window()
    vol = open_and_wait(qtbot, first, ct_series)
    c = vol.to_lps((10, 10, 5))
    first.state.measurements.add(Measurement("distance", [c, c + (12, 0, 0)], (0, 0, -1), label="kept"))
    first.set_layout("axial")
    first.close()
    (path,) = user_folders.sessions.glob("*.json")
    saved = json.loads(path.read_text())
    assert len(saved["geometry"]) == 16 and saved["layout"] == "axial"
    if regrid:  # as if a newer reader placed this study's voxels differently
        saved["geometry"] = "0" * 16
        path.write_text(json.dumps(saved))

    second = new_window()
    open_and_wait(qtbot, second, ct_series)
    assert [m.label for m in second.state.measurements] == ["kept"]  # the reader's work comes back either way
    notes = [w for w in second.warnings.volume_warnings if "different grid" in w]
    if regrid:
        assert second.layout_name == "four" and len(notes) == 1 and "1 restored measurement" in notes[0]
    else:
        assert second.layout_name == "axial" and notes == []
    second.close()
