"""A one-series study from a real Orthanc shows while it is still arriving, then whole, the cursor kept."""

from __future__ import annotations

import threading
import time

import numpy as np
import pydicom
import pytest

from tests.pacs.conftest import make_ct, orthanc  # noqa: F401 - fixtures

SLICES = 60
HOLD_AT = 20  # the retrieve waits after this many instances until a partial view is on screen (a slow link)


@pytest.fixture
def db_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDDIAG_DB_DIR", str(tmp_path / "db"))
    return tmp_path / "db"


def test_single_series_shows_before_the_retrieve_ends(new_window, qtbot, orthanc, tmp_path, db_dir, monkeypatch):  # noqa: F811
    from meddiag_desktop import io
    from meddiag_desktop.db import StudyDatabase

    arr, files = make_ct(tmp_path / "src", patient_id="PROGGUI1", patient_name="Progressive^Gui", slices=SLICES,
                         size=16, seed=61)
    orthanc.upload(files)
    study_uid = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)

    on_screen = threading.Event()
    stored = {"n": 0}
    real_store = StudyDatabase.store_received

    def slow_link(self, data, *, commit=True):  # the PACS's 21st instance only comes once a first view is shown
        out = real_store(self, data, commit=commit)
        stored["n"] += 1
        if stored["n"] == HOLD_AT:
            on_screen.wait(30)
        return out

    monkeypatch.setattr(StudyDatabase, "store_received", slow_link)
    win = new_window()
    dlg = win.show_pacs_dialog()
    dlg.progressive.interval_ms = 100
    dlg.node.setEditText(orthanc.node_text)
    dlg.fields["patient_id"].setText("PROGGUI1")
    dlg.search()
    qtbot.waitUntil(lambda: not dlg.busy(), timeout=15000)
    assert dlg.table.rowCount() == 1
    views = []
    reader = {}

    def shown(volume, n, expected, final):
        views.append((n, expected, final, time.monotonic(), win.statusBar().currentMessage(), dlg.busy()))
        if not final and "cursor" not in reader:  # the reader clicks slice 3 of what is there
            win.state.set_cursor(volume.to_lps((4, 5, 3)))
            reader["cursor"] = win.state.cursor.copy()
            on_screen.set()

    dlg.progressive.shown.connect(shown)
    with qtbot.waitSignal(dlg.study_retrieved, timeout=60000):
        dlg.retrieve()
    qtbot.waitUntil(lambda: dlg.progressive.final, timeout=30000)
    first, last = views[0], views[-1]
    # the first view: a partial volume, on screen while the retrieve was still running, its state in the status bar
    assert not first[2] and 8 <= first[0] < SLICES and first[1] == SLICES and first[5]
    assert first[4].startswith("Retrieving ") and first[4].split()[1].endswith(f"/{SLICES}")
    # (the final view may come a few ms before the retrieve call returns: it needs only every expected instance)
    assert dlg.progressive.first_shown_at < dlg.retrieve_ended_at and dlg.progressive.final_shown_at is not None
    # the end: the whole series, the same volume as a plain load of the retrieved folder, the reader's cursor kept
    assert last[2] and last[0] == SLICES
    folder = StudyDatabase(db_dir).study(study_uid).folder
    plain = io.load(folder)
    np.testing.assert_array_equal(win.state.volume.array, plain.array)
    np.testing.assert_array_equal(win.state.volume.array, arr)
    np.testing.assert_allclose(win.state.volume.origin, plain.origin)
    np.testing.assert_allclose(win.state.cursor, reader["cursor"], atol=1e-6)
    dlg.close()
