"""Placing a measurement with the mouse: click-drag or click-click, in LPS points (no widgets).

Segments (distance, angle arms, nodule axes) are placed by pressing at one end and
releasing at the other, or by clicking each end. An ellipse is dragged (or
click-clicked) as its screen-aligned bounding box; a freehand outline is drawn
while the button is down; a point is one click.
"""

from __future__ import annotations

import numpy as np

from meddiag_desktop.core.measurements import KINDS, Measurement

__all__ = ["Placement", "CLICK_PX", "ROI_TOOLS", "grabs_handle"]

CLICK_PX = 3.0  #: a release this close to its press is a click (then the next click places the end)
#: Tools that draw a region: a press near another kind's handle (a caliper end) starts the region.
ROI_TOOLS = frozenset({"ellipse", "freehand"})


def grabs_handle(tool: str, kind: str) -> bool:
    """True when a press with ``tool`` on a handle of a ``kind`` measurement drags that handle.

    Every tool edits what it grabs (Navigate, the calipers), except the ROI tools: a
    reader drawing an ellipse or freehand region around a lesion often starts on a
    caliper end lying on it, and means a new region, so only handles of their own
    kind are grabbed.
    """
    return tool not in ROI_TOOLS or kind == tool


_SEGMENT_STARTS = {"distance": {0}, "angle": {0}, "nodule_axes": {0, 2}, "ellipse": {0}}


class Placement:
    """State of one measurement being placed in a view with plane ``frame`` (3x3, columns right/up/normal)."""

    def __init__(self, kind: str, frame: np.ndarray) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown measurement tool {kind!r}")
        self.kind = kind
        self.frame = np.asarray(frame, float)
        self.points: list[np.ndarray] = []
        self.follower = False  # the last point follows the mouse
        self._press_px: tuple[float, float] | None = None
        self._started = False
        self.done: Measurement | None = None

    @property
    def normal(self) -> tuple[float, float, float]:
        return tuple(self.frame[:, 2])  # type: ignore[return-value]

    @property
    def active(self) -> bool:
        return bool(self.points)

    def press(self, lps, px: tuple[float, float]) -> None:
        p = np.asarray(lps, float)
        self._press_px = px
        if self.kind == "freehand":
            self.points = [p]
            return
        if self.kind == "point":
            return
        if self.follower:
            self.points[-1] = p
            self._started = False
        else:
            self.points += [p, p.copy()]
            self.follower = True
            self._started = True

    def move(self, lps, px: tuple[float, float], button_down: bool) -> None:
        p = np.asarray(lps, float)
        if self.kind == "freehand":
            if button_down and self.points and np.linalg.norm(p - self.points[-1]) > 1e-9:
                self.points.append(p)
            return
        if self.follower:
            self.points[-1] = p

    def release(self, lps, px: tuple[float, float]) -> Measurement | None:
        """Returns the finished measurement, or None while more points are needed."""
        p = np.asarray(lps, float)
        if self.kind == "point":
            return self._finish([p])
        if self.kind == "freehand":
            pts = self._dedupe(self.points)
            self.points = []
            return self._finish(pts) if len(pts) >= 3 else None
        if not self.follower:
            return None
        self.points[-1] = p
        clicked = self._press_px is not None and np.hypot(px[0] - self._press_px[0], px[1] - self._press_px[1]) <= CLICK_PX
        if clicked and self._started:
            return None  # click-click: the end follows the mouse until the next click
        self.follower = False
        needed = KINDS[self.kind][0] if self.kind != "ellipse" else 2
        if len(self.points) >= needed:
            return self._finish(self.points)
        if len(self.points) not in _SEGMENT_STARTS[self.kind]:
            self.points.append(p.copy())
            self.follower = True
            self._started = False
        return None

    def preview(self) -> tuple[str, list[np.ndarray]]:
        """Kind and points to draw now (the ellipse as its measurement points)."""
        if self.kind == "ellipse" and len(self.points) == 2:
            return "ellipse", self._ellipse_points(*self.points)
        return self.kind, list(self.points)

    def _ellipse_points(self, a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
        right, up = self.frame[:, 0], self.frame[:, 1]
        c = (a + b) / 2.0
        d = b - a
        return [c, c + right * abs(d @ right) / 2.0, c + up * abs(d @ up) / 2.0]

    @staticmethod
    def _dedupe(points: list[np.ndarray]) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for p in points:
            if not out or np.linalg.norm(p - out[-1]) > 1e-6:
                out.append(p)
        return out

    def _finish(self, points: list[np.ndarray]) -> Measurement | None:
        self.points = []
        self.follower = False
        if self.kind == "ellipse":
            pts = self._ellipse_points(*points[:2])
            if np.linalg.norm(pts[1] - pts[0]) < 1e-6 or np.linalg.norm(pts[2] - pts[0]) < 1e-6:
                return None
        else:
            pts = points
        if self.kind in ("distance", "nodule_axes") and any(
                np.linalg.norm(pts[i + 1] - pts[i]) < 1e-6 for i in range(0, len(pts), 2)):
            return None
        self.done = Measurement(self.kind, [tuple(p) for p in pts], self.normal)
        return self.done
