"""Pixels read while the headers are still scanned (io.prefetch) give the volume the ordinary load gives.

The ordinary load is ``load(folder)`` with nothing offered to the prefetch (scan, then read every
plane); the reference peer is SimpleITK (GDCM), which sorts the files by position itself.
"""

from __future__ import annotations

import collections
import shutil
import time

import numpy as np
import pytest
import SimpleITK as sitk

import meddiag_desktop.io.dicom_volume as dv
import meddiag_desktop.io.prefetch as pf
from meddiag_desktop.io import LoadCancelled, LoadError, load, scan_and_load
from meddiag_desktop.io.dicom_write import write_series


def _ordinary(folder, monkeypatch):
    """``load(folder)`` with nothing offered to the prefetch: scan, then read every plane."""
    with monkeypatch.context() as m:
        m.setattr(pf.NativePrefetch, "offer", lambda self, h: None)
        return load(folder)


def _assert_same(a, b):
    assert a.array.dtype == b.array.dtype
    np.testing.assert_array_equal(a.array, b.array)
    np.testing.assert_allclose(a.spacing, b.spacing)
    np.testing.assert_allclose(a.origin, b.origin)
    np.testing.assert_allclose(a.direction, b.direction)
    assert a.metadata["files"] == b.metadata["files"]
    assert a.warnings == b.warnings


def _sitk(folder, series_uid=None) -> np.ndarray:
    r = sitk.ImageSeriesReader()
    names = r.GetGDCMSeriesFileNames(str(folder), series_uid) if series_uid else r.GetGDCMSeriesFileNames(str(folder))
    r.SetFileNames(names)
    return sitk.GetArrayFromImage(r.Execute())


offer = pf.NativePrefetch.offer


@pytest.fixture
def reads(monkeypatch):
    """Counts each file's pixel reads (by the prefetch and by the load), and keeps the prefetches made."""
    counts: collections.Counter = collections.Counter()
    made: list = []
    real = dv._read_fused_plane

    def counted(h, planes, k, intercept, rng):
        counts[h.path.name] += 1
        return real(h, planes, k, intercept, rng)

    monkeypatch.setattr(dv, "_read_fused_plane", counted)
    monkeypatch.setattr(pf, "_read_fused_plane", counted)
    init = pf.NativePrefetch.__init__

    def tracked(self):
        init(self)
        made.append(self)

    monkeypatch.setattr(pf.NativePrefetch, "__init__", tracked)
    counts.made = made
    return counts


def _wait_for_reads(made, at_least, deadline_s=20.0):
    """A scan progress callback that holds the scan until the prefetch has read ``at_least`` planes."""

    def progress(done, total):
        if not made or made[-1]._key is None or made[-1]._stop.is_set():
            return  # nothing taken yet, or the load has begun
        end = time.monotonic() + deadline_s
        while sum(made[-1]._read) < min(at_least, len(made[-1]._headers)) and time.monotonic() < end:
            time.sleep(0.002)

    return progress


def _series(folder, n=40, names=None, seed=0, **kw):
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 3000, size=(n, 12, 10)).astype(np.uint16)
    kw.setdefault("rescale_intercept", -1024)
    kw.setdefault("spacing", (0.7, 0.8, 1.5))
    kw.setdefault("origin", (-20.0, 5.0, 100.0))
    write_series(arr, folder, file_names=names, **kw)
    return arr


@pytest.mark.parametrize("order", ["ascending", "descending", "shuffled"])
def test_planes_read_during_the_scan_are_moved_to_their_slices_and_read_once(tmp_path, reads, order, monkeypatch):
    n = 40
    if order == "ascending":
        names = [f"IM{k:03d}.dcm" for k in range(n)]
    elif order == "descending":  # as scanners number head to feet: the first file is the last slice
        names = [f"IM{n - 1 - k:03d}.dcm" for k in range(n)]
    else:
        perm = np.random.default_rng(7).permutation(n)
        names = [f"IM{p:03d}.dcm" for p in perm]
    arr = _series(tmp_path, n, names)
    vol = load(tmp_path, progress=_wait_for_reads(reads.made, 20))
    assert sum(reads.made[-1]._read) >= 20  # the scan was held until 20 planes were in: they were used
    assert set(reads.values()) == {1} and len(reads) == n  # every file read once: no plane twice
    np.testing.assert_array_equal(vol.array, arr.astype(np.int32) - 1024)
    np.testing.assert_array_equal(vol.array, _sitk(tmp_path))
    reads.clear()
    _assert_same(vol, _ordinary(tmp_path, monkeypatch))


def test_a_wrong_guess_loads_the_chosen_series_as_the_ordinary_load_does(tmp_path, reads, monkeypatch):
    # the first files listed belong to a small series of the same size; load picks the larger one
    _series(tmp_path, 6, [f"a{k}.dcm" for k in range(6)], seed=1, series_uid="1.2.3.4.1", series_number=1)
    big = _series(tmp_path, 30, [f"b{k:02d}.dcm" for k in range(30)], seed=2, series_uid="1.2.3.4.2", series_number=2)
    found, series, vol = scan_and_load(tmp_path, progress=_wait_for_reads(reads.made, 6))
    assert series.series_uid == "1.2.3.4.2" and len(found) == 2
    assert reads.made[-1]._key[0] == "1.2.3.4.1"  # the prefetch guessed the first series...
    assert all(reads[f"b{k:02d}.dcm"] == 1 for k in range(30))  # ...and the chosen one was read by the load
    np.testing.assert_array_equal(vol.array, big.astype(np.int32) - 1024)
    _assert_same(load(tmp_path), _ordinary(tmp_path, monkeypatch))


