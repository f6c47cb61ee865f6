"""Geometry problems are never silent: each gives a warning (and a correct grid) or a LoadError."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from meddiag_desktop.io import LoadError, load
from meddiag_desktop.io.dicom_write import write_series
from tests.conftest import ramp_volume


def _positions(nz, step=2.0, z0=0.0):
    return [(0.0, 0.0, z0 + step * k) for k in range(nz)]


def test_missing_slice_warns_and_keeps_true_positions(tmp_path):
    arr = ramp_volume((8, 6, 6))
    keep = [0, 1, 2, 4, 5, 6, 7]  # slice 3 missing
    write_series(arr[keep], tmp_path, spacing=(1, 1, 2), slice_positions=[_positions(8)[k] for k in keep])
    vol = load(tmp_path)
    assert vol.array.shape == (8, 6, 6)
    assert vol.spacing[2] == pytest.approx(2.0)
    np.testing.assert_array_equal(vol.array[keep], arr[keep])
    assert (vol.array[3] == arr[keep].min()).all()  # blank, not invented
    assert any("1 missing slice" in w and "4.0–8.0 mm" in w for w in vol.warnings), vol.warnings


def test_duplicate_positions_warn_and_keep_one(tmp_path):
    arr = ramp_volume((6, 5, 5))
    pos = _positions(5) + [(0.0, 0.0, 4.0)]  # last image repeats position of slice 2
    write_series(arr, tmp_path, spacing=(1, 1, 2), slice_positions=pos)
    vol = load(tmp_path)
    assert vol.array.shape == (5, 5, 5)
    np.testing.assert_array_equal(vol.array[2], arr[2])  # the first image at that position (instance order)
    assert any("1 duplicate slice position" in w for w in vol.warnings), vol.warnings


def test_every_position_repeated_is_reported_as_phases(tmp_path):
    arr = ramp_volume((6, 5, 5))
    pos = _positions(3) + _positions(3)
    write_series(arr, tmp_path, spacing=(1, 1, 2), slice_positions=pos)
    vol = load(tmp_path)
    assert vol.array.shape == (3, 5, 5)
    np.testing.assert_array_equal(vol.array, arr[:3])
    assert any("occurs 2 times" in w for w in vol.warnings)


def test_uneven_spacing_is_resampled_onto_regular_grid(tmp_path):
    arr = np.zeros((5, 4, 4), np.int16)
    for k in range(5):
        arr[k] = 100 * k
    z = [0.0, 2.0, 4.0, 5.0, 8.0]  # median gap 2; the 4->5->8 part is uneven
    write_series(arr, tmp_path, spacing=(1, 1, 2), slice_positions=[(0, 0, v) for v in z])
    vol = load(tmp_path)
    assert vol.spacing[2] == pytest.approx(2.0)
    assert vol.array.shape[0] == 5  # 0, 2, 4, 6, 8
    # z=6 lies between 5 (value 300) and 8 (value 400): 300 + (1/3)*100
    assert vol.array[3, 0, 0] == 333
    assert vol.array[4, 0, 0] == 400
    assert any("Uneven slice spacing" in w for w in vol.warnings), vol.warnings


def test_gantry_tilt_is_warned_and_deskewed(tmp_path):
    nz = 6
    arr = np.zeros((nz, 20, 20), np.int16)
    arr[:, 10, 5] = 1000  # a line that is straight in the patient, drawn per slice
    # Tilted acquisition: each slice is shifted along y (rows) by dz*tan(tilt); the
    # bright voxel stays at the same patient point, i.e. appears at row 10 - shift.
    step = 2.0
    shift_mm = 1.0  # a whole pixel per slice, so that de-skewing is exact: tilt = atan(1/2) = 26.6°
    pos, data = [], np.zeros_like(arr)
    for k in range(nz):
        pos.append((0.0, k * shift_mm, k * step))
        data[k] = 0
        row = 10 - k * shift_mm  # in pixels (1 mm spacing)
        r0 = int(np.floor(row))
        f = row - r0
        data[k, r0, 5] = round(1000 * (1 - f))
        if f:
            data[k, r0 + 1, 5] = round(1000 * f)
    write_series(data, tmp_path, spacing=(1, 1, step), slice_positions=pos, gantry_tilt=26.6)
    vol = load(tmp_path)
    assert any("Gantry tilt of 26.6°" in w for w in vol.warnings), vol.warnings
    np.testing.assert_allclose(vol.direction, np.eye(3), atol=1e-6)
    # after de-skewing, the bright point is back at row 10 in every slice
    for k in range(nz):
        assert int(np.argmax(vol.array[k, :, 5])) == 10
        assert vol.array[k, 10, 5] == 1000


def test_missing_image_position_on_some_slices(tmp_path):
    arr = ramp_volume((5, 4, 4))
    paths = write_series(arr, tmp_path, spacing=(1, 1, 2))
    ds = pydicom.dcmread(paths[2])
    del ds.ImagePositionPatient
    ds.save_as(paths[2])
    vol = load(tmp_path)
    assert any("without ImagePositionPatient were left out" in w for w in vol.warnings)
    assert any("missing slice" in w for w in vol.warnings)
    assert vol.array.shape == (5, 4, 4)


def test_missing_image_position_everywhere(tmp_path):
    arr = ramp_volume((4, 4, 4))
    paths = write_series(arr, tmp_path, spacing=(1, 1, 3))
    for p in paths:
        ds = pydicom.dcmread(p)
        del ds.ImagePositionPatient
        ds.save_as(p)
    vol = load(tmp_path)
    np.testing.assert_array_equal(vol.array, arr)  # instance number order
    assert vol.spacing[2] == 3.0
    assert any("None of the 4 images has ImagePositionPatient" in w for w in vol.warnings)


def test_mixed_orientations_in_one_series_are_split_and_reported(tmp_path):
    from pydicom.uid import generate_uid

    uid = generate_uid()
    write_series(ramp_volume((6, 8, 8)), tmp_path / "ax", series_uid=uid)
    write_series(ramp_volume((2, 8, 8)), tmp_path / "sag", series_uid=uid,
                 direction=np.array([[0, 0, -1], [1, 0, 0], [0, -1, 0]], float))
    vol = load(tmp_path)
    assert vol.array.shape == (6, 8, 8)
    assert any("holds 2 series" in w for w in vol.warnings)


def test_non_perpendicular_orientation_is_a_load_error(tmp_path):
    paths = write_series(ramp_volume((3, 4, 4)), tmp_path)
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.ImageOrientationPatient = [1, 0, 0, 0.5, 0.8660254, 0]
        ds.save_as(p)
    with pytest.raises(LoadError, match="not perpendicular"):
        load(tmp_path)
