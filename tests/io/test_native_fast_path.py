"""The one-pass native reader (read, fix bits, add intercept in place) must equal the old path bit for bit."""

from __future__ import annotations

import threading

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

import meddiag_desktop.io.dicom_volume as dv
from meddiag_desktop.io import load
from meddiag_desktop.io.dicom_write import write_series


def _old_and_new(folder, monkeypatch):
    new = load(folder)
    with monkeypatch.context() as m:
        m.setattr(dv, "_fused_ok", lambda insts: False)
        old = load(folder)
    assert new.array.dtype == old.array.dtype
    np.testing.assert_array_equal(new.array, old.array)
    return new


def _sitk(folder) -> np.ndarray:
    r = sitk.ImageSeriesReader()
    r.SetFileNames(r.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayFromImage(r.Execute())


def test_signed_values_that_overflow_int16_fall_back_to_float32(tmp_path, monkeypatch):
    arr = np.full((4, 6, 5), 100, np.int16)
    arr[2, 1, 1] = -32768 + 5  # -32763 - 1024 does not fit int16
    write_series(arr, tmp_path, rescale_intercept=-1024, spacing=(1, 1, 2))
    vol = _old_and_new(tmp_path, monkeypatch)
    assert vol.array.dtype == np.float32
    assert vol.array[2, 1, 1] == -32763 - 1024 and vol.array[0, 0, 0] == 100 - 1024


def test_signed_16_bit_values_that_fit_stay_int16(tmp_path, monkeypatch):
    arr = np.linspace(-31000, 31000, 4 * 6 * 5).astype(np.int16).reshape(4, 6, 5)
    write_series(arr, tmp_path, rescale_intercept=-1024, spacing=(1, 1, 2))
    vol = _old_and_new(tmp_path, monkeypatch)
    assert vol.array.dtype == np.int16
    np.testing.assert_array_equal(vol.array, arr.astype(np.int32) - 1024)
    np.testing.assert_array_equal(vol.array, _sitk(tmp_path))


@pytest.mark.parametrize("signed", [False, True])
def test_bits_above_bits_stored_are_ignored_and_intercepts_per_slice(tmp_path, monkeypatch, signed):
    rng = np.random.default_rng(3)
    stored = rng.integers(0, 65536, size=(5, 8, 7)).astype(np.uint16)  # garbage in bits 12-15
    arr = stored.view(np.int16) if signed else stored
    paths = write_series(arr, tmp_path, rescale_intercept=-1024, spacing=(1, 1, 2), extra={"BitsStored": 12, "HighBit": 11})
    ds = pydicom.dcmread(paths[3])
    ds.RescaleIntercept = "-1000"
    ds.save_as(paths[3])
    vol = _old_and_new(tmp_path, monkeypatch)
    assert vol.array.dtype == np.int16
    low = (stored & 0x0FFF).astype(np.int32)
    if signed:
        low = np.where(low >= 2048, low - 4096, low)
    expect = low - 1024
    expect[3] += 24
    np.testing.assert_array_equal(vol.array, expect)


def test_progress_ends_at_the_total_and_cancel_stops(tmp_path):
    from meddiag_desktop.io import LoadCancelled

    arr = np.zeros((20, 4, 4), np.int16)
    write_series(arr, tmp_path, rescale_intercept=-1024)
    seen = []
    load(tmp_path, progress=lambda d, n: seen.append((d, n)))
    assert seen[-1] == (20, 20)
    with pytest.raises(LoadCancelled):
        load(tmp_path, cancel=lambda: True)


@pytest.mark.parametrize("top, intercept, dtype", [(30000, -1024, np.int16), (40000, -1024, np.float32),
                                                   (65535, -32768, np.int16), (40000, 0, np.float32)])
def test_unsigned_16_bit_stored(tmp_path, monkeypatch, top, intercept, dtype):
    stored = np.linspace(0, top, 4 * 6 * 5).astype(np.uint16).reshape(4, 6, 5)
    write_series(stored, tmp_path, rescale_intercept=intercept, spacing=(1, 1, 2))
    vol = _old_and_new(tmp_path, monkeypatch)
    assert vol.array.dtype == dtype
    np.testing.assert_array_equal(vol.array, stored.astype(np.int64) + intercept)


def test_mixed_headers_odd_size_and_shuffled_files_match_pydicom_and_simpleitk(tmp_path, monkeypatch):
    """Each file's pixels are read from its own offset: explicit and implicit VR files, headers of
    different lengths, an odd image size, per-slice intercepts and files named against the slice
    order, all in one series; the volume equals pydicom's pixels + intercept, slice by slice, and
    SimpleITK's volume."""
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    rng = np.random.default_rng(11)
    stored = rng.integers(0, 4096, size=(6, 37, 53)).astype(np.uint16)
    names = [f"IM{5 - k:02d}.dcm" for k in range(6)]  # names run against the slice order
    paths = write_series(stored, tmp_path, rescale_intercept=-1024, spacing=(0.8, 0.8, 2.5), file_names=names,
                         extra={"BitsStored": 12, "HighBit": 11})
    for k, p in enumerate(paths):
        ds = pydicom.dcmread(p)
        if k % 2:
            ds.ImageComments = "x" * (100 * k + 1)  # a header longer by an odd-length text (padded)
        if k % 3 == 0:
            ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        ds.RescaleIntercept = str(-1024 + 7 * k)
        ds.save_as(p, enforce_file_format=True)
    from meddiag_desktop.io import scan

    (series,) = scan(tmp_path)
    assert len({h.pixel_offset for h in series.instances}) > 2  # the pixel data really starts at different places
    assert {h.transfer_syntax for h in series.instances} == {str(ImplicitVRLittleEndian), str(ExplicitVRLittleEndian)}
    vol = _old_and_new(tmp_path, monkeypatch)
    expect = []
    for p in sorted(paths, key=lambda q: float(pydicom.dcmread(q).ImagePositionPatient[2])):
        ds = pydicom.dcmread(p)
        expect.append(ds.pixel_array.astype(np.int32) + int(ds.RescaleIntercept))
    assert vol.array.dtype == np.int16 and vol.array.shape == (6, 37, 53)
    np.testing.assert_array_equal(vol.array, np.stack(expect))
    np.testing.assert_array_equal(vol.array, _sitk(tmp_path))


def test_planes_read_in_chunks_by_two_threads_equal_the_old_path(tmp_path, monkeypatch):
    """Each reading thread fills FILL_CHUNK_BYTES of consecutive planes at a time: with chunks of
    3 planes (the last one shorter) the volume is the old path's, per-slice intercepts included,
    and the reading's progress climbs to the total."""
    rng = np.random.default_rng(8)
    stored = rng.integers(0, 4096, size=(23, 9, 11)).astype(np.uint16)
    paths = write_series(stored, tmp_path, rescale_intercept=-1024, spacing=(1, 1, 2))
    for k in (4, 17):
        ds = pydicom.dcmread(paths[k])
        ds.RescaleIntercept = str(-1024 + k)
        ds.save_as(paths[k])
    monkeypatch.setattr(dv, "FILL_CHUNK_BYTES", 3 * 9 * 11 * 2)
    import meddiag_desktop.io.dicom_pixels as dp

    reader = {}  # plane -> thread that read it
    real_fix_bits = dp.fix_bits

    def fix_bits(plane, h):
        reader[[str(q) for q in paths].index(str(h.path))] = threading.get_ident()
        real_fix_bits(plane, h)

    monkeypatch.setattr(dp, "fix_bits", fix_bits)
    seen = []
    vol = load(tmp_path, progress=lambda d, n: seen.append((d, n)))
    assert sorted(reader) == list(range(23))
    for first in range(0, 23, 3):  # each chunk of 3 planes is read by one thread
        assert len({reader[k] for k in range(first, min(first + 3, 23))}) == 1
    monkeypatch.setattr(dp, "fix_bits", real_fix_bits)
    expect = stored.astype(np.int32) - 1024
    expect[4] += 4
    expect[17] += 17
    np.testing.assert_array_equal(vol.array, expect)
    _old_and_new(tmp_path, monkeypatch)
    # after the scan's own progress: the calling thread reports the chunks it read (how many is a
    # race with the other thread), and the total at the end
    pixels = [d for d, _ in seen[seen.index((23, 23)) + 1 :]]
    assert pixels and pixels[-1] == 23 and pixels == sorted(pixels)
