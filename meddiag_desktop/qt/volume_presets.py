"""3D rendering preset combo box (CT bone, CT soft tissue, MIP)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QWidget

from meddiag_desktop.render.volume_view import PRESETS

__all__ = ["VolumePresetCombo"]


class VolumePresetCombo(QComboBox):
    """Emits ``currentTextChanged`` with the preset name; the 3D view applies it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("volume_presets")
        self.setToolTip("3D rendering preset")
        self.addItems(list(PRESETS))
