"""Detection boxes (LPS mm, from a detection bundle) drawn over a slice view (no Qt).

A box is drawn in a view when the view's plane cuts it; the drawn rectangle is
the box's extent along the view's screen axes (exact for the standard views,
whose axes are LPS axes; for an oblique view it is the bounding rectangle of
the box's projection). Its score and class are written beside it. Drawing
reuses the measurement layer's props, so boxes sit above image and overlay.
"""

from __future__ import annotations

import numpy as np

from meddiag_desktop.core import view_geometry as vg
from meddiag_desktop.render.measurement_layer import _Item

__all__ = ["DetectionLayer", "box_outline", "COLOUR"]

COLOUR = (1.0, 0.35, 0.35)
SELECTED = (0.30, 0.85, 1.0)


def box_outline(view: vg.ViewLike, center_lps, size_mm, cursor_lps) -> np.ndarray | None:
    """Closed rectangle (5 x 3, LPS) where the view's plane through ``cursor_lps`` cuts the box; None if it misses."""
    frame = vg.view_frame(view)
    right, up, normal = frame[:, 0], frame[:, 1], frame[:, 2]
    c = np.asarray(center_lps, float)
    half = np.asarray(size_mm, float) / 2.0
    depth = float(normal @ (np.asarray(cursor_lps, float) - c))
    if abs(depth) > float(np.abs(normal) @ half) + 1e-6:
        return None
    hu = float(np.abs(right) @ half)
    hv = float(np.abs(up) @ half)
    centre = c + depth * normal  # on the plane
    corners = [centre + su * hu * right + sv * hv * up for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1))]
    return np.asarray(corners)


class DetectionLayer:
    """The boxes of a detection result in one slice view; hidden where the plane misses them."""

    def __init__(self, slice_view) -> None:
        self.sv = slice_view
        self._items: list[_Item] = []
        self.visible: list[int] = []

    def update(self, detections, class_names: dict[int, str] | None = None, selected: int | None = None) -> None:
        """Draw ``detections`` (objects with ``center_lps``, ``size_mm``, ``score``, ``label``)."""
        sv = self.sv
        while len(self._items) < len(detections):
            self._items.append(_Item(sv.renderer))
        while len(self._items) > len(detections):
            self._items.pop().remove(sv.renderer)
        self.visible = []
        for i, (det, item) in enumerate(zip(detections, self._items)):
            outline = box_outline(sv.geom, det.center_lps, det.size_mm, sv.cursor)
            if outline is None:
                item.set_visible(False)
                continue
            self.visible.append(i)
            name = (class_names or {}).get(det.label, f"class {det.label}")
            item.show(sv.geom, [outline], np.zeros((0, 3)), f"{name} {det.score:.2f}",
                      SELECTED if i == selected else COLOUR)
            item.set_visible(True)
            item.handles.SetVisibility(False)
        self.place_labels()

    def place_labels(self) -> None:
        """Scores 8 px right of each drawn box (call again after zooming or panning)."""
        for i in self.visible:
            item = self._items[i]
            x, y = self.sv.view_to_display(*item.anchor)
            item.text.GetTextProperty().SetJustificationToLeft()
            item.text.SetDisplayPosition(int(x + 8), int(y))

    def clear(self) -> None:
        self.update([])
