"""Warnings dock: the loaded volume's warnings and the files the scan skipped, with reasons."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDockWidget, QListWidget, QListWidgetItem, QWidget

__all__ = ["WarningsPanel"]


class WarningsPanel(QDockWidget):
    """Shown automatically when there is something to say; geometry problems are never silent."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Warnings", parent)
        self.setObjectName("warnings_panel")
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.setWidget(self.list)
        self.volume_warnings: list[str] = []
        self.skipped: list[tuple[str, str]] = []

    def set_volume_warnings(self, warnings: list[str]) -> None:
        self.volume_warnings = list(warnings)
        self._refresh()

    def set_skipped(self, skipped) -> None:
        """``skipped``: SkippedFile(path, reason) items from ``scan``."""
        self.skipped = [(str(s.path), str(s.reason)) for s in skipped]
        self._refresh()

    def count(self) -> int:
        return len(self.volume_warnings) + len(self.skipped)

    def _refresh(self) -> None:
        self.list.clear()
        for w in self.volume_warnings:
            item = QListWidgetItem(f"\u26a0  {w}")
            item.setForeground(QColor("#f0c060"))
            self.list.addItem(item)
        for path, reason in self.skipped[:500]:
            item = QListWidgetItem(f"skipped  {path}: {reason}")
            item.setForeground(QColor("#a0a8b0"))
            self.list.addItem(item)
        if len(self.skipped) > 500:
            self.list.addItem(f"... and {len(self.skipped) - 500} more skipped files")
        self.setWindowTitle(f"Warnings ({self.count()})" if self.count() else "Warnings")
        self.setVisible(self.count() > 0)
