"""Fixtures for the report tests: a small CT series on disk with a label map, and the test's audit log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.report.report_helpers import PATIENT, SHAPE, SPACING, phantom  # noqa: E402


@pytest.fixture
def audit_log(user_folders) -> Path:
    return user_folders.audit_log


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


