"""Budgets that keep a damaged or hostile file from costing unbounded time or memory.

Before pydicom parses a buffer, :func:`open_budgeted` walks its elements once
without allocating (pure byte offsets) and refuses a header with more elements
or items than a file of that size can reasonably hold (1 M empty sequence items
cost pydicom 17 s and 754 MB) or nested deeper than any real file. Deflated
files are inflated here, never by pydicom (which inflates everything at once):
first the header, then at most the image size the header declares, and never
more than :data:`DEFLATE_EXPANSION` times the file size. pydicom then reads from a
:class:`BudgetedBytesIO` that refuses more reads than the walk found elements for, so a
stream it misreads (a misaligned header it parses as millions of tiny elements) ends too.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

__all__ = ["BudgetError", "open_budgeted", "element_budget", "walk", "DEFLATED", "BudgetedBytesIO"]

DEFLATED = "1.2.840.10008.1.2.1.99"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_BE = "1.2.840.10008.1.2.2"
#: deepest sequence nesting accepted (real files nest fewer than 10 levels)
MAX_DEPTH = 48
#: the most a deflated file may expand to, as a multiple of its size (deflate's own limit is ~1030)
DEFLATE_EXPANSION = 200
#: the most header (everything before the pixel data) a deflated file may inflate to
DEFLATE_HEADER_MAX = 16 * 2**20
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
_PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_CAPTURE = {0x00280010: "Rows", 0x00280011: "Columns", 0x00280100: "BitsAllocated", 0x00280002: "SamplesPerPixel",
            0x00280008: "NumberOfFrames"}


class BudgetError(Exception):
    """The file would cost more to read than its size allows; the message says why in plain words."""


def element_budget(file_size: int) -> int:
    """The most elements and items a header of a ``file_size``-byte file may hold."""
    return max(100_000, file_size // 64)


class BudgetedBytesIO(io.BytesIO):
    """A BytesIO that refuses more than ``max_reads`` reads: bounds pydicom's work on a buffer whatever
    its parser makes of damaged bytes (a misaligned stream read as millions of tiny elements)."""

    def __init__(self, data: bytes, max_reads: int) -> None:
        super().__init__(data)
        self._left = max_reads
        self.walk: WalkResult | None = None  # what the budget walk found (set by open_budgeted)

    def read(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        self._left -= 1
        if self._left < 0:
            raise BudgetError(
                "its header cannot be parsed within the work a file of this size may cost "
                "(its structure is damaged)"
            )
        return super().read(size)


@dataclass
class WalkResult:
    count: int = 0
    pixel_pos: int | None = None  # top-level pixel data element, when reached
    pixel_value_at: int | None = None
    pixel_length: int | None = None
    malformed: bool = False
    values: dict = field(default_factory=dict)


def walk(buf: bytes, pos: int, explicit: bool, little: bool, budget: int) -> WalkResult:
    """Count the elements and items of the dataset in ``buf`` from ``pos``; stop at top-level pixel data.

    Raises :class:`BudgetError` past ``budget`` elements or :data:`MAX_DEPTH` levels. A malformed
    element just ends the walk (``malformed``): the parser that follows reports it.
    """
    bo = "<" if little else ">"
    u16, u32, tagf = struct.Struct(bo + "H").unpack_from, struct.Struct(bo + "I").unpack_from, struct.Struct(bo + "HH").unpack_from
    res = WalkResult()
    n = len(buf)

    class _Stop(Exception):
        pass

    def dataset(pos: int, end: int, depth: int, expl: bool, top: bool) -> int:
        if depth > MAX_DEPTH:
            raise BudgetError(f"its data is nested more than {MAX_DEPTH} sequences deep (the file is damaged)")
        while pos + 8 <= end:
            g, e = tagf(buf, pos)
            tag = (g << 16) | e
            if tag in (_ITEM_END, _SEQ_END):
                return pos + 8
            res.count += 1
            if res.count > budget:
                raise BudgetError(
                    f"its header holds more than {budget:,} elements or sequence items, far more than a "
                    "file of this size can hold in a real image (the file is damaged)"
                )
            if g == 0xFFFE:  # an item
                length = u32(buf, pos + 4)[0]
                start = pos + 8
                if tag != _ITEM:
                    res.malformed = True
                    raise _Stop
                if length == _UNDEFINED:
                    pos = dataset(start, end, depth + 1, expl, False)
                else:
                    if start + length > end:
                        res.malformed = True
                        raise _Stop
                    dataset(start, start + length, depth + 1, expl, False)
                    pos = start + length
                continue
            vr = None
            if expl:
                vr = buf[pos + 4 : pos + 6]
                if vr in _LONG_VRS:
                    if pos + 12 > end:
                        raise _Stop
                    length, start = u32(buf, pos + 8)[0], pos + 12
                elif 65 <= vr[0] <= 90 and 65 <= vr[1] <= 90:
                    length, start = u16(buf, pos + 6)[0], pos + 8
                else:
                    res.malformed = True
                    raise _Stop
            else:
                length, start = u32(buf, pos + 4)[0], pos + 8
            if top and tag in _PIXEL_TAGS:
                res.pixel_pos, res.pixel_value_at, res.pixel_length = pos, start, length
                raise _Stop
            if length == _UNDEFINED:  # a sequence (UN with undefined length holds implicit VR)
                pos = dataset(start, end, depth + 1, expl and vr != b"UN", False)
                continue
            if start + length > end:
                if start + length > n or end < n:
                    res.malformed = end < n
                raise _Stop
            if length >= 8 and (vr == b"SQ" or vr in (None, b"UN")) and tagf(buf, start) == (0xFFFE, 0xE000):
                dataset(start, start + length, depth + 1, expl and vr != b"UN", False)
            elif top and tag in _CAPTURE:
                raw = buf[start : start + length]
                if tag == 0x00280008:
                    try:
                        res.values[_CAPTURE[tag]] = int(raw.decode("ascii", "replace").strip("\x00 ") or 1)
                    except ValueError:
                        pass
                elif length >= 2:
                    res.values[_CAPTURE[tag]] = u16(raw, 0)[0]
            pos = start + length
        return pos

    try:
        dataset(pos, n, 0, explicit, True)
    except _Stop:
        pass
    return res


def _meta(buf: bytes) -> tuple[int, str, list[tuple[int, bytes, bytes]]] | None:
    """(end of the file meta group, transfer syntax, [(element, VR, value)]) of a file with the DICM preamble."""
    if len(buf) < 132 or buf[128:132] != b"DICM":
        return None
    pos, elems = 132, []
    ts = ""
    while pos + 8 <= len(buf):
        g, e = struct.unpack_from("<HH", buf, pos)
        if g != 0x0002:
            break
        vr = buf[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > len(buf):
                return None
            length, start = struct.unpack_from("<I", buf, pos + 8)[0], pos + 12
        else:
            length, start = struct.unpack_from("<H", buf, pos + 6)[0], pos + 8
        if length == _UNDEFINED or start + length > len(buf):
            return None
        value = buf[start : start + length]
        if e == 0x0010:
            ts = value.rstrip(b"\x00 ").decode("ascii", "replace")
        elems.append((e, vr, value))
        pos = start + length
    return pos, ts, elems


def _meta_bytes(elems: list[tuple[int, bytes, bytes]], ts: str) -> bytes:
    """A file meta group like ``elems`` with TransferSyntaxUID ``ts`` and a recomputed group length."""
    uid = ts.encode() + (b"\x00" if len(ts) % 2 else b"")
    body = b""
    for e, vr, value in elems:
        if e == 0x0000:
            continue
        if e == 0x0010:
            vr, value = b"UI", uid
        if vr in _LONG_VRS:
            body += struct.pack("<HH2sHI", 2, e, vr, 0, len(value)) + value
        else:
            body += struct.pack("<HH2sH", 2, e, vr, len(value)) + value
    return b"\x00" * 128 + b"DICM" + struct.pack("<HH2sHI", 2, 0, b"UL", 4, len(body)) + body


def _declared_pixel_bytes(values: dict) -> int:
    bits = int(values.get("BitsAllocated") or 16)
    n = int(values.get("Rows") or 0) * int(values.get("Columns") or 0) * int(values.get("SamplesPerPixel") or 1)
    n *= max(int(values.get("NumberOfFrames") or 1), 1)
    return (n * bits + 7) // 8


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{max(n, 1) / 1024:.0f} kB"


def _inflate(buf: bytes, meta_end: int, elems, file_size: int) -> bytes:
    """The deflated dataset of ``buf`` inflated within budget, as an explicit VR little endian file."""
    cap = max(2**20, DEFLATE_EXPANSION * file_size)
    d = zlib.decompressobj(-zlib.MAX_WBITS)
    head_max = min(cap, DEFLATE_HEADER_MAX)
    head, tail = b"", buf[meta_end:]
    want = 2**20  # inflate the header in growing steps: a bomb is caught after 1 MB, not 16
    while True:
        try:
            head += d.decompress(tail, want - len(head))
        except zlib.error:
            raise BudgetError("its deflated data is damaged and cannot be inflated") from None
        tail = d.unconsumed_tail
        res = walk(head, 0, True, True, element_budget(file_size))
        if res.pixel_pos is not None or d.eof or not tail or res.malformed or want >= head_max:
            break
        want = min(want * 4, head_max)
    if res.pixel_pos is None:
        if d.eof or not tail:
            if res.malformed:
                raise BudgetError("its deflated data does not hold a valid DICOM dataset (the file is damaged)")
            return _meta_bytes(elems, _EXPLICIT_LE) + head
        if res.malformed:
            raise BudgetError("its deflated data does not hold a valid DICOM dataset (the file is damaged)")
        raise BudgetError(
            f"its deflated data expands to more than {_size(head_max)} "
            "without reaching an image (a damaged file or a decompression bomb)"
        )
    declared = _declared_pixel_bytes(res.values)
    if res.pixel_length not in (None, _UNDEFINED):
        declared = min(declared, res.pixel_length) if declared else res.pixel_length
    limit = min(cap, res.pixel_value_at + declared + 65536 + declared // 100)
    try:
        rest = d.decompress(tail, max(limit - len(head), 0) + 1) if not d.eof else b""
    except zlib.error:
        raise BudgetError("its deflated data is damaged and cannot be inflated") from None
    if len(head) + len(rest) > limit:
        raise BudgetError(
            f"its deflated data expands to more than the {_size(declared)} image it declares "
            "(a damaged file or a decompression bomb)"
        )
    return _meta_bytes(elems, _EXPLICIT_LE) + head + rest


def _check(buf: bytes, size: int) -> tuple[bytes, WalkResult]:
    meta = _meta(buf)
    if meta is not None:
        meta_end, ts, elems = meta
        if ts == DEFLATED:
            buf = _inflate(buf, meta_end, elems, size)
            meta_end = _meta(buf)[0]  # type: ignore[index]
            ts = _EXPLICIT_LE
        explicit, little = ts != _IMPLICIT_LE, ts != _EXPLICIT_BE
        return buf, walk(buf, meta_end, explicit, little, element_budget(size))
    # no preamble: little endian from the start, explicit VR when the first element says so
    explicit = len(buf) >= 6 and 65 <= buf[4] <= 90 and 65 <= buf[5] <= 90
    return buf, walk(buf, 0, explicit, True, element_budget(size))


def open_budgeted(buf: bytes, file_size: int | None = None) -> BudgetedBytesIO:
    """A file object of ``buf`` for ``pydicom.dcmread``, checked and bounded (see :class:`BudgetedBytesIO`).

    pydicom is allowed about six reads per element our walk found (real files need at most five),
    plus room past a point our strict walk calls malformed (pydicom is more lenient).
    """
    data, res = _check(buf, len(buf) if file_size is None else file_size)
    bio = BudgetedBytesIO(data, 6 * (res.count + (20_000 if res.malformed else 2_000)))
    bio.walk = res
    return bio
