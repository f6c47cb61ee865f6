"""The consent dialog before an untrusted plugin's first run, and the AI panel asking for it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.ai.plugin_factory import make_plugin  # noqa: E402

from meddiag_desktop.ai.discovery import plugin_from_folder  # noqa: E402
from meddiag_desktop.core.volume import Volume  # noqa: E402

FAST = {"start_timeout": 60, "stall_timeout": 60}


@pytest.fixture
def untrusted(tmp_path, monkeypatch):
    return plugin_from_folder(make_plugin(tmp_path / "plugins", "test.untrusted", spacing=(1.5, 1.5, 2.0),
                                          trust=False), "user")


def _answer(qtbot, button: str, seen: list):
    """Click ``button`` of the consent dialog as soon as it is shown (it is modal)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from meddiag_desktop.qt.plugin_trust_dialog import PluginTrustDialog

    def poll():
        dlg = QApplication.activeModalWidget()
        if not isinstance(dlg, PluginTrustDialog):
            QTimer.singleShot(20, poll)
            return
        seen.append(dlg)
        shots = os.environ.get("MEDDIAG_SCREENSHOT_DIR")
        if shots:
            dlg.grab().save(str(Path(shots) / "plugin_trust_dialog.png"))
        getattr(dlg, button).click()

    QTimer.singleShot(0, poll)


def test_dialog_lists_every_file_and_the_hash(qtbot, untrusted):
    from meddiag_desktop.ai.trust import trust_status
    from meddiag_desktop.qt.plugin_trust_dialog import PluginTrustDialog

    status = trust_status(untrusted)
    dlg = PluginTrustDialog(status)
    qtbot.addWidget(dlg)
    assert dlg.windowTitle() == "Trust this AI plugin?"
    assert dlg.digest.text() == status.digest and len(status.digest) == 64
    files = [dlg.files.item(r, 0).text() for r in range(dlg.files.rowCount())]
    assert files == ["plugin.toml", "tinyplugin/__init__.py", "tinyplugin/model.py", "weights.safetensors"]
    assert dlg.files.item(3, 1).text() == status.files["weights.safetensors"]
    assert dlg.trust_button.text() == "Trust and run" and dlg.cancel_button.text() == "Cancel"
    assert dlg.cancel_button.isDefault() and not dlg.trust_button.isDefault()
    assert "has not been trusted" in dlg.text.text() and str(untrusted.path) in dlg.path.text()


def test_panel_asks_before_the_first_run_cancel_runs_nothing_trust_runs(qtbot, untrusted):
    from meddiag_desktop.ai.trust import store_path, trust_status
    from meddiag_desktop.qt.ai_panel import AIPanel

    a = np.full((40, 50, 60), -1000, np.int16)
    a[10:30, 10:40, 20:50] = 500
    panel = AIPanel(plugins=lambda: [untrusted], run_options=FAST, prewarm=False)
    qtbot.addWidget(panel)
    panel.set_volume(Volume(a, (1.5, 1.5, 2.0), metadata={"modality": "CT"}))
    seen: list = []

    _answer(qtbot, "cancel_button", seen)
    panel.run()  # returns when the dialog is answered
    assert len(seen) == 1 and not panel.is_busy() and panel.result is None
    assert not store_path().exists() and not trust_status(untrusted).trusted

    _answer(qtbot, "trust_button", seen)
    with qtbot.waitSignal(panel.resultReady, timeout=120_000):
        panel.run()
    assert len(seen) == 2 and panel.result.labels.any()
    rec = json.loads(store_path().read_text())["plugins"][str(untrusted.path.resolve())]
    assert rec["via"] == "gui" and rec["sha256"] == trust_status(untrusted).digest
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=10_000)

    with qtbot.waitSignal(panel.resultReady, timeout=120_000):  # trusted now: no question
        panel.run()
    assert len(seen) == 2
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=10_000)

    (untrusted.path / "tinyplugin" / "model.py").write_text("raise SystemExit(3)\n")
    _answer(qtbot, "cancel_button", seen)
    panel.run()  # changed: asked again, naming the file
    assert len(seen) == 3 and "changed: tinyplugin/model.py" in seen[2].text.text()
    assert seen[2].files.item(2, 0).text() == "tinyplugin/model.py" and seen[2].files.item(2, 2).text() == "changed"
    assert panel.shutdown(5000)


def test_a_modified_bundled_plugin_is_refused_without_a_dialog(qtbot, tmp_path, monkeypatch, untrusted):
    import shutil

    from meddiag_desktop import paths
    from meddiag_desktop.ai import discovery
    from meddiag_desktop.qt.plugin_trust_dialog import confirm_trust

    root = tmp_path / "app" / "plugins"
    shutil.copytree(discovery.bundled_plugins_dir(), root, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(discovery, "bundled_plugins_dir", lambda: root)
    monkeypatch.setattr(paths, "bundled_plugins_dir", lambda: root)  # the rule trust.is_bundled reads
    info = plugin_from_folder(root / "nodule_type", "bundled")
    assert confirm_trust(None, info)  # matches its lock: no question
    (root / "nodule_type" / "nodule_type" / "model.py").write_text("import os\n")
    errors: list[str] = []
    assert not confirm_trust(None, info, errors.append)
    assert "does not match its plugin.lock (changed: nodule_type/model.py)" in errors[0]
