"""Write a small RLE Lossless CT series with the standard library only (no pydicom).

Used by ``check_package.sh``: the packaged app decodes compressed DICOM in spawned
worker processes (``meddiag_desktop.io.decode_pool``), so opening this series checks
both the frozen child processes and the bundled RLE decoder. Runs on the system
Python: ``/usr/bin/python3 -I -S installer/make_rle_series.py OUT_DIR``.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

ROWS = COLS = 64
SLICES = 24
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
RLE_LOSSLESS = "1.2.840.10008.1.2.5"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
ROOT_UID = "2.25.31415926535897932384626433832795"
_LONG_VRS = {"OB", "OW", "OF", "SQ", "UT", "UN"}


def _element(group: int, elem: int, vr: str, value: bytes | str | int | tuple) -> bytes:
    if isinstance(value, int):
        value = struct.pack("<H" if vr == "US" else "<I", value)
    elif isinstance(value, str):
        pad = b"\0" if vr == "UI" else b" "
        value = value.encode("ascii")
        value += pad * (len(value) % 2)
    head = struct.pack("<HH", group, elem) + vr.encode()
    if vr in _LONG_VRS:
        return head + b"\0\0" + struct.pack("<I", len(value)) + value
    return head + struct.pack("<H", len(value)) + value


def _packbits_row(row: bytes) -> bytes:
    """PackBits of one row: literal runs of up to 128 bytes (valid, if not the smallest)."""
    out = bytearray()
    for i in range(0, len(row), 128):
        chunk = row[i:i + 128]
        out.append(len(chunk) - 1)
        out += chunk
    return bytes(out)


def _rle_frame(pixels: list[int]) -> bytes:
    """DICOM RLE frame of signed 16-bit pixels: a 64-byte header, then MSB and LSB segments."""
    raw = b"".join(struct.pack("<h", v) for v in pixels)
    segments = []
    for byte in (1, 0):  # most significant byte first
        plane = raw[byte::2]
        seg = b"".join(_packbits_row(plane[r * COLS:(r + 1) * COLS]) for r in range(ROWS))
        segments.append(seg + b"\0" * (len(seg) % 2))
    offsets = [64, 64 + len(segments[0])]
    header = struct.pack("<16I", len(segments), *offsets, *([0] * 13))
    return header + b"".join(segments)


def _slice_pixels(z: int) -> list[int]:
    """A body-like ellipse with a bright sphere that moves through the slices (stored = HU + 1024)."""
    px = []
    for y in range(ROWS):
        for x in range(COLS):
            dx, dy = (x - 31.5) / 28, (y - 31.5) / 22
            hu = -1000
            if dx * dx + dy * dy <= 1:
                hu = 40 + ((x * 7 + y * 3 + z * 5) % 23)  # soft tissue with a little texture
                if (x - 32) ** 2 + (y - 28) ** 2 + (2 * (z - SLICES // 2)) ** 2 <= 100:
                    hu = 700
            px.append(hu + 1024)
    return px


def write_instance(folder: Path, z: int) -> Path:
    sop = f"{ROOT_UID}.3.{z + 1}"
    meta_body = b"".join([
        _element(0x0002, 0x0001, "OB", b"\0\1"),
        _element(0x0002, 0x0002, "UI", CT_IMAGE),
        _element(0x0002, 0x0003, "UI", sop),
        _element(0x0002, 0x0010, "UI", RLE_LOSSLESS),
        _element(0x0002, 0x0012, "UI", f"{ROOT_UID}.9"),
    ])
    meta = _element(0x0002, 0x0000, "UL", len(meta_body)) + meta_body
    frame = _rle_frame(_slice_pixels(z))
    frame += b"\0" * (len(frame) % 2)
    pixel_data = (
        struct.pack("<HH", 0x7FE0, 0x0010) + b"OB\0\0" + struct.pack("<I", 0xFFFFFFFF)
        + struct.pack("<HHI", 0xFFFE, 0xE000, 0)  # empty basic offset table
        + struct.pack("<HHI", 0xFFFE, 0xE000, len(frame)) + frame
        + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    )
    body = b"".join([
        _element(0x0008, 0x0016, "UI", CT_IMAGE),
        _element(0x0008, 0x0018, "UI", sop),
        _element(0x0008, 0x0060, "CS", "CT"),
        _element(0x0008, 0x103E, "LO", "RLE check series"),
        _element(0x0010, 0x0010, "PN", "Check^RLE"),
        _element(0x0010, 0x0020, "LO", "RLE-CHECK"),
        _element(0x0018, 0x0050, "DS", "2"),
        _element(0x0020, 0x000D, "UI", f"{ROOT_UID}.1"),
        _element(0x0020, 0x000E, "UI", f"{ROOT_UID}.2"),
        _element(0x0020, 0x0011, "IS", "1"),
        _element(0x0020, 0x0013, "IS", str(z + 1)),
        _element(0x0020, 0x0032, "DS", f"-32\\-32\\{2 * z}"),
        _element(0x0020, 0x0037, "DS", "1\\0\\0\\0\\1\\0"),
        _element(0x0020, 0x0052, "UI", f"{ROOT_UID}.4"),
        _element(0x0028, 0x0002, "US", 1),
        _element(0x0028, 0x0004, "CS", "MONOCHROME2"),
        _element(0x0028, 0x0010, "US", ROWS),
        _element(0x0028, 0x0011, "US", COLS),
        _element(0x0028, 0x0030, "DS", "1\\1"),
        _element(0x0028, 0x0100, "US", 16),
        _element(0x0028, 0x0101, "US", 16),
        _element(0x0028, 0x0102, "US", 15),
        _element(0x0028, 0x0103, "US", 1),
        _element(0x0028, 0x1050, "DS", "40"),
        _element(0x0028, 0x1051, "DS", "400"),
        _element(0x0028, 0x1052, "DS", "-1024"),
        _element(0x0028, 0x1053, "DS", "1"),
    ])
    path = folder / f"rle_{z + 1:03d}.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + meta + body + pixel_data)
    return path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: make_rle_series.py OUT_DIR", file=sys.stderr)
        return 2
    folder = Path(argv[0])
    folder.mkdir(parents=True, exist_ok=True)
    for z in range(SLICES):
        write_instance(folder, z)
    print(f"make_rle_series: {SLICES} RLE Lossless slices of {COLS}x{ROWS} in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
