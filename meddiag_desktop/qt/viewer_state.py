"""The viewer's model: current volume, cursor point and window; views subscribe to its signals."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from meddiag_desktop.core import Volume, WindowPreset
from meddiag_desktop.core import view_geometry as vg
from meddiag_desktop.core.annotations import MeasurementStore
from meddiag_desktop.core.history import Command, UndoStack

__all__ = ["ViewerState"]


class ViewerState(QObject):
    """What every view shows. Setters clamp and emit; views never talk to each other."""

    volume_changed = Signal(object)  #: Volume or None
    cursor_changed = Signal(object)  #: LPS numpy array (3,)
    window_changed = Signal(float, float)  #: width, level
    hover_changed = Signal(object, object, str)  #: LPS point (or None), value (or None), view name
    measurements_changed = Signal(str, object)  #: event ("added"/"removed"/"changed"), Measurement
    tool_changed = Signal(str)  #: "navigate" or a measurement kind
    selection_changed = Signal(object)  #: selected measurement id or None
    history_changed = Signal()
    user_interacted = Signal()  #: any mouse/key action in a view (stops cine)
    camera_changed = Signal(str)  #: a view's zoom or pan changed (view name)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.volume: Volume | None = None
        self.cursor = np.zeros(3)
        self.window = (400.0, 40.0)
        self.source: str = ""  #: path the volume came from
        self.history = UndoStack()  #: every undoable edit: measurements, window/level
        self.measurements = MeasurementStore(self.history)
        self.measurements.subscribe(lambda event, m: self.measurements_changed.emit(event, m))
        self.history.subscribe(self.history_changed.emit)
        self.tool = "navigate"
        self.selected: str | None = None
        self._texts: dict[str, tuple[tuple, str]] = {}

    def text_for(self, m) -> str:
        """Label text of a measurement (cached: ROI statistics are computed once per shape)."""
        from meddiag_desktop.core.measurements import measurement_text

        key = (tuple(m.points), m.label, m.kind)
        hit = self._texts.get(m.id)
        if hit is None or hit[0] != key:
            hit = self._texts[m.id] = (key, measurement_text(self.volume, m))
        return hit[1]

    def set_tool(self, tool: str) -> None:
        """``"navigate"`` or a measurement kind (``"distance"``, ``"angle"``, ...)."""
        if tool != self.tool:
            self.tool = tool
            self.tool_changed.emit(tool)

    def select(self, mid: str | None) -> None:
        if mid != self.selected:
            self.selected = mid
            self.selection_changed.emit(mid)

    def commit_window(self, before: tuple[float, float], text: str = "Window/level") -> None:
        """Record the change from ``before`` to the current window as one undoable step."""
        after = tuple(self.window)
        if tuple(before) == after:
            return
        self.history.push(Command(f"{text} {after[0]:.0f}/{after[1]:.0f}", lambda: self.set_window(*after),
                                  lambda: self.set_window(*before)), already_done=True)

    def set_volume(self, volume: Volume | None, source: str = "") -> None:
        self.measurements.clear()  # measurements belong to a study; a session restores them
        self._texts.clear()
        self.history.clear()
        self.select(None)
        self.volume = volume
        self.source = source
        if volume is not None:
            preset = vg.default_window(volume)
            self.window = (preset.width, preset.level)
            self.cursor = volume.center_lps()
        self.volume_changed.emit(volume)
        if volume is not None:
            self.window_changed.emit(*self.window)
            self.cursor_changed.emit(self.cursor.copy())

    def set_cursor(self, lps: np.ndarray | tuple[float, float, float]) -> None:
        """Move the linked cursor (clamped into the volume)."""
        if self.volume is None:
            return
        self.cursor = vg.clamp_to_volume(self.volume, lps)
        self.cursor_changed.emit(self.cursor.copy())

    def step_slice(self, view: str, slices: int) -> None:
        """Move ``view``'s slice by ``slices`` (positive: Superior / Anterior / Left)."""
        if self.volume is None or slices == 0:
            return
        self.cursor = vg.step_cursor(view, self.volume, self.cursor, slices)
        self.cursor_changed.emit(self.cursor.copy())

    def set_window(self, width: float, level: float) -> None:
        self.window = (float(max(width, 1e-6)), float(level))
        self.window_changed.emit(*self.window)

    def apply_preset(self, preset: WindowPreset) -> None:
        before = self.window
        self.set_window(preset.width, preset.level)
        self.commit_window(before, preset.name)

    def hover(self, lps: np.ndarray | None, view: str = "") -> None:
        """Report the point under the mouse in ``view`` (``lps`` None when it leaves)."""
        value = None if (lps is None or self.volume is None) else self.volume.value_at(lps)
        self.hover_changed.emit(lps, value, view)

    def value_text(self, value: object) -> str:
        """Readout of a voxel value with its units (``-650 HU``)."""
        if value is None:
            return ""
        if isinstance(value, tuple):
            return "RGB " + ", ".join(str(c) for c in value)
        units = str(self.volume.metadata.get("units", "")) if self.volume is not None else ""
        v = float(value)  # type: ignore[arg-type]
        text = f"{v:.0f}" if v == int(v) else f"{v:.2f}"
        return f"{text} {units}".strip()
