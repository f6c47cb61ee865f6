"""The stdlib-only helpers of the package check: screenshot PNG check and RLE series writer (fast)."""

from __future__ import annotations

import re
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


def _window(seed: int = 0) -> np.ndarray:
    """A fake 400x300 window: a flat panel on the left, four views with coloured title strips."""
    rng = np.random.default_rng(seed)
    img = np.full((300, 400, 3), 40, np.uint8)
    for name, (x, y) in {"axial": (100, 10), "coronal": (250, 10), "sagittal": (100, 155), "3D": (250, 155)}.items():
        img[y:y + 8, x:x + 145] = png_check.VIEW_HEADERS[name]
        img[y + 8:y + 140, x:x + 145] = rng.integers(0, 256, (132, 145, 1))
    return img


@pytest.mark.parametrize("filt", [0, 2])
def test_png_check_passes_content_in_all_views(tmp_path, filt):
    img = _window()
    _write_png(tmp_path / "ok.png", img, filt)
    assert png_check.read_png(str(tmp_path / "ok.png"))[2][50][300:306] == bytearray(img[50, 100:102].tobytes())
    result = _run(tmp_path / "ok.png")
    assert result.returncode == 0, result.stdout
    assert result.stdout.count(" ok") == 4


def test_png_check_fails_when_one_view_is_black(tmp_path):
    img = _window(1)
    img[163:295, 250:395] = 0  # the 3D view stayed black
    _write_png(tmp_path / "black3d.png", img)
    result = _run(tmp_path / "black3d.png")
    assert result.returncode == 1
    assert "3D" in result.stdout and "EMPTY" in result.stdout


def test_png_check_fails_when_a_view_is_missing(tmp_path):
    img = _window(2)
    img[10:18, 250:395] = 40  # no coronal title strip: the layout lost a view
    _write_png(tmp_path / "three.png", img)
    result = _run(tmp_path / "three.png")
    assert result.returncode == 1 and "coronal   view not found" in result.stdout


def test_png_check_colours_match_the_app():
    from meddiag_desktop.render.slice_view import VIEW_COLOURS

    for view, colour in VIEW_COLOURS.items():
        assert png_check.VIEW_HEADERS[view] == tuple(int(c * 255) for c in colour), view
    source = (INSTALLER.parent / "meddiag_desktop" / "qt" / "main_window.py").read_text()
    match = re.search(r'"3D",\s*\(([\d.]+),\s*([\d.]+),\s*([\d.]+)\)', source)
    assert match, "main_window.py no longer frames the 3D view with a colour tuple: update png_check.VIEW_HEADERS"
    assert png_check.VIEW_HEADERS["3D"] == tuple(int(float(c) * 255) for c in match.groups())


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
