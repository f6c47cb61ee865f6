"""The database tab, the query/retrieve dialog and Send to PACS, against a real Orthanc."""

from __future__ import annotations

import numpy as np
import pytest

from tests.pacs.conftest import ct_on_orthanc, make_ct, orthanc  # noqa: F401 - fixtures


@pytest.fixture
def db_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDDIAG_DB_DIR", str(tmp_path / "db"))
    return tmp_path / "db"


def _show_database_tab(win, qtbot):
    tabs = win.browser.widget()
    tabs.setCurrentWidget(win.db_browser)
    qtbot.waitUntil(lambda: win.db_browser._db is not None, timeout=5000)
    return win.db_browser


def test_database_tab_lists_patients_shows_thumbnail_and_opens_newest(new_window, qtbot, tmp_path, db_dir):
    from meddiag_desktop.io.dicom_write import write_series

    now = np.full((4, 16, 16), 300, np.int16)
    now[:, 4:12, 4:12] = 900
    write_series(now, tmp_path / "src" / "now", patient_id="GUI01", patient_name="Gui^Patient",
                 extra={"StudyDate": "20260301"}, study_description="CT now")
    write_series(np.zeros((4, 16, 16), np.int16), tmp_path / "src" / "prior", patient_id="GUI01",
                 patient_name="Gui^Patient", extra={"StudyDate": "20240301"}, study_description="CT prior")
    win = new_window()
    assert win.db_browser._db is None  # the database is not touched until its tab is shown
    browser = _show_database_tab(win, qtbot)
    task = browser.import_path(str(tmp_path / "src"))
    qtbot.waitUntil(lambda: task.done and browser._task is None, timeout=20000)
    assert "Imported 8 instance(s) of 2 studies" in browser.status.text()
    patient = browser.tree.topLevelItem(0)
    assert patient.text(0) == "Gui Patient  [GUI01]" and patient.childCount() == 2
    assert patient.child(0).text(0).startswith("2026-03-01 CT now")  # newest first
    patient.setSelected(True)
    assert not browser.thumb.pixmap().isNull()
    browser._activated(patient)  # double-click on the patient: the newest study opens, priors listed
    assert "Priors: 2024-03-01 CT prior" in browser.status.text()
    qtbot.waitUntil(lambda: win.state.volume is not None, timeout=30000)
    np.testing.assert_array_equal(win.state.volume.array, now)


def test_query_retrieve_dialog_searches_retrieves_and_opens(new_window, qtbot, orthanc, ct_on_orthanc, db_dir):  # noqa: F811
    study_uid, _, arr, _ = ct_on_orthanc
    win = new_window()
    dlg = win.show_pacs_dialog()
    dlg.node.setEditText(orthanc.node_text)
    dlg.save_current_node("clinic")  # kept with the settings, then used by name
    from meddiag_desktop.pacs import load_settings

    assert [(n.name, n.port) for n in load_settings().nodes] == [("clinic", orthanc.dicom_port)]
    assert dlg.node.currentText() == "clinic"
    dlg.fields["patient_id"].setText("PACS0001")
    dlg.search()
    qtbot.waitUntil(lambda: not dlg.busy(), timeout=15000)
    assert dlg.table.rowCount() == 1 and dlg.table.item(0, 7).text() == study_uid
    assert dlg.table.item(0, 2).text() == "Test Pacs" and dlg.table.item(0, 4).text() == str(arr.shape[0])
    # cancel right after the start: the worker stops and the study stays partial
    dlg.retrieve()
    dlg.cancel()
    qtbot.waitUntil(lambda: not dlg.busy(), timeout=15000)
    assert "Cancelled" in dlg.status.text()
    assert win.db_browser.db.study(study_uid).status == "partial"
    early = []
    dlg.series_ready.connect(lambda folder: early.append((folder, dlg.busy())))
    with qtbot.waitSignal(dlg.study_retrieved, timeout=20000) as got:
        dlg.retrieve()
    assert len(early) == 1 and early[0][1] is True  # the series was offered while the retrieve still ran
    assert dlg.progress.value() == dlg.progress.maximum() == arr.shape[0]
    qtbot.waitUntil(lambda: win.state.volume is not None, timeout=30000)
    np.testing.assert_array_equal(win.state.volume.array, arr)
    assert got.args[0] == win.db_browser.db.study(study_uid).folder
    dlg.close()


def test_query_dialog_shows_network_errors_in_one_line(new_window, qtbot, db_dir):
    from tests.pacs.orthanc import free_port

    win = new_window()
    dlg = win.show_pacs_dialog()
    dlg.node.setEditText(f"PACS@127.0.0.1:{free_port()}")
    dlg.search()
    qtbot.waitUntil(lambda: not dlg.busy(), timeout=15000)
    assert "connection refused" in dlg.status.text()
    assert win.isVisible()
    dlg.close()


def test_send_to_pacs_dialog(new_window, qtbot, orthanc, tmp_path, db_dir):  # noqa: F811
    import pydicom

    _, files = make_ct(tmp_path / "send", patient_id="SENDGUI", patient_name="Send^Gui", seed=11, slices=3)
    win = new_window()
    dlg = win.send_to_pacs()
    dlg.node.setEditText(orthanc.node_text)
    dlg.path.setText(str(files[0].parent))
    with qtbot.waitSignal(dlg.sent, timeout=20000):
        dlg.send()
    assert dlg.status.text().startswith("Sent 3 instance(s) (CT)")
    assert len(orthanc.instances_of_study(pydicom.dcmread(files[0]).StudyInstanceUID)) == 3
    dlg.close()
