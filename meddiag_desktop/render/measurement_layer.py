"""Draws measurements (LPS mm) over a :class:`~meddiag_desktop.render.slice_view.SliceView` (no Qt).

A measurement is drawn in a view when all its points lie within half a slice
of the view's plane (:func:`in_plane`); its outline, handles and a label with
its values (given by the caller) are placed in the view's ``(u, v)``
coordinates, above the image, the overlay and the crosshair. A label pushed away
from its shape (past other labels, or kept inside a small view) keeps a thin
leader line to the shape's nearest point.
"""

from __future__ import annotations

import numpy as np
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import (
    vtkActor,
    vtkActor2D,
    vtkCoordinate,
    vtkPolyDataMapper,
    vtkPolyDataMapper2D,
    vtkTextActor,
)

from meddiag_desktop.core import view_geometry as vg
from meddiag_desktop.core.measurements import Measurement, ellipse_polygon

__all__ = ["MeasurementLayer", "outline_lps", "handle_points", "in_plane", "COLOURS"]

COLOURS = {
    "normal": (1.0, 0.82, 0.22),
    "selected": (0.30, 0.85, 1.0),
    "preview": (0.55, 1.0, 0.55),
}
_Z = 1.5  # above image (0), overlay (0.5) and crosshair (1)
HANDLE_PX = 7.0  #: handle size on screen (pixels); also the grab radius
LABEL_GAP_PX = 10.0  #: a label's distance from its shape
LEADER_MIN_PX = 14.0  #: a label farther than this from its shape gets a leader line


def outline_lps(m_kind: str, points, normal) -> list[np.ndarray]:
    """Polylines (each N x 3 LPS) that draw a measurement; closed shapes repeat their first point."""
    p = np.asarray(points, float)
    if m_kind == "distance" or (m_kind == "nodule_axes" and len(p) < 4):
        return [p[:2]] if len(p) >= 2 else []
    if m_kind == "angle":
        return [p[:3][[0, 1, 2]] if len(p) >= 3 else p] if len(p) >= 2 else []
    if m_kind == "nodule_axes":
        return [p[0:2], p[2:4]]
    if m_kind == "ellipse":
        poly = ellipse_polygon(p, normal, 72)
        return [np.vstack([poly, poly[:1]])]
    if m_kind == "freehand":
        return [np.vstack([p, p[:1]])] if len(p) >= 3 else [p]
    return []


def handle_points(m: Measurement) -> list[int]:
    """Indices of the points that can be dragged (freehand outlines move as a whole: none)."""
    if m.kind == "freehand":
        return []
    return list(range(len(m.points)))


def in_plane(view: vg.ViewLike, volume, cursor_lps, m: Measurement) -> bool:
    """True when every point of ``m`` lies within half a slice of ``view``'s plane through the cursor.

    ``view``: a view name or a frame (a single oblique image shown in its own plane).
    """
    if volume is None:
        return False
    n = vg.view_frame(view)[:, 2]
    if m.kind != "point" and abs(float(np.asarray(m.normal) @ n)) < 0.999:
        return False
    half = vg.slice_step(view, volume) / 2.0
    w0 = float(np.asarray(cursor_lps, float) @ n)
    w = np.asarray(m.points, float) @ n
    return bool(np.all(np.abs(w - w0) <= half + 1e-6))


