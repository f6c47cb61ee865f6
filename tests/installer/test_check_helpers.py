"""The stdlib-only helpers of the package check: screenshot PNG check and RLE series writer (fast)."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

INSTALLER = Path(__file__).resolve().parents[2] / "installer"
sys.path.insert(0, str(INSTALLER))
import make_rle_series  # noqa: E402
import png_check  # noqa: E402


def _write_png(path: Path, rgb: np.ndarray, filt: int = 0) -> None:
    """8-bit RGB PNG; ``filt`` 0 (None) or 2 (Up) to exercise the decoder's filters."""
    h, w, _ = rgb.shape
    raw = bytearray()
    prev = np.zeros((w * 3,), np.uint8)
    for row in rgb.reshape(h, w * 3).astype(np.uint8):
        raw.append(filt)
        raw += (row if filt == 0 else (row.astype(np.int16) - prev) % 256).astype(np.uint8).tobytes()
        prev = row
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b""))


def _run(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-I", "-S", str(INSTALLER / "png_check.py"), str(path)],
                          capture_output=True, text=True)


@pytest.mark.parametrize("filt", [0, 2])
def test_png_check_passes_content_in_all_views(tmp_path, filt):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (120, 200, 1)).repeat(3, axis=2)
    _write_png(tmp_path / "ok.png", img, filt)
    assert png_check.read_png(str(tmp_path / "ok.png"))[2][5][:4] == bytearray(img[5, :4, 0].astype(np.uint8).tobytes())
    result = _run(tmp_path / "ok.png")
    assert result.returncode == 0, result.stdout


def test_png_check_fails_when_one_view_is_black(tmp_path):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (120, 200, 1)).repeat(3, axis=2)
    x0, y0, x1, y1 = (int(f * n) for f, n in zip(png_check.VIEW_AREA, (200, 120, 200, 120)))
    img[(y0 + y1) // 2:y1, (x0 + x1) // 2:x1] = 0  # the 3D view stayed black
    _write_png(tmp_path / "black3d.png", img)
    result = _run(tmp_path / "black3d.png")
    assert result.returncode == 1
    assert "bottom-right (3D)" in result.stdout and "EMPTY" in result.stdout


def test_rle_series_decodes_with_pydicom_and_loads(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    make_rle_series.main([str(tmp_path)])
    files = sorted(tmp_path.glob("*.dcm"))
    assert len(files) == make_rle_series.SLICES
    ds = pydicom.dcmread(files[12])
    assert ds.file_meta.TransferSyntaxUID == make_rle_series.RLE_LOSSLESS
    expected = np.array(make_rle_series._slice_pixels(12), np.int16).reshape(64, 64)
    assert np.array_equal(ds.pixel_array, expected)
    from meddiag_desktop.io import load

    vol = load(tmp_path)
    assert vol.array.shape == (make_rle_series.SLICES, 64, 64)
    assert vol.array.max() == 700 and vol.array.min() == -1000
