"""The bundled plugins are trusted by the lock files shipped beside them, and only while they match."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from meddiag_desktop import paths
from meddiag_desktop.ai import discovery
from meddiag_desktop.ai.trust import LOCK_NAME, PluginUntrusted, hash_tree, read_lock, require_trusted, trust_status

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "plugin.toml").is_file())


@pytest.mark.parametrize("folder", BUNDLED, ids=lambda p: p.name)
def test_every_shipped_file_matches_its_lock(folder):
    """Fails when a bundled plugin changed without `python scripts/lock_plugins.py`."""
    lock = read_lock(folder)
    assert lock is not None, f"{folder} has no {LOCK_NAME}: run python scripts/lock_plugins.py"
    assert hash_tree(folder) == lock, "stale lock: run python scripts/lock_plugins.py and commit plugins/*/plugin.lock"
    assert json.loads((folder / LOCK_NAME).read_text())["sha256"] == trust_status(folder).digest
    status = trust_status(folder)
    assert status.trusted and status.basis == "lock"
    assert {"plugin.toml", "weights.safetensors"} <= set(lock) and any(f.endswith("model.py") for f in lock)


def test_lock_script_check_agrees():
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "lock_plugins.py"), "--check"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count(": ok") == len(BUNDLED)


@pytest.fixture
def bundled_copy(tmp_path, monkeypatch):
    """The shipped plugins copied into a stand-in bundled folder (the real files are never touched)."""
    root = tmp_path / "app" / "plugins"
    shutil.copytree(ROOT / "plugins", root, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(discovery, "bundled_plugins_dir", lambda: root)
    monkeypatch.setattr(paths, "bundled_plugins_dir", lambda: root)  # the rule trust.is_bundled reads
    return root


def test_editing_bundled_python_code_fails_verification(bundled_copy, capsys):
    from meddiag_desktop.ai.cli import list_plugins

    folder = bundled_copy / "chest_ct_seg"
    info = next(i for i in discovery.discover_plugins() if i.id == "meddiag.chest-ct-seg")
    assert info.source == "bundled" and require_trusted(info)
    model = folder / "chest_seg" / "model.py"
    model.write_text(model.read_text() + "\nprint('not what was shipped')\n")
    with pytest.raises(PluginUntrusted) as err:
        require_trusted(info)
    assert str(err.value) == (
        f"bundled plugin Chest CT anatomy and nodules (synthetic) at {folder} does not match its plugin.lock "
        "(changed: chest_seg/model.py): its files were modified; reinstall MedDiag Desktop "
        "(developers: run scripts/lock_plugins.py)")
    from meddiag_desktop.ai.isolation import run_isolated
    from tests.ai.plugin_factory import box_volume

    with pytest.raises(PluginUntrusted, match="does not match its plugin.lock"):  # before any worker starts
        run_isolated(info, box_volume(), start_timeout=30, stall_timeout=30)
    item = next(i for i in list_plugins() if i["id"] == "meddiag.chest-ct-seg")
    assert item["weights_verified"] is True  # the weights alone still match...
    assert item["trusted"] is False and item["trust"]["state"] == "changed"  # ...but the plugin does not
    rows = {r["path"]: r["status"] for r in item["trust"]["files"]}
    assert rows["chest_seg/model.py"] == "changed" and rows["plugin.toml"] == "ok"
    # a user's consent cannot paper over it, and a new file is caught too
    with pytest.raises(PluginUntrusted):
        __import__("meddiag_desktop.ai.trust", fromlist=["x"]).trust_plugin(info)
    model.write_text(model.read_text().replace("\nprint('not what was shipped')\n", ""))
    assert require_trusted(info)
    (folder / "chest_seg" / "extra.py").write_text("")
    with pytest.raises(PluginUntrusted, match=r"\(added: chest_seg/extra.py\)"):
        require_trusted(info)
    (folder / LOCK_NAME).unlink()
    with pytest.raises(PluginUntrusted, match="has no plugin.lock; the installation is incomplete"):
        require_trusted(info)
