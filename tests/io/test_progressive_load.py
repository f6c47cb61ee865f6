"""Progressive loading of a compressed (JPEG 2000) stack: the first slice early, the same voxels at the end."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.uid import JPEG2000Lossless

from meddiag_desktop.io import LoadCancelled, load
from meddiag_desktop.io.dicom_volume import decode_order
from meddiag_desktop.io.dicom_write import write_series

N = 9


def _j2k_series(folder, stored: np.ndarray, intercept: float = -1024.0):
    rng = np.random.default_rng(1)
    names = [f"f{v:03d}.dcm" for v in rng.permutation(len(stored))]  # file order is not slice order
    paths = write_series(stored, folder, spacing=(0.8, 0.8, 2.0), rescale_intercept=intercept, file_names=names)
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.compress(JPEG2000Lossless)
        ds.save_as(p)
    return folder


def _sitk(folder) -> np.ndarray:
    r = sitk.ImageSeriesReader()
    r.SetFileNames(r.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayFromImage(r.Execute())


def _record(folder, **kw):
    events = []

    def on_partial(vol, filled):
        events.append(("partial", vol, filled.copy(), vol.array.copy()))

    def progress(done, total):
        events.append(("progress", done, total))

    vol = load(folder, progress=progress, on_partial=on_partial, **kw)
    return vol, events


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    rng = np.random.default_rng(0)
    stored = (rng.integers(0, 2000, size=(N, 64, 64)) + np.arange(N)[:, None, None] * 100).astype(np.int16)
    return _j2k_series(tmp_path_factory.mktemp("j2k"), stored), stored


def test_decode_order_starts_at_the_focus_and_covers_every_slice():
    assert decode_order(9, 0.5) == [4, 5, 3, 6, 2, 7, 1, 8, 0]
    assert decode_order(4, 0.0) == [0, 1, 2, 3]
    assert decode_order(4, 1.0) == [3, 2, 1, 0]
    assert sorted(decode_order(7, 0.3)) == list(range(7))


def test_first_slice_arrives_before_the_end_and_final_voxels_equal_the_full_load(ct):
    folder, stored = ct
    vol, events = _record(folder)
    partials = [e for e in events if e[0] == "partial"]
    assert partials, "no partial volume was delivered"
    _, first_vol, filled, first_array = partials[0]
    # the first callback: only the slice at the view's position (the middle) is in, long before the end
    assert filled.sum() == 1 and filled[N // 2]
    first_at = events.index(partials[0])
    assert any(e[0] == "progress" and e[1] < e[2] for e in events[first_at + 1 :])
    expect = stored.astype(np.int32) - 1024
    np.testing.assert_array_equal(first_array[N // 2], expect[N // 2])
    # the final volume is the one shown, complete, and equals the plain load and GDCM's decoding
    assert vol is first_vol
    plain = load(folder)
    assert vol.array.dtype == plain.array.dtype == np.int16
    np.testing.assert_array_equal(vol.array, plain.array)
    np.testing.assert_array_equal(vol.array, expect)
    np.testing.assert_array_equal(vol.array, _sitk(folder))
    assert vol.spacing == plain.spacing and vol.origin == plain.origin
    np.testing.assert_array_equal(vol.direction, plain.direction)
    assert vol.metadata["files"] == plain.metadata["files"] and vol.warnings == plain.warnings


def test_focus_picks_the_first_slice_decoded(ct):
    folder, _ = ct
    _, events = _record(folder, focus=0.0)
    first = next(e for e in events if e[0] == "partial")
    assert first[2].sum() == 1 and first[2][0]


def test_values_that_do_not_fit_int16_end_as_the_full_loads_float32(tmp_path):
    stored = np.full((5, 64, 64), 100, np.int16)
    stored[1, 3, 3] = -32760  # -32760 - 1024 does not fit int16: the full load gives float32
    folder = _j2k_series(tmp_path, stored)
    vol, events = _record(folder)
    assert any(e[0] == "partial" for e in events)
    plain = load(folder)
    assert vol.array.dtype == plain.array.dtype == np.float32
    np.testing.assert_array_equal(vol.array, plain.array)
    assert vol.array[1, 3, 3] == -32760 - 1024


def test_cancel_after_the_first_slice_stops_the_load(ct):
    folder, _ = ct
    seen = []
    with pytest.raises(LoadCancelled):
        load(folder, on_partial=lambda v, f: seen.append(f.sum()), cancel=lambda: bool(seen))
    assert seen == [1]
