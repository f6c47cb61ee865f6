"""Window/level preset combo box: the file's DICOM presets, then the named CT presets."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QWidget

from meddiag_desktop.core import WindowPreset
from meddiag_desktop.core import view_geometry as vg
from meddiag_desktop.qt.viewer_state import ViewerState

__all__ = ["WindowPresetCombo"]

_CUSTOM = "Custom"


class WindowPresetCombo(QComboBox):
    """Choosing an entry sets the state's window exactly; dragging W/L shows "Custom"."""

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("window_presets")
        self.setToolTip("Window / level preset (right-drag in a slice view to adjust)")
        self.setMinimumContentsLength(22)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.state = state
        self.presets: list[WindowPreset] = []
        self.user_presets = None  #: a UserPresets whose presets are listed after the built-in ones
        self._updating = False
        state.volume_changed.connect(self._on_volume)
        state.window_changed.connect(self._on_window)
        self.activated.connect(self._on_activated)
        self._on_volume(None)

    def reload(self) -> None:
        """Rebuild the list (after the user saved a preset)."""
        self._on_volume(self.state.volume)
        self._on_window(*self.state.window)

    def _on_volume(self, volume) -> None:
        self._updating = True
        self.clear()
        self.presets = [] if volume is None else vg.window_presets_for(volume)
        mine = self.user_presets.for_modality(volume.modality) if (volume is not None and self.user_presets) else []
        builtin = len(self.presets)
        self.presets = self.presets + mine
        for i, p in enumerate(self.presets):
            own = p not in vg.NAMED_PRESETS
            tag = "  (mine)" if i >= builtin else ("  (file)" if own else "")
            label = f"{p.name}  {p.width:.0f}/{p.level:.0f}" + tag
            self.addItem(label)
        self.addItem(_CUSTOM)
        self.setEnabled(volume is not None and not volume.is_rgb)
        self._updating = False

    def select_preset(self, name: str) -> None:
        """Apply the preset named ``name`` (as a user choosing it)."""
        for i, p in enumerate(self.presets):
            if p.name.lower() == name.lower():
                self.setCurrentIndex(i)
                self._on_activated(i)
                return
        raise ValueError(f"no window preset named {name!r}; have {', '.join(p.name for p in self.presets)}")

    def _on_activated(self, index: int) -> None:
        if 0 <= index < len(self.presets):
            self.state.apply_preset(self.presets[index])

    def _on_window(self, width: float, level: float) -> None:
        if self._updating:
            return
        match = next((i for i, p in enumerate(self.presets) if (p.width, p.level) == (width, level)), None)
        self.setCurrentIndex(self.count() - 1 if match is None else match)
