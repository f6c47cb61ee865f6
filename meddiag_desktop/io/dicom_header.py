"""Header-only reading of one DICOM file, bounded in memory.

The file's first bytes are parsed from an in-memory buffer, so a corrupt
length field can never make pydicom allocate more than the file holds. The
position of the native pixel data is recorded so that loading can read the
pixels straight into a preallocated array without parsing the header again.

pydicom is imported only when the fast reader cannot parse a file: importing it
(with its pixel plugins) costs about 0.3 s, which an uncompressed study never
needs to pay before its first image is on screen.
"""

from __future__ import annotations

import math
import os
import struct
import warnings
from collections.abc import Sequence
from pathlib import Path, PosixPath

from meddiag_desktop.io.bounded import BudgetError, open_budgeted
from meddiag_desktop.io.errors import unreadable_reason
from meddiag_desktop.io.fast_header import parse_fast
from meddiag_desktop.io.series import InstanceHeader
from meddiag_desktop.io.stack_geometry import orientation_problem

__all__ = ["HeaderError", "read_header", "HEAD_BYTES", "NATIVE_LE_SYNTAXES"]

# pydicom warns (UserWarning) about every non-conformant value it meets; we report
# what matters to the reader ourselves, so its warnings would only be noise.
warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\..*)?$")

#: bytes read for a first attempt at the header; most headers are a few kB
HEAD_BYTES = 64 * 1024
#: the fast reader first tries this many bytes (one small read); HEAD_BYTES when the header is longer
FIRST_BYTES = 8 * 1024
_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_DEFLATED_EXPLICIT_LE = "1.2.840.10008.1.2.1.99"
NATIVE_LE_SYNTAXES = {_EXPLICIT_LE, _IMPLICIT_LE}
_PIXEL_TAGS = (b"\xe0\x7f\x10\x00", b"\xe0\x7f\x08\x00", b"\xe0\x7f\x09\x00")  # PixelData, Float, Double
_DICOMDIR_CLASS = "1.2.840.10008.1.3.10"


class _NeedWholeFile(Exception):
    pass


class HeaderError(Exception):
    """This file is not a readable DICOM image header (the message says why)."""


def _looks_like_dicom(head: bytes) -> bool:
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    # Files without the 128-byte preamble: accept if they start with a plausible
    # little-endian group 0x0002 or 0x0008 element.
    if len(head) >= 8:
        group = struct.unpack("<H", head[:2])[0]
        return group in (0x0002, 0x0008)
    return False


def _floats(value, n: int | None = None) -> tuple[float, ...] | None:
    if value is None or value == "":
        return None
    vals = value if _is_sequence(value) else [value]
    try:
        out = tuple(map(float, vals))  # map, not a generator: ~2x faster on the hot path of a scan
    except (TypeError, ValueError):
        return None
    if n is not None and len(out) != n:
        return None
    if not all(map(math.isfinite, out)):
        return None
    return out


def _is_sequence(value) -> bool:
    """A list, tuple or pydicom MultiValue (a MutableSequence), not a string."""
    kind = type(value)
    if kind is str or kind is list or kind is tuple:  # the fast reader's values: skip the ABC check
        return kind is not str
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _float(value, default: float | None = None) -> float | None:
    vals = _floats(value)
    return vals[0] if vals else default


def _int(value, default: int | None = None) -> int | None:
    try:
        if value is None or value == "":
            return default
        return int(value)
    except (TypeError, ValueError):
        return default


def _text(value) -> str:
    if value is None:
        return ""
    return str(value).strip()


def _parse(buf: bytes, force: bool, size: int) -> tuple:
    """pydicom's reading of ``buf`` within the budgets of :mod:`bounded`: (dataset, stop, parsed bytes)."""
    import pydicom

    bio = open_budgeted(buf, size)  # deflated files come back inflated
    pbuf = bio.getvalue()
    res = bio.walk
    if len(buf) < size and res is not None and res.pixel_pos is None and not res.malformed:
        raise _NeedWholeFile  # the header runs past the first bytes: do not let pydicom parse half of it
    ds = pydicom.dcmread(bio, stop_before_pixels=True, force=force)
    return ds, bio.tell(), pbuf


