"""Priors side by side and hanging protocols in the window, on the demo phantom and its generated prior."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtWidgets import QLabel

from meddiag_desktop.core import view_geometry as vg
from qt_helpers import open_and_wait

FAST = dict(spacing_mm=4.0, sampling=0.05, iterations=60)  # a few seconds on the small phantom


@pytest.fixture(autouse=True)
def _private_database(tmp_path, monkeypatch):
    """The prior search asks the local study database when installed: a private, empty one."""
    monkeypatch.setenv("MEDDIAG_DB_DIR", str(tmp_path / "db"))


@pytest.fixture
def both(prior_pair, tmp_path):
    """One folder holding the current and the prior study (as a CD or a PACS export would)."""
    root = tmp_path / "both"
    shutil.copytree(prior_pair.current_dir / "dicom", root / "current")
    shutil.copytree(prior_pair.prior_dir / "dicom", root / "prior")
    return root


def _title(win, key: str) -> str:
    return win.frames[key].findChild(QLabel, "view_title").text()


def _open_with_prior(qtbot, win, folder):
    win.compare.registration_options = dict(FAST)
    open_and_wait(qtbot, win, folder)
    qtbot.waitUntil(lambda: win.compare.state.volume is not None, timeout=60000)
    qtbot.waitUntil(lambda: win.compare.transform is not None and not win.is_busy(), timeout=90000)


def test_a_chest_ct_with_a_prior_hangs_current_and_registered_prior_side_by_side(qtbot, main_window, both, prior_pair):
    win = main_window
    _open_with_prior(qtbot, win, both)
    # the newest study is the current one; the older one was found as its prior and the protocol chosen
    assert win.state.volume.metadata["study_date"] == "20260115"
    assert [p.study_date for p in win.hanging.priors] == ["20250110"]
    assert win.hanging.run.protocol.name == "CT chest with prior"
    assert win.layout_name == "prior_2x2"
    assert all(win.frames[k].isVisible() for k in (vg.AXIAL, vg.CORONAL, "compare", "compare_coronal"))
    assert _title(win, vg.AXIAL) == "Axial \u2014 current 2026-01-15"
    assert _title(win, "compare") == "Axial \u2014 prior 2025-01-10"
    assert _title(win, "compare_coronal") == "Coronal \u2014 prior 2025-01-10"
    assert win.state.window == (1500.0, -600.0)  # the stage's lung window
    # registered: scrolling the current to each nodule's slice shows the prior at the same anatomy
    assert win.compare.link == "registration"
    for nodule in (prior_pair.grown_nodule, prior_pair.new_nodule):
        win.state.set_cursor(nodule.center_lps)
        expected = prior_pair.truth.apply(win.state.cursor)
        assert np.linalg.norm(win.compare.state.cursor - expected) < 1.5
        info = win.compare.widget.slice_view.slice_info()
        prior_vol = win.compare.state.volume
        assert abs(info.index - prior_vol.to_index(expected)[2]) <= 0.6  # the prior's slice through that point
    win.state.step_slice(vg.AXIAL, 3)
    assert np.linalg.norm(win.compare.state.cursor - prior_pair.truth.apply(win.state.cursor)) < 1.5
    # window and zoom are linked too
    win.state.set_window(400.0, 40.0)
    assert win.compare.state.window == (400.0, 40.0)
    axial = win.slice_widgets[vg.AXIAL].slice_view
    axial.set_zoom(2.5)
    win.state.camera_changed.emit(vg.AXIAL)
    assert win.compare.widget.slice_view.zoom == pytest.approx(2.5)
    # reset: different frames of reference, so no longer linked
    win.compare.reset_action.trigger()
    assert win.compare.transform is None and not win.compare.synchronised
    before = win.compare.state.cursor.copy()
    win.state.step_slice(vg.AXIAL, 2)
    assert np.allclose(win.compare.state.cursor, before)
    # a point pair: the reader puts each cursor on the grown nodule, then links
    win.state.set_cursor(prior_pair.grown_nodule.center_lps)
    win.compare.state.set_cursor(prior_pair.truth.apply(prior_pair.grown_nodule.center_lps))
    win.compare.point_pair_action.trigger()
    assert win.compare.link == "point pair"
    win.state.step_slice(vg.AXIAL, -4)
    assert np.linalg.norm(win.compare.state.cursor - prior_pair.truth.apply(win.state.cursor)) < 3.0  # no rotation


def test_protocol_stages_step_on_keys_and_a_bad_user_file_is_reported(qtbot, main_window, both, monkeypatch, tmp_path):
    import os

    from meddiag_desktop.reading.hanging import USER_FILE_NAME

    cfg = os.environ["MEDDIAG_CONFIG_DIR"]
    os.makedirs(cfg, exist_ok=True)
    with open(os.path.join(cfg, USER_FILE_NAME), "w", encoding="utf-8") as f:
        f.write('[[protocol]]\nname = "Broken"\nstages = [{ name = "x", layout = "six" }]\n')
    win = main_window
    _open_with_prior(qtbot, win, both)
    assert "hanging_protocols.toml: protocol 1 ('Broken').stages.0.layout" in win.last_error
    assert "Using the shipped protocols" in win.last_error
    assert win.hanging.run.protocol.name == "CT chest with prior"  # shipped ones still apply
    win.tools.actions["protocol.next"].trigger()
    assert win.layout_name == "compare" and win.hanging.run.position == "2/3"
    win.tools.actions["protocol.next"].trigger()
    assert win.layout_name == "prior_2x2" and win.state.window == (350.0, 50.0)  # mediastinum
    win.tools.actions["protocol.next"].trigger()  # stays on the last stage
    assert win.hanging.run.position == "3/3"
    win.tools.actions["protocol.previous"].trigger()
    win.tools.actions["protocol.previous"].trigger()
    assert win.hanging.run.position == "1/3" and win.state.window == (1500.0, -600.0)
    assert win.tools.actions["protocol.next"].shortcut().toString() == "]"
    win.set_layout("four")  # back to one study: plain titles
    assert _title(win, vg.AXIAL) == "Axial"


def test_registration_can_be_cancelled(qtbot, main_window, prior_pair):
    win = main_window
    open_and_wait(qtbot, win, prior_pair.current_dir / "dicom")
    qtbot.waitUntil(lambda: win.hanging.run is not None, timeout=30000)  # its status message comes first
    task = win.compare.open_series(str(prior_pair.prior_dir / "dicom"))
    with qtbot.waitSignal(task.finished, timeout=30000):
        pass
    assert not win.compare.synchronised and "different frames of reference" in win.statusBar().currentMessage()
    reg = win.compare.register()
    with qtbot.waitSignal(reg.finished, timeout=60000):
        reg.cancel()
    assert win.compare.transform is None
    assert "Registration cancelled" in win.statusBar().currentMessage()


def test_a_single_study_gets_its_protocol_and_no_prior(qtbot, main_window, prior_pair):
    win = main_window
    open_and_wait(qtbot, win, prior_pair.current_dir / "dicom")
    qtbot.waitUntil(lambda: win.hanging.run is not None, timeout=30000)
    assert win.hanging.priors == [] and win.hanging.run.protocol.name == "CT chest"
    assert win.layout_name == "four"
    win.hanging.open_prior()
    assert "No prior found" in win.last_error
