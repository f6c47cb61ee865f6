"""How many threads a scan reads headers on: one for files in memory, more for a slow disk."""

from __future__ import annotations

import threading
import time

import numpy as np

import meddiag_desktop.io.dicom_scan as ds
from meddiag_desktop.io import load, scan
from meddiag_desktop.io.dicom_write import write_series


def _threads_used(monkeypatch, delay_s: float) -> set[int]:
    used: set[int] = set()
    real = ds.read_header

    def timed(p):
        used.add(threading.get_ident())
        if delay_s:
            time.sleep(delay_s)  # a file not in the page cache: the thread waits on the disk
        return real(p)

    monkeypatch.setattr(ds, "read_header", timed)
    return used


def test_files_in_memory_are_scanned_on_the_calling_thread_alone(tmp_path, monkeypatch):
    arr = np.arange(60 * 4 * 4, dtype=np.int16).reshape(60, 4, 4)
    write_series(arr, tmp_path, rescale_intercept=-1024)  # just written: in the page cache
    used = _threads_used(monkeypatch, 0.0)
    found = scan(tmp_path)
    assert used == {threading.get_ident()}
    assert found[0].image_count == 60
    np.testing.assert_array_equal(load(tmp_path).array, arr.astype(np.int32) - 1024)


def test_slow_files_are_read_on_several_threads_and_give_the_same_series(tmp_path, monkeypatch):
    arr = np.arange(60 * 4 * 4, dtype=np.int16).reshape(60, 4, 4)
    write_series(arr, tmp_path, rescale_intercept=-1024)
    fast = scan(tmp_path)
    used = _threads_used(monkeypatch, 0.002)
    slow = scan(tmp_path)
    assert len(used) > 1  # the first 16 files took 2 ms each: pooled threads joined
    assert [i.path for i in slow[0].instances] == [i.path for i in fast[0].instances]
    np.testing.assert_array_equal(load(tmp_path).array, arr.astype(np.int32) - 1024)
