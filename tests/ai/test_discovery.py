import sys

import pytest

from meddiag_desktop.ai import discovery
from meddiag_desktop.ai.discovery import discover_plugins, find_plugin, PluginNotFound
from tests.ai.plugin_factory import install_entry_points, make_plugin


def _ids(infos, source=None):
    return sorted(i.id for i in infos if i.ok and (source is None or i.source == source))


def test_bundled_folder_is_found_through_the_package():
    d = discovery.bundled_plugins_dir()
    assert d.name == "plugins" and (d.parent / "meddiag_desktop").is_dir() or d.parent.name == "meddiag_desktop"


def test_bundled_plugins(tmp_path, monkeypatch):
    make_plugin(tmp_path / "bundled", "b.one")
    monkeypatch.setattr(discovery, "bundled_plugins_dir", lambda: tmp_path / "bundled")
    infos = discover_plugins()
    assert _ids(infos, "bundled") == ["b.one"]
    assert infos[0].weights_verified() is True and not infos[0].allow_bundle_code


def test_user_folder(_isolated_plugin_places):
    make_plugin(_isolated_plugin_places / "plugins", "u.one")
    assert discovery.user_plugins_dir() == _isolated_plugin_places / "plugins"
    assert "u.one" in _ids(discover_plugins(), "user")


def test_env_path_several_folders(tmp_path, monkeypatch):
    make_plugin(tmp_path / "a", "e.one")
    single = make_plugin(tmp_path / "b", "e.two")  # the variable may name a plugin folder itself
    monkeypatch.setenv("MEDDIAG_PLUGIN_PATH", f"{tmp_path / 'a'}{__import__('os').pathsep}{single}")
    assert _ids(discover_plugins(), "env") == ["e.one", "e.two"]


def test_env_path_missing_folder_is_listed_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDDIAG_PLUGIN_PATH", str(tmp_path / "nope"))
    infos = [i for i in discover_plugins() if i.source == "env"]
    assert len(infos) == 1 and "not a folder" in infos[0].error


def test_entry_points(tmp_path, monkeypatch):
    """An installed distribution's entry points: a package folder, a manifest or folder inside one, a missing module."""
    site = tmp_path / "site"
    pkg = site / "acme_plugins"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    make_plugin(pkg, "ep.bymodule")
    more = site / "acme_more"  # a namespace package (no __init__.py) holding two plugins
    make_plugin(more, "ep.byfolder")
    seg = make_plugin(more, "seg", trust=False)
    (seg / "plugin.toml").write_text((seg / "plugin.toml").read_text().replace('id = "seg"', 'id = "ep.bymanifest"'))
    install_entry_points(site, ("bymodule", "acme_plugins"), ("byfolder", "acme_more:ep.byfolder"),
                         ("bymanifest", "acme_more.seg:plugin.toml"), ("broken", "no_such_module_xyz:X"))
    monkeypatch.syspath_prepend(str(site))
    assert not _ids(discover_plugins(), "entry_point")  # tests see no installed entry points by default
    with discovery.blocked_entry_points(False):
        infos = discover_plugins()
    assert _ids(infos, "entry_point") == ["ep.byfolder", "ep.bymanifest", "ep.bymodule"], [i.error for i in infos]
    broken = [i for i in infos if i.source == "entry_point" and not i.ok]
    assert len(broken) == 1 and "no_such_module_xyz" in broken[0].error
    assert "acme_plugins" not in sys.modules


def test_entry_point_module_that_raises_on_import_is_read_without_importing_it(tmp_path, monkeypatch):
    """npe2's rule: the manifest is found with find_spec; the plugin's code (here a module that raises) never runs."""
    site = tmp_path / "site"
    pkg = make_plugin(site, "acme_raises", trust=False)  # site/acme_raises/plugin.toml: a package that is a plugin
    (pkg / "__init__.py").write_text("raise RuntimeError('plugin code ran during discovery')\n")
    install_entry_points(site, ("raises", "acme_raises:plugin.toml"), dist="acme_raises")
    monkeypatch.syspath_prepend(str(site))
    with discovery.blocked_entry_points(False):
        infos = [i for i in discover_plugins() if i.source == "entry_point"]
    assert [(i.id, i.ok, i.path) for i in infos] == [("acme_raises", True, pkg)]
    assert infos[0].manifest.entry == "tinyplugin.model:build" and "acme_raises" not in sys.modules
    with pytest.raises(RuntimeError, match="plugin code ran"):  # the module does raise when imported
        __import__("acme_raises")


def test_blocked_entry_points_restores_the_previous_state():
    with discovery.blocked_entry_points(False):
        with discovery.blocked_entry_points():
            assert discovery.entry_point_dirs() == []
        assert discovery._entry_points_blocked is False
    assert discovery._entry_points_blocked is True  # the autouse user_folders fixture blocks them


def test_broken_manifests_are_listed_with_reason(tmp_path, monkeypatch):
    root = tmp_path / "mixed"
    make_plugin(root, "good.one")
    bad = make_plugin(root, "bad.one")
    (bad / "plugin.toml").write_text((bad / "plugin.toml").read_text().replace('task = "segmentation"', 'task = "x"'))
    worse = root / "worse"
    worse.mkdir()
    (worse / "plugin.toml").write_bytes(b"\xff\xfe not toml")
    monkeypatch.setenv("MEDDIAG_PLUGIN_PATH", str(root))
    infos = [i for i in discover_plugins() if i.source == "env"]
    assert _ids(infos) == ["good.one"]
    errors = {i.path.name: i.error for i in infos if not i.ok}
    assert "task" in errors["bad.one"] and "cannot read TOML" in errors["worse"]
    assert all(isinstance(i.to_json(), dict) for i in infos)


def test_duplicate_ids_are_flagged(tmp_path, monkeypatch, _isolated_plugin_places):
    make_plugin(_isolated_plugin_places / "plugins", "same.id")
    make_plugin(tmp_path / "env", "same.id")
    monkeypatch.setenv("MEDDIAG_PLUGIN_PATH", str(tmp_path / "env"))
    infos = [i for i in discover_plugins() if i.id == "same.id"]
    assert len(infos) == 2 and infos[0].ok and "duplicate" in infos[1].error


def test_find_plugin_by_id_or_folder(tmp_path, monkeypatch):
    folder = make_plugin(tmp_path / "env", "find.me")
    monkeypatch.setenv("MEDDIAG_PLUGIN_PATH", str(tmp_path / "env"))
    assert find_plugin("find.me").path == folder
    assert find_plugin(str(folder)).source == "explicit"
    with pytest.raises(PluginNotFound, match="find.me"):
        find_plugin("nope")
