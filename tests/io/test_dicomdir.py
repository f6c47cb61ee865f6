"""A CD export: a DICOMDIR indexing files with 8-character names in nested folders."""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom.fileset import FileSet

from meddiag_desktop.io import load, scan
from tests.conftest import ramp_volume


def test_dicomdir_export_scans_and_loads(make_series, tmp_path):
    src, arr, spacing, origin, direction = make_series("coronal", shape=(6, 9, 10), folder="src", series_description="Cor")
    fs = FileSet()
    for f in sorted(src.iterdir()):
        fs.add(pydicom.dcmread(f))
    cd = tmp_path / "cd"
    fs.write(cd)
    assert (cd / "DICOMDIR").exists()
    for target in (cd, cd / "DICOMDIR"):
        found = scan(target)
        assert len(found) == 1 and found[0].image_count == 6 and found[0].description == "Cor"
        assert any("DICOMDIR" in s.reason for s in found.skipped)
        vol = load(target)
        np.testing.assert_array_equal(vol.array, arr)
        np.testing.assert_allclose(vol.direction, direction, atol=1e-6)
