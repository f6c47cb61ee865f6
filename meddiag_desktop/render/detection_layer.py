"""Detection boxes (LPS mm, from a detection bundle) drawn over a slice view (no Qt).

A box is drawn in a view when the view's plane cuts it; the drawn rectangle is
the box's extent along the view's screen axes (exact for the standard views,
whose axes are LPS axes; for an oblique view it is the bounding rectangle of
the box's projection). Its score and class are written beside it. Drawing
reuses the measurement layer's props, so boxes sit above image and overlay.

Each box may carry a :class:`BoxStyle` (the reader's decision on it, see
:data:`STATUS_STYLES`): a proposal is drawn dashed in yellow, an accepted box
solid green, a rejected one not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meddiag_desktop.core import view_geometry as vg
from meddiag_desktop.render.measurement_layer import _Item

__all__ = ["DetectionLayer", "box_outline", "dashes", "BoxStyle", "STATUS_STYLES", "COLOUR"]

COLOUR = (1.0, 0.35, 0.35)
SELECTED = (0.30, 0.85, 1.0)
DASH_MM = 2.0  #: dash and gap length of a proposed box's outline (mm on the image)


@dataclass(frozen=True)
class BoxStyle:
    colour: tuple[float, float, float]
    dashed: bool = False
    prefix: str = ""  # before the class name in the label, e.g. "AI? "


#: how a box is drawn for each reader decision (core.findings statuses); ``None``: not drawn
STATUS_STYLES: dict[str, BoxStyle | None] = {
    "proposed": BoxStyle((1.0, 0.85, 0.1), dashed=True, prefix="AI? "),
    "accepted": BoxStyle((0.2, 0.85, 0.3)),
    "edited": BoxStyle((0.2, 0.85, 0.3)),
    "rejected": None,
}


def dashes(outline: np.ndarray, dash_mm: float = DASH_MM) -> list[np.ndarray]:
    """The closed polyline ``outline`` cut into dashes ``dash_mm`` long with gaps as long (each a 2 x 3 segment)."""
    out: list[np.ndarray] = []
    for a, b in zip(outline[:-1], outline[1:]):
        length = float(np.linalg.norm(b - a))
        if length <= 0:
            continue
        step = 2 * dash_mm
        n = max(1, int(np.ceil(length / step)))
        for k in range(n):
            t0, t1 = k * step / length, min((k * step + dash_mm) / length, 1.0)
            out.append(np.vstack([a + t0 * (b - a), a + t1 * (b - a)]))
    return out


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

    def update(self, detections, class_names: dict[int, str] | None = None, selected: int | None = None,
               styles: list[BoxStyle | None] | None = None) -> None:
        """Draw ``detections`` (objects with ``center_lps``, ``size_mm``, ``score``, ``label``).

        ``styles`` (one per box): colour, dashed or not; ``None`` hides that box (a rejected one).
        """
        sv = self.sv
        while len(self._items) < len(detections):
            self._items.append(_Item(sv.renderer))
        while len(self._items) > len(detections):
            self._items.pop().remove(sv.renderer)
        self.visible = []
        for i, (det, item) in enumerate(zip(detections, self._items)):
            style = styles[i] if styles is not None else BoxStyle(COLOUR)
            outline = None if style is None else box_outline(sv.geom, det.center_lps, det.size_mm, sv.cursor)
            if outline is None:
                item.set_visible(False)
                continue
            self.visible.append(i)
            name = (class_names or {}).get(det.label, f"class {det.label}")
            lines = dashes(outline) if style.dashed else [outline]
            item.show(sv.geom, lines, np.zeros((0, 3)), f"{style.prefix}{name} {det.score:.2f}",
                      SELECTED if i == selected else style.colour)
            item.set_visible(True)
            item.handles.SetVisibility(False)
        self.place_labels()

    def place_labels(self) -> None:
        """Scores 8 px right of each drawn box, or left of it in the right third of the view
        (call again after zooming or panning)."""
        width = self.sv.renderer.GetSize()[0] or 1
        for i in self.visible:
            item = self._items[i]
            x, y = self.sv.view_to_display(*item.anchor)
            if x > 0.7 * width:
                x, y = self.sv.view_to_display(*item.anchor_left)
                item.text.GetTextProperty().SetJustificationToRight()
                item.text.SetDisplayPosition(int(x - 8), int(y))
            else:
                item.text.GetTextProperty().SetJustificationToLeft()
                item.text.SetDisplayPosition(int(x + 8), int(y))

    def clear(self) -> None:
        self.update([])