class _Item:
    """VTK props of one drawn measurement."""

    def __init__(self, renderer) -> None:
        self.points = vtkPoints()
        self.lines = vtkCellArray()
        self.verts = vtkCellArray()
        self.poly = vtkPolyData()
        self.poly.SetPoints(self.points)
        self.poly.SetLines(self.lines)
        self.hpoints = vtkPoints()
        self.hpoly = vtkPolyData()
        self.hpoly.SetPoints(self.hpoints)
        self.hpoly.SetVerts(self.verts)
        self.actor = self._actor(self.poly)
        self.actor.GetProperty().SetLineWidth(2.0)
        self.handles = self._actor(self.hpoly)
        self.handles.GetProperty().SetPointSize(HANDLE_PX)
        self.text = vtkTextActor()
        tp = self.text.GetTextProperty()
        tp.SetFontSize(13)
        tp.SetFontFamilyToArial()
        tp.SetBold(True)
        tp.SetBackgroundColor(0.0, 0.0, 0.0)
        tp.SetBackgroundOpacity(0.55)
        tp.SetShadow(False)
        tp.SetVerticalJustificationToCentered()
        self.text.PickableOff()
        self.leader_points = vtkPoints()  # display px: label edge -> shape
        self.leader_points.SetNumberOfPoints(2)
        leader_lines = vtkCellArray()
        leader_lines.InsertNextCell(2)
        leader_lines.InsertCellPoint(0)
        leader_lines.InsertCellPoint(1)
        leader_poly = vtkPolyData()
        leader_poly.SetPoints(self.leader_points)
        leader_poly.SetLines(leader_lines)
        coord = vtkCoordinate()
        coord.SetCoordinateSystemToDisplay()
        leader_mapper = vtkPolyDataMapper2D()
        leader_mapper.SetInputData(leader_poly)
        leader_mapper.SetTransformCoordinate(coord)
        self.leader = vtkActor2D()
        self.leader.SetMapper(leader_mapper)
        self.leader.GetProperty().SetLineWidth(1.0)
        self.leader.PickableOff()
        self.leader.VisibilityOff()
        for prop in (self.actor, self.handles, self.text, self.leader):
            renderer.AddViewProp(prop)
        self.anchor = np.zeros(2)  # view (u, v) of the shape's rightmost point (label goes right of it)
        self.anchor_left = np.zeros(2)  # leftmost point (label goes left of it near the right edge)

    @staticmethod
    def _actor(poly: vtkPolyData) -> vtkActor:
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(poly)
        actor = vtkActor()
        actor.SetMapper(mapper)
        prop = actor.GetProperty()
        prop.LightingOff()
        actor.PickableOff()
        return actor

    def set_visible(self, on: bool) -> None:
        for prop in (self.actor, self.handles, self.text):
            prop.SetVisibility(on)
        if not on:
            self.leader.VisibilityOff()

    def remove(self, renderer) -> None:
        for prop in (self.actor, self.handles, self.text, self.leader):
            renderer.RemoveViewProp(prop)

    def show(self, view: vg.ViewLike, polylines: list[np.ndarray], handles: np.ndarray, text: str,
             colour: tuple[float, float, float]) -> None:
        self.points.Reset()
        self.lines.Reset()
        for line in polylines:
            uv = vg.lps_to_view(view, line)
            first = self.points.GetNumberOfPoints()
            for u, v, _ in uv:
                self.points.InsertNextPoint(u, v, _Z)
            self.lines.InsertNextCell(len(uv))
            for i in range(len(uv)):
                self.lines.InsertCellPoint(first + i)
        self.points.Modified()
        self.lines.Modified()
        self.poly.Modified()
        self.hpoints.Reset()
        self.verts.Reset()
        for u, v, _ in vg.lps_to_view(view, handles) if len(handles) else []:
            self.verts.InsertNextCell(1)
            self.verts.InsertCellPoint(self.hpoints.InsertNextPoint(u, v, _Z + 0.1))
        self.hpoints.Modified()
        self.verts.Modified()
        self.hpoly.Modified()
        self.actor.GetProperty().SetColor(*colour)
        self.handles.GetProperty().SetColor(*colour)
        self.text.GetTextProperty().SetColor(*colour)
        self.leader.GetProperty().SetColor(*colour)
        self.text.SetInput(text)
        allp = np.vstack([vg.lps_to_view(view, line) for line in polylines]) if polylines else np.zeros((1, 3))
        self.outline_uv = allp[:, :2].copy()  # the drawn shape (view mm): the leader goes to its nearest point
        right = int(np.argmax(allp[:, 0]))
        self.anchor = allp[right, :2].copy()
        self.anchor_left = allp[int(np.argmin(allp[:, 0])), :2].copy()
        self.set_visible(True)
        self.text.SetVisibility(bool(text))


