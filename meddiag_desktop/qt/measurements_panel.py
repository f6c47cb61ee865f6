"""Measurements side panel: the study's measurements (jump to, rename, delete) and segment statistics."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
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

from meddiag_desktop.core.label_geometry import DIAMETER_DEFINITION, SIZE_NAMES, format_mm
from meddiag_desktop.core.measurements import KINDS
from meddiag_desktop.qt.errors import guarded
from meddiag_desktop.qt.tool_icons import tool_icon

__all__ = ["MeasurementsPanel", "segment_rows"]


def segment_rows(volume, labels: np.ndarray, names: dict, stats=None) -> list[dict]:
    """Per-label volume (mL), mean value, and Fleischner long axis / mean diameter (mm), one row per
    component of a lesion label too: core.label_geometry's numbers, the same as the risk inputs, PDF and SR."""
    from meddiag_desktop.core import label_geometry as lg

    image = None if volume.is_rgb else np.asarray(volume.array)
    rows = []
    for value, name in sorted(names.items()):
        if int(value) == 0:
            continue
        mask = labels == int(value)
        box = lg.bounding_box(mask)
        if box is None:
            continue
        offset = np.array([b.start for b in box])
        crop = mask[box]
        parts = [(None, crop)]
        if lg.is_lesion(name):
            comp, n = lg.connected_components(crop)
            if n > 1:
                parts += [(i, comp == i) for i in range(1, n + 1)]
        for component, m in parts:
            zyx = np.argwhere(m) + offset
            whole = component is None and len(parts) > 1
            d = None if whole else lg.axial_diameters_of_points(volume, zyx)
            vals = image[box][m] if image is not None else None
            rows.append({"value": int(value), "name": f"{name} {component}" if component else name,
                         "component": component, "voxels": int(len(zyx)),
                         "volume_ml": len(zyx) * lg.voxel_volume_mm3(volume) / 1000.0,
                         "mean": float(vals.mean()) if vals is not None and len(vals) else None,
                         "long_axis_mm": d.long_axis_mm if d else None,
                         "mean_diameter_mm": d.mean_diameter_mm if d else None})
    return rows


def _item(text: str, editable: bool = False, align_right: bool = False) -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    flags = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
    if editable:
        flags |= Qt.ItemFlag.ItemIsEditable
    it.setFlags(flags)
    if align_right:
        it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return it


