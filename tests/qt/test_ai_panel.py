"""AI panel: model card, background run with progress, cancel, errors, toggles, opacity, screenshot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("torch")
from tests.ai.plugin_factory import make_plugin  # noqa: E402

from meddiag_desktop.ai.discovery import plugin_from_folder  # noqa: E402
from meddiag_desktop.core.volume import Volume  # noqa: E402

FAST = {"start_timeout": 60, "stall_timeout": 60}


def _volume():
    a = np.full((40, 50, 60), -1000, np.int16)
    a[10:30, 10:40, 20:50] = 500
    return Volume(a, (1.5, 1.5, 2.0), metadata={"modality": "CT"})


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    root = tmp_path / "plugins"
    good = plugin_from_folder(make_plugin(root, "test.threshold", spacing=(1.5, 1.5, 2.0)), "user")
    slow = plugin_from_folder(make_plugin(root, "test.slow", behaviour="slow"), "user")
    crash = plugin_from_folder(make_plugin(root, "test.crash", behaviour="segfault"), "user")
    cls = plugin_from_folder(make_plugin(root, "test.cls", classifier=True), "user")
    broken_dir = root / "broken"
    broken_dir.mkdir()
    (broken_dir / "plugin.toml").write_text("id = 'broken'")
    broken = plugin_from_folder(broken_dir, "user")
    return [good, slow, crash, cls, broken]


@pytest.fixture
def panel(qtbot, plugins):
    from meddiag_desktop.qt.ai_panel import AIPanel

    w = AIPanel(plugins=lambda: plugins, run_options=FAST)
    qtbot.addWidget(w)
    w.resize(460, 640)
    w.show()
    yield w
    assert w.shutdown(5000)
    assert not w.is_busy()


def test_importing_the_panel_does_not_import_torch():
    code = "import sys, meddiag_desktop.qt.ai_panel; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.stdout.strip() == "False", out.stderr


def test_lists_plugins_with_intended_use_and_broken_ones(panel):
    assert panel.combo.count() == 5
    assert "Intended use: testing only" in panel.card.intended.text()
    assert "weights verified" in panel.card.details.text()
    panel.combo.setCurrentIndex(4)
    assert "Cannot use" in panel.card.intended.text() and "intended_use" in panel.card.details.text()
    assert not panel.run_button.isEnabled()


def test_run_shows_results_and_emits_overlay(qtbot, panel, tmp_path):
    vol = _volume()
    panel.set_volume(vol)
    overlays = []
    panel.overlayChanged.connect(overlays.append)
    with qtbot.waitSignal(panel.resultReady, timeout=60000) as blocker:
        panel.run_button.click()
        assert panel.cancel_button.isEnabled() and not panel.run_button.isEnabled()
    result = blocker.args[0]
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=10000)
    ov = overlays[-1]
    assert ov.labels.shape == vol.array.shape and np.array_equal(ov.labels == 1, vol.array > 0)
    assert ov.visible == {1} and ov.names == {1: "bright"} and ov.lut()[1, 3] == round(255 * 0.5)
    assert panel.table.rowCount() == 1 and panel.table.item(0, 0).text() == "bright"
    assert float(panel.table.item(0, 1).text()) == pytest.approx(result.stats[0].volume_ml, abs=0.01)
    assert panel.progress.value() == panel.progress.maximum()
    assert "testing only" in panel.result_use.text()
    # toggles and opacity re-emit the overlay
    panel.table.item(0, 0).setCheckState(panel.table.item(0, 0).checkState().__class__.Unchecked)
    assert overlays[-1].visible == set() and overlays[-1].lut()[1, 3] == 0
    panel.opacity.setValue(80)
    assert overlays[-1].opacity == pytest.approx(0.8)
    panel.grab().save(str(tmp_path / "ai_panel.png"))
    shots = os.environ.get("MEDDIAG_SCREENSHOT_DIR")
    if shots:
        panel.grab().save(str(Path(shots) / "ai_panel.png"))


def test_cancel_returns_no_result_quickly(qtbot, panel):
    import time

    panel.set_volume(_volume())
    panel.select_plugin("test.slow")
    results, overlays = [], []
    panel.resultReady.connect(results.append)
    panel.overlayChanged.connect(overlays.append)
    panel.run_button.click()
    qtbot.waitUntil(lambda: panel.progress.maximum() > 1 and panel.progress.value() >= 1, timeout=60000)
    t = time.monotonic()
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=5000)
    assert time.monotonic() - t < 2.5
    assert results == [] and all(o is None for o in overlays)
    assert "Cancelled" in panel.status.text()


def test_crashing_plugin_shows_error_and_panel_survives(qtbot, panel):
    panel.set_volume(_volume())
    panel.select_plugin("test.crash")
    panel.run_button.click()
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=60000)
    assert "SIGSEGV" in panel.banner.text and panel.run_button.isEnabled()


def test_classification_shows_probabilities(qtbot, panel):
    vol = _volume()
    panel.set_volume(vol)
    panel.select_plugin("test.cls")
    assert panel.point.isVisible()
    panel.set_point(vol.center_lps())
    with qtbot.waitSignal(panel.resultReady, timeout=60000):
        panel.run_button.click()
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=10000)
    assert panel.table.item(0, 1).text() == "bright" and float(panel.table.item(0, 3).text()) > 0.9
    assert panel.overlay is not None and panel.overlay.heat.shape == vol.array.shape
    panel.point.setText("1, 2")
    panel.run_button.click()
    assert "three numbers" in panel.banner.text


def test_run_without_volume_says_what_to_do(panel):
    panel.run()
    assert panel.banner.text == "" or "Open a study" in panel.banner.text
