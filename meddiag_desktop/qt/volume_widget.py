"""The 3D view widget: volume rendering of the state's volume, rotated with the mouse."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
from vtkmodules.vtkRenderingAnnotation import vtkCornerAnnotation

from meddiag_desktop.qt.viewer_state import ViewerState
from meddiag_desktop.qt.vtk_widget import VtkWidget
from meddiag_desktop.render.volume_view import VolumeView

__all__ = ["VolumeViewWidget"]

#: a new study's first frame is a draft (unshaded, see VolumeView.set_volume); the full
#: frame follows this long after it, unless the user is already rotating
REFINE_AFTER_MS = 150
#: frames per second asked of the renderer while the view is turned (issue 18: at least 20
#: at 600x600 with the CPU ray caster); VTK times the ray casting alone, not the display
INTERACTIVE_UPDATE_RATE = 25.0


class VolumeViewWidget(VtkWidget):
    """Volume rendering (presets in :data:`meddiag_desktop.render.volume_view.PRESETS`)."""

    def __init__(self, state: ViewerState, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.setObjectName("volume_view")
        self.volume_view = VolumeView()
        self.render_window.AddRenderer(self.volume_view.renderer)
        style = vtkInteractorStyleTrackballCamera()
        self.SetInteractorStyle(style)
        self.SetDesiredUpdateRate(INTERACTIVE_UPDATE_RATE)  # coarser sampling while rotating
        self.SetStillUpdateRate(0.01)
        # the style asks for the interactive rate on a press and the still one on the release
        style.AddObserver("StartInteractionEvent", lambda *_: self.volume_view.set_interactive(True))
        style.AddObserver("EndInteractionEvent", lambda *_: self._end_interaction())
        self.label = vtkCornerAnnotation()
        self.label.SetMinimumFontSize(13)
        self.label.SetMaximumFontSize(13)
        self.label.GetTextProperty().SetColor(0.86, 0.88, 0.90)
        self.label.GetTextProperty().SetShadow(True)
        self.volume_view.renderer.AddViewProp(self.label)
        state.volume_changed.connect(self._on_volume)

    def _end_interaction(self) -> None:
        """The mouse was released: the next frame (which the style renders now) is full quality."""
        self.volume_view.set_interactive(False)

    def prewarm(self) -> None:
        """Render the empty scene once so the GL context exists before the study arrives (~0.3 s on software GL)."""
        if self.state.volume is None and self.isVisible() and self.render_count == 0:
            self.render_now()

    def _on_volume(self, volume) -> None:
        if volume is None:
            self.volume_view.set_volume(None)
            self.label.ClearAllTexts()
        else:
            if self.isVisible() and self.render_count == 0:
                self.render_now()  # make the GL context so the mapper choice can see the renderer
            self.volume_view.set_volume(volume, self.render_window, draft=True)
            self._update_label()
            if self.volume_view.draft:
                self.rendered.connect(self._schedule_refine, Qt.ConnectionType.SingleShotConnection)
        self.request_render()

    def _schedule_refine(self) -> None:
        QTimer.singleShot(REFINE_AFTER_MS, self, self.refine)

    def refine(self) -> None:
        """Replace the draft first frame of a study by the full-quality one."""
        if self.volume_view.refine():
            self.request_render()

    def set_preset(self, name: str) -> None:
        self.volume_view.set_preset(name)
        self._update_label()
        self.request_render()

    def reset_camera(self) -> None:
        self.volume_view.reset_camera()
        self.request_render()

    def _update_label(self) -> None:
        vv = self.volume_view
        if vv.volume is None:
            return
        if vv.volume.is_rgb:
            self.label.SetText(2, "3D: not available for colour images")
            return
        self.label.SetText(3, f"3D  {vv.preset}")
        self.label.SetText(1, f"{vv.mapper_kind.upper()} ray cast")
        self.label.SetText(7, "S")  # camera from anterior, Superior up
        self.label.SetText(6, "R")
        self.label.SetText(5, "L")
