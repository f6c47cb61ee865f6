"""Keyboard shortcuts: defaults, the user's overrides from ``shortcuts.json``, and the ``?`` help overlay.

Users change keys by writing ``shortcuts.json`` in the config folder
(``$MEDDIAG_CONFIG_DIR`` or platformdirs' ``user_config_dir("meddiag-desktop")``)::

    {"tool.distance": "M", "cine.play": "Ctrl+P", "undo": "Ctrl+Z"}

Keys are action ids (listed in the help overlay and in :data:`DEFAULT_SHORTCUTS`);
values are Qt key sequences (``"Ctrl+Shift+Z"``, ``"F6"``, ``""`` to remove).
The file is read when the window opens; unknown ids and bad keys are reported
in the status bar, never fatal.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from meddiag_desktop.paths import user_config_dir

__all__ = ["DEFAULT_SHORTCUTS", "load_shortcuts", "shortcuts_path", "ShortcutHelp"]

#: action id -> (default key, description)
DEFAULT_SHORTCUTS: dict[str, tuple[str, str]] = {
    "tool.navigate": ("Esc", "Navigate tool (click sets the cursor)"),
    "tool.distance": ("D", "Distance (mm)"),
    "tool.angle": ("A", "Angle (degrees)"),
    "tool.ellipse": ("E", "Ellipse ROI (area, mean ± SD)"),
    "tool.freehand": ("F", "Freehand ROI (area, mean ± SD)"),
    "tool.point": ("P", "Point probe (value)"),
    "tool.nodule_axes": ("N", "Nodule long / short axis"),
    "undo": ("Ctrl+Z", "Undo"),
    "redo": ("Ctrl+Shift+Z", "Redo"),
    "session.save": ("Ctrl+S", "Save session"),
    "layout.2x2": ("F1", "Layout 2x2 (four views)"),
    "layout.axial": ("F2", "Axial only"),
    "layout.coronal": ("F3", "Coronal only"),
    "layout.sagittal": ("F4", "Sagittal only"),
    "layout.3d": ("F5", "3D only"),
    "layout.1x3": ("F6", "Layout 1x3 (three slice views)"),
    "cine.play": ("Space", "Cine play / stop (view under the mouse)"),
    "help.shortcuts": ("?", "This help"),
    "wl.save": ("Ctrl+Shift+W", "Save window/level as a preset"),
    "slab.cycle": ("M", "Thick slab: thin / MIP / MinIP / average"),
    "mpr.reset_oblique": ("O", "Reset oblique MPR (standard planes)"),
    "protocol.next": ("]", "Hanging protocol: next stage"),
    "protocol.previous": ("[", "Hanging protocol: previous stage"),
}
#: fixed keys shown in the help (handled by the views, not configurable)
VIEW_KEYS: list[tuple[str, str]] = [
    ("1 … 9", "Window/level presets (Window/Level menu)"),
    ("Up / Down", "Next / previous slice"),
    ("PgUp / PgDn", "Ten slices"),
    ("Home / End", "First / last slice"),
    ("R", "Reset zoom and pan of the view"),
    ("Delete", "Delete the selected measurement"),
    ("Wheel / Ctrl+wheel", "Scroll slices / zoom"),
    ("Right drag", "Window / level"),
    ("Middle drag", "Pan"),
    ("Ctrl+drag", "Rotate the crosshair: oblique MPR (or drag a line's outer part)"),
    ("Double-click", "Maximise the view / back"),
]


def shortcuts_path() -> Path:
    return user_config_dir() / "shortcuts.json"


def load_shortcuts(path: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """Keys for every action id (defaults overridden by the user's file) and the problems found."""
    keys = {k: v[0] for k, v in DEFAULT_SHORTCUTS.items()}
    problems: list[str] = []
    path = path or shortcuts_path()
    try:
        user = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return keys, problems
    except (OSError, ValueError) as exc:
        return keys, [f"{path.name} ignored: {exc}"]
    if not isinstance(user, dict):
        return keys, [f"{path.name} ignored: expected an object of action id -> key"]
    for action, key in user.items():
        if action not in keys:
            problems.append(f"unknown action {action!r} in {path.name}")
        elif not isinstance(key, str) or (key and QKeySequence(key).isEmpty()):
            problems.append(f"bad key {key!r} for {action} in {path.name}")
        else:
            keys[action] = key
    return keys, problems


class ShortcutHelp(QFrame):
    """Panel over the views listing every shortcut; any key or click closes it.

    A popup window of its own: child widgets cannot draw over the native OpenGL views.
    """

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent, Qt.WindowType.Popup | Qt.WindowType.FramelessWindowHint)
        self.setObjectName("shortcut_help")
        self.setStyleSheet(
            "QFrame#shortcut_help { background: rgba(20, 22, 25, 235); border: 1px solid #4a5058; border-radius: 8px; }"
            "QLabel { color: #d6d9dc; background: transparent; }"
        )
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.RichText)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 18, 24, 18)
        lay.addWidget(self.label)
        self.hide()

    def set_keys(self, keys: dict[str, str], extra: list[tuple[str, str]] = ()) -> None:
        def rows(items):
            return "".join(
                f"<tr><td style='padding:2px 18px 2px 0; color:#ffd24a; font-weight:bold'>{k}</td>"
                f"<td style='padding:2px 0'>{d}</td></tr>" for k, d in items)

        actions = [(QKeySequence(keys[a]).toString(QKeySequence.SequenceFormat.NativeText) or "—",
                    f"{desc} <span style='color:#6b7076'>{a}</span>") for a, (_, desc) in DEFAULT_SHORTCUTS.items()]
        self.items = actions + list(VIEW_KEYS) + list(extra)
        half = (len(actions) + 1) // 2
        self.label.setText(
            "<h3 style='margin:0 0 8px 0'>Keyboard shortcuts</h3>"
            f"<table><tr><td valign='top'><table>{rows(actions[:half])}</table></td>"
            f"<td width='30'></td><td valign='top'><table>{rows(actions[half:])}</table></td>"
            f"<td width='30'></td><td valign='top'><table>{rows(list(VIEW_KEYS) + list(extra))}</table></td></tr></table>"
            f"<p style='color:#8a9096'>Change keys in {shortcuts_path()} (JSON: action id → key). "
            "Press any key to close.</p>")

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
            return
        parent = self.parentWidget().window()
        self.adjustSize()
        top_left = parent.mapToGlobal(parent.rect().topLeft())
        self.move(top_left.x() + max(0, (parent.width() - self.width()) // 2),
                  top_left.y() + max(0, (parent.height() - self.height()) // 3))
        self.show()
        self.raise_()
        self.setFocus()

    def keyPressEvent(self, ev) -> None:  # noqa: N802
        self.hide()

    def mousePressEvent(self, ev) -> None:  # noqa: N802
        self.hide()
