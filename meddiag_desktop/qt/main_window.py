"""Main window: four linked views (axial, coronal, sagittal, 3D), study browser, menus, loading.

Loading runs on a worker thread (:class:`~meddiag_desktop.qt.background.BackgroundTask`):
``scan`` for folders and DICOM files first (filling the study browser), then
``load`` of the largest series. Every user action goes through one error
boundary (:func:`~meddiag_desktop.qt.errors.guarded`) that shows the problem
in the red banner and keeps the window alive.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from pathlib import Path

import numpy as np

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QGridLayout,
    QLabel,
    QMainWindow,
    QVBoxLayout,
    QWidget,
)

from meddiag_desktop.core import view_geometry as vg
from meddiag_desktop.qt._trace import trace
from meddiag_desktop.qt.background import BackgroundTask
from meddiag_desktop.qt.error_banner import ErrorBanner
from meddiag_desktop.qt.errors import guarded
from meddiag_desktop.qt.load_progress import LoadProgress, PartialVolumes
from meddiag_desktop.qt.opening import DEMO, open_study, warm_decoders_when_idle
from meddiag_desktop.qt.recent_studies import RecentMenu, RecentStudies
from meddiag_desktop.qt.slice_widget import SliceViewWidget
from meddiag_desktop.qt.study_browser import StudyBrowser
from meddiag_desktop.qt.view_grid import framed, place_frames
from meddiag_desktop.qt.viewer_state import ViewerState
from meddiag_desktop.qt.volume_presets import VolumePresetCombo
from meddiag_desktop.qt.volume_widget import VolumeViewWidget
from meddiag_desktop.qt.warnings_panel import WarningsPanel
from meddiag_desktop.qt.window_presets import WindowPresetCombo
from meddiag_desktop.render.slice_view import VIEW_COLOURS

__all__ = ["MainWindow"]

log = logging.getLogger(__name__)



def start_open_task(target: str, parent=None) -> BackgroundTask:
    """Start scanning+loading ``target`` (path or :data:`~meddiag_desktop.qt.opening.DEMO`) now."""
    relay = PartialVolumes()  # made here, on the UI thread: a compressed series shows while it decodes
    task = BackgroundTask(partial(open_study, target, on_partial=relay), "open", parent)
    relay.setParent(task)
    task.partial_volumes = relay
    task.start()
    return task


class MainWindow(QMainWindow):
    """The viewer window. ``open_path`` / ``open_series`` / ``open_demo`` start background loads."""

    volume_shown = Signal(object)  #: Volume, after all views have it
    load_failed = Signal(str)  #: user-facing message

    def __init__(self, recent: RecentStudies | None = None) -> None:
        super().__init__()
        self.setWindowTitle("MedDiag Desktop")
        self.setAcceptDrops(True)
        self.state = ViewerState(self)
        self.history = self.state.history  #: every undoable edit of the session
        self.measurements = self.state.measurements
        self.recent = recent if recent is not None else RecentStudies()
        self._task: BackgroundTask | None = None
        self._tasks: list[BackgroundTask] = []
        #: set when the window starts closing: queued results must not start new background work then
        self.closing = False
        self.last_error = ""
        self.load_seconds = 0.0
        self._decoders_warming = False  # the decode processes were asked to start ahead (once per window)

        # views
        self.slice_widgets = {v: SliceViewWidget(v, self.state) for v in vg.VIEWS}
        self.oblique = vg.ObliqueMPR()  # oblique MPR: the three planes, turned by Ctrl+drag in any view
        for w in self.slice_widgets.values():
            w.attach_oblique(self.oblique)
        self.volume_widget = VolumeViewWidget(self.state)
        grid_host = QWidget()
        grid = QGridLayout(grid_host)
        grid.setContentsMargins(2, 2, 2, 2)
        grid.setSpacing(3)
        self.frames = {
            vg.AXIAL: framed(self.slice_widgets[vg.AXIAL], "Axial", VIEW_COLOURS[vg.AXIAL]),
            vg.CORONAL: framed(self.slice_widgets[vg.CORONAL], "Coronal", VIEW_COLOURS[vg.CORONAL]),
            vg.SAGITTAL: framed(self.slice_widgets[vg.SAGITTAL], "Sagittal", VIEW_COLOURS[vg.SAGITTAL]),
            "3d": framed(self.volume_widget, "3D", (0.55, 0.62, 0.75)),
        }
        from meddiag_desktop.qt.compare import CompareView

        self.compare = CompareView(self)  # its view joins self.frames when first shown
        self._grid = grid
        self.layout_name = ""
        self._place_frames("four")
        self.slice_widgets[vg.AXIAL].slice_view.set_hint(
            "Open a study: File \u25b8 Open folder / Open file,\nor drop a DICOM folder or NIfTI file here"
        )
        for i in range(2):
            grid.setRowStretch(i, 1)
        for i in range(6):  # 2x2 uses columns 0-1, 1x3 spans pairs of 0-5
            grid.setColumnStretch(i, 1)
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        self.error_banner = ErrorBanner(central)
        outer.addWidget(self.error_banner)
        outer.addWidget(grid_host, 1)
        self.setCentralWidget(central)

        # docks
        self.browser = StudyBrowser(self)
        self.browser.series_activated.connect(self.open_series)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.browser)
        from meddiag_desktop.qt.db_browser import DatabaseBrowser  # opens the database only when its tab shows

        self.db_browser = DatabaseBrowser(self)
        self.db_browser.open_requested.connect(self.open_path)
        self.db_browser.query_requested.connect(lambda: self.show_pacs_dialog())
        self.browser.add_tab(self.db_browser, "Database")
        self.warnings = WarningsPanel(self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.warnings)
        self.warnings.hide()
        self.resizeDocks([self.warnings], [90], Qt.Orientation.Vertical)

        # toolbar
        tb = self.addToolBar("View")
        self.view_toolbar = tb
        tb.setObjectName("view_toolbar")
        tb.setMovable(False)
        tb.addWidget(QLabel(" Window "))
        self.window_presets = WindowPresetCombo(self.state, self)
        tb.addWidget(self.window_presets)
        tb.addSeparator()
        tb.addWidget(QLabel(" 3D "))
        self.volume_presets = VolumePresetCombo(self)
        self.volume_presets.currentTextChanged.connect(self._set_volume_preset)
        tb.addWidget(self.volume_presets)

        # status bar
        self.readout = QLabel("")
        self.readout.setObjectName("readout")
        self.readout.setMinimumWidth(360)
        self.statusBar().addPermanentWidget(self.readout)  # permanent: messages never hide it
        self.progress = LoadProgress(self)
        self.progress.cancel_requested.connect(self.cancel_loading)
        self.statusBar().addPermanentWidget(self.progress)
        self.state.hover_changed.connect(self._on_hover)

        self._make_menus()
        from meddiag_desktop.qt.overlay_display import OverlayDisplay

        self.overlays = OverlayDisplay(self, self._plugin_name)  #: AI layers: segmentation + classification map
        from meddiag_desktop.qt.feature_panels import FeaturePanels

        self.panels = FeaturePanels(self)
        from meddiag_desktop.qt.reading_tools import ReadingTools

        self.tools = ReadingTools(self)
        self.sessions = self.tools.sessions
        from meddiag_desktop.qt.hanging import HangingProtocols

        self.hanging = HangingProtocols(self)  # priors and the protocol chosen when a study opens
        for w in self.slice_widgets.values():
            w.point_clicked.connect(self.panels.set_point)
        from meddiag_desktop.qt.segment_editor import SegmentEditor

        self.segment_editor = SegmentEditor(self)  #: paint/erase/islands/fill; emits segment_edited(label)
        self.segment_editor.segment_edited.connect(self._on_segment_edited)

    # ------------------------------------------------------------------ menus
    def _make_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        self.file_menu = m
        act = QAction("Open &file...", self)
        act.setShortcut(QKeySequence.StandardKey.Open)
        act.triggered.connect(self._open_file_dialog)
        m.addAction(act)
        act = QAction("Open f&older...", self)
        act.setShortcut(QKeySequence("Ctrl+Shift+O"))
        act.triggered.connect(self._open_folder_dialog)
        m.addAction(act)
        act = QAction("Open &demo study", self)
        act.triggered.connect(self.open_demo)
        m.addAction(act)
        self.recent_menu = RecentMenu(self.recent, self)
        self.recent_menu.open_requested.connect(self.open_path)
        m.addMenu(self.recent_menu)
        m.addSeparator()
        act = QAction("&Export report...", self)
        act.setShortcut(QKeySequence("Ctrl+E"))
        act.triggered.connect(lambda _=False: self.export_report())
        m.addAction(act)
        self.export_action = act
        act = QAction("Send to &PACS...", self)
        act.triggered.connect(lambda _=False: self.send_to_pacs())
        m.addAction(act)
        act = QAction("&Query/Retrieve from PACS...", self)
        act.setShortcut(QKeySequence("Ctrl+Shift+Q"))
        act.triggered.connect(lambda _=False: self.show_pacs_dialog())
        m.addAction(act)
        act = QAction("&Batch AI over studies...", self)
        act.triggered.connect(lambda _=False: self.open_batch_dialog())
        m.addAction(act)
        m.addSeparator()
        act = QAction("&Quit", self)
        act.setShortcut(QKeySequence.StandardKey.Quit)
        act.triggered.connect(self.close)
        m.addAction(act)

        v = self.menuBar().addMenu("&View")
        self._view_menu = v
        act = QAction("Show &crosshair", self, checkable=True, checked=True)
        act.triggered.connect(self._set_crosshair)
        v.addAction(act)
        act = QAction("&Reset views", self)
        act.setShortcut(QKeySequence("Ctrl+R"))
        act.triggered.connect(self.reset_views)
        v.addAction(act)
        v.addSeparator()
        self.layout_actions: dict[str, QAction] = {}
        for name, label, key in (
            ("four", "&Four views (2x2)", "F1"),
            ("1x3", "&Three slice views (1x3)", "F6"),
            (vg.AXIAL, "&Axial only", "F2"),
            (vg.CORONAL, "C&oronal only", "F3"),
            (vg.SAGITTAL, "&Sagittal only", "F4"),
            ("3d", "&3D only", "F5"),
        ):
            act = QAction(label, self)
            act.setShortcut(QKeySequence(key))
            act.triggered.connect(lambda _=False, n=name: self.set_layout(n))
            v.addAction(act)
            self.layout_actions[name] = act
        v.addSeparator()
        act = QAction("Co&mpare with selected series", self)
        act.setShortcut(QKeySequence("Ctrl+Shift+C"))
        act.triggered.connect(self.compare.open_selected)
        v.addAction(act)
        act = QAction("Compare layout (axial | compare)", self)
        act.triggered.connect(lambda _=False: self.set_layout("compare"))
        v.addAction(act)
        v.addAction(self.compare.sync_action)
        for act in (self.compare.register_action, self.compare.point_pair_action, self.compare.reset_action):
            v.addAction(act)  # priors: registration, point-pair link, reset
        v.addSeparator()
        v.addAction(self.browser.toggleViewAction())
        self.window_menu = self.menuBar().addMenu("&Window/Level")
        self.window_menu.aboutToShow.connect(self.refresh_window_menu)
        self._fill_window_menu()
        v.addAction(self.warnings.toggleViewAction())
        h = self.menuBar().addMenu("&Help")
        self.help_menu = h
        act = QAction("&About MedDiag Desktop", self)
        act.triggered.connect(lambda _=False: self.show_about())
        h.addAction(act)

    def open_batch_dialog(self):
        """Show the batch dialog (one per window; it runs the batch off the UI thread)."""
        from meddiag_desktop.qt.batch_dialog import BatchDialog

        if getattr(self, "batch_dialog", None) is None:
            self.batch_dialog = BatchDialog(self)
        self.batch_dialog.show()
        self.batch_dialog.raise_()
        return self.batch_dialog

    # ------------------------------------------------------------- reporting
    def show_error(self, message: str) -> None:
        """Show an error in the banner and the status bar (never modal, never a crash)."""
        self.last_error = message
        log.info("shown to the user: %s", message)  # the banner is the report; no stderr noise
        self.error_banner.show_message(message)
        self.statusBar().showMessage(message, 10000)

    def _on_hover(self, lps, value, view: str = "") -> None:
        if lps is None or value is None:
            self.readout.setText("")
            return
        from meddiag_desktop.core.corner_text import lps_text

        self.readout.setText(f"{self.state.value_text(value)}    {lps_text(lps)}")  # R 79.0  A 12.0  S 3.0 mm

    # --------------------------------------------------------------- actions
    @guarded("Open file")
    def _open_file_dialog(self, _checked: bool = False) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open image", "", "Images (*.dcm *.nii *.nii.gz *.nrrd *.nhdr *.mha *.mhd DICOMDIR);;All files (*)"
        )
        if path:
            self.open_path(path)

    @guarded("Open folder")
    def _open_folder_dialog(self, _checked: bool = False) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open DICOM folder")
        if path:
            self.open_path(path)

    @guarded("Crosshair")
    def _set_crosshair(self, on: bool) -> None:
        for w in self.slice_widgets.values():
            w.slice_view.set_crosshair_visible(on)
            w.request_render()

    @guarded("Reset views")
    def reset_views(self, _checked: bool = False) -> None:
        for w in self.slice_widgets.values():
            w.slice_view.zoom = 1.0
            w.slice_view.pan[:] = 0
            w.slice_view.reset_camera()
            w.request_render()
        self.volume_widget.reset_camera()

    def _place_frames(self, name: str) -> None:
        place_frames(self._grid, self.frames, name)
        self.layout_name = name

    def _fill_window_menu(self) -> None:
        """One entry per preset of the open volume (DICOM ones first), keys 1-9."""
        menu = self.window_menu
        menu.clear()
        presets = self.window_presets.presets
        for i, p in enumerate(presets):
            act = QAction(f"{p.name}   W {p.width:.0f} / L {p.level:.0f}", self)
            if i < 9:
                act.setShortcut(QKeySequence(str(i + 1)))
            act.triggered.connect(lambda _=False, p=p: self.state.apply_preset(p))
            menu.addAction(act)
            self.addAction(act)  # shortcuts work while the menu is closed
        if not presets:
            menu.addAction("(open a study)").setEnabled(False)

    def show_about(self, _checked: bool = False):
        """Help > About (see :meth:`FeaturePanels.show_about`)."""
        return self.panels.show_about()

    def export_report(self, _checked: bool = False):
        """File > Export report (see :meth:`FeaturePanels.export_report`)."""
        return self.panels.export_report()

    @guarded("Query/Retrieve")
    def show_pacs_dialog(self):
        """File > Query/Retrieve from PACS: a retrieved study lands in the database and opens."""
        from meddiag_desktop.qt.pacs_dialog import ProgressiveOpen, QueryRetrieveDialog

        dialog = QueryRetrieveDialog(self, db_dir=self.db_browser.db.root)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # the largest series shows while it arrives, and is reloaded whole at the end (pacs_dialog.ProgressiveOpen)
        dialog.progressive = ProgressiveOpen(self, dialog)
        dialog.study_retrieved.connect(lambda folder: None if dialog.progressive.arrivals else self.open_path(folder))
        dialog.study_retrieved.connect(lambda _f: self.db_browser.refresh())
        dialog.show()
        self.pacs_dialog = dialog
        return dialog

    @guarded("Send to PACS")
    def send_to_pacs(self):
        """File > Send to PACS, beside Export report: the last report folder is preselected."""
        from meddiag_desktop.qt.pacs_dialog import SendDialog

        report = getattr(self.panels, "report_dialog", None)
        folder = report.out_dir.text().strip() if report is not None and hasattr(report, "out_dir") else ""
        dialog = SendDialog([folder] if folder else [], self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.send_dialog = dialog
        return dialog

    # ------------------------------------------------------- extension points
    def add_side_panel(self, widget: QWidget, title: str) -> QDockWidget:
        """Dock a feature panel (risk, AI...) on the right; several panels become tabs."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"panel_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        existing = [d for d in self.findChildren(QDockWidget) if d.objectName().startswith("panel_") and d is not dock]
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        if existing:
            self.tabifyDockWidget(existing[-1], dock)
        self._view_menu.addAction(dock.toggleViewAction())
        return dock

    @guarded("Overlay")
    def _on_segment_edited(self, label: int) -> None:
        """A reader's edit makes that segment's AI findings the reader's own (status ``edited``):
        the risk inputs and the report then count them as confirmed, by this reader."""
        findings = self.panels.findings
        if findings is not None:
            from meddiag_desktop.qt.findings_review import current_reader

            findings.mark_label_edited(int(label), current_reader())

    def set_overlay(self, overlay) -> None:
        """Show an AI result over the slices in its own layer: a ``LabelOverlay`` (segmentation) or a
        ``HeatOverlay`` (classification map), shown together; ``None`` clears the layer of the AI
        task being run (both when no AI plugin is chosen). See :class:`~meddiag_desktop.qt.overlay_display.OverlayDisplay`."""
        if overlay is None:
            self.overlays.clear(self._ai_task())
        else:
            self.overlays.show(overlay)

    def _ai_task(self) -> str | None:
        """Task (``"segmentation"``/``"classification"``) of the AI panel's plugin, if the panel is built."""
        panels = getattr(self, "panels", None)
        ai = getattr(panels, "_ai", None) if panels is not None else None
        info = ai.current_plugin if ai is not None else None
        task = getattr(getattr(info, "manifest", None), "task", None)
        return task if task in ("segmentation", "classification", "detection") else None

    def _plugin_name(self, plugin_id: str) -> tuple[str, str] | None:
        """(name, version) of an installed AI plugin, for the on-image legend."""
        panels = getattr(self, "panels", None)
        ai = getattr(panels, "_ai", None) if panels is not None else None
        for info in getattr(ai, "_plugins", None) or []:
            if info.ok and info.id == plugin_id:
                return info.manifest.name, info.manifest.version
        return None

    @guarded("Layout")
    def set_layout(self, name: str) -> None:
        """``"four"`` (2x2), ``"1x3"`` (three slice views) or one view alone: ``"axial"``, ``"coronal"``,
        ``"sagittal"``, ``"3d"``."""
        if name in ("compare", "prior_2x2"):
            self.compare.ensure_widgets(name)
        if name not in ("four", "1x3", "prior_2x2") and name not in self.frames:
            raise ValueError(f"unknown layout {name!r}; use four, 1x3, compare, prior_2x2, axial, coronal, sagittal or 3d")
        vol = self.state.volume
        if vol is not None and not vg.has_patient_geometry(vol) and name not in (vg.AXIAL, "compare"):
            self.statusBar().showMessage("This image has no patient orientation: it is shown in one view only", 5000)
            name = vg.AXIAL
        self._before_maximise = None
        self._place_frames(name)
        self.compare.label_frames(name)  # study dates in the titles while current and prior are side by side
        if getattr(self, "sessions", None) is not None:
            self.sessions.changed()
        for w in (*self.slice_widgets.values(), self.volume_widget, *self.compare.widgets()):
            w.request_render()

    @guarded("Maximise")
    def toggle_maximise(self, view: str) -> None:
        """Show ``view`` alone, or go back to the layout it was maximised from (double-click)."""
        before = getattr(self, "_before_maximise", None)
        if self.layout_name == view and before:
            self.set_layout(before)
        else:
            previous = self.layout_name
            self.set_layout(view)
            self._before_maximise = previous

    def refresh_window_menu(self) -> None:
        for act in self.window_menu.actions():
            self.removeAction(act)
        self._fill_window_menu()

    @guarded("3D preset")
    def _set_volume_preset(self, name: str) -> None:
        self.volume_widget.set_preset(name)

    # ---------------------------------------------------------------- loading
    @guarded("Open")
    def open_path(self, path: str) -> None:
        """Open a folder or file: scan (DICOM) into the study browser and load the largest series."""
        self.adopt_task(start_open_task(str(path), self), f"Reading {Path(path).name or path}")

    @guarded("Open demo")
    def open_demo(self, _checked: bool = False) -> None:
        """Open the bundled synthetic chest CT (written as DICOM on first use)."""
        self.adopt_task(start_open_task(DEMO, self), "Opening the demo study")

    def adopt_task(self, task: BackgroundTask, text: str) -> None:
        """Show and finish an open task (possibly started before this window existed)."""
        task.setParent(self)
        self._watch(task, text)
        task.succeeded.connect(self._opened)
        if getattr(task, "partial_volumes", None) is not None:
            task.partial_volumes.arrived.connect(lambda vol, filled: self._show_partial(task, vol, filled))
        if self.state.volume is None:  # use the wait to make the GL contexts and compile the views' shaders
            for w in self.slice_widgets.values():
                QTimer.singleShot(0, w.prewarm)
            QTimer.singleShot(0, self.volume_widget.prewarm)

    def _opened(self, opened) -> None:
        trace(f"opened {opened.source}")
        if opened.found:
            self.browser.set_series(opened.found)
        self.warnings.set_skipped(opened.skipped)
        self.show_volume(opened.volume, opened.series, opened.source)

    @guarded("Open series")
    def open_series(self, series, source: str | None = None) -> None:
        """Load one series from the study browser."""
        self._start_load(series, f"Loading {series.description or series.series_uid}", source=source or "")

    def _start_load(self, what, text: str, source: str) -> None:
        relay = PartialVolumes(self)

        def do_load(progress, cancel):
            from meddiag_desktop import io

            return io.load(what, progress=progress, cancel=cancel, on_partial=relay)

        task = self._run(do_load, text, "load")
        relay.arrived.connect(lambda vol, filled: self._show_partial(task, vol, filled))
        task.succeeded.connect(lambda vol: self.show_volume(vol, what, source))
        task.finished.connect(relay.deleteLater)

    def _show_partial(self, task, volume, filled) -> None:
        """A compressed series while it decodes: shown at its first slice, refreshed as slices land."""
        if task is not self._task or not task.running:
            return  # replaced or cancelled meanwhile
        if self.state.volume is not volume:
            self.show_volume(volume, partial=True)
            self._partial = (task, volume)
            task.cancelled.connect(lambda: self._drop_partial(task))
            task.failed.connect(lambda _m, _e: self._drop_partial(task))
        elif time.perf_counter() - getattr(self, "_refreshed_at", 0.0) >= 0.5:  # the decoders need the cores more
            self._refresh_voxels()
        else:
            return
        self._refreshed_at = time.perf_counter()
        self.statusBar().showMessage(f"Decoding: {int(filled.sum())} of {len(filled)} slices", 2000)

    def _refresh_voxels(self) -> None:
        """The shown volume's voxels changed in place (a series filling in): redraw the slice views."""
        image = getattr(self, "_shown_image", None)
        if image is not None:
            image.GetPointData().GetScalars().Modified()
            image.Modified()
        for w in self.slice_widgets.values():
            w.request_render()

    def _drop_partial(self, task) -> None:
        """A load that showed slices early failed or was cancelled: do not leave a half-decoded series up."""
        shown = getattr(self, "_partial", None)
        if shown is not None and shown[0] is task:
            self._partial = None
            if self.state.volume is shown[1]:
                self.state.set_volume(None)

    def _run(self, fn, text: str, name: str) -> BackgroundTask:
        task = BackgroundTask(fn, name, self)
        self._watch(task, text)
        task.start()
        return task

    def _watch(self, task: BackgroundTask, text: str) -> None:
        """Route a task's progress/errors to the UI; a new task cancels the running one."""
        if self._task is not None and self._task.running:
            self._task.cancel()
        self._task = task
        self._tasks.append(task)
        task.progress.connect(self.progress.set_progress)
        task.failed.connect(lambda msg, _exc: self._failed(msg, text))
        task.cancelled.connect(lambda: self.statusBar().showMessage("Loading cancelled", 5000))
        task.finished.connect(lambda: self._task_finished(task))
        self.progress.begin(text)
        # from the task's own start: an open started before this window existed (start-up) counts whole
        self._t0 = task.started_at if task.started_at is not None else time.perf_counter()
        if not task.running and not task.done:
            task.start()

    def _task_finished(self, task: BackgroundTask) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
        if self._task is task:
            self.progress.end()
        task.deleteLater()

    def _failed(self, message: str, what: str) -> None:
        self.show_error(message)
        self.load_failed.emit(message)

    @guarded("Show volume")
    def show_volume(self, volume, what=None, source: str = "", partial: bool = False) -> None:
        """Show a loaded Volume in every view (``what``: the SeriesInfo it came from, if any).

        ``partial``: a series still decoding (see :meth:`_show_partial`); when it completes, the
        same Volume comes back here and the views are refreshed, not rebuilt.
        """
        from meddiag_desktop.render.image_data import image_from_volume

        shown = getattr(self, "_partial", None)
        if not partial and shown is not None and shown[1] is volume and self.state.volume is volume:
            self._partial = None
            t0 = getattr(self, "_t0", None)
            self.load_seconds = time.perf_counter() - t0 if t0 is not None else 0.0
            self._t0 = None
            self._refresh_voxels()
            self.volume_widget._on_volume(volume)  # the 3D view samples the complete voxels
            partial_window = getattr(self, "_partial_window", None)
            if partial_window is not None and tuple(self.state.window) == partial_window and not volume.is_rgb:
                default = self.tools.default_window(volume) if getattr(self, "tools", None) is not None else None
                self.state.set_window(*(default or (vg.default_window(volume).width, vg.default_window(volume).level)))
            no_geometry = not vg.has_patient_geometry(volume)
            self.warnings.set_volume_warnings(volume.warnings + ([vg.NO_GEOMETRY_REASON] if no_geometry else []))
            return self._shown(volume, what, source)
        t0 = getattr(self, "_t0", None)
        if not partial:
            self.load_seconds = time.perf_counter() - t0 if t0 is not None else 0.0
            self._t0 = None
        trace(f"{'first slice of' if partial else 'loaded'} {volume!r}")
        self.error_banner.hide()
        if getattr(self, "sessions", None) is not None:
            self.sessions.close_current()  # saves the previous study's session before the views change
        image = self._shown_image = image_from_volume(volume)
        for v, w in self.slice_widgets.items():
            w.set_image(volume, image)
            title = self.frames[v].findChild(QLabel, "view_title")
            if title is not None:  # "Image plane" for a single oblique image, else the view's name
                title.setText(w.slice_view.title)
        if partial:  # the 3D view waits for the complete voxels (rendering it now would only delay the slices)
            self.state.volume_changed.disconnect(self.volume_widget._on_volume)
            try:
                self.state.set_volume(volume, source)
            finally:
                self.state.volume_changed.connect(self.volume_widget._on_volume)
            self.volume_widget._on_volume(None)
        else:
            self.state.set_volume(volume, source)
        default = self.tools.default_window(volume) if getattr(self, "tools", None) is not None else None
        if default is not None and not volume.is_rgb:
            self.state.set_window(*default)
        self.volume_presets.suggest_for(volume)  # MR studies get an MR preset
        self.volume_widget.set_preset(self.volume_presets.currentText())
        no_geometry = not vg.has_patient_geometry(volume)  # shown as stored, in one view, with the reason
        self.warnings.set_volume_warnings(volume.warnings + ([vg.NO_GEOMETRY_REASON] if no_geometry else []))
        self.refresh_window_menu()
        if volume.shape_xyz[2] == 1 or volume.is_rgb or no_geometry:  # a single image: show it large, in its own plane
            # the nearest standard view; an oblique single image is shown there in the image's own
            # plane (SliceView picks vg.single_image_frame for that view, not a strip across it)
            self.set_layout(vg.nearest_view(vg.image_normal(volume)))
            self._auto_layout = True
        elif getattr(self, "_auto_layout", False):  # back to four views after a single image
            self.set_layout("four")
            self._auto_layout = False
        self._partial_window = tuple(self.state.window) if partial else None
        if partial:
            return
        self._shown(volume, what, source)

    def _shown(self, volume, what, source: str) -> None:
        """The last steps of :meth:`show_volume`, once the volume is complete."""
        self.browser.mark_open(getattr(what, "key", None))
        md = volume.metadata
        name = str(md.get("patient_name", "") or "").replace("^", " ")
        desc = md.get("series_description", "") or ""
        self.setWindowTitle(" — ".join(x for x in (name, desc, "MedDiag Desktop") if x))
        if source:
            self.recent.add(source)
        nx, ny, nz = volume.shape_xyz
        took = f" in {self.load_seconds:.2f} s" if self.load_seconds else ""
        self.statusBar().showMessage(f"Loaded {nx}x{ny}x{nz}{took}", 5000)
        if not self._decoders_warming:  # the next study may be compressed
            self._decoders_warming = True
            warm_decoders_when_idle(self.state, self)
        trace("views updated")
        self.volume_shown.emit(volume)

    @guarded("Cancel")
    def cancel_loading(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.progress.cancel_button.setEnabled(False)

    def is_busy(self) -> bool:
        return any(t.running for t in self._tasks)

    # ------------------------------------------------------------ drag & drop
    def dragEnterEvent(self, ev) -> None:  # noqa: N802
        if ev.mimeData().hasUrls() and any(u.isLocalFile() for u in ev.mimeData().urls()):
            ev.acceptProposedAction()

    @guarded("Drop")
    def dropEvent(self, ev) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        if paths:
            ev.acceptProposedAction()
            self.open_path(paths[0])

    def showEvent(self, ev) -> None:  # noqa: N802
        super().showEvent(ev)
        if not getattr(self, "_docks_sized", False):  # browser: ~22% of the window, 240-300 px
            self._docks_sized = True
            self.resizeDocks([self.browser], [int(min(300, max(240, self.width() * 0.22)))], Qt.Orientation.Horizontal)

    # ----------------------------------------------------------------- close
    def closeEvent(self, ev) -> None:  # noqa: N802
        self.closing = True
        if getattr(self, "tools", None) is not None:
            self.tools.help.hide()  # a popup must not outlive its window
        if getattr(self, "panels", None) is not None:
            self.panels.shutdown()
        if getattr(self, "sessions", None) is not None:
            self.sessions.close_current()
        for task in list(self._tasks):
            task.wait()
        self.db_browser.close_database()
        if getattr(self, "batch_dialog", None) is not None:
            self.batch_dialog.close()  # cancels a running batch and waits for its workers to stop
        for w in (*self.slice_widgets.values(), self.volume_widget, *self.compare.widgets()):
            w.Finalize()
        super().closeEvent(ev)
