"""A 2D slice view widget: draws a :class:`SliceView` and turns mouse/keys into state changes.

Mouse: left click/drag sets the linked cursor (or, with a measurement tool chosen,
places a measurement; dragging a measurement's handle edits it in any mode);
right drag changes window/level (one undo step per drag)
(right = wider, down = higher level); Shift+right drag or Ctrl+wheel zooms;
middle drag pans; wheel scrolls slices. Keys: Up/Down one slice,
PageUp/PageDown ten slices, Home/End first/last slice, R resets zoom and pan,
Escape cancels a measurement being placed, Delete removes the selected one.
Double-click (navigate tool) asks the window to maximise this view or restore the layout.
With a segment editor tool chosen (:attr:`SliceViewWidget.paint_tool`), left strokes paint instead.

Oblique MPR (:class:`~meddiag_desktop.core.view_geometry.ObliqueMPR`, shared by the
three views through :meth:`SliceViewWidget.attach_oblique`): Ctrl+left drag anywhere
in a view (any tool), or, with the navigate tool, a left drag that grabs a crosshair
line away from its centre (the outer part, as in RadiAnt and Horos), turns the
crosshair about the cursor and reslices the two other views; the View menu (key O)
resets it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QWheelEvent

from meddiag_desktop.core import view_geometry as vg
from meddiag_desktop.qt.errors import guarded
from meddiag_desktop.qt.viewer_state import ViewerState
from meddiag_desktop.qt.vtk_widget import VtkWidget
from meddiag_desktop.core.placement import Placement
from meddiag_desktop.core.view_geometry import ObliqueMPR
from meddiag_desktop.render.measurement_layer import MeasurementLayer
from meddiag_desktop.render.slice_view import SliceView

__all__ = ["SliceViewWidget", "PAGE_SLICES"]

PAGE_SLICES = 10  #: slices moved by PageUp / PageDown
ROTATE_GRAB_PX = 5.0  #: a press this close (display px) to a crosshair line ...
ROTATE_MIN_RADIUS_PX = 40.0  #: ... and at least this far from its centre grabs the line to rotate it
#: While another view scrolls, this one only redraws its crosshair this often (ms):
#: every view costs a full frame on software GL, and the scrolled view must stay 30+ fps.
LINKED_REDRAW_MS = 120


class SliceViewWidget(VtkWidget):
    """Shows one patient-oriented slice of ``state``'s volume and edits ``state``."""

    point_clicked = Signal(object)  #: LPS of a navigate-tool click (e.g. a location for AI)
    double_clicked = Signal(str)  #: view name (maximise / restore)

    def __init__(self, view: str, state: ViewerState, parent=None) -> None:
        super().__init__(parent)
        self.view = view
        self.state = state
        self.slice_view = SliceView(view)
        self.layer = MeasurementLayer(self.slice_view)
        self._placement: Placement | None = None
        self._edit: tuple[str, int, float] | None = None  # measurement id, point index, plane w
        self.render_window.AddRenderer(self.slice_view.renderer)
        self.setObjectName(f"{view}_view")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._drag: tuple[Qt.MouseButton, float, float, tuple[float, float], float] | None = None
        self._wheel_rest = 0
        self._size = (0, 0)
        #: takes left-button strokes first when it wants them (the segment editor: ``press(widget, lps) -> bool``,
        #: ``drag(widget, lps)``, ``release(widget)``)
        self.paint_tool = None
        self._painting = False
        self._rotating: float | None = None  # oblique MPR drag: last mouse angle (degrees) about the cursor
        self._rotate_click: np.ndarray | None = None  # LPS of a line grab that has not turned yet
        self.oblique = ObliqueMPR()  # own until the window shares one between its views
        self.oblique.subscribe(self._on_oblique)
        state.volume_changed.connect(self._on_volume)
        state.cursor_changed.connect(self._on_cursor)
        state.window_changed.connect(self._on_window)
        state.hover_changed.connect(self._on_hover)
        state.measurements_changed.connect(lambda *_: self.refresh_measurements())
        state.selection_changed.connect(lambda *_: self.refresh_measurements())
        state.tool_changed.connect(self._on_tool)

    # ----------------------------------------------------------- measurements
    def refresh_measurements(self) -> None:
        """Redraw the measurements lying in this view's plane and the one being placed."""
        if self.state.volume is None:
            self.layer.update([], {})
            self.layer.set_preview(None, [])
            return
        ms = list(self.state.measurements)
        self.layer.update(ms, {m.id: self.state.text_for(m) for m in ms}, self.state.selected)
        pl = self._placement
        if pl is not None and pl.active:
            kind, pts = pl.preview()
            text = ""
            try:
                from meddiag_desktop.core.measurements import Measurement, measurement_text

                text = measurement_text(self.state.volume, Measurement(kind, [tuple(p) for p in pts], pl.normal))
            except ValueError:  # not enough points yet
                pass
            self.layer.set_preview(kind, pts, pl.normal, text)
        else:
            self.layer.set_preview(None, [])
        self.request_render()

    def _on_tool(self, tool: str) -> None:
        self._placement = None
        self.setCursor(Qt.CursorShape.ArrowCursor if tool == "navigate" else Qt.CursorShape.CrossCursor)
        self.refresh_measurements()

    def _update_hover_cursor(self, p) -> None:
        """A move cursor over a handle (it can be dragged), else the tool's cursor."""
        px = self.display_pos(p.x(), p.y())
        over = self.layer.handle_at(self.state.measurements, *px, tool=self.state.tool) is not None
        rotate = not over and self.state.tool == "navigate" and self.over_rotate_handle(px)
        shape = (Qt.CursorShape.SizeAllCursor if over else Qt.CursorShape.OpenHandCursor if rotate else
                 Qt.CursorShape.ArrowCursor if self.state.tool == "navigate" else Qt.CursorShape.CrossCursor)
        if self.cursor().shape() != shape:
            self.setCursor(shape)

    def cancel_placement(self) -> bool:
        if self._placement is not None and self._placement.active:
            self._placement = Placement(self._placement.kind, self._placement.frame)
            self.refresh_measurements()
            return True
        return False

    def prewarm(self) -> None:
        """Draw a tiny image once so the GL shaders exist before the study arrives (saves ~0.1 s)."""
        if self.state.volume is not None or not self.isVisible():
            return
        import numpy as np
        from vtkmodules.vtkRenderingCore import vtkImageActor

        from meddiag_desktop.render.image_data import image_from_array

        actor = vtkImageActor()
        actor.GetMapper().SetInputData(image_from_array(np.zeros((1, 2, 2), np.int16), (1.0, 1.0, 1.0)))
        self.slice_view.renderer.AddViewProp(actor)
        self.render_now()
        self.slice_view.renderer.RemoveViewProp(actor)

    # ----------------------------------------------------------- oblique MPR
    def attach_oblique(self, model: ObliqueMPR) -> None:
        """Share ``model`` (the planes of all three views) with the other slice views."""
        self.oblique = model
        model.subscribe(self._on_oblique)
        self._on_oblique()

    def _on_oblique(self) -> None:
        sv = self.slice_view
        if sv.volume is None or sv.frame_override is not None or not sv.patient_geometry:
            return
        sv.set_oblique(self.oblique.frames() if self.oblique.is_oblique else None)
        self.refresh_measurements()
        self.request_render(0)

    def can_rotate(self) -> bool:
        """True when this view shows patient planes that can be turned (not a single image in its own plane)."""
        sv = self.slice_view
        return sv.volume is not None and sv.frame_override is None and sv.patient_geometry

    def _mouse_angle(self, px: tuple[float, float]) -> float:
        """Angle (degrees, counter-clockwise on screen) of display point ``px`` about the cursor."""
        cx, cy = self.slice_view.lps_to_display(self.state.cursor)
        return float(np.degrees(np.arctan2(px[1] - cy, px[0] - cx)))

    def over_rotate_handle(self, px: tuple[float, float]) -> bool:
        """True when display point ``px`` grabs a crosshair line to rotate it (navigate tool)."""
        sv = self.slice_view
        if not (self.can_rotate() and sv.crosshair_visible):
            return False
        c = sv.lps_to_display(self.state.cursor)
        rel = np.asarray(px, float) - c
        if float(np.hypot(*rel)) < ROTATE_MIN_RADIUS_PX:
            return False
        for d in sv._line_dirs:  # display has the same axes as (u, v), scaled
            if abs(float(rel[0] * d[1] - rel[1] * d[0])) <= ROTATE_GRAB_PX:
                return True
        return False

    def rotate_crosshair(self, angle_deg: float) -> None:
        """Turn this view's crosshair by ``angle_deg`` (counter-clockwise): reslices the other two views."""
        if self.can_rotate():
            self.oblique.rotate(self.view, angle_deg)

    # ----------------------------------------------------------- subscriptions
    def set_image(self, volume, image) -> None:
        """Show ``volume`` through the shared vtkImageData ``image``."""
        self.slice_view.set_volume(volume, image)
        self.slice_view.set_window(*self.state.window)
        self.oblique.reset()  # a new study opens in the standard planes
        self._size = (0, 0)
        self.request_render()

    def _on_volume(self, volume) -> None:
        if volume is None:
            self.slice_view.set_volume(None)
            self.request_render()

    def _on_cursor(self, lps) -> None:
        before = self.slice_view.slice_info()
        self.slice_view.set_cursor(lps)
        after = self.slice_view.slice_info()
        own_slice_moved = before is None or after is None or before.index != after.index
        if own_slice_moved:
            self.refresh_measurements()
        self.request_render(0 if own_slice_moved or self.hasFocus() else LINKED_REDRAW_MS)

    def _on_window(self, width: float, level: float) -> None:
        self.slice_view.set_window(width, level)
        self.request_render()

    def _on_hover(self, lps, value, view: str = "") -> None:
        text = ""
        if lps is not None and value is not None and view == self.view:  # only the view under the mouse
            text = self.state.value_text(value)
        if text != self.slice_view._readout:
            self.slice_view.set_readout(text)
            self.request_render()

    def before_render(self) -> None:
        size = (self.width(), self.height())
        if size != self._size:  # refit after a resize, keeping zoom/pan
            self._size = size
            self.slice_view.reset_camera()
        self.layer.place_labels()

    def step_slices(self, steps: int) -> None:
        """Move this view's slice by ``steps`` (a single image in its own plane: stays on the image;
        an oblique plane: along its own normal)."""
        frame = self.slice_view.frame_override
        if frame is None:
            self.state.step_slice(self.slice_view.geom, steps)
        elif self.state.volume is not None:
            self.state.set_cursor(vg.step_cursor(frame, self.state.volume, self.state.cursor, steps))

    # ------------------------------------------------------------------ mouse
    def _lps_at(self, ev) -> np.ndarray:
        p = ev.position()
        return self.slice_view.display_to_lps(*self.display_pos(p.x(), p.y()))

    @guarded("Mouse action")
    def mousePressEvent(self, ev: QMouseEvent) -> None:  # noqa: N802
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if self.state.volume is None:
            return
        self.state.user_interacted.emit()
        p = ev.position()
        self._drag = (ev.button(), p.x(), p.y(), self.state.window, self.slice_view.zoom)
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        if self.paint_tool is not None and self.paint_tool.press(self, self._lps_at(ev)):
            self._painting = True
            return
        px = self.display_pos(p.x(), p.y())
        pl = self._placement
        ctrl = bool(ev.modifiers() & Qt.KeyboardModifier.ControlModifier)
        idle = pl is None or not pl.active
        hit = self.layer.handle_at(self.state.measurements, *px, tool=self.state.tool) if idle else None
        if idle and self.can_rotate() and (ctrl or (
                hit is None and self.state.tool == "navigate" and self.over_rotate_handle(px))):
            self._rotating = self._mouse_angle(px)  # turn the crosshair (oblique MPR); handles come first
            self._rotate_click = None if ctrl else self._lps_at(ev)  # a plain click there still sets the cursor
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if idle:
            if hit is not None:  # grab a handle: edit, in any tool (an ROI tool only grabs its own kind)
                mid, index = hit
                m = self.state.measurements.get(mid)
                self._edit = (mid, index, float(np.asarray(m.points[index]) @ self.slice_view.frame[:, 2]))
                self.state.select(mid)
                return
        if self.state.tool != "navigate":
            if pl is None or pl.kind != self.state.tool:
                pl = self._placement = Placement(self.state.tool, self.slice_view.frame)
            pl.press(self._lps_at(ev), px)
            self.refresh_measurements()
            return
        self.state.select(None)
        self.state.set_cursor(self._lps_at(ev))
        self.point_clicked.emit(self.state.cursor.copy())

    @guarded("Mouse action")
    def mouseMoveEvent(self, ev: QMouseEvent) -> None:  # noqa: N802
        if self.state.volume is None:
            return
        p = ev.position()
        lps = self._lps_at(ev)
        self.state.hover(lps, self.view)
        if self._painting:
            self.paint_tool.drag(self, lps)
            return
        if self._rotating is not None:
            angle = self._mouse_angle(self.display_pos(p.x(), p.y()))
            delta = (angle - self._rotating + 180.0) % 360.0 - 180.0
            if delta == 0.0:
                return
            self._rotating = angle
            self._rotate_click = None
            self.rotate_crosshair(delta)
            return
        if self._edit is not None:
            mid, index, w = self._edit
            if mid in self.state.measurements:
                n = self.slice_view.frame[:, 2]
                lps = lps + n * (w - float(lps @ n))  # stay exactly in the measurement's plane
                old = self.state.measurements.get(mid)
                if old.kind == "ellipse" and index == 0:  # the centre moves the whole ellipse
                    shift = lps - np.asarray(old.points[0])
                    new = old
                    for i, q in enumerate(old.points):
                        new = new.moved(i, tuple(np.asarray(q) + shift))
                else:
                    new = old.moved(index, tuple(lps))
                self.state.measurements.update(new, merge=True)
            return
        if self._placement is not None and self._placement.active:
            down = bool(ev.buttons() & Qt.MouseButton.LeftButton)
            self._placement.move(lps, self.display_pos(p.x(), p.y()), down)
            self.refresh_measurements()
            return
        if self._drag is None:
            if self.paint_tool is not None:
                self.paint_tool.hover(self, lps)
            self._update_hover_cursor(p)
            return
        button, x0, y0, (w0, l0), z0 = self._drag
        dx, dy = p.x() - x0, p.y() - y0
        if button == Qt.MouseButton.LeftButton:
            if self.state.tool == "navigate":
                self.state.set_cursor(lps)
        elif button == Qt.MouseButton.RightButton and ev.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.slice_view.set_zoom(z0 * 1.01 ** (-dy))
            self.render_now()
        elif button == Qt.MouseButton.RightButton:
            sens = vg.wl_sensitivity(self.state.volume)
            self.state.set_window(*vg.drag_window_level(w0, l0, dx, dy, sens))
        elif button == Qt.MouseButton.MiddleButton:
            scale = self._getPixelRatio()
            self.slice_view.pan_by_display(dx * scale, -dy * scale)
            self._drag = (button, p.x(), p.y(), (w0, l0), z0)
            self.render_now()

    @guarded("Mouse action")
    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:  # noqa: N802
        drag, self._drag = self._drag, None
        if self._painting:
            self._painting = False
            self.paint_tool.release(self)
            return
        if self._rotating is not None:
            self._rotating = None
            self._update_hover_cursor(ev.position())
            click, self._rotate_click = self._rotate_click, None
            if click is not None:  # grabbed a crosshair line but did not turn it: an ordinary click
                self.state.select(None)
                self.state.set_cursor(click)
                self.point_clicked.emit(self.state.cursor.copy())
            return
        if drag is not None and drag[0] in (Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton):
            self.state.camera_changed.emit(self.view)
        if self._edit is not None:
            self._edit = None
            self.state.history.break_merge()  # the drag was one undo step
            return
        if drag is not None and drag[0] == Qt.MouseButton.RightButton:
            self.state.commit_window(drag[3])
            return
        pl = self._placement
        if pl is not None and ev.button() == Qt.MouseButton.LeftButton and self.state.volume is not None:
            p = ev.position()
            m = pl.release(self._lps_at(ev), self.display_pos(p.x(), p.y()))
            if m is not None:
                self.state.measurements.add(m)
                self.state.select(m.id)
            self.refresh_measurements()

    @guarded("Mouse action")
    def mouseDoubleClickEvent(self, ev: QMouseEvent) -> None:  # noqa: N802
        if self.state.tool == "navigate" and ev.button() == Qt.MouseButton.LeftButton and self._edit is None:
            self.double_clicked.emit(self.view)
            return
        self.mousePressEvent(ev)

    def leaveEvent(self, ev) -> None:  # noqa: N802
        self.state.hover(None, self.view)
        if self.paint_tool is not None:
            self.paint_tool.hover(self, None)

    def enterEvent(self, ev) -> None:  # noqa: N802
        # keys act on the view under the mouse, as in other radiology viewers
        if self.state.volume is not None and self.window().isActiveWindow():
            self.setFocus(Qt.FocusReason.MouseFocusReason)

    @guarded("Scroll")
    def wheelEvent(self, ev: QWheelEvent) -> None:  # noqa: N802
        if self.state.volume is None:
            return
        self.state.user_interacted.emit()
        self._wheel_rest += ev.angleDelta().y()
        steps = int(self._wheel_rest / 120)
        if steps == 0:
            return
        self._wheel_rest -= steps * 120
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            p = ev.position()
            self.slice_view.set_zoom(self.slice_view.zoom * 1.1**steps, self.display_pos(p.x(), p.y()))
            self.render_now()
            self.state.camera_changed.emit(self.view)
        else:
            self.step_slices(steps)

    @guarded("Key")
    def keyPressEvent(self, ev: QKeyEvent) -> None:  # noqa: N802
        if self.state.volume is None:
            return
        key = ev.key()
        if key == Qt.Key.Key_Escape:
            if not self.cancel_placement():
                self.state.set_tool("navigate")
            return
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.state.selected in self.state.measurements:
            self.state.measurements.remove(self.state.selected)
            self.state.select(None)
            return
        steps = {
            Qt.Key.Key_Up: 1,
            Qt.Key.Key_Down: -1,
            Qt.Key.Key_PageUp: PAGE_SLICES,
            Qt.Key.Key_PageDown: -PAGE_SLICES,
            Qt.Key.Key_Home: -1_000_000,
            Qt.Key.Key_End: 1_000_000,
        }.get(key)
        if steps is not None:
            self.state.user_interacted.emit()
            self.step_slices(steps)
        elif key == Qt.Key.Key_R:
            self.slice_view.zoom = 1.0
            self.slice_view.pan = np.zeros(2)
            self.slice_view.reset_camera()
            self.render_now()
        else:
            ev.ignore()

    def keyReleaseEvent(self, ev: QKeyEvent) -> None:  # noqa: N802
        ev.ignore()
