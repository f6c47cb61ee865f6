"""Check that a screenshot of the viewer shows content in all four views (stdlib only).

Run with the system Python, isolated from any environment of ours:
``/usr/bin/python3 -I -S installer/png_check.py out.png``. Decodes the PNG with
zlib, finds each view by its coloured title strip (:data:`VIEW_HEADERS`, the
colours of ``meddiag_desktop.render.slice_view.VIEW_COLOURS`` and the 3D view's
in ``qt/main_window.py``; a test keeps them in step), and requires, in the middle
of the area under each strip, a spread of grey levels (std) and several distinct
values: a black or flat view fails, and so does a missing view. Prints one line
per view; exit status 1 on failure.
"""

from __future__ import annotations

import struct
import sys
import zlib

#: view name -> RGB of its title strip (int(c * 255) of the float colours in the app)
VIEW_HEADERS = {
    "axial": (237, 84, 79),
    "coronal": (109, 191, 91),
    "sagittal": (242, 214, 79),
    "3D": (140, 158, 191),
}
MIN_HEADER_PX = 40  # a title strip is a run of at least this many pixels of its colour
MIN_STD = 12.0
MIN_LEVELS = 16


def read_png(path: str) -> tuple[int, int, list[bytearray]]:
    """(width, height, rows of RGB bytes) of an 8-bit RGB/RGBA/grey PNG."""
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
        if channels == 3:
            rgb = bytearray(line)
        elif channels == 4:
            rgb = bytearray(b for i in range(0, stride, 4) for b in line[i:i + 3])
        else:
            rgb = bytearray(b for v in line[0::channels] for b in (v, v, v))
        rows.append(rgb)
    return width, height, rows


def _header(rows: list[bytearray], rgb: tuple[int, int, int]) -> tuple[int, int, int, int] | None:
    """(x0, x1, y_top, y_bottom) of the title strip of colour ``rgb``, or None."""
    pixel = bytes(rgb)
    run = pixel * MIN_HEADER_PX
    for y, row in enumerate(rows):
        i = row.find(run)
        while i != -1 and i % 3:
            i = row.find(run, i + 1)
        if i == -1:
            continue
        xs = [x for x in range(len(row) // 3) if row[3 * x:3 * x + 3] == pixel]
        x0, x1 = min(xs), max(xs)
        y1 = y
        while y1 + 1 < len(rows) and rows[y1 + 1][3 * x1:3 * x1 + 3] == pixel:
            y1 += 1
        return x0, x1, y, y1
    return None


def view_stats(path: str) -> list[tuple[str, float | None, int]]:
    """(view, std, distinct grey levels) in the middle half of each view; std None if not found."""
    width, height, rows = read_png(path)
    headers = {name: _header(rows, rgb) for name, rgb in VIEW_HEADERS.items()}
    out = []
    for name, h in headers.items():
        if h is None:
            out.append((name, None, 0))
            continue
        x0, x1, _, top = h
        below = [o[2] for o in headers.values() if o is not None and o[2] > top and o[0] < x1 and o[1] > x0]
        bottom = min(below) - 1 if below else min(height - 1, top + (x1 - x0))
        w, hgt = x1 - x0, bottom - top
        values = [
            (row[3 * x] + row[3 * x + 1] + row[3 * x + 2]) // 3
            for row in rows[top + hgt // 4: bottom - hgt // 4: 2]
            for x in range(x0 + w // 4, x1 - w // 4, 2)
        ]
        if not values:
            out.append((name, 0.0, 0))
            continue
        mean = sum(values) / len(values)
        std = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
        out.append((name, std, len(set(values))))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: png_check.py SCREENSHOT.png", file=sys.stderr)
        return 2
    ok = True
    for name, std, levels in view_stats(argv[0]):
        if std is None:
            ok = False
            print(f"png_check: {name:9s} view not found (no title strip of colour {VIEW_HEADERS[name]})")
            continue
        good = std >= MIN_STD and levels >= MIN_LEVELS
        ok &= good
        print(f"png_check: {name:9s} std {std:6.1f}  grey levels {levels:3d}  {'ok' if good else 'EMPTY'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
