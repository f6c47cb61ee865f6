"""Consent pinned to a hash (ai/trust.py): hashing, the trust store, symlinks, stale bytecode, pickles."""

from __future__ import annotations

import json
import py_compile
import sys

import pytest

from meddiag_desktop.ai.discovery import discover_plugins, plugin_from_folder
from meddiag_desktop.ai.trust import (
    PluginUntrusted,
    UnsafePluginFile,
    hash_tree,
    require_trusted,
    store_path,
    trust_plugin,
    trust_status,
    tree_digest,
    untrust_plugin,
)
from meddiag_desktop.ai.weights import WeightsError, load_state_dict, sha256_file, verify_weights
from meddiag_desktop.paths import user_config_dir


def test_tree_hash_covers_every_file_but_bytecode_caches(plugin_factory):
    folder = plugin_factory(trust=False)
    files = hash_tree(folder)
    assert list(files) == ["plugin.toml", "tinyplugin/__init__.py", "tinyplugin/model.py", "weights.safetensors"]
    assert files["weights.safetensors"] == sha256_file(folder / "weights.safetensors")
    (folder / "tinyplugin" / "__pycache__").mkdir()
    (folder / "tinyplugin" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"x")
    assert hash_tree(folder) == files  # skipped
    before = tree_digest(files)
    (folder / "notes.txt").write_text("a")
    assert tree_digest(hash_tree(folder)) != before  # any file, code or not
    # the same bytes under another name are another tree
    assert tree_digest({"a": "0" * 64}) != tree_digest({"b": "0" * 64})


def test_untrusted_then_trusted_then_changed_then_untrusted(plugin_factory):
    folder = plugin_factory(trust=False)
    with pytest.raises(PluginUntrusted) as err:
        require_trusted(folder)
    assert str(err.value) == (f"plugin Test test.threshold at {folder} is not trusted: run "
                              f"`meddiag plugins trust {folder}` or confirm in the app")
    status = trust_plugin(folder, via="cli")
    assert require_trusted(folder) == status.digest == tree_digest(hash_tree(folder))
    store = json.loads(store_path().read_text())
    assert store_path().parent == user_config_dir()  # $MEDDIAG_CONFIG_DIR: a private folder for this test
    rec = store["plugins"][str(folder.resolve())]
    assert rec["sha256"] == status.digest and rec["id"] == "test.threshold" and rec["via"] == "cli"
    assert rec["trusted_by"] and rec["trusted_at"].startswith("20") and rec["files"]["tinyplugin/model.py"]
    assert oct(store_path().stat().st_mode & 0o777) == "0o600" and not list(store_path().parent.glob("*.part"))

    model = folder / "tinyplugin" / "model.py"
    model.write_text(model.read_text() + "\nimport os  # sneaked in\n")
    with pytest.raises(PluginUntrusted) as err:
        require_trusted(folder)
    assert "changed since it was trusted on" in str(err.value)
    assert "(changed: tinyplugin/model.py)" in str(err.value) and err.value.changes == {"changed": ["tinyplugin/model.py"]}
    rows = {r["path"]: r["status"] for r in trust_status(folder).to_json()["files"]}
    assert rows["tinyplugin/model.py"] == "changed" and rows["plugin.toml"] == "ok"
    (folder / "tinyplugin" / "__init__.py").unlink()
    assert trust_status(folder).changes == {"changed": ["tinyplugin/model.py"], "missing": ["tinyplugin/__init__.py"]}

    trust_plugin(folder)
    require_trusted(folder)
    assert untrust_plugin(folder)
    with pytest.raises(PluginUntrusted, match="is not trusted: run"):
        require_trusted(folder)


def test_consent_for_what_was_reviewed_only(plugin_factory):
    folder = plugin_factory(trust=False)
    shown = trust_status(folder).digest
    (folder / "tinyplugin" / "model.py").write_text("raise SystemExit")  # changed while the user was reading
    with pytest.raises(PluginUntrusted, match="changed while you were reviewing it"):
        trust_plugin(folder, expect_digest=shown)
    assert not trust_status(folder).trusted


def test_trust_is_per_folder(plugin_factory, tmp_path):
    import shutil

    folder = plugin_factory()
    copy = tmp_path / "elsewhere" / folder.name
    shutil.copytree(folder, copy)
    assert trust_status(folder).trusted and trust_status(copy).state == "not_trusted"


