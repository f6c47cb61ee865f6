"""Segment editor: a side panel (tool, segment, size in mm, HU range, 2D/3D) and painting in the slice views.

The editing itself is Qt-free (:class:`~meddiag_desktop.core.seg_edit.LabelEditor`);
this module turns the panel's settings and mouse strokes in a slice view into
its calls. The segmentation edited is the one shown (the AI panel's label map,
edited in place, so the report and the DICOM SEG export the edits); every edit is
one step of the window's undo history (Ctrl+Z).

Mouse (with a tool chosen): Paint / Erase: press and drag, one undo step per
stroke; a 2D brush is a disc in the plane of the view painted in, a 3D brush a
sphere; "Limit to range" paints only voxels whose value is in the range.
Remove / Keep island: click a piece of the segment. Fill holes acts on the whole
segment (3D, or 2D in every slice of the chosen view).

:attr:`SegmentEditor.segment_edited` (label value) is emitted after every stroke,
island or fill operation, undo and redo that changed a segment, for models that
follow the reader's findings.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QPixmap, QIcon
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from meddiag_desktop.core import view_geometry as vg
from meddiag_desktop.core.seg_edit import Brush, LabelEditor
from meddiag_desktop.qt.errors import guarded

__all__ = ["SegmentEditor", "SegmentEditorPanel", "TOOLS"]

#: mouse tools of the editor (``"off"``: the slice views navigate and measure as usual)
TOOLS = ("off", "paint", "erase", "remove_island", "keep_island")
_TOOL_TEXT = {"off": "Off", "paint": "Paint", "erase": "Erase", "remove_island": "Remove island",
              "keep_island": "Keep island"}
NO_SEGMENTATION = "Run an AI segmentation first (AI panel): the editor edits the segmentation shown."


class SegmentEditorPanel(QWidget):
    """The editor's controls; it holds settings only (the :class:`SegmentEditor` acts on them)."""

    tool_changed = Signal(str)
    fill_requested = Signal()
    outline_toggled = Signal(bool)
    surfaces_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SegmentEditorPanel")
        self.tool_group = QButtonGroup(self)
        self.tool_group.setExclusive(True)
        tools = QHBoxLayout()
        tools2 = QHBoxLayout()
        self.tool_buttons: dict[str, QPushButton] = {}
        for i, tool in enumerate(TOOLS):
            b = QPushButton(_TOOL_TEXT[tool])
            b.setCheckable(True)
            b.setObjectName(f"segtool_{tool}")
            self.tool_group.addButton(b)
            self.tool_buttons[tool] = b
            (tools if i < 3 else tools2).addWidget(b)
            b.toggled.connect(lambda on, t=tool: on and self.tool_changed.emit(t))
        self.tool_buttons["off"].setChecked(True)

        self.segment = QComboBox()
        self.segment.setObjectName("segment_combo")
        self.radius = QDoubleSpinBox()
        self.radius.setRange(0.25, 100.0)
        self.radius.setDecimals(1)
        self.radius.setSingleStep(0.5)
        self.radius.setValue(5.0)
        self.radius.setSuffix(" mm")
        self.radius.setToolTip("Brush radius in mm (voxels whose centres lie within it are painted)")
        self.shape = QComboBox()
        self.shape.addItem("2D disc (in the view's plane)", "disc")
        self.shape.addItem("3D sphere", "sphere")
        self.limit = QCheckBox("Limit to range")
        self.limit.setToolTip("Paint only voxels whose value lies in the range (e.g. HU of a nodule)")
        self.low = QDoubleSpinBox()
        self.high = QDoubleSpinBox()
        for box, value in ((self.low, -600.0), (self.high, 200.0)):
            box.setRange(-100000.0, 100000.0)
            box.setDecimals(0)
            box.setSingleStep(50.0)
            box.setValue(value)
        rng = QHBoxLayout()
        rng.addWidget(self.limit)
        rng.addWidget(self.low, 1)
        rng.addWidget(QLabel("to"))
        rng.addWidget(self.high, 1)
        self.overwrite = QCheckBox("Paint over other segments")
        self.overwrite.setChecked(True)
        self.overwrite.setToolTip("Off: paint only where no segment is (e.g. keep the vessels when drawing a nodule)")
        self.fill_plane = QComboBox()
        self.fill_plane.addItem("3D", None)
        for view in vg.VIEWS:
            self.fill_plane.addItem(f"2D, each {view} slice", view)
        self.fill_button = QPushButton("Fill holes")
        self.fill_button.clicked.connect(self.fill_requested.emit)
        fill = QHBoxLayout()
        fill.addWidget(self.fill_button)
        fill.addWidget(self.fill_plane, 1)
        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        hist = QHBoxLayout()
        hist.addWidget(self.undo_button)
        hist.addWidget(self.redo_button)

        self.outline = QCheckBox("Outline (not filled)")
        self.outline.setObjectName("outline_check")
        self.outline.toggled.connect(self.outline_toggled.emit)
        self.surfaces = QCheckBox("Segments as surfaces in 3D")
        self.surfaces.setChecked(True)
        self.surfaces.toggled.connect(self.surfaces_toggled.emit)
        self.status = QLabel(NO_SEGMENTATION)
        self.status.setWordWrap(True)

        edit = QGroupBox("Edit")
        form = QFormLayout(edit)
        form.addRow(tools)
        form.addRow(tools2)
        form.addRow("Segment", self.segment)
        form.addRow("Radius", self.radius)
        form.addRow("Brush", self.shape)
        form.addRow(rng)
        form.addRow(self.overwrite)
        form.addRow(fill)
        form.addRow(hist)
        show = QGroupBox("Display")
        sl = QVBoxLayout(show)
        sl.addWidget(self.outline)
        sl.addWidget(self.surfaces)
        lay = QVBoxLayout(self)
        lay.addWidget(edit)
        lay.addWidget(show)
        lay.addWidget(self.status)
        lay.addStretch(1)

    # ------------------------------------------------------------- settings
    @property
    def tool(self) -> str:
        return next((t for t, b in self.tool_buttons.items() if b.isChecked()), "off")

    def set_tool(self, tool: str) -> None:
        if tool not in self.tool_buttons:
            raise ValueError(f"unknown segment editor tool {tool!r}; use one of {', '.join(TOOLS)}")
        self.tool_buttons[tool].setChecked(True)

    @property
    def label(self) -> int | None:
        v = self.segment.currentData()
        return None if v is None else int(v)

    def set_label(self, value: int) -> None:
        i = self.segment.findData(int(value))
        if i < 0:
            raise ValueError(f"no segment with label value {value}")
        self.segment.setCurrentIndex(i)

    def brush(self, view: str) -> Brush:
        """The brush for a stroke in ``view``."""
        rng = (self.low.value(), self.high.value()) if self.limit.isChecked() else None
        return Brush(self.radius.value(), self.shape.currentData(), view, rng)

    def set_segments(self, names: dict[int, str], colors: dict[int, str]) -> None:
        """Fill the segment list (keeps the chosen one when it is still there)."""
        keep = self.label
        self.segment.clear()
        for value in sorted(names):
            if value == 0:
                continue
            pix = QPixmap(12, 12)
            pix.fill(QColor(colors.get(value, "#ff0000")))
            self.segment.addItem(QIcon(pix), f"{names[value]} ({value})", value)
        if keep is not None and self.segment.findData(keep) >= 0:
            self.set_label(keep)


