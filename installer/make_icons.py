"""Render resources/meddiag.svg to the PNG sizes, the Windows .ico and the macOS .icns.

Run after editing the SVG: ``.venv/bin/python installer/make_icons.py``; the
outputs are committed so that builds need neither Qt's SVG module nor Pillow.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def render_pngs(svg: Path, out_dir: Path) -> list[Path]:
    """Write ``icons/meddiag-<n>.png`` for every size in :data:`SIZES`."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841  (QImage needs it)
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"make_icons: cannot read {svg}")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for n in SIZES:
        image = QImage(n, n, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        path = out_dir / f"meddiag-{n}.png"
        if not image.save(str(path)):
            raise SystemExit(f"make_icons: cannot write {path}")
        written.append(path)
    return written


def main() -> int:
    pngs = render_pngs(RESOURCES / "meddiag.svg", RESOURCES / "icons")
    from PIL import Image

    big = Image.open(RESOURCES / "icons" / "meddiag-256.png")
    big.save(RESOURCES / "meddiag.ico", sizes=[(n, n) for n in (16, 24, 32, 48, 64, 128, 256)])
    Image.open(RESOURCES / "icons" / "meddiag-512.png").save(RESOURCES / "meddiag.icns")
    (RESOURCES / "meddiag.png").write_bytes((RESOURCES / "icons" / "meddiag-256.png").read_bytes())
    print(f"make_icons: {len(pngs)} PNGs, meddiag.ico, meddiag.icns, meddiag.png in {RESOURCES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
