"""NIfTI, NRRD and MetaImage files through SimpleITK, checked against nibabel and known geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from meddiag_desktop.io import LoadError, load, scan
from tests.conftest import ORIENTATIONS, ramp_volume

nib = pytest.importorskip("nibabel")
NIB_DATA = Path(nib.__file__).parent / "tests" / "data"


def _write(tmp_path, suffix, arr, spacing, origin, direction):
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    img.SetDirection(tuple(np.asarray(direction).ravel()))
    path = tmp_path / f"img{suffix}"
    sitk.WriteImage(img, str(path))
    return path


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha", ".mhd"])
def test_research_formats_keep_exact_geometry(tmp_path, suffix):
    arr = ramp_volume((6, 7, 8))
    direction = ORIENTATIONS["oblique"]
    path = _write(tmp_path, suffix, arr, (0.8, 0.9, 1.7), (10.0, -20.0, 35.0), direction)
    vol = load(path)
    np.testing.assert_array_equal(vol.array, arr)
    assert vol.array.dtype == np.int16
    np.testing.assert_allclose(vol.spacing, (0.8, 0.9, 1.7), atol=1e-5)
    np.testing.assert_allclose(vol.origin, (10.0, -20.0, 35.0), atol=1e-4)
    np.testing.assert_allclose(vol.direction, direction, atol=1e-5)


@pytest.mark.parametrize("name", ["anatomical.nii", "standard.nii.gz", "example_nifti2.nii.gz"])
def test_nifti_voxels_and_affine_agree_with_nibabel(name):
    path = NIB_DATA / name
    img = nib.load(path)
    data = np.asarray(img.dataobj)
    if data.ndim == 4:
        data = data[..., 0]
    vol = load(path)
    assert vol.array.shape == data.shape[::-1]
    np.testing.assert_allclose(vol.array, np.transpose(data, (2, 1, 0)))
    ras_to_lps = np.diag([-1, -1, 1])
    for ijk in [(0, 0, 0), (3, 2, 1), tuple(s - 1 for s in data.shape[:3])]:
        ras = img.affine @ np.array([*ijk, 1.0])
        np.testing.assert_allclose(vol.to_lps(ijk), ras_to_lps @ ras[:3], atol=1e-3)


def test_4d_nifti_shows_first_volume_with_warning():
    vol = load(NIB_DATA / "example4d.nii.gz")
    assert vol.array.ndim == 3
    assert any("4D image" in w for w in vol.warnings)


def test_float_nifti_of_integers_becomes_int16(tmp_path):
    arr = ramp_volume((3, 4, 5)).astype(np.float32)
    vol = load(_write(tmp_path, ".nii.gz", arr, (1, 1, 1), (0, 0, 0), np.eye(3)))
    assert vol.array.dtype == np.int16


def test_scan_lists_research_files_and_skips_raw_data(tmp_path):
    _write(tmp_path, ".mhd", ramp_volume((3, 4, 5)), (1, 1, 1), (0, 0, 0), np.eye(3))
    found = scan(tmp_path)
    assert [s.description for s in found] == ["img.mhd"]
    assert found[0].image_count == 3
    assert [p.path.name for p in found.skipped] == ["img.raw"]
    np.testing.assert_array_equal(load(found[0]).array, ramp_volume((3, 4, 5)))


def test_corrupt_nifti_is_a_load_error(tmp_path):
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage" * 10)
    with pytest.raises(LoadError, match="broken.nii.gz"):
        load(bad)
