"""Cine: play through the slices of one view at a chosen rate; any interaction in a view stops it."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QToolButton, QWidget

from meddiag_desktop.core import view_geometry as vg

__all__ = ["CineControl"]


class CineControl(QWidget):
    """Play/stop button and frames-per-second spin box; steps ``view`` one slice per frame, looping."""

    playing_changed = Signal(bool)

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.view = vg.AXIAL
        self.button = QToolButton()
        self.button.setText("\u25b6 Cine")
        self.button.setCheckable(True)
        self.button.setToolTip("Play through the slices of the view under the mouse (Space); any click or key stops")
        self.button.toggled.connect(self._toggled)
        self.fps = QSpinBox()
        self.fps.setRange(1, 60)
        self.fps.setValue(10)
        self.fps.setSuffix(" fps")
        self.fps.setToolTip("Cine rate (slices per second)")
        self.fps.valueChanged.connect(lambda v: self._timer.setInterval(int(1000 / v)))
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addWidget(self.button)
        lay.addWidget(self.fps)
        lay.addWidget(QLabel(""))
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._step)
        state.user_interacted.connect(self.stop)
        state.volume_changed.connect(lambda _v: self.stop())

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def play(self, view: str | None = None) -> None:
        if view is not None:
            self.view = view
        if self.state.volume is not None:
            self.button.setChecked(True)

    def stop(self) -> None:
        self.button.setChecked(False)

    def toggle(self, view: str | None = None) -> None:
        if self.playing:
            self.stop()
        else:
            self.play(view)

    def _toggled(self, on: bool) -> None:
        if on and self.state.volume is not None:
            self._timer.start(int(1000 / self.fps.value()))
            self.button.setText("\u25a0 Stop")
        else:
            self._timer.stop()
            self.button.setText("\u25b6 Cine")
            if on:
                self.button.setChecked(False)
        self.playing_changed.emit(self._timer.isActive())

    def _step(self) -> None:
        vol = self.state.volume
        if vol is None:
            self.stop()
            return
        info = vg.slice_info(self.view, vol, self.state.cursor)
        if info.index >= info.count - 1:
            self.state.step_slice(self.view, -info.count)  # loop back to the first slice
        else:
            self.state.step_slice(self.view, 1)
