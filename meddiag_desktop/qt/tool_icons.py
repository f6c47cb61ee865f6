"""Small line-art icons for the measurement tools, drawn with QPainter (no image files needed)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

__all__ = ["tool_icon"]

_SIZE = 32


def tool_icon(tool: str, colour: str = "#e8c547") -> QIcon:
    """Icon for ``tool`` (``navigate``, ``distance``, ``angle``, ``ellipse``, ``freehand``, ``point``, ``nodule_axes``)."""
    pm = QPixmap(_SIZE, _SIZE)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(QColor(colour), 2.2)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    dot = QColor(colour)

    def handle(x: float, y: float) -> None:
        p.setBrush(dot)
        p.drawEllipse(QPointF(x, y), 2.6, 2.6)
        p.setBrush(Qt.BrushStyle.NoBrush)

    if tool == "navigate":
        p.setPen(QPen(QColor("#d6d9dc"), 2.0))
        path = QPainterPath(QPointF(9, 5))
        for x, y in ((9, 25), (14, 20), (18, 28), (21, 27), (17, 19), (24, 19)):
            path.lineTo(x, y)
        path.closeSubpath()
        p.drawPath(path)
    elif tool == "distance":
        p.drawLine(QPointF(6, 26), QPointF(26, 6))
        handle(6, 26)
        handle(26, 6)
    elif tool == "angle":
        p.drawLine(QPointF(5, 26), QPointF(27, 26))
        p.drawLine(QPointF(5, 26), QPointF(22, 7))
        p.drawArc(QRectF(-5, 16, 20, 20), 0, 48 * 16)
    elif tool == "ellipse":
        p.drawEllipse(QRectF(4, 8, 24, 16))
    elif tool == "freehand":
        path = QPainterPath(QPointF(9, 22))  # an irregular lasso, not an ellipse
        for x, y in ((5, 13), (10, 5), (17, 9), (24, 4), (28, 13), (22, 18), (25, 25), (15, 22)):
            path.lineTo(x, y)
        path.closeSubpath()
        p.drawPath(path)
    elif tool == "point":
        p.drawLine(QPointF(16, 5), QPointF(16, 12))
        p.drawLine(QPointF(16, 20), QPointF(16, 27))
        p.drawLine(QPointF(5, 16), QPointF(12, 16))
        p.drawLine(QPointF(20, 16), QPointF(27, 16))
        handle(16, 16)
    elif tool == "nodule_axes":
        p.setPen(QPen(QColor("#7d8288"), 1.4))
        p.drawEllipse(QRectF(5, 8, 22, 16))
        p.setPen(pen)
        p.drawLine(QPointF(5, 16), QPointF(27, 16))
        p.drawLine(QPointF(16, 8), QPointF(16, 24))
    p.end()
    return QIcon(pm)
