"""A real Orthanc for the whole session (one per session, small studies), and generated CT studies."""

from __future__ import annotations

import numpy as np
import pytest

from tests.pacs.orthanc import Orthanc, available


def make_ct(folder, patient_id="PACS0001", patient_name="Test^Pacs", slices=6, size=24, seed=1, **kw):
    """A small CT series with known geometry and voxels; returns (array, files)."""
    from meddiag_desktop.io.dicom_write import write_series

    rng = np.random.default_rng(seed)
    arr = rng.integers(-1000, 1500, size=(slices, size, size)).astype(np.int16)
    files = write_series(arr, folder, spacing=(0.8, 0.8, 2.5), origin=(-10.0, -20.0, 30.0), modality="CT",
                         rescale_intercept=0.0, patient_id=patient_id, patient_name=patient_name,
                         instance_uid_seed=f"{patient_id}-{seed}", **kw)
    return arr, files


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory):
    why = available()
    if why:
        pytest.skip(why)
    o = Orthanc(tmp_path_factory.mktemp("orthanc")).start()
    try:
        yield o
    finally:
        o.stop(graceful=False)


@pytest.fixture(scope="session")
def ct_on_orthanc(orthanc, tmp_path_factory):
    """A 6-slice 24x24 CT of patient PACS0001 stored in Orthanc: (study_uid, series_uid, array, files)."""
    import pydicom

    arr, files = make_ct(tmp_path_factory.mktemp("ct") / "series")
    orthanc.upload(files)
    ds = pydicom.dcmread(files[0], stop_before_pixels=True)
    return ds.StudyInstanceUID, ds.SeriesInstanceUID, arr, files


@pytest.fixture()
def db(tmp_path, monkeypatch):
    """An empty database in a temporary folder, also the default for the CLI (MEDDIAG_DB_DIR)."""
    from meddiag_desktop.db import StudyDatabase

    monkeypatch.setenv("MEDDIAG_DB_DIR", str(tmp_path / "db"))
    d = StudyDatabase(tmp_path / "db")
    yield d
    d.close()
