"""Shared fixtures: studies with exactly known geometry, written as real DICOM."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MEDDIAG_NO_USER_DATA", "")


@pytest.fixture(autouse=True)
def _private_settings_folder(tmp_path_factory, monkeypatch):
    """Every test gets its own settings folder (trust store, presets, recent studies, PACS nodes):
    nothing a test writes reaches the user's, and plugin trust never leaks between tests.
    Fixtures of a test package may point it elsewhere; they run after this one."""
    monkeypatch.setenv("MEDDIAG_CONFIG_DIR", str(tmp_path_factory.mktemp("settings")))


@pytest.fixture(autouse=True)
def _fresh_result_cache():
    """Every test starts with an empty session cache of plugin runs (workflow/result_cache.py)."""
    from meddiag_desktop.workflow.result_cache import SESSION_CACHE

    SESSION_CACHE.clear()
    yield
    SESSION_CACHE.clear()


def rotation(axis: str, degrees: float) -> np.ndarray:
    """Rotation matrix about LPS axis ``axis`` ('x', 'y' or 'z')."""
    t = np.radians(degrees)
    c, s = np.cos(t), np.sin(t)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


#: acquisition orientations: direction matrices (columns = LPS of x, y, z index axes)
ORIENTATIONS = {
    "axial": np.eye(3),
    "axial_feet_first": np.diag([1.0, 1.0, -1.0]) @ np.diag([1.0, 1.0, 1.0]),
    # sagittal: columns run anterior->posterior (+y), rows head->feet (-z), slices left->right (-x = row x col)
    "sagittal": np.array([[0, 0, -1], [1, 0, 0], [0, -1, 0]], float),
    # coronal: columns right->left (+x), rows head->feet (-z), slices anterior->posterior (+y)
    "coronal": np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float),
    "oblique": rotation("z", 20) @ rotation("x", 30),
}
# keep the feet-first case a proper rotation: flip z and y together
ORIENTATIONS["axial_feet_first"] = np.diag([1.0, -1.0, -1.0])


def ramp_volume(shape_zyx=(7, 11, 13), seed: int = 0) -> np.ndarray:
    """int16 test volume whose every voxel is distinct, so misplaced slices show."""
    z, y, x = shape_zyx
    rng = np.random.default_rng(seed)
    base = (np.arange(z)[:, None, None] * 1000 + np.arange(y)[None, :, None] * 20 + np.arange(x)[None, None, :]).astype(np.int16)
    return (base + rng.integers(0, 3, size=shape_zyx)).astype(np.int16)


@pytest.fixture
def make_series(tmp_path):
    """Write a synthetic series; returns (folder, array, spacing, origin, direction)."""
    from meddiag_desktop.io.dicom_write import write_series

    counter = {"n": 0}

    def make(orientation="axial", shape=(7, 11, 13), spacing=(0.7, 0.9, 2.5), origin=(-40.0, 12.5, 100.0),
             shuffle=True, intercept=0.0, folder=None, **kw):
        counter["n"] += 1
        out = tmp_path / (folder or f"series{counter['n']}")
        arr = ramp_volume(shape, seed=counter["n"])
        direction = ORIENTATIONS[orientation] if isinstance(orientation, str) else np.asarray(orientation)
        names = None
        if shuffle:
            rng = np.random.default_rng(counter["n"])
            names = [f"f{v:04d}.dcm" for v in rng.permutation(shape[0])]
        stored = arr if intercept == 0 else (arr.astype(np.int32) - int(intercept)).astype(np.int16)
        write_series(stored, out, spacing=spacing, origin=origin, direction=direction, file_names=names,
                     rescale_intercept=intercept, **kw)
        return out, arr, spacing, origin, direction

    return make


@pytest.fixture(scope="session")
def prior_pair(tmp_path_factory):
    """The demo phantom (small) as a current study and a moved prior with a known transform (tests/reading)."""
    from tests.reading.prior_study import make_prior_pair

    return make_prior_pair(tmp_path_factory.mktemp("priors"))
