"""The view frames (title strip in the view's colour) and where each layout puts them."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from meddiag_desktop.core import view_geometry as vg

__all__ = ["framed", "place_frames", "LAYOUTS", "PRIOR_FRAMES"]

#: layouts beyond the single views (``"axial"``, ``"coronal"``, ``"sagittal"``, ``"3d"``, ``"compare"``)
LAYOUTS = ("four", "1x3", "compare", "prior_2x2")
#: the compare study's frames (axial, coronal), beside the current study's
PRIOR_FRAMES = ("compare", "compare_coronal")


def framed(widget: QWidget, title: str, colour: tuple[float, float, float]) -> QFrame:
    """A view in a frame with a thin title strip in the view's colour (Slicer style)."""
    frame = QFrame()
    frame.setObjectName("view_frame")
    lay = QVBoxLayout(frame)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(0)
    label = QLabel(title)
    label.setObjectName("view_title")
    r, g, b = (int(c * 255) for c in colour)
    label.setStyleSheet(f"background: rgb({r},{g},{b}); color: #101010; font-weight: bold; padding: 1px 6px;")
    lay.addWidget(label)
    lay.addWidget(widget, 1)
    return frame


def place_frames(grid: QGridLayout, frames: dict[str, QFrame], name: str) -> None:
    """Put the frames of layout ``name`` in ``grid`` (6 columns: 2x2 spans 3 each, 1x3 spans 2 each)."""
    for frame in frames.values():
        grid.removeWidget(frame)
        frame.hide()
    if name in ("compare", "prior_2x2") and not all(k in frames for k in PRIOR_FRAMES[: 1 if name == "compare" else 2]):
        raise ValueError("the compare view is not open")
    if name == "four":
        places = {vg.AXIAL: (0, 0, 1, 3), vg.CORONAL: (0, 3, 1, 3), vg.SAGITTAL: (1, 0, 1, 3), "3d": (1, 3, 1, 3)}
    elif name == "compare":
        places = {vg.AXIAL: (0, 0, 2, 3), "compare": (0, 3, 2, 3)}
    elif name == "prior_2x2":  # current left, prior right; axial above, coronal below
        places = {vg.AXIAL: (0, 0, 1, 3), "compare": (0, 3, 1, 3),
                  vg.CORONAL: (1, 0, 1, 3), "compare_coronal": (1, 3, 1, 3)}
    elif name == "1x3":
        places = {vg.AXIAL: (0, 0, 2, 2), vg.CORONAL: (0, 2, 2, 2), vg.SAGITTAL: (0, 4, 2, 2)}
    else:
        places = {name: (0, 0, 2, 6)}
    for key, (r, c, rs, cs) in places.items():
        grid.addWidget(frames[key], r, c, rs, cs)
        frames[key].show()
