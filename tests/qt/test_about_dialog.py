"""The About box: version, bundled plugins and risk models with intended use, offline statement."""

import os
import subprocess
import sys

if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # plain widgets: no display needed

import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

import meddiag_desktop  # noqa: E402
from meddiag_desktop.ai.discovery import discover_plugins  # noqa: E402
from meddiag_desktop.qt import about_dialog  # noqa: E402
from meddiag_desktop.qt.about_dialog import (  # noqa: E402
    OFFLINE_STATEMENT,
    AboutDialog,
    AboutInfo,
    ModelEntry,
    collect_about_info,
    show_about,
)
from meddiag_desktop.risk.registry import discover_models  # noqa: E402


@pytest.fixture(autouse=True)
def _private_user_folders(tmp_path, monkeypatch):
    """Keep the user's own plugins and models out of the listing."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("MEDDIAG_PLUGIN_PATH", raising=False)
    monkeypatch.delenv("MEDDIAG_CONFIG_DIR", raising=False)


def _text(dialog: AboutDialog) -> str:
    return " ".join(dialog.text.toPlainText().split())


def test_info_lists_version_plugins_and_risk_models():
    info = collect_about_info()
    assert info.version == meddiag_desktop.__version__
    assert [p.name for p in info.plugins] == [p.manifest.name for p in discover_plugins() if p.ok]
    assert [m.name for m in info.risk_models] == [m.spec.title for m in discover_models().models.values()]
    assert info.risk_models, "the bundled risk models should be listed"
    assert all(e.intended_use for e in info.plugins + info.risk_models)
    assert set(info.folders) == {"config", "plugins", "risk_models", "audit_log", "cache", "sessions"}


def test_collecting_info_imports_neither_torch_nor_plugin_code():
    code = (
        "import sys; from meddiag_desktop.qt.about_dialog import collect_about_info; collect_about_info(); "
        "print(' '.join(sorted(sys.modules)))"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    mods = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout.split())
    assert not {m for m in mods if m.split(".")[0] in ("torch", "monai", "vtkmodules")}


def test_dialog_shows_version_models_intended_use_offline_and_licence(qtbot):
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    text = _text(dialog)
    assert meddiag_desktop.__version__ in text
    assert " ".join(OFFLINE_STATEMENT.split()) in text
    assert "no telemetry" in text.lower()
    for entry in dialog.info.plugins + dialog.info.risk_models:
        assert entry.name in text
        assert " ".join(entry.intended_use.split())[:60] in text
    assert "Apache License 2.0" in text
    assert "PySide6" in text and "LGPL-3.0" in text
    assert str(dialog.info.folders["plugins"]) in text


def test_dialog_names_the_package_that_decodes_each_compressed_encoding(qtbot):
    """From pydicom's decoder registry (get_decoder(uid).available_plugins), not from error texts."""
    from pydicom.pixels import get_decoder
    from pydicom.uid import JPEG2000Lossless, JPEGLSLossless

    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    text = _text(dialog)
    assert "Compressed DICOM images" in text
    for uid in (JPEG2000Lossless, JPEGLSLossless):
        line = f"{uid.name}: decoded by {', '.join(get_decoder(uid).available_plugins)}"
        assert line in dialog.info.decoders and line in text


def test_broken_discovery_is_shown_not_raised(qtbot, monkeypatch):
    def boom(problems):
        raise RuntimeError("plugins folder unreadable")

    monkeypatch.setattr(about_dialog, "_plugins", boom)
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    assert "could not list the AI plugins: RuntimeError: plugins folder unreadable" in _text(dialog)
    assert dialog.info.risk_models  # the rest still shows


def test_values_are_escaped(qtbot):
    evil = ModelEntry("<b>Evil</b>", "1", "segmentation", "use <i>anywhere</i> & always", "user")
    info = AboutInfo(version="9.9", build="test", plugins=[evil])
    dialog = AboutDialog(info=info)
    qtbot.addWidget(dialog)
    text = dialog.text.toPlainText()
    assert "<b>Evil</b>" in text and "use <i>anywhere</i> & always" in text
    assert "from your user folder" in text


def test_show_about_opens_non_blocking_and_deletes_itself(qtbot):
    dialog = show_about(None)
    qtbot.waitExposed(dialog)
    assert dialog.isVisible()
    with qtbot.waitSignal(dialog.destroyed, timeout=2000):
        dialog.close()
