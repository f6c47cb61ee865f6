"""History side panel: every undoable edit in order (like QUndoView); clicking a row goes back or forward to it."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

__all__ = ["HistoryPanel"]

_START = "<study opened>"


class HistoryPanel(QListWidget):
    """Row 0 is the state before any edit; row ``i`` the state after edit ``i``. Undone edits are grey."""

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("HistoryPanel")
        self.state = state
        self._filling = False
        state.history_changed.connect(self.refresh)
        state.volume_changed.connect(lambda _v: self.refresh())
        self.currentRowChanged.connect(self._go_to)
        self.refresh()

    def refresh(self) -> None:
        if getattr(self, "_moving", False):
            return
        h = self.state.history
        self._filling = True
        self.clear()
        if self.state.volume is None:  # nothing to edit yet
            self._filling = False
            return
        for i, text in enumerate([_START, *h.texts]):
            item = QListWidgetItem(text)
            if i > h.index:
                item.setForeground(QColor("#6b7076"))
            self.addItem(item)
        self.setCurrentRow(h.index)
        self._filling = False

    def _go_to(self, row: int) -> None:
        if self._filling or row < 0:
            return
        h = self.state.history
        self._moving = True
        try:
            while h.index > row and h.undo():
                pass
            while h.index < row and h.redo():
                pass
        finally:
            self._moving = False
            QTimer.singleShot(0, self.refresh)
