"""Fixtures for the AI tests: tiny plugins built on the fly, no discovery outside tmp folders."""

from __future__ import annotations

import pytest

from tests.ai.plugin_factory import box_volume, make_plugin


@pytest.fixture
def _isolated_plugin_places(user_folders):
    """The test's user data folder (``user_plugins_dir()`` is its ``plugins``); ``user_folders``
    already keeps discovery to what a test puts there: no env path, no entry points."""
    return user_folders.data


@pytest.fixture
def plugin_factory(tmp_path):
    def make(*args, **kw):
        return make_plugin(tmp_path / "plugins", *args, **kw)

    return make


@pytest.fixture
def ct_box():
    return box_volume()
