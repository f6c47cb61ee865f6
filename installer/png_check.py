"""Check that a screenshot of the viewer shows content in all four views (stdlib only).

Run with the system Python, isolated from any environment of ours:
``/usr/bin/python3 -I -S installer/png_check.py out.png``. Decodes the PNG with
zlib, takes the view area (the window minus the left dock, tool bar and status
bar, as fractions of the size), splits it into 2x2 quadrants and requires, in the
middle of each quadrant, a spread of grey levels (std) and several distinct values:
a black or flat view fails. Prints one line per quadrant; exit status 1 on failure.
"""

from __future__ import annotations

import struct
import sys
import zlib

#: view area as fractions of the window: left, top, right, bottom
VIEW_AREA = (0.25, 0.08, 1.0, 0.94)
MIN_STD = 12.0
MIN_LEVELS = 16


def read_png(path: str) -> tuple[int, int, list[bytearray]]:
    """(width, height, rows of grey values 0-255) of an 8-bit RGB/RGBA/grey PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    pos, idat, width = 8, [], 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or interlace or color not in (0, 2, 4, 6):
                raise ValueError(f"unsupported PNG (depth {depth}, colour {color}, interlace {interlace})")
            channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        grey = bytearray(line[0::channels]) if channels < 3 else bytearray(
            (line[i] + line[i + 1] + line[i + 2]) // 3 for i in range(0, stride, channels))
        rows.append(grey)
    return width, height, rows


def quadrant_stats(path: str) -> list[tuple[str, float, int]]:
    width, height, rows = read_png(path)
    x0, y0, x1, y1 = (int(f * n) for f, n in zip(VIEW_AREA, (width, height, width, height)))
    xm, ym = (x0 + x1) // 2, (y0 + y1) // 2
    out = []
    for name, (ax, ay, bx, by) in {
        "top-left (axial)": (x0, y0, xm, ym), "top-right (coronal)": (xm, y0, x1, ym),
        "bottom-left (sagittal)": (x0, ym, xm, y1), "bottom-right (3D)": (xm, ym, x1, y1),
    }.items():
        # the middle half of the quadrant: inside the view, away from borders and labels
        w, h = bx - ax, by - ay
        values = [v for row in rows[ay + h // 4: by - h // 4: 2] for v in row[ax + w // 4: bx - w // 4: 2]]
        mean = sum(values) / len(values)
        std = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
        out.append((name, std, len(set(values))))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: png_check.py SCREENSHOT.png", file=sys.stderr)
        return 2
    ok = True
    for name, std, levels in quadrant_stats(argv[0]):
        good = std >= MIN_STD and levels >= MIN_LEVELS
        ok &= good
        print(f"png_check: {name:24s} std {std:6.1f}  grey levels {levels:3d}  {'ok' if good else 'EMPTY'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