def test_files_symlinked_out_of_the_folder_are_refused(plugin_factory, tmp_path):
    folder = plugin_factory(trust=False)
    outside = tmp_path / "outside.safetensors"
    (folder / "weights.safetensors").rename(outside)
    (folder / "weights.safetensors").symlink_to(outside)
    manifest = plugin_from_folder(folder).manifest
    with pytest.raises(WeightsError) as err:
        verify_weights(folder, manifest)
    assert str(err.value) == (f"{folder / 'weights.safetensors'} is a symbolic link to {outside}, outside the plugin "
                              f"folder {folder.resolve()}; refusing to load it: copy the weight file itself into "
                              "the plugin folder")
    with pytest.raises(UnsafePluginFile, match="outside the plugin folder"):
        trust_plugin(folder)
    status = trust_status(folder)
    assert status.state == "unsafe" and "weights.safetensors is a symbolic link to" in status.message
    with pytest.raises(UnsafePluginFile):
        require_trusted(folder)
    # a folder link out of the plugin is refused too; links inside it are fine
    (folder / "weights.safetensors").unlink()
    outside.rename(folder / "weights.safetensors")
    (folder / "data").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(UnsafePluginFile, match="data is a symbolic link"):
        hash_tree(folder)
    (folder / "data").unlink()
    (folder / "same.safetensors").symlink_to("weights.safetensors")
    assert hash_tree(folder)["same.safetensors"] == hash_tree(folder)["weights.safetensors"]


def test_stale_bytecode_in_a_trusted_plugin_is_never_loaded(plugin_factory, ct_box, tmp_path):
    """``__pycache__`` is not hashed: the worker imports plugin modules from their (hashed) source."""
    from meddiag_desktop.ai.runner import RunOptions, run_plugin

    folder = plugin_factory("test.pyc")
    marker = tmp_path / "PYC_MARKER"
    evil = tmp_path / "evil_model.py"
    evil.write_text(f"open({str(marker)!r}, 'w').close()\n" + (folder / "tinyplugin" / "model.py").read_text())
    tag = sys.implementation.cache_tag
    py_compile.compile(str(evil), cfile=str(folder / "tinyplugin" / "__pycache__" / f"model.{tag}.pyc"),
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)  # Python would trust it
    require_trusted(folder)  # still trusted: caches are not part of the plugin
    try:
        res = run_plugin(folder, ct_box, RunOptions(device="cpu"))
    finally:
        for name in [n for n in sys.modules if n == "tinyplugin" or n.startswith("tinyplugin.")]:
            del sys.modules[name]
    assert res.labels.any() and not marker.exists()


def test_pickled_checkpoint_is_refused_in_plain_words(tmp_path):
    """A real whole-model checkpoint (``torch.save(model)``): a pickle of Python objects."""
    import torch

    path = tmp_path / "model.pt"
    torch.save(torch.nn.Sequential(torch.nn.Conv3d(1, 2, 1)), path)
    with pytest.raises(WeightsError) as err:
        load_state_dict(path)
    msg = str(err.value)
    assert msg.startswith(f"{path} holds pickled Python objects (for example torch.nn.modules.container.Sequential)")
    assert "could run code, so the file is refused" in msg and "state_dict" in msg and ".safetensors" in msg
    assert "weights_only" not in msg and "False" not in msg and "trusted source" not in msg
    torch.save(torch.nn.Conv3d(1, 2, 1).state_dict(), path)  # what we ask for loads
    assert set(load_state_dict(path)) == {"weight", "bias"}
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(WeightsError, match="cannot be read as PyTorch weights") as err:
        load_state_dict(path)
    assert "weights_only" not in str(err.value)


def test_discovery_and_listing_import_no_plugin_code(tmp_path, _isolated_plugin_places):
    from tests.ai.plugin_factory import make_plugin

    from meddiag_desktop.ai.cli import list_plugins

    folder = make_plugin(_isolated_plugin_places / "plugins", "u.spy", trust=False)
    marker = tmp_path / "IMPORTED"
    for name in ("__init__.py", "model.py"):
        (folder / "tinyplugin" / name).write_text(f"open({str(marker)!r}, 'w').close()\n")
    infos = [i for i in discover_plugins() if i.id == "u.spy"]
    items = [i for i in list_plugins() if i["id"] == "u.spy"]
    assert infos and items[0]["trusted"] is False and items[0]["trust"]["state"] == "not_trusted"
    assert not marker.exists() and "tinyplugin" not in sys.modules


def test_entry_point_naming_a_subpackage_is_found_without_importing_its_parent(tmp_path, monkeypatch):
    from meddiag_desktop.ai.discovery import blocked_entry_points
    from tests.ai.plugin_factory import install_entry_points, make_plugin

    top = tmp_path / "site" / "acme_spy"
    marker = tmp_path / "PARENT_IMPORTED"
    (top / "plugins").mkdir(parents=True)
    (top / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (top / "plugins" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    make_plugin(top / "plugins", "ep.sub", trust=False)
    install_entry_points(tmp_path / "site", ("sub", "acme_spy.plugins"), dist="acme_spy")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with blocked_entry_points(False):
        infos = [i for i in discover_plugins() if i.source == "entry_point"]
    assert [i.id for i in infos if i.ok] == ["ep.sub"] and not infos[0].trust().trusted
    assert not marker.exists() and "acme_spy" not in sys.modules
