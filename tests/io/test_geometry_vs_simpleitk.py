"""Slice order and geometry of DICOM series, checked against SimpleITK/GDCM and the truth."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from meddiag_desktop.io import load, scan
from tests.conftest import ORIENTATIONS


def sitk_read(folder):
    r = sitk.ImageSeriesReader()
    r.SetFileNames(r.GetGDCMSeriesFileNames(str(folder)))
    return r.Execute()


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_geometry_matches_truth_and_simpleitk(make_series, orientation):
    folder, arr, spacing, origin, direction = make_series(orientation)
    vol = load(folder)
    # exact voxels and geometry against what was written
    np.testing.assert_array_equal(vol.array, arr)
    assert vol.array.dtype == np.int16
    np.testing.assert_allclose(vol.spacing, spacing, atol=1e-5)
    np.testing.assert_allclose(vol.origin, origin, atol=1e-4)
    np.testing.assert_allclose(vol.direction, direction, atol=1e-5)
    assert vol.warnings == []
    # and against SimpleITK reading the same files
    img = sitk_read(folder)
    np.testing.assert_array_equal(vol.array, sitk.GetArrayFromImage(img))
    np.testing.assert_allclose(vol.spacing, img.GetSpacing(), atol=1e-5)
    np.testing.assert_allclose(vol.origin, img.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(vol.direction.ravel(), img.GetDirection(), atol=1e-5)
    # a voxel maps to the same LPS point
    ijk = (3, 5, 4)
    np.testing.assert_allclose(vol.to_lps(ijk), img.TransformIndexToPhysicalPoint(ijk), atol=1e-4)


def test_order_is_by_position_not_file_name_or_instance_number(make_series, tmp_path):
    folder, arr, *_ = make_series("axial", shuffle=True, folder="shuffled")
    # scramble instance numbers too
    import pydicom

    files = sorted(folder.iterdir())
    for n, f in enumerate(files):
        ds = pydicom.dcmread(f)
        ds.InstanceNumber = (n * 7) % len(files) + 1
        ds.save_as(f)
    vol = load(folder)
    np.testing.assert_array_equal(vol.array, arr)


def test_rescale_intercept_applied_and_int16_kept(make_series):
    folder, arr, *_ = make_series("axial", intercept=-1024.0)
    vol = load(folder)
    assert vol.array.dtype == np.int16
    np.testing.assert_array_equal(vol.array, arr)
    assert vol.metadata["units"] == "HU"


def test_float_slope_gives_float_values(make_series):
    folder, arr, *_ = make_series("axial", modality="MR", rescale_slope=0.5, intercept=0.0)
    vol = load(folder)
    assert vol.array.dtype == np.float32
    np.testing.assert_allclose(vol.array, arr * 0.5)


def test_multi_series_folder_scans_each_and_loads_largest(make_series, tmp_path):
    make_series("axial", shape=(5, 8, 8), folder="study/a", series_number=1, series_description="small")
    _, big, *_ = make_series("coronal", shape=(9, 8, 10), folder="study/b", series_number=2, series_description="big")
    (tmp_path / "study" / "notes.txt").write_text("not dicom")
    found = scan(tmp_path / "study")
    assert sorted(s.image_count for s in found) == [5, 9]
    assert {s.description for s in found} == {"small", "big"}
    assert [s.reason for s in found.skipped] == ["not a DICOM file"]
    vol = load(tmp_path / "study")
    np.testing.assert_array_equal(vol.array, big)
    assert any("holds 2 series" in w for w in vol.warnings)
    vol_small = load(next(s for s in found if s.description == "small"))
    assert vol_small.array.shape == (5, 8, 8)


def test_same_series_uid_split_by_orientation_and_size(make_series, tmp_path):
    from pydicom.uid import generate_uid

    uid = generate_uid()
    make_series("axial", shape=(4, 8, 8), folder="mix", series_uid=uid)
    make_series("sagittal", shape=(3, 8, 8), folder="mix/loc", series_uid=uid)
    make_series("axial", shape=(2, 6, 6), folder="mix/small", series_uid=uid, origin=(0, 0, 300))
    found = scan(tmp_path / "mix")
    assert len(found) == 3
    assert {s.series_uid for s in found} == {uid}
    assert len({s.key for s in found}) == 3
    assert sorted(s.image_count for s in found) == [2, 3, 4]
    assert all(s.split_reason for s in found)


def test_slices_stored_against_the_normal_are_reordered(make_series):
    """Index z runs along -normal in the files: we reorder along +normal, as SimpleITK does."""
    left_handed = np.array([[0, 0, 1], [1, 0, 0], [0, -1, 0]], float)  # z = +x but row x col = -x
    folder, arr, spacing, origin, _ = make_series(left_handed)
    vol = load(folder)
    np.testing.assert_array_equal(vol.array, arr[::-1])
    np.testing.assert_allclose(vol.direction[:, 2], [-1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(vol.origin, np.asarray(origin) + (arr.shape[0] - 1) * spacing[2] * np.array([1, 0, 0]), atol=1e-4)
    img = sitk_read(folder)
    np.testing.assert_array_equal(vol.array, sitk.GetArrayFromImage(img))
    np.testing.assert_allclose(vol.origin, img.GetOrigin(), atol=1e-4)
