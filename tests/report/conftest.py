"""Fixtures for the report tests: a small CT series on disk with a label map, and a private audit log."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from report_helpers import PATIENT, SHAPE, SPACING, phantom  # noqa: E402


@pytest.fixture(autouse=True)
def _private_user_data(tmp_path_factory, monkeypatch):
    """Audit log, plugin and model folders in a temporary folder; no plugins from the environment."""
    user = tmp_path_factory.mktemp("user-data")
    monkeypatch.setattr("platformdirs.user_data_dir", lambda *a, **k: str(user))
    monkeypatch.delenv("MEDDIAG_AUDIT_LOG", raising=False)
    monkeypatch.delenv("MEDDIAG_PLUGIN_PATH", raising=False)
    monkeypatch.setenv("MEDDIAG_CONFIG_DIR", str(user / "config"))  # plugin consent store (ai/trust.py)
    yield user


@pytest.fixture
def audit_log(_private_user_data) -> Path:
    return Path(_private_user_data) / "audit.log"


@pytest.fixture
def study(tmp_path):
    """(folder, Volume, labels) of a CT series written as DICOM with shuffled file names, loaded back."""
    from meddiag_desktop.io import load
    from meddiag_desktop.io.dicom_write import write_series

    hu, labels = phantom()
    folder = tmp_path / "source" / "ct"
    names = [f"img{v:03d}.dcm" for v in np.random.default_rng(3).permutation(SHAPE[0])]
    write_series((hu + 1024).astype(np.int16), folder, spacing=SPACING, origin=(-20.0, 30.0, -100.0),
                 rescale_intercept=-1024.0, file_names=names, study_description="Chest CT test", **PATIENT)
    volume = load(folder)
    assert np.array_equal(volume.array, hu), "the loader must give back the written slices in order"
    return folder, volume, labels


