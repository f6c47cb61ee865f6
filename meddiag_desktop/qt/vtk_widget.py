"""QVTKRenderWindowInteractor on PySide6, with coalesced rendering and image capture."""

from __future__ import annotations

import numpy as np
import vtkmodules.qt

vtkmodules.qt.PyQtImpl = "PySide6"  # never let VTK probe for PyQt5/6

import vtkmodules.vtkInteractionStyle  # noqa: E402,F401  (default interactor styles)
import vtkmodules.vtkRenderingOpenGL2  # noqa: E402,F401
from PySide6.QtCore import QTimer, Signal  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor  # noqa: E402
from vtkmodules.util.numpy_support import vtk_to_numpy  # noqa: E402
from vtkmodules.vtkCommonSystem import vtkTimerLog  # noqa: E402
from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter  # noqa: E402

__all__ = ["VtkWidget"]

# VTK stamps every render's start and end in a global event log nobody reads here (two
# clock system calls per renderer and prop per frame): a few percent of a slice frame.
vtkTimerLog.LoggingOff()


class VtkWidget(QVTKRenderWindowInteractor):
    """A VTK render window in a Qt widget.

    :meth:`request_render` coalesces many updates into one render per event-loop
    pass: it asks Qt for a paint (``update()``), which Qt merges with the paints it
    wants itself after a show, expose or resize, so a change and a resize in the same
    pass cost one render, not two (a CPU ray-cast 3D frame is 0.1-0.3 s on software GL);
    :meth:`render_now` renders immediately; :meth:`capture` returns the
    rendered pixels as a QImage (QWidget.grab cannot see GL content).
    """

    rendered = Signal()  #: after each frame (e.g. to do deferred work once a study is on screen)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._render_pending = False
        self._update_queued = False  # update() was called: Qt owes a paint
        self._skip_paint = False  # ... and render_now() has drawn that frame already
        self.render_count = 0
        self.suppress_paint = False  #: set while the window is grabbed: capture() has the pixels
        # Multisampling makes every frame ~4x slower on software GL (Mesa llvmpipe) and
        # buys nothing for images; lines stay 1 px.
        self.render_window.SetMultiSamples(0)
        # Initialize() would render a blank frame into a window not yet shown (creating its GL
        # context then): the first real paint does that, once, at the window's size.
        self._Iren.EnableRenderOff()
        self.Initialize()
        self._Iren.EnableRenderOn()

    @property
    def render_pending(self) -> bool:
        """A render was requested and has not happened yet."""
        return self._render_pending

    @property
    def render_window(self):
        return self.GetRenderWindow()

    def request_render(self, delay_ms: int = 0) -> None:
        """Render once control returns to the event loop (after ``delay_ms``); repeated calls coalesce."""
        if not self._render_pending:
            self._render_pending = True
            if delay_ms > 0:
                QTimer.singleShot(delay_ms, self, self._deferred_render)
            else:
                self._queue_update()

    def _deferred_render(self) -> None:
        if self._render_pending:
            self._queue_update()

    def _queue_update(self) -> None:
        self._update_queued, self._skip_paint = True, False
        self.update()

    def render_now(self) -> None:
        # A paint Qt still owes for a requested change would draw this same frame again
        # (a slice step drawn at once, then painted): that paint is skipped.
        self._skip_paint, self._update_queued = self._update_queued, False
        self._render_pending = False
        if self.isVisible() and self.width() > 0 and self.height() > 0:
            self.before_render()
            self.render_window.Render()
            self.render_count += 1
            self.rendered.emit()

    def before_render(self) -> None:
        """Hook for subclasses (e.g. to refit the camera)."""

    def display_pos(self, x: float, y: float) -> tuple[float, float]:
        """VTK display coordinates (pixels, origin bottom left) of widget position ``(x, y)``."""
        scale = self._getPixelRatio()
        return (x * scale, (self.height() - y - 1) * scale)

    def widget_pos(self, dx: float, dy: float) -> tuple[float, float]:
        """Widget position of VTK display point ``(dx, dy)`` (inverse of :meth:`display_pos`)."""
        scale = self._getPixelRatio()
        return (dx / scale, self.height() - 1 - dy / scale)

    def capture(self) -> QImage:
        """The rendered image of this view (renders first if an update is pending or never rendered)."""
        arr = self.capture_array()
        h, w, _ = arr.shape
        return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()

    def capture_array(self) -> np.ndarray:
        """The rendered pixels as a ``(height, width, 3)`` uint8 array, top row first (see :meth:`capture`)."""
        if self._render_pending or self.render_count == 0:
            self.render_now()
        f = vtkWindowToImageFilter()
        f.SetInput(self.render_window)
        f.SetInputBufferTypeToRGB()
        f.ReadFrontBufferOff()
        f.ShouldRerenderOff()
        f.Update()
        img = f.GetOutput()
        w, h, _ = img.GetDimensions()
        return np.ascontiguousarray(vtk_to_numpy(img.GetPointData().GetScalars()).reshape(h, w, 3)[::-1])

    def paintEvent(self, ev) -> None:  # noqa: N802 - Qt override
        if self.suppress_paint:
            return
        skip, self._skip_paint = self._skip_paint, False
        if skip and not self._render_pending:
            return  # the frame asked for was drawn by render_now() since
        self.render_now()  # not super(): render_now refits the camera (before_render) and counts

    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt override
        self._skip_paint = False  # the paint after a resize draws at the new size
        super().resizeEvent(ev)

    def showEvent(self, ev) -> None:  # noqa: N802 - Qt override
        self._skip_paint = False
        super().showEvent(ev)

    def closeEvent(self, evt) -> None:  # noqa: N802 - Qt override
        self._render_pending = False
        super().closeEvent(evt)
