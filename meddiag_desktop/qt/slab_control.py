"""Thick-slab control on the view tool bar: projection (thin slice, MIP, MinIP, average) and thickness (mm)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QWidget

from meddiag_desktop.core.slab import MODE_LABELS, MODES, Slab

__all__ = ["SlabControl", "THIN"]

THIN = "Thin"  #: the combo entry for an ordinary (thin) slice


class SlabControl(QWidget):
    """Emits :attr:`slab_changed` with a :class:`~meddiag_desktop.core.slab.Slab`, or ``None`` for thin slices."""

    slab_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("slab_control")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        lay.addWidget(QLabel(" Slab "))
        self.mode = QComboBox(self)
        self.mode.setObjectName("slab_mode")
        self.mode.setToolTip("Thick slab of the 2D views: maximum (MIP), minimum (MinIP) or average intensity")
        self.mode.addItem(THIN, None)
        for m in MODES:
            self.mode.addItem(MODE_LABELS[m], m)
        lay.addWidget(self.mode)
        self.thickness = QDoubleSpinBox(self)
        self.thickness.setObjectName("slab_thickness")
        self.thickness.setToolTip("Slab thickness along the view normal (mm)")
        self.thickness.setRange(0.5, 200.0)
        self.thickness.setDecimals(1)
        self.thickness.setSingleStep(1.0)
        self.thickness.setSuffix(" mm")
        self.thickness.setValue(10.0)
        lay.addWidget(self.thickness)
        self.mode.currentIndexChanged.connect(lambda _=0: self._emit())
        self.thickness.valueChanged.connect(lambda _=0.0: self._emit())
        self._emit()

    def slab(self) -> Slab | None:
        mode = self.mode.currentData()
        return None if mode is None else Slab(mode, float(self.thickness.value()))

    def set_slab(self, slab: Slab | None) -> None:
        """Show ``slab`` in the controls (emits :attr:`slab_changed` once)."""
        self.thickness.blockSignals(True)
        if slab is not None:
            self.thickness.setValue(slab.thickness)
        self.thickness.blockSignals(False)
        index = self.mode.findData(None if slab is None else slab.mode)
        if index == self.mode.currentIndex():
            self._emit()
        else:
            self.mode.setCurrentIndex(index)

    def cycle(self) -> None:
        """Next projection: thin, MIP, MinIP, average, thin..."""
        self.mode.setCurrentIndex((self.mode.currentIndex() + 1) % self.mode.count())

    def _emit(self) -> None:
        self.thickness.setEnabled(self.mode.currentData() is not None)
        self.slab_changed.emit(self.slab())
