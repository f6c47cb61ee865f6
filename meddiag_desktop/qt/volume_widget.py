"""The 3D view widget: volume rendering of the state's volume, rotated with the mouse."""

from __future__ import annotations

from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
from vtkmodules.vtkRenderingAnnotation import vtkCornerAnnotation

from meddiag_desktop.qt.viewer_state import ViewerState
from meddiag_desktop.qt.vtk_widget import VtkWidget
from meddiag_desktop.render.volume_view import VolumeView

__all__ = ["VolumeViewWidget"]


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
        self.SetDesiredUpdateRate(12.0)  # coarser sampling while rotating
        self.SetStillUpdateRate(0.01)
        self.label = vtkCornerAnnotation()
        self.label.SetMinimumFontSize(13)
        self.label.SetMaximumFontSize(13)
        self.label.GetTextProperty().SetColor(0.86, 0.88, 0.90)
        self.label.GetTextProperty().SetShadow(True)
        self.volume_view.renderer.AddViewProp(self.label)
        state.volume_changed.connect(self._on_volume)

    def _on_volume(self, volume) -> None:
        if volume is None:
            self.volume_view.set_volume(None)
            self.label.ClearAllTexts()
        else:
            if self.isVisible() and self.render_count == 0:
                self.render_now()  # make the GL context so the mapper choice can see the renderer
            self.volume_view.set_volume(volume, self.render_window)
            self._update_label()
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
