"""Fixtures for the AI tests: tiny plugins built on the fly, no discovery outside tmp folders."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from plugin_factory import make_plugin  # noqa: E402

from meddiag_desktop.core.volume import Volume  # noqa: E402


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
    yield user


@pytest.fixture
def plugin_factory(tmp_path):
    def make(*args, **kw):
        return make_plugin(tmp_path / "plugins", *args, **kw)

    return make


def box_volume(shape=(40, 50, 60), spacing=(1.5, 1.5, 2.0), direction=None, origin=(0.0, 0.0, 0.0)) -> Volume:
    """CT-like volume: air with a bright (500 HU) box; array (z, y, x)."""
    a = np.full(shape, -1000, np.int16)
    z, y, x = shape
    a[z // 4 : 3 * z // 4, y // 5 : 4 * y // 5, x // 3 : 5 * x // 6] = 500
    return Volume(a, spacing, origin, np.eye(3) if direction is None else direction, metadata={"modality": "CT"})


@pytest.fixture
def ct_box():
    return box_volume()
