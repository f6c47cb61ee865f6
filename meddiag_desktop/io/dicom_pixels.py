"""Pixel data of DICOM files: a fast native path and pydicom's decoders for the rest.

Native little-endian frames are read with ``readinto`` straight into a slice
of a preallocated array (threads overlap the I/O; no per-file header parse,
no intermediate copies). Everything else (JPEG baseline/lossless, JPEG-LS,
JPEG 2000, RLE, deflate, big endian) is decoded by pydicom's pixel plugins
(pylibjpeg, python-gdcm).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from meddiag_desktop.io.errors import LoadError, unreadable_reason
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
        with open(h.path, "rb", buffering=0) as f:
            f.seek(h.pixel_offset + frame * nbytes)
            got = f.readinto(memoryview(out).cast("B"))
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


def _safe_bytes(path: Path):
    """The file as a bounded file object for pydicom (see :mod:`bounded`; deflate inflated here)."""
    from meddiag_desktop.io.bounded import BudgetError, open_budgeted

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{path.name}: cannot be read ({exc.strerror or 'input/output error'}); check the disk or copy the study again") from None
    try:
        return open_budgeted(data)
    except BudgetError as exc:
        raise LoadError(f"{path.name}: {exc}") from None


def _decode_failure(name: str, ds, exc: BaseException) -> str:
    """Plain words for a pixel decoder's failure (the raw text goes to LoadError.detail)."""
    text = str(exc)
    ts = ds.file_meta.get("TransferSyntaxUID") if getattr(ds, "file_meta", None) is not None else None
    ts_name = getattr(ts, "name", "") or str(ts or "")
    if isinstance(exc, NotImplementedError) and "Transfer Syntax" in text:
        shown = str(ts)[:64]
        if ts is not None and not getattr(ts, "is_transfer_syntax", False):
            return f"{name}: its transfer syntax '{shown}' is not a DICOM encoding (the file is damaged)"
        return f"{name}: no decoder is available for the {ts_name} encoding"
    if "all available plugins" in text or "Unable to decode" in text:
        # pydicom lists each decoder's complaint: say what failed, keep the details for the log
        return (
            f"{name}: no installed decoder can read this {ts_name or 'compressed'} image; the file is damaged or "
            "uses a variant the decoders do not support"
        )
    if "encapsulated" in text or "fragment" in text or "Basic Offset Table" in text:
        return f"{name}: the compressed pixel data is damaged (its fragments cannot be read)"
    if "photometric" in text.lower():
        return f"{name}: the Photometric Interpretation does not match the pixel data (the file is damaged)"
    if "bits" in text.lower() or "samples" in text.lower() or "planar" in text.lower():
        return f"{name}: the image description (bits, samples, planar configuration) does not match the pixel data (the file is damaged)"
    if "size" in text.lower() or "length" in text.lower() or "shape" in text.lower() or "reshape" in text.lower():
        return f"{name}: the pixel data does not have the size the header declares (the file is damaged)"
    return f"{name}: the pixel data cannot be decoded: {unreadable_reason(exc)}"


_J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"


def _single_threaded_j2k(ds):
    """Lossless JPEG 2000 through pylibjpeg-openjpeg (one thread), or None to use pydicom's default.

    GDCM, pydicom's first choice, spreads each image over threads: with one decode process
    per core that oversubscribes the cores (about 3.2 CPU-s per 100 CT slices against 2.8 s
    here). Lossless decoding is exact, so every conformant decoder gives the same values.
    """
    try:
        ds.pixel_array_options(decoding_plugin="pylibjpeg")
        return np.asarray(ds.pixel_array)
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception:  # plugin missing or failing on this file: the default decoders decide
        ds.pixel_array_options(decoding_plugin="")
        return None


def decode_in_process(path: str, single_threaded: bool = False) -> np.ndarray:
    """Decode every frame of ``path`` here: (frames, rows, cols[, 3]); colour as RGB uint8.

    ``single_threaded`` (in the decode processes, one per core): prefer a decoder that keeps to one thread.
    """
    import pydicom

    ds = pydicom.dcmread(_safe_bytes(Path(path)), force=True)  # force: files without the DICM preamble
    if "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
        # no file meta (old ACR-NEMA style): the syntax the dataset was read with
        from pydicom.dataset import FileMetaDataset
        from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

        implicit, little = ds.original_encoding
        if not hasattr(ds, "file_meta") or ds.file_meta is None:
            ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        )
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise LoadError(f"{Path(path).name}: the pixel data is missing or cut short; the file is truncated")
    try:
        arr = None
        if single_threaded and str(ds.file_meta.TransferSyntaxUID) == _J2K_LOSSLESS:
            arr = _single_threaded_j2k(ds)
        if arr is None:
            arr = np.asarray(ds.pixel_array)
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception as exc:
        raise LoadError(_decode_failure(Path(path).name, ds, exc), detail=f"{type(exc).__name__}: {exc}") from None
    if int(ds.get("NumberOfFrames", 1) or 1) == 1:
        arr = arr[np.newaxis]
    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        arr = apply_color_lut(arr, ds)
        if arr.dtype != np.uint8:
            arr = (arr >> 8).astype(np.uint8) if arr.dtype == np.uint16 else arr.astype(np.uint8)
    elif arr.ndim == 4 and arr.dtype != np.uint8:
        bits = int(ds.get("BitsStored", 8) or 8)
        arr = (arr.astype(np.float32) * (255.0 / (2**bits - 1))).round().astype(np.uint8)
    return arr


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
            ds = pydicom.dcmread(_safe_bytes(h.path), stop_before_pixels=True, force=True)
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
        from meddiag_desktop.io.decode_pool import decode_isolated

        arr = decode_isolated(str(h.path), h.path.name, expected, cancel)
    if arr.shape[1:3] != (h.rows, h.columns):
        raise LoadError(f"{h.path.name}: decoded image is {arr.shape[2]}x{arr.shape[1]}, header says {h.columns}x{h.rows}")
    return arr, ds