def test_a_duplicate_file_taken_by_the_prefetch_is_left_out_as_before(tmp_path, reads, monkeypatch):
    arr = _series(tmp_path, 20, [f"IM{k:02d}.dcm" for k in range(20)])
    shutil.copy(tmp_path / "IM03.dcm", tmp_path / "IM03_copy.dcm")  # the same image twice
    vol = load(tmp_path, progress=_wait_for_reads(reads.made, 21))
    np.testing.assert_array_equal(vol.array, arr.astype(np.int32) - 1024)
    assert vol.array.shape[0] == 20
    _assert_same(vol, _ordinary(tmp_path, monkeypatch))


def test_values_that_overflow_int16_take_the_float_path_as_before(tmp_path, reads, monkeypatch):
    arr = np.random.default_rng(4).integers(0, 65536, size=(24, 9, 8)).astype(np.uint16)
    arr[5, 2, 2] = 65535  # 65535 - 1024 does not fit int16
    write_series(arr, tmp_path, rescale_intercept=-1024, file_names=[f"IM{23 - k:02d}.dcm" for k in range(24)])
    vol = load(tmp_path, progress=_wait_for_reads(reads.made, 12))
    assert vol.array.dtype == np.float32
    np.testing.assert_array_equal(vol.array, arr.astype(np.float32) - 1024)
    _assert_same(vol, _ordinary(tmp_path, monkeypatch))


def test_a_plane_the_prefetch_failed_to_read_is_read_by_the_load(tmp_path, reads, monkeypatch):
    arr = _series(tmp_path, 16, [f"IM{k:02d}.dcm" for k in range(16)])
    real = pf._read_fused_plane

    def flaky(h, planes, k, intercept, rng):  # an I/O error on one file, once
        if h.path.name == "IM03.dcm" and not flaky.failed:
            flaky.failed = True
            raise LoadError(f"{h.path}: cannot be read (Input/output error)")
        return real(h, planes, k, intercept, rng)

    flaky.failed = False
    monkeypatch.setattr(pf, "_read_fused_plane", flaky)
    vol = load(tmp_path, progress=_wait_for_reads(reads.made, 15))
    assert flaky.failed and reads["IM03.dcm"] == 1  # read again by the load, the others once
    np.testing.assert_array_equal(vol.array, arr.astype(np.int32) - 1024)


def test_a_file_cut_after_the_scan_gets_the_ordinary_error(tmp_path, reads, monkeypatch):
    paths = write_series(np.zeros((12, 16, 16), np.uint16), tmp_path, rescale_intercept=-1024,
                         file_names=[f"IM{k:02d}.dcm" for k in range(12)])
    whole = paths[2].read_bytes()
    monkeypatch.setattr(pf.NativePrefetch, "offer", lambda self, h: None if h.path == paths[2] else offer(self, h))

    def cut_as_the_load_begins():  # polled by the load right after the scan (and after the prefetch stops)
        if reads.made and reads.made[-1]._stop.is_set() and paths[2].stat().st_size == len(whole):
            paths[2].write_bytes(whole[:-100])
        return False

    with pytest.raises(LoadError) as prefetched:
        load(tmp_path, cancel=cut_as_the_load_begins)
    paths[2].write_bytes(whole)
    with monkeypatch.context() as m:
        m.setattr(pf.NativePrefetch, "offer", lambda self, h: None)
        with pytest.raises(LoadError) as ordinary:
            load(tmp_path, cancel=cut_as_the_load_begins)
    assert str(prefetched.value) == str(ordinary.value)
    assert "IM02.dcm: pixel data is truncated (412 of 512 bytes); the file is damaged" in str(prefetched.value)


def test_cancel_after_the_scan_stops_the_reading_thread(tmp_path, reads, monkeypatch):
    _series(tmp_path, 40)

    def cancel():  # the scan finishes; the load is cancelled as it takes the planes
        return bool(reads.made) and reads.made[-1]._stop.is_set()

    with pytest.raises(LoadCancelled):
        load(tmp_path, cancel=cancel)
    made = reads.made[-1]
    assert made._reader is None and made._planes is None  # stopped and freed


def test_move_planes_carries_out_any_partial_permutation():
    rng = np.random.default_rng(11)
    for _ in range(200):
        n = int(rng.integers(1, 14))
        sources = rng.permutation(n)[: int(rng.integers(0, n + 1))]
        dests = rng.permutation(n)[: len(sources)]
        moves = {int(s): int(d) for s, d in zip(sources, dests) if s != d}
        planes = np.arange(n * 4, dtype=np.int16).reshape(n, 2, 2)
        before = planes.copy()
        pf._move_planes(planes, moves)
        for s, d in moves.items():
            np.testing.assert_array_equal(planes[d], before[s])
        for k in set(range(n)) - set(moves.values()):
            np.testing.assert_array_equal(planes[k], before[k])  # planes nothing moved to are untouched
