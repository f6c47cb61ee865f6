"""Review of AI findings: accept, reject (or see edited) each proposal; the reader decides, not the model.

The widget shows a :class:`~meddiag_desktop.core.findings.FindingSet` (Qt-free model)
and records the reader's decisions in it; everything that uses findings (risk panel,
overlay, report) follows through the set's subscription. Selecting a row asks the
views to go to the finding (``findingActivated(lps)``), so it is reviewed on the image; a detected
box goes to its centre and shows its size and score.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from meddiag_desktop.core.findings import ACCEPTED, EDITED, PROPOSED, REJECTED, AIFinding, FindingSet
from meddiag_desktop.core.label_geometry import SIZE_NAMES, format_mm

__all__ = ["FindingsReview", "current_reader"]

_STATUS_COLORS = {PROPOSED: "#8a6d00", ACCEPTED: "#2e7d32", EDITED: "#1565c0", REJECTED: "#9e9e9e"}


def current_reader() -> str:
    """Who is reading: ``MEDDIAG_READER``, else the login name."""
    name = os.environ.get("MEDDIAG_READER", "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (some containers): still someone decided
        return "reader"


class FindingsReview(QWidget):
    """Table of AI findings with Accept / Reject / Accept all; selection goes to the finding."""

    findingActivated = Signal(object)  # LPS point of the selected finding
    decided = Signal(str, str)  # key, status

    def __init__(self, findings: FindingSet, reader: Callable[[], str] = current_reader,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("FindingsReview")
        self.findings = findings
        self._reader = reader
        self._keys: list[str] = []
        self._sizes: dict[str, Any] = {}
        self.title = QLabel("AI findings: proposals until you accept them")
        self.title.setStyleSheet("font-weight: 600;")
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Finding", "Size", "Status"])
        self.table.horizontalHeaderItem(1).setToolTip(f"{SIZE_NAMES['mean_diameter_mm']} (Fleischner 2017) and volume")
        self.table.verticalHeader().hide()
        self.table.setMinimumHeight(150)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        h.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.accept_button = QPushButton("Accept")
        self.reject_button = QPushButton("Reject")
        self.accept_all_button = QPushButton("Accept all proposed")
        self.accept_button.clicked.connect(lambda: self.decide_selected(ACCEPTED))
        self.reject_button.clicked.connect(lambda: self.decide_selected(REJECTED))
        self.accept_all_button.clicked.connect(self.accept_all)
        buttons = QHBoxLayout()
        for b in (self.accept_button, self.reject_button, self.accept_all_button):
            buttons.addWidget(b)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.title)
        lay.addWidget(self.table, 1)
        lay.addLayout(buttons)
        findings.subscribe(lambda _f: self.refresh())
        self.refresh()

    def set_sizes(self, sizes: Mapping[str, Any]) -> None:
        """Sizes of lesion components (finding key -> label_geometry.Component) to show beside them."""
        self._sizes = dict(sizes)
        self.refresh()

    def refresh(self) -> None:
        selected = self.selected_key()
        items = list(self.findings)
        self._keys = [f.key for f in items]
        self.table.setRowCount(len(items))
        for row, f in enumerate(items):
            name = QTableWidgetItem(f.display_name + (" (outside intended use)" if f.forced else ""))
            name.setToolTip(f"{f.plugin_id} {f.plugin_version}")
            self.table.setItem(row, 0, name)
            self.table.setItem(row, 1, QTableWidgetItem(self._size_text(f)))
            status = QTableWidgetItem("proposal" if f.status == PROPOSED else f.status)
            status.setToolTip(f.status_text + (f" at {f.decided_at}" if f.decided_at else ""))
            status.setForeground(QColor(_STATUS_COLORS.get(f.status, "#000000")))
            self.table.setItem(row, 2, status)
        if selected in self._keys:
            self.table.blockSignals(True)
            self.table.selectRow(self._keys.index(selected))
            self.table.blockSignals(False)
        pending = len(self.findings.proposed())
        self.title.setText(f"AI findings: {pending} proposal(s) awaiting your review" if pending
                           else "AI findings: all reviewed" if items else "AI findings: none")
        self._update_buttons()

    def _size_text(self, f: AIFinding) -> str:
        if f.kind == "detection" and f.size_mm is not None:  # a detected box: its size and the model's score
            score = f", score {f.score:.2f}" if f.score is not None else ""
            return " × ".join(f"{v:.1f}" for v in f.size_mm) + f" mm{score}"
        c = self._sizes.get(f.key)
        if c is None:
            return ""
        if c.diameters is not None:
            return f"{format_mm(c.diameters.mean_diameter_mm)} mm, {c.volume_ml:.2f} mL"
        return f"{c.volume_ml:.2f} mL"

    def selected_key(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self._keys[rows[0].row()] if rows and rows[0].row() < len(self._keys) else None

    def select(self, key: str) -> None:
        if key in self._keys:
            self.table.selectRow(self._keys.index(key))

    def decide_selected(self, status: str) -> None:
        key = self.selected_key()
        if key is not None:
            self.findings.decide(key, status, self._reader())
            self.decided.emit(key, status)

    def accept_all(self) -> None:
        for f in self.findings.accept_all(self._reader()):
            self.decided.emit(f.key, f.status)

    def _on_selection(self) -> None:
        self._update_buttons()
        key = self.selected_key()
        if key is None:
            return
        f = self.findings.get(key)
        if f.point_lps is not None:
            self.findingActivated.emit(f.point_lps)

    def _update_buttons(self) -> None:
        has = self.selected_key() is not None
        self.accept_button.setEnabled(has)
        self.reject_button.setEnabled(has)
        self.accept_all_button.setEnabled(bool(self.findings.proposed()))