def read_header(path: str | os.PathLike, fast: bool = True) -> InstanceHeader:
    """Read the header of one DICOM file; raise :class:`HeaderError` saying why it is unusable.

    ``fast`` tries the minimal reader of :mod:`fast_header` first (pydicom is the fallback).
    Nothing else escapes: pydicom converts values lazily, so any access may raise on a damaged file.
    """
    try:
        return _read_header(path if type(path) is PosixPath else Path(path), fast)  # no re-parse of a Path: ~3 us a file
    except HeaderError:
        raise
    except BudgetError as exc:
        raise HeaderError(str(exc)) from None
    except Exception as exc:
        raise HeaderError(f"corrupt DICOM header: {unreadable_reason(exc)}") from None


def _read_header(p: Path, fast: bool) -> InstanceHeader:
    try:
        # raw descriptors (no buffered file object) and positioned reads: two syscalls fewer per file
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            size = os.fstat(fd).st_size
            head = _read_at(fd, 0, min(size, FIRST_BYTES if fast else HEAD_BYTES))
            quick = parse_fast(head) if fast and _looks_like_dicom(head) else None
            if len(head) < min(size, HEAD_BYTES) and (quick is None or quick[2] + 16 > len(head)):
                # the header (or the pixel data element's own header) runs past the first bytes
                head += _read_at(fd, len(head), min(size, HEAD_BYTES) - len(head))
                quick = None
        finally:
            os.close(fd)
    except OSError as exc:
        raise HeaderError(f"cannot be read: {exc.strerror or exc}") from None
    if size == 0:
        raise HeaderError("empty file")
    if not _looks_like_dicom(head):
        raise HeaderError("not a DICOM file")
    if fast and quick is None:
        quick = parse_fast(head)
    if quick is not None:
        ts, values, stop = quick
        if values.get("DirectoryRecordSequence"):
            raise HeaderError("DICOMDIR (a media index, not an image)")
        sop_class = str(values.get("SOPClassUID") or values.get("MediaStorageSOPClassUID") or "")
        try:
            h = _header_from_dataset(p, size, ts, sop_class, values)
        except HeaderError:
            raise
        except Exception as exc:
            raise HeaderError(f"a header value cannot be read: {unreadable_reason(exc)}") from None
        _locate_pixels(h, head, stop)
        return h

    force = head[128:132] != b"DICM"
    buf = head
    if len(buf) < size and _DEFLATED_EXPLICIT_LE.encode() in buf[:2048]:
        buf = _read_all(p)  # the deflated dataset is inflated as a whole (within budget)
    try:
        try:
            ds, stop, pbuf = _parse(buf, force, size)
            complete = stop < len(pbuf) or len(buf) >= size
        except BudgetError:
            raise
        except Exception:  # pydicom raises many types on corrupt input
            if len(buf) >= size:
                raise
            complete = False  # e.g. a long waveform or overlay element cut at the end of the first bytes
        if not complete:
            # The header did not fit in the first bytes: parse the whole file.
            buf = _read_all(p)
            ds, stop, pbuf = _parse(buf, force, size)
    except BudgetError as exc:
        raise HeaderError(str(exc)) from None
    except HeaderError:
        raise
    except Exception as exc:  # pydicom raises many types on corrupt input
        raise HeaderError(f"corrupt DICOM header: {unreadable_reason(exc)}") from None

    meta = getattr(ds, "file_meta", None)
    ts = _text(getattr(meta, "TransferSyntaxUID", "")) if meta is not None else ""
    if pbuf is not buf:
        ts = _DEFLATED_EXPLICIT_LE  # read from its inflated copy
    if not ts:
        ts = _IMPLICIT_LE if force else ""
    sop_class = _text(ds.get("SOPClassUID", "")) or _text(getattr(meta, "MediaStorageSOPClassUID", ""))
    if sop_class == _DICOMDIR_CLASS or "DirectoryRecordSequence" in ds:
        raise HeaderError("DICOMDIR (a media index, not an image)")

    try:
        h = _header_from_dataset(p, size, ts, sop_class, ds)
    except HeaderError:
        raise
    except Exception as exc:
        raise HeaderError(f"a header value cannot be read: {unreadable_reason(exc)}") from None
    if stop < len(pbuf) and pbuf[stop : stop + 4] in _PIXEL_TAGS:
        if ts != _DEFLATED_EXPLICIT_LE:
            _locate_pixels(h, pbuf, stop)
    elif stop >= len(pbuf):
        if h.rows and h.columns:
            raise HeaderError("no pixel data (the file ends before the image)")
    return h


