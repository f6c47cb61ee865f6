"""Recently opened studies, persisted as JSON in the user's config folder, and their menu."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMenu, QWidget

from meddiag_desktop.atomic_files import write_text_atomic
from meddiag_desktop.paths import user_config_dir

__all__ = ["RecentStudies", "RecentMenu"]

MAX_RECENT = 10


class RecentStudies:
    """Most recent first, at most :data:`MAX_RECENT`, stored in ``recent.json``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or user_config_dir() / "recent.json"
        self.items: list[str] = self._read()

    def _read(self) -> list[str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [str(x) for x in data.get("recent", [])][:MAX_RECENT]
        except (OSError, ValueError, AttributeError):
            return []  # missing or corrupt: start afresh

    def add(self, path: str) -> None:
        path = str(Path(path).resolve())
        self.items = [path] + [p for p in self.items if p != path]
        self.items = self.items[:MAX_RECENT]
        try:
            write_text_atomic(self.path, json.dumps({"recent": self.items}, indent=1))
        except OSError:
            pass  # a read-only config folder must not stop the viewer

    def clear(self) -> None:
        self.items = []
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass


class RecentMenu(QMenu):
    """File > Recent studies; emits :attr:`open_requested` with the chosen path."""

    open_requested = Signal(str)

    def __init__(self, recent: RecentStudies, parent: QWidget | None = None) -> None:
        super().__init__("Recent studies", parent)
        self.recent = recent
        self.aboutToShow.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.clear()
        for p in self.recent.items:
            act = self.addAction(p)
            act.triggered.connect(lambda _=False, p=p: self.open_requested.emit(p))
        if not self.recent.items:
            self.addAction("(none)").setEnabled(False)
        else:
            self.addSeparator()
            self.addAction("Clear list").triggered.connect(self._clear)

    def _clear(self) -> None:
        self.recent.clear()
        self.refresh()
