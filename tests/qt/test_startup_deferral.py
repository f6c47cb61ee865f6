"""What start-up defers must still arrive: the side panels once the reader pauses, the
shaded 3D frame after the draft, one render for changes and a Qt paint in the same pass."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QDockWidget

from qt_helpers import open_and_wait

pytestmark = pytest.mark.gui


def test_side_panels_are_built_after_the_study_is_on_screen(qtbot, main_window, ct_series, monkeypatch):
    import meddiag_desktop.qt.reader_idle as reader_idle

    monkeypatch.setattr(reader_idle, "QUIET_S", 0.3)
    win = main_window
    panels = win.panels
    assert not panels.built  # a fresh window shows placeholders: nothing slow ran yet
    docks = {d.objectName(): d for d in win.findChildren(QDockWidget)}
    assert docks["panel_ai"].widget().objectName() == "panel_placeholder"
    assert docks["panel_risk"].widget().objectName() == "panel_placeholder"
    views = {v: w.size() for v, w in win.slice_widgets.items()}

    vol = open_and_wait(qtbot, win, ct_series)
    qtbot.waitUntil(lambda: panels.built, timeout=10000)  # built by itself, once the reader pauses
    assert win.volume_widget.render_count > 0
    ai, risk = docks["panel_ai"].widget(), docks["panel_risk"].widget()
    assert ai is panels.ai and risk is panels.risk
    assert ai._volume is vol  # fed the study that was already open
    qtbot.wait(100)
    # no layout jump when the panels replaced the placeholders (it would re-render every view)
    assert {v: w.size() for v, w in win.slice_widgets.items()} == views


def test_asking_for_a_panel_builds_it_at_once(qtbot, main_window):
    panels = main_window.panels
    assert not panels.built
    ai = panels.ai
    assert ai is not None and panels.built and panels.risk is not None
    assert ai.parent() is not None and ai.parent().objectName() == "panel_ai"


def test_without_a_study_the_panels_are_built_when_the_window_is_idle(qtbot, main_window):
    from meddiag_desktop.qt import feature_panels

    qtbot.waitUntil(lambda: main_window.panels.built, timeout=feature_panels.IDLE_BUILD_MS + 8000)


def test_first_3d_frame_is_a_draft_then_shaded(qtbot, main_window, ct_series):
    win = main_window
    vv = win.volume_widget.volume_view
    open_and_wait(qtbot, win, ct_series)
    if vv.mapper_kind != "cpu":
        pytest.skip("draft frames are only used with the CPU ray caster")
    # the refined frame follows on its own, and it is shaded as the preset says
    qtbot.waitUntil(lambda: not vv.draft, timeout=10000)
    n = win.volume_widget.render_count
    qtbot.waitUntil(lambda: win.volume_widget.render_count > n or not win.volume_widget.render_pending, timeout=5000)
    assert vv.preset == "CT bone" and vv.property.GetShade() == 1


def test_changes_and_a_paint_qt_wants_in_one_pass_render_once(qtbot, main_window, ct_series):
    win = main_window
    open_and_wait(qtbot, win, ct_series)
    qtbot.wait(300)
    w = win.slice_widgets["axial"]
    before = w.render_count
    w.request_render()
    w.request_render()
    w.update()  # Qt wants a paint too (as after an expose or resize): still one render
    qtbot.waitUntil(lambda: w.render_count > before, timeout=5000)
    qtbot.wait(200)
    assert w.render_count == before + 1
    assert not w.render_pending


def test_saving_the_session_or_closing_does_not_build_the_panels(qtbot, main_window, ct_series, monkeypatch):
    import meddiag_desktop.qt.reader_idle as reader_idle

    monkeypatch.setattr(reader_idle, "QUIET_S", 0.4)
    win = main_window
    open_and_wait(qtbot, win, ct_series)
    path = win.sessions.save()  # the autosave reads the AI overlay only when there is a segmentation
    assert path is not None and path.exists()
    assert not win.panels.built
    win.close()  # the pending build must not run for a closed window (it cost 0.3 s at every exit)
    qtbot.wait(700)
    assert not win.panels.built


def test_side_panels_wait_for_the_reader_to_pause(qtbot, main_window, ct_series, monkeypatch):
    """Building the panels blocks the UI thread for about 0.3 s: not in the middle of a scroll
    (bench_scroll's first view lost 3 ms a step to it), but once the reader pauses."""
    import time

    import meddiag_desktop.qt.reader_idle as reader_idle

    monkeypatch.setattr(reader_idle, "QUIET_S", 0.4)
    win = main_window
    open_and_wait(qtbot, win, ct_series)
    end = time.monotonic() + 1.2
    while time.monotonic() < end:  # the reader scrolls as soon as the study is there
        win.state.step_slice("axial", 1 if int(time.monotonic() * 10) % 2 else -1)
        qtbot.wait(50)
    assert not win.panels.built
    qtbot.waitUntil(lambda: win.panels.built, timeout=5000)  # then pauses
    assert win.panels.ai._volume is win.state.volume
