"""Save the whole window as PNG with the VTK views composited in (QWidget.grab shows GL as black)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import QWidget

from meddiag_desktop.qt.vtk_widget import VtkWidget

__all__ = ["grab_window"]


def grab_window(window: QWidget) -> QPixmap:
    """The window's pixels, each visible VTK view painted from its own rendered image."""
    views = [w for w in window.findChildren(VtkWidget) if w.isVisible()]
    images = [w.capture() for w in views]
    for w in views:  # grab() would re-render every view through paintEvent: skip that
        w.suppress_paint = True
    try:
        pix = window.grab()
    finally:
        for w in views:
            w.suppress_paint = False
    painter = QPainter(pix)
    try:
        for w, img in zip(views, images):
            pos = w.mapTo(window, QPoint(0, 0))
            painter.drawImage(pos, img.scaled(w.size()) if img.size() != w.size() else img)
    finally:
        painter.end()
    return pix


def save_window_png(window: QWidget, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not grab_window(window).save(str(path), "PNG", 80):  # 80: fast zlib level, still small
        raise OSError(f"could not write {path}")
