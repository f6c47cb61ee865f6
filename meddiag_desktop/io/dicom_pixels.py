"""Pixel data of DICOM files: a fast native path and pydicom's decoders for the rest.

Native little-endian frames are read with ``readinto`` straight into a slice
of a preallocated array (threads overlap the I/O; no per-file header parse,
no intermediate copies). Everything else (JPEG baseline/lossless, JPEG-LS,
JPEG 2000, RLE, deflate, big endian) is decoded by pydicom's pixel plugins
(pylibjpeg, python-gdcm): see :mod:`pixel_decode`, run here for the uncompressed syntaxes
and in the processes of :mod:`decode_pool` for the compressed ones.
"""

from __future__ import annotations

import os

import numpy as np

from meddiag_desktop.io.decode_pool import decode_isolated
from meddiag_desktop.io.errors import LoadError, unreadable_reason
from meddiag_desktop.io.pixel_decode import decode_in_process, safe_bytes
from meddiag_desktop.io.series import InstanceHeader

__all__ = ["raw_dtype", "read_native_frame", "decode_file", "fix_bits"]

#: the most a compressed file may expand to when decoded, as a multiple of its size
MAX_EXPANSION = 400
MIN_DECODE_BUDGET = 512 * 1024 * 1024


def raw_dtype(h: InstanceHeader) -> np.dtype:
    """numpy dtype holding the stored values of ``h``'s pixels without loss."""
    if h.bits_allocated == 8:
        return np.dtype(np.int8 if h.pixel_representation else np.uint8)
    if h.bits_allocated == 16:
        if h.pixel_representation or h.bits_stored <= 15:
            return np.dtype("<i2")  # unsigned values < 2**15 fit int16's bit pattern
        return np.dtype("<u2")
    if h.bits_allocated == 32:
        return np.dtype("<i4" if h.pixel_representation else "<u4")
    raise LoadError(f"{h.path.name}: {h.bits_allocated}-bit pixels are not supported")


def fix_bits(plane: np.ndarray, h: InstanceHeader) -> None:
    """Clear bits above BitsStored (unsigned) or sign-extend them (signed), in place."""
    bs, ba = h.bits_stored, h.bits_allocated
    if not (0 < bs < ba) or plane.dtype.kind not in "iu":
        return
    if h.pixel_representation:
        shift = plane.dtype.itemsize * 8 - bs
        np.left_shift(plane, shift, out=plane)
        np.right_shift(plane, shift, out=plane)
    else:
        np.bitwise_and(plane, (1 << bs) - 1, out=plane, casting="unsafe")


def read_native_frame(h: InstanceHeader, out: np.ndarray, frame: int = 0) -> None:
    """Read frame ``frame`` of a native little-endian file into ``out`` (rows x cols)."""
    assert h.pixel_offset is not None
    nbytes = out.nbytes
    try:
        fd = os.open(h.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:  # one positioned read: no buffered file object, no seek
            got = os.preadv(fd, [memoryview(out).cast("B")], h.pixel_offset + frame * nbytes)
        finally:
            os.close(fd)
    except OSError as exc:
        raise LoadError(f"{h.path}: cannot be read ({exc.strerror or exc}); check the disk or copy the study again") from None
    if got != nbytes:
        raise LoadError(f"{h.path}: pixel data is truncated ({got} of {nbytes} bytes); the file is damaged")
    fix_bits(out, h)


_SAFE_SYNTAXES = {
    "1.2.840.10008.1.2",  # implicit VR little endian
    "1.2.840.10008.1.2.1",  # explicit VR little endian
    "1.2.840.10008.1.2.2",  # explicit VR big endian
    "1.2.840.10008.1.2.1.99",  # deflated explicit VR little endian (zlib)
}


def decode_file(h: InstanceHeader, cancel=None, dataset: bool = True) -> tuple[np.ndarray, "object"]:
    """Decode all frames of ``h``: returns (frames array (f, rows, cols[, 3]), dataset without pixels).

    Compressed syntaxes are decoded in a worker process (see :mod:`decode_pool`)
    so that a decoder crash on a damaged file cannot take the viewer down.
    ``dataset=False`` (slices of a stack, whose headers are already read) skips
    reading the header with pydicom here and returns ``None`` for it.
    """
    expected = h.rows * h.columns * h.samples_per_pixel * h.number_of_frames * max(h.bits_allocated // 8, 1)
    if expected > max(MIN_DECODE_BUDGET, MAX_EXPANSION * h.file_size):
        raise LoadError(
            f"{h.path.name}: declares {h.number_of_frames} frame(s) of {h.columns}x{h.rows} pixels "
            f"({expected / 1e6:.0f} MB), far more than a {h.file_size / 1e6:.1f} MB file can hold; the file is damaged"
        )
    ds = None
    if dataset or h.transfer_syntax in _SAFE_SYNTAXES:
        import pydicom

        try:
            ds = pydicom.dcmread(safe_bytes(h.path), stop_before_pixels=True, force=True)
        except LoadError:
            raise
        except Exception as exc:
            raise LoadError(f"{h.path.name}: the header cannot be read: {unreadable_reason(exc)}",
                            detail=f"{type(exc).__name__}: {exc}") from None
    if h.transfer_syntax in _SAFE_SYNTAXES:
        try:
            arr = decode_in_process(str(h.path))
        except (KeyboardInterrupt, SystemExit, LoadError):
            raise
        except BaseException as exc:
            raise LoadError(f"{h.path.name}: the image cannot be decoded: {unreadable_reason(exc)}",
                            detail=f"{type(exc).__name__}: {exc}") from None
    else:
        arr = decode_isolated(str(h.path), h.path.name, expected, cancel)
    if arr.shape[1:3] != (h.rows, h.columns):
        raise LoadError(f"{h.path.name}: decoded image is {arr.shape[2]}x{arr.shape[1]}, header says {h.columns}x{h.rows}")
    return arr, ds