class MeasurementLayer:
    """Measurements of a study drawn in one slice view; the caller supplies the label texts."""

    def __init__(self, slice_view) -> None:
        self.sv = slice_view
        self._items: dict[str, _Item] = {}
        self._preview = _Item(slice_view.renderer)
        self._preview.set_visible(False)
        self.visible_ids: list[str] = []

    def update(self, measurements, texts: dict[str, str], selected: str | None = None) -> None:
        """Draw the measurements that lie in the current plane; hide the others."""
        sv = self.sv
        seen = set()
        self.visible_ids = []
        for m in measurements:
            seen.add(m.id)
            item = self._items.get(m.id)
            if item is None:
                item = self._items[m.id] = _Item(sv.renderer)
            if not in_plane(sv.geom, sv.volume, sv.cursor, m):
                item.set_visible(False)
                continue
            self.visible_ids.append(m.id)
            pts = np.asarray(m.points, float)
            if m.kind == "point":
                lines = self._cross(pts[0])
            else:
                lines = outline_lps(m.kind, pts, m.normal)
            handles = pts[handle_points(m)] if handle_points(m) else np.zeros((0, 3))
            item.show(sv.geom, lines, handles, texts.get(m.id, ""), COLOURS["selected" if m.id == selected else "normal"])
        for mid in list(self._items):
            if mid not in seen:
                self._items.pop(mid).remove(sv.renderer)
        self.place_labels()

    def set_preview(self, kind: str | None, points, normal=(0.0, 0.0, 1.0), text: str = "") -> None:
        """Draw a measurement being placed (``kind`` None hides it)."""
        if kind is None or not len(points):
            self._preview.set_visible(False)
            return
        pts = np.asarray(points, float)
        lines = self._cross(pts[0]) if kind == "point" else outline_lps(kind, pts, normal)
        if kind == "freehand":  # open while drawing
            lines = [pts]
        self._preview.show(self.sv.geom, lines, pts if kind != "freehand" else np.zeros((0, 3)), text, COLOURS["preview"])
        self.place_labels()

    def _cross(self, p: np.ndarray) -> list[np.ndarray]:
        k = self.sv.world_per_pixel() * 6.0
        f = vg.view_frame(self.sv.geom)
        return [np.array([p - f[:, 0] * k, p + f[:, 0] * k]), np.array([p - f[:, 1] * k, p + f[:, 1] * k])]

    def place_labels(self) -> None:
        """Keep labels 10 px beside their shapes at any zoom, not over each other and inside the view;
        a label pushed away from its shape gets a leader line to it (call before each render)."""
        sv = self.sv
        width, height = sv.renderer.GetSize()
        placed: list[tuple[float, float, float, float]] = []
        for item in (*self._items.values(), self._preview):
            if not item.text.GetVisibility():
                item.leader.VisibilityOff()
                continue
            lines = (item.text.GetInput() or "").split("\n")
            text_w = 7.6 * max(len(t) for t in lines)  # 13 px bold Arial, about 7.6 px a character
            text_h = 16.0 * len(lines)
            tp = item.text.GetTextProperty()
            x, y = sv.view_to_display(*item.anchor)
            left = x + LABEL_GAP_PX + text_w > width - 4  # no room on the right: put it left of the shape
            if left:  # right-aligned: its end keeps the gap whatever the real text width
                x, y = sv.view_to_display(*item.anchor_left)
                x0 = x - LABEL_GAP_PX - text_w
                tp.SetJustificationToRight()
            else:
                x0 = x + LABEL_GAP_PX
                tp.SetJustificationToLeft()
            x0 = float(np.clip(x0, 4.0, max(width - 4.0 - text_w, 4.0)))  # small views: stay inside
            y = float(np.clip(y, text_h / 2 + 2, max(height - text_h / 2 - 2, text_h / 2 + 2)))
            if left and x0 + text_w > width - 4:  # wider than the view: its start, from the left edge
                left = False
                tp.SetJustificationToLeft()
            y = self._free_y(placed, x0, y, text_w, text_h, height)
            placed.append((x0, y - text_h / 2, x0 + text_w, y + text_h / 2))
            item.text.SetDisplayPosition(int(x0 + text_w if left else x0), int(y))
            item.label_box = (x0, y - text_h / 2, x0 + text_w, y + text_h / 2)  # display px (estimated width)
            self._place_leader(item, item.label_box)

    @staticmethod
    def _free_y(placed, x0: float, y: float, text_w: float, text_h: float, height: float) -> float:
        """``y`` moved down (or, when that leaves the view, up) past the labels already placed."""
        def overlap(yy):
            return next((r for r in placed if x0 < r[2] and r[0] < x0 + text_w
                         and yy - text_h / 2 < r[3] and r[1] < yy + text_h / 2), None)

        def moved(direction: int) -> float:
            yy = y
            for _ in range(12):
                hit = overlap(yy)
                if hit is None:
                    break
                yy = hit[1] - text_h / 2 - 2 if direction < 0 else hit[3] + text_h / 2 + 2
            return yy

        down = moved(-1)  # display y grows upwards: down first, as before
        if down - text_h / 2 >= 0 or overlap(down) is not None:
            return down
        up = moved(1)
        return up if up + text_h / 2 <= height and overlap(up) is None else down

    def _place_leader(self, item: _Item, box: tuple[float, float, float, float]) -> None:
        """A line from the label's box to the nearest point of its shape, when they are apart."""
        sv = self.sv
        shape = np.array([sv.view_to_display(u, v) for u, v in item.outline_uv])
        x0, y0, x1, y1 = box
        nearest_on_box = np.stack([np.clip(shape[:, 0], x0, x1), np.clip(shape[:, 1], y0, y1)], -1)
        gaps = np.linalg.norm(shape - nearest_on_box, axis=1)
        i = int(np.argmin(gaps))
        if gaps[i] <= LEADER_MIN_PX:
            item.leader.VisibilityOff()
            return
        (ax, ay), (bx, by) = nearest_on_box[i], shape[i]
        item.leader_points.SetPoint(0, float(ax), float(ay), 0.0)
        item.leader_points.SetPoint(1, float(bx), float(by), 0.0)
        item.leader_points.Modified()
        item.leader.VisibilityOn()

    def handle_at(self, measurements, x: float, y: float, radius: float = HANDLE_PX + 2,
                  tool: str | None = None) -> tuple[str, int] | None:
        """``(measurement id, point index)`` of the visible handle nearest display point ``(x, y)``.

        With ``tool``, only handles that tool grabs (:func:`~meddiag_desktop.core.placement.grabs_handle`:
        an ROI tool starts a new region on a caliper's end).
        """
        from meddiag_desktop.core.placement import grabs_handle

        best, best_d = None, radius
        by_id = {m.id: m for m in measurements}
        for mid in self.visible_ids:
            m = by_id.get(mid)
            if m is None or (tool is not None and not grabs_handle(tool, m.kind)):
                continue
            for i in handle_points(m):
                dx, dy = self.sv.lps_to_display(m.points[i]) - np.array([x, y])
                d = float(np.hypot(dx, dy))
                if d <= best_d:
                    best, best_d = (mid, i), d
        return best
