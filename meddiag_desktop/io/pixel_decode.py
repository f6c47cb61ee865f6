"""Decode every frame of one DICOM file in this process, with pydicom's pixel decoders.

Run directly for the uncompressed syntaxes (big endian, deflate) and inside the worker
processes of :mod:`decode_pool` for the compressed ones. The file is handed to pydicom through
the memory budgets of :mod:`bounded`, and every failure becomes a :class:`LoadError` in plain
words (the decoder's own text goes to ``detail``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from meddiag_desktop.io.errors import LoadError, unreadable_reason

__all__ = ["decode_in_process", "safe_bytes"]


def safe_bytes(path: Path):
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
    """Plain words for a pixel decoder's failure (the raw text goes to LoadError.detail).

    Whether a decoder exists and is installed comes from pydicom's registry (:mod:`decoders`),
    which names the packages to install; the exception only tells what was damaged.
    """
    from meddiag_desktop.io.decoders import decoder_status

    text = str(exc)
    ts = ds.file_meta.get("TransferSyntaxUID") if getattr(ds, "file_meta", None) is not None else None
    ts_name = getattr(ts, "name", "") or str(ts or "")
    if ts is not None and not getattr(ts, "is_transfer_syntax", False):
        return f"{name}: its transfer syntax '{str(ts)[:64]}' is not a DICOM encoding (the file is damaged)"
    status = decoder_status(str(ts)) if ts is not None else None
    if status is not None and not status.supported:
        return f"{name}: no decoder is available for the {ts_name} encoding"
    if status is not None and not status.available:
        return f"{name}: no decoder is installed for the {ts_name} encoding; install {' or '.join(status.install_options())}"
    if status is not None and status.plugins and isinstance(exc, RuntimeError):
        # pydicom tried every installed plugin and each refused: say what failed, keep the details for the log
        return (
            f"{name}: no installed decoder can read this {ts_name or 'compressed'} image ({', '.join(status.plugins)} "
            "tried); the file is damaged or uses a variant the decoders do not support"
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

    ds = pydicom.dcmread(safe_bytes(Path(path)), force=True)  # force: files without the DICM preamble
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
