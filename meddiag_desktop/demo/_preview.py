"""A PNG montage of a phantom (axial, coronal, sagittal; lung window) to eyeball it.

Pure numpy plus zlib: no Qt needed. Assumes the identity-like default
orientation (it shows index planes, flipped so that superior is up).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

#: RGB colour per label for the overlay
LABEL_COLOURS = np.array([
    [0, 0, 0], [60, 120, 255], [60, 220, 120], [255, 255, 0], [255, 60, 60],
    [255, 255, 255], [255, 0, 255], [255, 140, 0],
], dtype=np.float32)


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write an (h, w, 3) uint8 array as a PNG file."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[r].tobytes() for r in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    Path(path).write_bytes(png)


def _window(a: np.ndarray, width: float, level: float) -> np.ndarray:
    g = (a.astype(np.float32) - (level - width / 2)) / width
    return (np.clip(g, 0, 1) * 255).astype(np.uint8)


def _stretch_z(img: np.ndarray, factor: float) -> np.ndarray:
    rows = np.clip((np.arange(int(round(img.shape[0] * factor))) / factor).astype(int), 0, img.shape[0] - 1)
    return img[rows]


def _tile(images: list[np.ndarray], cols: int) -> np.ndarray:
    h = max(i.shape[0] for i in images)
    w = max(i.shape[1] for i in images)
    rows = (len(images) + cols - 1) // cols
    out = np.zeros((rows * h, cols * w, 3), np.uint8)
    for n, im in enumerate(images):
        r, c = divmod(n, cols)
        out[r * h:r * h + im.shape[0], c * w:c * w + im.shape[1]] = im
    return out


def montage(hu: np.ndarray, labels: np.ndarray | None, spacing, *, slices=None, overlay: bool = False,
            window=(1500.0, -600.0), coronal_row: int | None = None, sagittal_col: int | None = None) -> np.ndarray:
    """RGB montage: a few axial slices, then one coronal and one sagittal plane."""
    nz, ny, nx = hu.shape
    slices = slices or [int(nz * f) for f in (0.85, 0.7, 0.55, 0.4, 0.25, 0.12)]
    coronal_row = ny // 2 if coronal_row is None else coronal_row
    sagittal_col = int(nx * 0.32) if sagittal_col is None else sagittal_col
    factor = spacing[2] / spacing[0]
    planes = [(hu[k], None if labels is None else labels[k]) for k in slices]
    planes.append((_stretch_z(hu[::-1, coronal_row, :], factor),
                   None if labels is None else _stretch_z(labels[::-1, coronal_row, :], factor)))
    planes.append((_stretch_z(hu[::-1, :, sagittal_col], factor),
                   None if labels is None else _stretch_z(labels[::-1, :, sagittal_col], factor)))
    images = []
    for img, lab in planes:
        g = _window(img, *window)
        rgb = np.repeat(g[..., None], 3, axis=2).astype(np.float32)
        if overlay and lab is not None:
            colour = LABEL_COLOURS[lab]
            alpha = np.where(lab > 0, 0.45, 0.0)[..., None]
            rgb = rgb * (1 - alpha) + colour * alpha
        images.append(rgb.astype(np.uint8))
    return _tile(images, cols=4)


def save_montage(phantom, path: str | Path, *, overlay: bool = False) -> Path:
    """Save a montage PNG of ``phantom`` (a :class:`~meddiag_desktop.demo.phantom.Phantom`)."""
    write_png(path, montage(phantom.hu, phantom.labels, phantom.spacing, overlay=overlay))
    return Path(path)