class SegmentEditor(QObject):
    """Connects the panel, the slice views' mouse and a :class:`LabelEditor` on the shown segmentation."""

    segment_edited = Signal(int)  #: a segment's voxels changed (label value): stroke, island, fill, undo, redo
    edit_done = Signal()  #: an island or fill operation (computed in the background) has finished

    def __init__(self, window) -> None:
        super().__init__(window)
        self.win = window
        self.display = window.overlays
        self.panel = SegmentEditorPanel()
        self.dock = window.add_side_panel(self.panel, "Segment editor")
        self.editor: LabelEditor | None = None
        self._task = None  # island / fill being computed
        self._touched: set[int] = set()
        self._last: tuple[np.ndarray, str] | None = None  # last dab (LPS) and view of the stroke
        self.panel.fill_requested.connect(self.fill_holes)
        self.panel.outline_toggled.connect(self.display.set_outline)
        self.panel.surfaces_toggled.connect(self.display.set_surfaces_visible)
        self.panel.undo_button.clicked.connect(lambda: window.history.undo())
        self.panel.redo_button.clicked.connect(lambda: window.history.redo())
        self.panel.tool_changed.connect(self._on_tool)
        self.display.changed.connect(self._sync)
        for w in window.slice_widgets.values():
            w.paint_tool = self

    # ------------------------------------------------------------ the data
    def _sync(self) -> None:
        """Edit the segmentation shown (a new one gets a new editor)."""
        seg, volume = self.display.segmentation, self.win.state.volume
        if seg is None or volume is None or not getattr(seg, "names", None):
            if self.editor is not None:
                self.editor = None
                self.panel.set_segments({}, {})
                self.panel.status.setText(NO_SEGMENTATION)
            return
        if self.editor is not None and self.editor.labels is seg.labels:
            return
        ed = self.editor = LabelEditor(volume, seg.labels, dict(seg.names), self.win.history)
        ed.subscribe(lambda touched: self._on_labels_changed(touched, ed))
        self.panel.set_segments(seg.names, seg.colors)
        self.panel.status.setText(f"Editing {seg.legend().removeprefix('AI: ') if hasattr(seg, 'legend') else 'the segmentation'}"
                                  ": pick a tool, then paint in a view.")

    def edited_for(self, labels) -> dict[int, str]:
        """The reader's edits (label -> SegmentAlgorithmType) when ``labels`` is the array being edited."""
        ed = self.editor
        return dict(ed.edited) if ed is not None and ed.labels is labels else {}

    def _on_labels_changed(self, touched, source: LabelEditor) -> None:
        if source is not self.editor:  # undoing an edit of a segmentation no longer shown
            return
        self._touched |= set(touched)
        self.display.labels_modified(touched)
        if self.editor is not None and self.editor._stroke is None:  # undo / redo
            self._finish()

    def _finish(self) -> None:
        """After a stroke or an operation: legend, surfaces, statistics and the notification."""
        touched, self._touched = sorted(self._touched), set()
        if not touched or self.editor is None:
            return
        self.display.edited = self.editor.edited
        entries = self.display.legend_entries()
        for w in self.win.slice_widgets.values():
            w.slice_view.legend.set_entries(entries)
            w.request_render()
        self.display.rebuild_surfaces(touched)
        seg = self.display.segmentation
        panels = getattr(self.win, "panels", None)
        if panels is not None and seg is not None and getattr(self.win, "tools", None) is not None:
            panels.show_segment_statistics(seg.labels, dict(seg.names))
        for v in touched:
            self.segment_edited.emit(int(v))

    # ----------------------------------------------------------- the mouse
    def _on_tool(self, tool: str) -> None:
        cursor = Qt.CursorShape.ArrowCursor if tool == "off" else Qt.CursorShape.CrossCursor
        for w in self.win.slice_widgets.values():
            w.setCursor(cursor)
            if tool not in ("paint", "erase") and w.slice_view.brush_cursor.visible:
                w.slice_view.brush_cursor.hide()
                w.request_render()

    def hover(self, widget, lps) -> None:
        """The mouse over a slice view (``None``: it left): show the brush's circle there."""
        cursor = widget.slice_view.brush_cursor
        if lps is None or self.panel.tool not in ("paint", "erase") or self.editor is None:
            if cursor.visible:
                cursor.hide()
                widget.request_render()
            return
        u, v, _ = vg.lps_to_view(widget.slice_view.geom, lps)
        colour = (1.0, 1.0, 0.4) if self.panel.tool == "paint" else (0.6, 0.85, 1.0)
        cursor.show(u, v, self.panel.radius.value(), colour)
        widget.request_render()

    def _ready(self) -> LabelEditor:
        if self.editor is None:
            raise ValueError(NO_SEGMENTATION)
        if self.panel.label is None:
            raise ValueError("Choose the segment to edit in the Segment editor panel")
        return self.editor

    def press(self, widget, lps) -> bool:
        """A left press in a slice view; True when the editor takes it (a tool is chosen)."""
        tool = self.panel.tool
        if tool == "off":
            return False
        ed = self._ready()
        label = self.panel.label
        if self.busy:
            self.panel.status.setText("Still working on the last operation\u2026")
            return True
        if tool in ("remove_island", "keep_island"):
            keep = tool == "keep_island"
            self._in_background(lambda: ed.island_change(lps, label, keep), _TOOL_TEXT[tool], "removed")
            return True
        name = ed.names.get(label, str(label))
        ed.begin_stroke(f"{'Paint' if tool == 'paint' else 'Erase'} {name}")
        self._last = None
        self.drag(widget, lps)
        return True

    def drag(self, widget, lps) -> None:
        """The mouse moved with the button down: dabs along the way (every half radius, no gaps)."""
        ed = self.editor
        if ed is None or ed._stroke is None:
            return
        self.hover(widget, lps)
        brush = self.panel.brush(widget.view)
        p = np.asarray(lps, float)
        points = [p]
        if self._last is not None:
            prev = self._last
            steps = int(np.ceil(np.linalg.norm(p - prev) / max(brush.radius_mm / 2.0, 1e-3)))
            points = [prev + (p - prev) * t for t in np.linspace(0, 1, steps + 1)[1:]] if steps else []
        for q in points:
            if self.panel.tool == "paint":
                ed.paint(q, self.panel.label, brush, overwrite=self.panel.overwrite.isChecked())
            else:
                ed.erase(q, self.panel.label, brush)
        self._last = p

    def release(self, widget) -> None:
        """The stroke ends: one undo step."""
        ed = self.editor
        if ed is None or ed._stroke is None:
            return
        edit = ed.end_stroke()
        self._last = None
        if edit is not None:
            self.panel.status.setText(f"{edit.text}: {edit.voxel_count} voxels changed (Ctrl+Z undoes).")
        self._finish()

    @guarded("Fill holes")
    def fill_holes(self, _checked: bool = False):
        """Fill the chosen segment's holes (computed on a worker thread; one undo step)."""
        ed = self._ready()
        if self.busy:
            return None
        label, plane = self.panel.label, self.panel.fill_plane.currentData()
        return self._in_background(lambda: ed.fill_change(label, plane), "Fill holes", "filled")

    @property
    def busy(self) -> bool:
        """An island or fill operation is being computed."""
        return self._task is not None and self._task.running

    def _in_background(self, plan, what: str, verb: str):
        """Compute a planned change off the UI thread, then apply it here as one undo step."""
        from meddiag_desktop.qt.background import BackgroundTask

        ed = self.editor
        task = BackgroundTask(lambda progress, cancel: plan(), "segment-edit", self)

        def done(change) -> None:
            if ed is not self.editor:
                return  # another segmentation is shown now
            n = ed.apply(change)
            self.panel.status.setText(f"{what}: {n} voxels {verb}.")
            self._finish()

        task.succeeded.connect(done)
        task.failed.connect(lambda msg, _exc: self.win.show_error(f"{what}: {msg}"))
        task.finished.connect(lambda: task in self.win._tasks and self.win._tasks.remove(task))
        task.finished.connect(self.edit_done.emit)
        self.win._tasks.append(task)  # the window waits for it on close
        self._task = task
        self.panel.status.setText(f"{what}\u2026")
        task.start()
        return task