class MeasurementsPanel(QWidget):
    """Table of measurements following the state; double-click or "Go to" moves the views there."""

    jump_requested = Signal(str)  #: measurement id

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MeasurementsPanel")
        self.state = state
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Name", "Value"])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed
                                   | QAbstractItemView.EditTrigger.SelectedClicked)
        self.table.setWordWrap(True)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 150)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.cellDoubleClicked.connect(lambda r, c: c == 1 and self.jump_to_selected())
        self.table.itemChanged.connect(self._on_item_changed)
        self.jump_button = QPushButton("Go to")
        self.rename_button = QPushButton("Rename")
        self.delete_button = QPushButton("Delete")
        self.jump_button.clicked.connect(self.jump_to_selected)
        self.rename_button.clicked.connect(self._rename)
        self.delete_button.clicked.connect(self.delete_selected)
        buttons = QHBoxLayout()
        for b in (self.jump_button, self.rename_button, self.delete_button):
            buttons.addWidget(b)
        self.segments = QTableWidget(0, 5)
        self.segments.setHorizontalHeaderLabels(["Segment", "Volume mL", "Mean", f"{SIZE_NAMES['long_axis_mm']} mm",
                                                  f"{SIZE_NAMES['mean_diameter_mm']} mm"])
        self.segments.setToolTip(DIAMETER_DEFINITION)
        self.segments.verticalHeader().hide()
        self.segments.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.segments.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.segments_title = QLabel("Segment statistics (run an AI segmentation)")
        self.segments_title.setStyleSheet("color: #9aa0a6; padding-top: 6px;")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        title = QLabel("Measurements")
        title.setStyleSheet("font-weight: bold;")
        lay.addWidget(title)
        lay.addWidget(self.table, 3)
        lay.addLayout(buttons)
        lay.addWidget(self.segments_title)
        lay.addWidget(self.segments, 2)
        self._ids: list[str] = []
        self._filling = False
        state.measurements_changed.connect(lambda *_: self.refresh())
        state.selection_changed.connect(self._select_row)
        state.volume_changed.connect(lambda _v: self.set_segments([]))
        self.refresh()

    def show_error(self, message: str) -> None:
        w = self.window()
        if hasattr(w, "show_error"):
            w.show_error(message)

    # ------------------------------------------------------------ contents
    def refresh(self) -> None:
        self._filling = True
        ms = list(self.state.measurements)
        self._ids = [m.id for m in ms]
        self.table.setRowCount(len(ms))
        for r, m in enumerate(ms):
            name = _item(m.name, editable=True)
            name.setIcon(tool_icon(m.kind))
            name.setToolTip(KINDS[m.kind][1])
            self.table.setItem(r, 0, name)
            text = self.state.text_for(m)
            if m.label and text.startswith(m.label + "\n"):
                text = text[len(m.label) + 1:]
            self.table.setItem(r, 1, _item(text))
        self.table.resizeRowsToContents()
        has = bool(ms)
        for b in (self.jump_button, self.rename_button, self.delete_button):
            b.setEnabled(has)
        self._filling = False
        self._select_row(self.state.selected)

    def set_segments(self, rows: list[dict], units: str = "") -> None:
        """Show segment statistics rows from :func:`segment_rows`."""
        self.segments.setRowCount(len(rows))
        for r, row in enumerate(rows):
            self.segments.setItem(r, 0, _item(str(row["name"])))
            self.segments.setItem(r, 1, _item(f"{row['volume_ml']:.2f}", align_right=True))
            mean = row.get("mean")
            self.segments.setItem(r, 2, _item("–" if mean is None else f"{mean:.0f} {units}".strip(), align_right=True))
            self.segments.setItem(r, 3, _item(format_mm(row.get("long_axis_mm")), align_right=True))
            self.segments.setItem(r, 4, _item(format_mm(row.get("mean_diameter_mm")), align_right=True))
        self.segments_title.setText("Segment statistics" if rows else "Segment statistics (run an AI segmentation)")

    def selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self._ids[rows[0].row()] if rows and rows[0].row() < len(self._ids) else None

    # ------------------------------------------------------------ actions
    def _select_row(self, mid) -> None:
        if self._filling:
            return
        self._filling = True
        if mid in self._ids:
            self.table.selectRow(self._ids.index(mid))
        else:
            self.table.clearSelection()
        self._filling = False

    def _on_selection(self) -> None:
        if not self._filling:
            self.state.select(self.selected_id())

    @guarded("Go to measurement")
    def jump_to_selected(self, _checked: bool = False) -> None:
        mid = self.selected_id()
        if mid is not None:
            self.jump_requested.emit(mid)

    @guarded("Delete measurement")
    def delete_selected(self, _checked: bool = False) -> None:
        mid = self.selected_id()
        if mid is not None:
            self.state.measurements.remove(mid)
            self.state.select(None)

    def _rename(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.table.editItem(self.table.item(rows[0].row(), 0))

    @guarded("Rename measurement")
    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 0:
            return
        self.rename(self._ids[item.row()], item.text())

    def rename(self, mid: str, name: str) -> None:
        """Give measurement ``mid`` a name (undoable; empty restores the default name)."""
        from dataclasses import replace

        m = self.state.measurements.get(mid)
        name = name.strip()
        if name == m.name or (not name and not m.label):
            return
        if name == KINDS[m.kind][1]:
            name = ""
        self.state.measurements.update(replace(m, label=name))
