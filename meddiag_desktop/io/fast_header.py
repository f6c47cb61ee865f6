"""A minimal DICOM header reader for the fields a viewer needs, ~10x faster than pydicom.

Loading a 600-slice CT is dominated by parsing 600 headers. This reader walks
the top-level elements of little-endian files (explicit or implicit VR, the
datasets of compressed files included: their pixel data is never parsed here),
skipping everything it does not need by length, keeps only the tags in
:data:`WANTED`, and stops at the pixel data. Anything unusual (big endian,
deflate, an unknown character set, a malformed length) returns ``None`` and the
caller falls back to pydicom, so this is an accelerator, never the only path.
"""

from __future__ import annotations

import struct

__all__ = ["parse_fast", "WANTED"]

_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
_IMPLICIT = "1.2.840.10008.1.2"
_EXPLICIT = "1.2.840.10008.1.2.1"
#: PS3.5 A.4: every compressed (encapsulated) syntax encodes its dataset as explicit VR little endian,
#: except the two JPIP "referenced deflate" syntaxes (deflated); the pixel data itself is never parsed here
_JPEG_FAMILY = "1.2.840.10008.1.2.4."  # JPEG, JPEG-LS, JPEG 2000, HTJ2K, MPEG, HEVC, JPIP, JPEG XL
_RLE = "1.2.840.10008.1.2.5"
_DEFLATED_JPIP = {"1.2.840.10008.1.2.4.95", "1.2.840.10008.1.2.4.205"}


def _explicit_le_dataset(ts: str) -> bool | None:
    """True: explicit VR LE dataset; False: implicit VR LE; None: another encoding (pydicom reads it)."""
    if ts == _IMPLICIT:
        return False
    if ts == _EXPLICIT:
        return True
    if ts == _RLE or (ts.startswith(_JPEG_FAMILY) and ts not in _DEFLATED_JPIP):
        return True
    return None
_PIXEL_DATA = 0x7FE00010
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF

#: tag -> (keyword, VR) for everything the scanner and loader read from a header
WANTED: dict[int, tuple[str, str]] = {
    0x00080005: ("SpecificCharacterSet", "CS"),
    0x00080008: ("ImageType", "CS"),
    0x00080016: ("SOPClassUID", "UI"),
    0x00080018: ("SOPInstanceUID", "UI"),
    0x00080020: ("StudyDate", "DA"),
    0x00080060: ("Modality", "CS"),
    0x00081030: ("StudyDescription", "LO"),
    0x0008103E: ("SeriesDescription", "LO"),
    0x00100010: ("PatientName", "PN"),
    0x00100020: ("PatientID", "LO"),
    0x00100030: ("PatientBirthDate", "DA"),
    0x00100040: ("PatientSex", "CS"),
    0x00101010: ("PatientAge", "AS"),
    0x00180050: ("SliceThickness", "DS"),
    0x00181120: ("GantryDetectorTilt", "DS"),
    0x00181164: ("ImagerPixelSpacing", "DS"),
    0x00182010: ("NominalScannedPixelSpacing", "DS"),
    0x0020000D: ("StudyInstanceUID", "UI"),
    0x0020000E: ("SeriesInstanceUID", "UI"),
    0x00200011: ("SeriesNumber", "IS"),
    0x00200012: ("AcquisitionNumber", "IS"),
    0x00200013: ("InstanceNumber", "IS"),
    0x00200020: ("PatientOrientation", "CS"),
    0x00200032: ("ImagePositionPatient", "DS"),
    0x00200037: ("ImageOrientationPatient", "DS"),
    0x00200052: ("FrameOfReferenceUID", "UI"),
    0x00280002: ("SamplesPerPixel", "US"),
    0x00280004: ("PhotometricInterpretation", "CS"),
    0x00280008: ("NumberOfFrames", "IS"),
    0x00280010: ("Rows", "US"),
    0x00280011: ("Columns", "US"),
    0x00280030: ("PixelSpacing", "DS"),
    0x00280100: ("BitsAllocated", "US"),
    0x00280101: ("BitsStored", "US"),
    0x00280103: ("PixelRepresentation", "US"),
    0x00281050: ("WindowCenter", "DS"),
    0x00281051: ("WindowWidth", "DS"),
    0x00281052: ("RescaleIntercept", "DS"),
    0x00281053: ("RescaleSlope", "DS"),
    0x00281055: ("WindowCenterWidthExplanation", "LO"),
    0x00282110: ("LossyImageCompression", "CS"),
    0x00282112: ("LossyImageCompressionRatio", "DS"),
    0x00282114: ("LossyImageCompressionMethod", "CS"),
}
_VR_OF = {kw: vr for kw, vr in WANTED.values()}
#: top-level sequences whose presence matters (enhanced multi-frame, DICOMDIR)
_MARKERS = {0x52009229: "SharedFunctionalGroupsSequence", 0x52009230: "PerFrameFunctionalGroupsSequence",
            0x00041220: "DirectoryRecordSequence"}
_ENCODINGS = {"": "ascii", "ISO_IR 6": "ascii", "ISO_IR 100": "latin-1", "ISO_IR 192": "utf-8"}

