"""Siemens mosaics (nibabel's DWI test data) unpacked into slices and placed as dcm2niix and nibabel place them."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from meddiag_desktop.io import load, scan

nib = pytest.importorskip("nibabel")
DATA = Path(nib.__file__).parent / "nicom" / "tests" / "data"
DCM2NIIX = Path(sys.executable).parent / "dcm2niix"
RAS_FROM_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _copy(name: str, folder: Path) -> Path:
    src = DATA / name
    if not src.is_file():
        pytest.skip(f"nibabel test file {name} missing")
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / name.replace(".gz", "")
    out.write_bytes(gzip.decompress(src.read_bytes()) if name.endswith(".gz") else src.read_bytes())
    return out


@pytest.mark.parametrize("name", ["siemens_dwi_0.dcm.gz", "siemens_dwi_1000.dcm.gz"])
def test_mosaic_matches_nibabel_mosaic_wrapper(tmp_path, name):
    from nibabel.nicom import dicomwrappers

    path = _copy(name, tmp_path)
    vol = load(path)
    assert vol.array.shape == (48, 128, 128)  # not one 896x896 slice
    ref = dicomwrappers.wrapper_from_file(str(path))
    # nibabel's affine maps (row, column, slice) to LPS; ours maps (column, row, slice)
    swap = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    np.testing.assert_allclose(vol.index_to_lps @ swap, ref.affine, atol=1e-3)
    np.testing.assert_array_equal(vol.array, np.transpose(ref.get_data(), (2, 0, 1)))
    # the first slice is not at the mosaic's own ImagePositionPatient (its corner of the 896x896 tiling)
    assert np.linalg.norm(np.asarray(vol.origin) - np.array([-805.0, -825.019119, -75.097641])) > 100


@pytest.mark.skipif(not DCM2NIIX.exists(), reason="dcm2niix (pip dcm2niix) not installed")
def test_mosaic_geometry_and_voxels_match_dcm2niix(tmp_path):
    path = _copy("siemens_dwi_0.dcm.gz", tmp_path / "in")
    out = tmp_path / "nii"
    out.mkdir()
    proc = subprocess.run([str(DCM2NIIX), "-z", "n", "-f", "dwi", "-o", str(out), str(path.parent)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    img = nib.load(out / "dwi.nii")
    aff, data = img.affine, np.asarray(img.dataobj)
    vol = load(path)
    ours = RAS_FROM_LPS @ vol.index_to_lps  # our index -> RAS mm
    to_theirs = np.linalg.inv(aff) @ ours  # our index -> dcm2niix index: a flip/permutation with integer shifts
    assert np.allclose(to_theirs, np.round(to_theirs), atol=1e-3)
    m = np.round(to_theirs)
    z, y, x = (np.arange(n) for n in vol.array.shape)
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    idx = np.stack([xx.ravel(), yy.ravel(), zz.ravel(), np.ones(xx.size)])
    # every voxel centre within 1e-3 mm of dcm2niix's same voxel
    assert np.abs((ours @ idx) - (aff @ (m @ idx))).max() < 1e-3
    ti = (m @ idx).astype(int)
    np.testing.assert_array_equal(data[ti[0], ti[1], ti[2]], vol.array.ravel())


def test_two_mosaics_of_one_series_are_not_stacked_into_a_fake_volume(tmp_path):
    for name in ("siemens_dwi_0.dcm.gz", "siemens_dwi_1000.dcm.gz"):
        _copy(name, tmp_path / "dwi")
    found = scan(tmp_path / "dwi")
    assert len(found) == 1 and found[0].image_count == 2
    vol = load(found[0])
    assert vol.array.shape == (48, 128, 128)
    assert any("2 Siemens mosaics" in w and "not stacked" in w and "siemens_dwi_0.dcm" in w for w in vol.warnings)
    first = load(tmp_path / "dwi" / "siemens_dwi_0.dcm")
    np.testing.assert_array_equal(vol.array, first.array)


def test_cropped_mosaics_at_two_positions_load_one_volume_with_a_warning(tmp_path):
    """nibabel's 0.dcm/1.dcm: the same DWI series cut to 256x256, two acquisitions 3 mm apart."""
    from nibabel.nicom import dicomwrappers

    for name in ("0.dcm", "1.dcm"):
        _copy(name, tmp_path / "pair")
    vol = load(tmp_path / "pair")
    assert vol.array.shape[0] == 48 and any("Siemens mosaics" in w for w in vol.warnings)
    ref = dicomwrappers.wrapper_from_file(str(tmp_path / "pair" / "0.dcm"))
    swap = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    np.testing.assert_allclose(vol.index_to_lps @ swap, ref.affine, atol=1e-3)
