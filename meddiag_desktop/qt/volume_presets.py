"""3D rendering preset combo box (CT bone, CT soft tissue, MIP, MR T1, MR angiography MIP)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QWidget

from meddiag_desktop.render.volume_view import MR_PRESETS, PRESETS

__all__ = ["VolumePresetCombo"]


class VolumePresetCombo(QComboBox):
    """Emits ``currentTextChanged`` with the preset name; the 3D view applies it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("volume_presets")
        self.setToolTip("3D rendering preset")
        self.addItems(list(PRESETS))

    def suggest_for(self, volume) -> None:
        """Switch between the CT and MR families when a study of the other modality opens
        (a CT preset on an MR shows noise; the user's choice within a family is kept)."""
        if volume is None:
            return
        current = self.currentText()
        if volume.modality == "MR" and current not in MR_PRESETS:
            self.setCurrentText(MR_PRESETS[0])
        elif volume.modality == "CT" and current in MR_PRESETS:
            self.setCurrentText(PRESETS[0])
