"""The montage PNG used to eyeball the phantom."""

from __future__ import annotations

import struct
import zlib

import numpy as np

from meddiag_desktop.demo._preview import montage, write_png


def test_png_round_trip(tmp_path):
    rgb = (np.arange(5 * 7 * 3) % 256).astype(np.uint8).reshape(5, 7, 3)
    path = tmp_path / "x.png"
    write_png(path, rgb)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    assert (w, h) == (7, 5)
    idat = data.index(b"IDAT")
    length = struct.unpack(">I", data[idat - 4:idat])[0]
    raw = zlib.decompress(data[idat + 4:idat + 4 + length])
    rows = np.frombuffer(raw, np.uint8).reshape(5, 1 + 7 * 3)
    assert (rows[:, 0] == 0).all() and np.array_equal(rows[:, 1:].reshape(5, 7, 3), rgb)


def test_montage_shape_and_overlay():
    hu = np.full((10, 20, 30), -1000, np.int16)
    labels = np.zeros(hu.shape, np.uint8)
    labels[:, 5:10, 5:10] = 1
    plain = montage(hu, labels, (1.0, 1.0, 2.0), slices=[2, 5])
    over = montage(hu, labels, (1.0, 1.0, 2.0), slices=[2, 5], overlay=True)
    assert plain.dtype == np.uint8 and plain.ndim == 3 and plain.shape[2] == 3
    assert plain.shape == over.shape and not np.array_equal(plain, over)