def _read_at(fd: int, offset: int, n: int) -> bytes:
    """``n`` bytes from ``offset`` (fewer only at the end of the file): pread may return short reads."""
    parts = []
    while n > 0:
        chunk = os.pread(fd, n, offset)
        if not chunk:
            break
        parts.append(chunk)
        offset += len(chunk)
        n -= len(chunk)
    return b"".join(parts)


def _read_all(p: Path) -> bytes:
    try:
        with open(p, "rb") as f:
            return f.read()
    except OSError as exc:
        raise HeaderError(f"cannot be read: {exc.strerror or 'input/output error'}") from None


def _locate_pixels(h: InstanceHeader, buf: bytes, stop: int) -> None:
    """Record where the pixel data value starts (native little endian) and check its size."""
    ts = h.transfer_syntax
    explicit = ts != _IMPLICIT_LE
    if explicit and stop + 12 <= len(buf) and buf[stop + 4 : stop + 6] in (b"OB", b"OW", b"OF", b"OD", b"UN"):
        length = struct.unpack("<I", buf[stop + 8 : stop + 12])[0]
        value_at = stop + 12
    elif not explicit and stop + 8 <= len(buf):
        length = struct.unpack("<I", buf[stop + 4 : stop + 8])[0]
        value_at = stop + 8
    else:
        return
    if length == 0xFFFFFFFF:
        h.pixel_length = None  # encapsulated (compressed)
        return
    h.pixel_length = length
    if ts in NATIVE_LE_SYNTAXES and buf[stop : stop + 4] == _PIXEL_TAGS[0]:
        h.pixel_offset = value_at
        _check_native_size(h)