_u16 = struct.Struct("<H").unpack_from
_u32 = struct.Struct("<I").unpack_from
_tag = struct.Struct("<HH").unpack_from
#: group, element, VR (2 bytes) and the short (explicit VR) length of an element, in one call
_explicit_head = struct.Struct("<HH2sH").unpack_from


class _Bad(Exception):
    pass


def _skip_undefined(buf: bytes, pos: int, explicit: bool, depth: int = 0) -> int:
    """Position after an undefined-length sequence starting at ``pos`` (its first item)."""
    if depth > 16:
        raise _Bad("nesting too deep")
    n = len(buf)
    while pos + 8 <= n:
        g, e = _tag(buf, pos)
        t = (g << 16) | e
        length = _u32(buf, pos + 4)[0]
        pos += 8
        if t == _SEQ_END:
            return pos
        if t != _ITEM:
            raise _Bad("expected an item")
        if length != _UNDEFINED:
            pos += length
            continue
        pos = _walk(buf, pos, explicit, None, depth + 1)  # until the item delimiter
    raise _Bad("sequence runs past the end")


def _walk(buf: bytes, pos: int, explicit: bool, out: dict | None, depth: int = 0) -> int:
    """Walk elements from ``pos``; top level (``out`` set) stops at pixel data, items at their delimiter."""
    n = len(buf)
    head, u32, long_vrs, wanted, markers = _explicit_head, _u32, _LONG_VRS, WANTED, _MARKERS
    while pos + 8 <= n:
        g, e, vr, length = head(buf, pos)
        t = (g << 16) | e
        if t == _ITEM_END:
            return pos + 8
        if t == _PIXEL_DATA and out is not None:
            return pos
        if explicit and g != 0xFFFE:
            if vr in long_vrs:
                if pos + 12 > n:
                    raise _Bad("truncated element")
                length = u32(buf, pos + 8)[0]
                start = pos + 12
            else:
                if not (65 <= vr[0] <= 90 and 65 <= vr[1] <= 90):
                    raise _Bad("not an explicit VR")
                start = pos + 8
        else:
            vr = None
            length = u32(buf, pos + 4)[0]
            start = pos + 8
        if length == _UNDEFINED:
            if out is not None and t in _MARKERS:
                out[_MARKERS[t]] = True
            # UN with undefined length holds implicit VR little endian
            pos = _skip_undefined(buf, start, explicit and vr != b"UN", depth)
            continue
        end = start + length
        if end > n:
            raise _Bad("element runs past the end of the header")
        if out is not None:
            if t in wanted:
                out[wanted[t][0]] = buf[start:end]
            elif t in markers:
                out[markers[t]] = True
        pos = end
    if out is None:
        raise _Bad("item runs past the end")
    return pos


def parse_fast(buf: bytes) -> tuple[str, dict[str, object], int] | None:
    """Parse a header: (transfer syntax, {keyword: value}, pixel-data position) or None to fall back."""
    try:
        if len(buf) < 144 or buf[128:132] != b"DICM":
            return None
        pos = 132
        meta: dict[int, bytes] = {}
        while pos + 8 <= len(buf):
            g, e = _tag(buf, pos)
            if g != 0x0002:
                break
            vr = buf[pos + 4 : pos + 6]
            if vr in _LONG_VRS:
                length, start = _u32(buf, pos + 8)[0], pos + 12
            else:
                length, start = _u16(buf, pos + 6)[0], pos + 8
            if start + length > len(buf):
                return None
            meta[e] = buf[start : start + length]
            pos = start + length
        ts = meta.get(0x0010, b"").rstrip(b"\x00 ").decode("ascii", "replace")
        explicit = _explicit_le_dataset(ts)
        if explicit is None:
            return None
        raw: dict[str, object] = {}
        stop = _walk(buf, pos, explicit, raw)
        if stop + 4 > len(buf) or (_tag(buf, stop)[0] << 16 | _tag(buf, stop)[1]) != _PIXEL_DATA:
            return None  # header longer than the buffer, or no pixel data: let pydicom decide
        charset = raw.get("SpecificCharacterSet", b"")
        charset = charset.decode("ascii", "replace").strip("\x00 ") if isinstance(charset, bytes) else ""
        encoding = _ENCODINGS.get(charset)
        if encoding is None:
            return None
        values: dict[str, object] = {}
        if "MediaStorageSOPClassUID" not in raw and 0x0002 in meta:
            values["MediaStorageSOPClassUID"] = meta[0x0002].rstrip(b"\x00 ").decode("ascii", "replace")
        for kw, b in raw.items():  # only the elements present (most of WANTED is absent from a file)
            if not isinstance(b, bytes):
                continue
            vr = _VR_OF[kw]
            if vr == "US":
                if len(b) < 2:
                    return None
                values[kw] = _u16(b, 0)[0]
            elif vr in ("DS", "IS"):
                text = b.decode("ascii", "replace").strip("\x00 ")
                # one value (most elements): no split, no list
                values[kw] = [p.strip() for p in text.split("\\")] if "\\" in text else text.strip()
            else:
                text = b.decode(encoding, "replace").rstrip("\x00 ")
                values[kw] = text.split("\\") if ("\\" in text and vr in ("CS", "LO")) else text.strip()
        for kw in _MARKERS.values():
            if raw.get(kw):
                values[kw] = True
        return ts, values, stop
    except (_Bad, struct.error, IndexError, UnicodeDecodeError):
        return None
