"""Status-bar progress bar with a Cancel button for the running background task."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

__all__ = ["LoadProgress", "PartialVolumes"]


class PartialVolumes(QObject):
    """Carries ``io.load``'s ``on_partial(volume, filled)`` calls from the loading thread to the UI thread.

    Make it on the UI thread and pass :meth:`__call__` as ``on_partial``; :attr:`arrived` is then
    delivered (queued) on the UI thread with the volume filling in and the flags of the slices in.
    """

    arrived = Signal(object, object)

    def __call__(self, volume, filled) -> None:
        self.arrived.emit(volume, filled)


class LoadProgress(QWidget):
    """Hidden when idle; :attr:`cancel_requested` fires when the user clicks Cancel."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("load_progress")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel(self)
        self.bar = QProgressBar(self)
        self.bar.setFixedWidth(220)
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel_requested)
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel_button)
        self.hide()

    def begin(self, text: str) -> None:
        self.label.setText(text)
        self.bar.setRange(0, 0)  # busy until the first progress report
        self.cancel_button.setEnabled(True)
        self.show()

    def set_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))

    def end(self) -> None:
        self.hide()