def _header_from_dataset(p: Path, size: int, ts: str, sop_class: str, ds) -> InstanceHeader:
    """Fill an InstanceHeader from a pydicom Dataset or the fast reader's {keyword: value} dict."""
    g = ds.get
    rows, cols = _int(g("Rows"), 0), _int(g("Columns"), 0)
    if not rows or not cols:
        from pydicom.uid import UID

        sop_name = UID(sop_class).name if sop_class else "unknown SOP class"
        raise HeaderError(f"no image in this file ({sop_name})")
    if rows < 0 or cols < 0 or rows > 65535 or cols > 65535:
        raise HeaderError(f"impossible image size {rows} x {cols}")
    h = InstanceHeader(path=p, file_size=size, transfer_syntax=ts, sop_class_uid=sop_class)
    h.sop_instance_uid = _text(g("SOPInstanceUID"))
    h.series_uid = _text(g("SeriesInstanceUID"))
    h.study_uid = _text(g("StudyInstanceUID"))
    h.frame_of_reference_uid = _text(g("FrameOfReferenceUID"))
    h.patient_name = _text(g("PatientName"))
    h.patient_id = _text(g("PatientID"))
    h.patient_sex = _text(g("PatientSex"))
    h.patient_birth_date = _text(g("PatientBirthDate"))
    h.patient_age = _text(g("PatientAge"))
    h.study_date = _text(g("StudyDate"))
    h.study_description = _text(g("StudyDescription"))
    h.series_description = _text(g("SeriesDescription"))
    h.series_number = _int(g("SeriesNumber"))
    h.instance_number = _int(g("InstanceNumber"))
    h.acquisition_number = _int(g("AcquisitionNumber"))
    h.modality = _text(g("Modality"))
    h.rows, h.columns = rows, cols
    h.number_of_frames = max(_int(g("NumberOfFrames"), 1) or 1, 1)
    h.samples_per_pixel = _int(g("SamplesPerPixel"), 1) or 1
    h.photometric = _text(g("PhotometricInterpretation")).upper()
    h.bits_allocated = _int(g("BitsAllocated"), 0) or 0
    h.bits_stored = _int(g("BitsStored"), h.bits_allocated) or h.bits_allocated
    h.pixel_representation = _int(g("PixelRepresentation"), 0) or 0
    if h.bits_allocated not in (1, 8, 16, 32, 64):
        raise HeaderError(f"unsupported BitsAllocated {h.bits_allocated}")
    if h.samples_per_pixel not in (1, 3):
        raise HeaderError(f"unsupported SamplesPerPixel {h.samples_per_pixel}")
    h.position = _floats(g("ImagePositionPatient"), 3)  # type: ignore[assignment]
    h.orientation = _floats(g("ImageOrientationPatient"), 6)  # type: ignore[assignment]
    if h.orientation is not None:
        problem = orientation_problem(h.orientation)
        if problem:
            raise HeaderError(f"ImageOrientationPatient {problem}: the image cannot be placed (the file is damaged)")
    po = g("PatientOrientation")
    if po is not None and po != "":
        vals = po if _is_sequence(po) else str(po).split("\\")
        h.patient_orientation = tuple(_text(v).upper() for v in vals)
    for tag in ("PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing"):
        sp = _floats(g(tag), 2)
        if sp and sp[0] > 0 and sp[1] > 0:
            h.pixel_spacing, h.spacing_source = sp, tag  # type: ignore[assignment]
            break
    h.slice_thickness = _float(g("SliceThickness"))
    h.gantry_tilt = _float(g("GantryDetectorTilt"))
    h.rescale_slope = _float(g("RescaleSlope"), 1.0) or 1.0
    h.rescale_intercept = _float(g("RescaleIntercept"), 0.0) or 0.0
    h.window_centers = _floats(g("WindowCenter")) or ()
    h.window_widths = _floats(g("WindowWidth")) or ()
    expl = g("WindowCenterWidthExplanation")
    if expl is not None:
        vals = expl if _is_sequence(expl) else [expl]
        h.window_explanations = tuple(_text(v) for v in vals)
    it = g("ImageType")
    if it is not None and it != "":
        vals = it if _is_sequence(it) else str(it).split("\\")
        h.image_type = tuple(_text(v).upper() for v in vals)
    h.is_enhanced = "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds
    h.lossy = _text(g("LossyImageCompression"))
    h.lossy_ratios = _floats(g("LossyImageCompressionRatio")) or ()
    method = g("LossyImageCompressionMethod")
    if method is not None and method != "":
        h.lossy_methods = tuple(_text(v) for v in (method if _is_sequence(method) else str(method).split("\\")))
    return h


def _check_native_size(h: InstanceHeader) -> None:
    """Reject native pixel data that is shorter than the image size it declares, before any allocation."""
    bits = h.bits_allocated
    # YBR_FULL_422 stores two samples per pixel (Cb and Cr shared by pixel pairs)
    samples = 2 if h.samples_per_pixel == 3 and h.photometric == "YBR_FULL_422" else h.samples_per_pixel
    needed = (h.rows * h.columns * samples * h.number_of_frames * bits + 7) // 8
    assert h.pixel_offset is not None and h.pixel_length is not None
    if h.pixel_length < needed:
        frames = f"{h.number_of_frames} frames" if h.number_of_frames > 1 else "1 frame"
        raise HeaderError(
            f"pixel data holds {h.pixel_length} bytes but {frames} of {h.columns}x{h.rows} pixels "
            f"({h.photometric or 'no photometric interpretation'}, {h.samples_per_pixel} sample(s) of {bits} bits) "
            f"need {needed}; the file is damaged"
        )
    held = h.file_size - h.pixel_offset
    if held < needed:
        raise HeaderError(f"truncated file: pixel data holds {max(held, 0)} of {needed} bytes")
