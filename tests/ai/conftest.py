"""Fixtures for the AI tests: tiny plugins built on the fly, no discovery outside tmp folders."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from plugin_factory import box_volume, make_plugin  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_plugin_places(tmp_path_factory, monkeypatch):
    """Discovery sees only what a test puts there: empty user folder, no env path, no entry points."""
    import importlib.metadata

    import platformdirs

    user = tmp_path_factory.mktemp("user-data")
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(user))
    monkeypatch.delenv("MEDDIAG_PLUGIN_PATH", raising=False)
    real = importlib.metadata.entry_points

    def no_plugin_eps(**kw):
        if kw.get("group") == "meddiag_desktop.plugins":
            return importlib.metadata.EntryPoints([])
        return real(**kw)

    monkeypatch.setattr(importlib.metadata, "entry_points", no_plugin_eps)
    # the trust store (ai/trust.py) lives in the settings folder: a private one per test, seen by workers too
    monkeypatch.setenv("MEDDIAG_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
    yield user


@pytest.fixture
def plugin_factory(tmp_path):
    def make(*args, **kw):
        return make_plugin(tmp_path / "plugins", *args, **kw)

    return make


@pytest.fixture
def ct_box():
    return box_volume()
