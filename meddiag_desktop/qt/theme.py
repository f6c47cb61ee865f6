"""Dark theme for reading rooms: Fusion style with a dark palette and a small stylesheet."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

__all__ = ["apply_dark_theme"]

_STYLESHEET = """
QMainWindow, QDockWidget { background: #1b1d20; }
QDockWidget::title { background: #25282c; padding: 4px; color: #c8ccd0; }
QToolBar { background: #202327; border: none; spacing: 6px; padding: 2px 4px; }
QStatusBar { background: #202327; color: #c8ccd0; }
QTreeWidget, QListWidget { background: #16181a; border: none; }
QFrame#view_frame { background: #000; border: 1px solid #33373c; }
QLabel#view_title { color: #000; font-weight: bold; padding: 0 6px; }
"""


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    p = QPalette()
    base, window, text = QColor("#16181a"), QColor("#1f2226"), QColor("#d6d9dc")
    p.setColor(QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorRole.WindowText, text)
    p.setColor(QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorRole.AlternateBase, window)
    p.setColor(QPalette.ColorRole.Text, text)
    p.setColor(QPalette.ColorRole.Button, QColor("#2a2e33"))
    p.setColor(QPalette.ColorRole.ButtonText, text)
    p.setColor(QPalette.ColorRole.Highlight, QColor("#3d6fb6"))
    p.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    p.setColor(QPalette.ColorRole.ToolTipBase, window)
    p.setColor(QPalette.ColorRole.ToolTipText, text)
    p.setColor(QPalette.ColorRole.PlaceholderText, QColor("#7d8288"))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7076"))
    app.setPalette(p)
    app.setStyleSheet(_STYLESHEET)
