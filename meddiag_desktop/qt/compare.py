"""Compare view: a second series or a prior study beside the current one, linked.

One :class:`ViewerState` of its own, shown in an axial view (``"compare"`` layout:
axial | compare) and, for priors, a coronal view too (``"prior_2x2"``: axial and
coronal of the current left, of the prior right). While linked, scrolling, the
cursor, zoom and window/level follow each other:

* both series in one FrameOfReferenceUID: by LPS position (same coordinates);
* other frames (a prior, another visit): through a :class:`RigidTransform` from
  :func:`~meddiag_desktop.reading.registration.register_rigid` (run in the
  background with progress and cancel, started when a prior opens) or from a
  reader-set point pair (the two cursors). *Reset registration* drops it.

Without either the views are shown side by side but never linked, and the
status bar says why. Each view's title carries its study date.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel

from meddiag_desktop.core import view_geometry as vg
from meddiag_desktop.qt.background import BackgroundTask
from meddiag_desktop.qt.errors import guarded
from meddiag_desktop.qt.slice_widget import SliceViewWidget
from meddiag_desktop.qt.view_grid import PRIOR_FRAMES, framed
from meddiag_desktop.qt.viewer_state import ViewerState

__all__ = ["CompareView"]

COMPARE_COLOUR = (0.62, 0.52, 0.88)
#: compare frame key -> view shown in it
_FRAME_VIEWS = {"compare": vg.AXIAL, "compare_coronal": vg.CORONAL}


def _for_uid(volume) -> str:
    return str(volume.metadata.get("frame_of_reference_uid", "") or "") if volume is not None else ""


def _date(volume) -> str:
    from meddiag_desktop.reading.priors import date_text

    return date_text(str(volume.metadata.get("study_date", "") or "")) if volume is not None else ""


class CompareView(QObject):
    """Owns the compare state and widgets; ``open_series`` / ``open_prior`` load into them."""

    link_changed = Signal(str)  #: how the two are linked now ("" when not)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.win = window
        self.state = ViewerState(self)
        self.widget: SliceViewWidget | None = None  # made on first use: one GL view less at start-up
        self.coronal_widget: SliceViewWidget | None = None
        self.frame = None
        self.transform = None  #: RigidTransform current -> compare, or None
        self.prior = None  #: the PriorStudy shown, when it is one
        self.pending_layout = ""  #: layout to show when the loading series arrives
        self.sync_action = QAction("S&ynchronise compare scrolling", window, checkable=True, checked=True)
        self.sync_action.toggled.connect(lambda on: on and self._sync_from(self.win.state, self.state))
        self.register_action = QAction("&Register prior to current (rigid)", window)
        self.register_action.triggered.connect(lambda _=False: self.register())
        self.point_pair_action = QAction("Link prior by &point pair (the two cursors)", window)
        self.point_pair_action.triggered.connect(lambda _=False: self.link_point_pair())
        self.reset_action = QAction("Reset re&gistration", window)
        self.reset_action.triggered.connect(lambda _=False: self.reset_registration())
        self._syncing = False
        self._task: BackgroundTask | None = None
        self.registration_task: BackgroundTask | None = None
        self.registration_options: dict = {}  #: keyword arguments of register_rigid (spacing_mm, iterations...)
        window.state.cursor_changed.connect(lambda _c: self._sync_from(self.win.state, self.state))
        self.state.cursor_changed.connect(lambda _c: self._sync_from(self.state, self.win.state))
        window.state.window_changed.connect(lambda w, lv: self._sync_window(self.state, w, lv))
        self.state.window_changed.connect(lambda w, lv: self._sync_window(self.win.state, w, lv))
        window.state.camera_changed.connect(lambda view: self._sync_camera(view, to_compare=True))
        window.state.volume_changed.connect(self._current_changed)
        self.state.camera_changed.connect(lambda view: self._sync_camera(view, to_compare=False))

    def show_error(self, message: str) -> None:
        self.win.show_error(message)

    # ---------------------------------------------------------------- widgets
    def ensure_widget(self) -> SliceViewWidget:
        """The compare view, created (and added to the window's frames) the first time it is needed."""
        if self.widget is None:
            self.widget = self._make("compare", vg.AXIAL)
            self.frame = self.win.frames["compare"]
        return self.widget

    def ensure_widgets(self, layout: str) -> None:
        """Every compare view ``layout`` needs (``"compare"``: axial; ``"prior_2x2"``: axial and coronal)."""
        self.ensure_widget()
        if layout == "prior_2x2" and self.coronal_widget is None:
            self.coronal_widget = self._make("compare_coronal", vg.CORONAL)
            vol = self.state.volume
            if vol is not None:
                from meddiag_desktop.render.image_data import image_from_volume

                self.coronal_widget.set_image(vol, image_from_volume(vol))
                self.coronal_widget.slice_view.set_cursor(self.state.cursor)

    def _make(self, key: str, view: str) -> SliceViewWidget:
        w = SliceViewWidget(view, self.state)
        w.setObjectName(f"{key}_view")
        w.slice_view.set_hint("Compare: choose a series in the study browser,\nthen View \u25b8 Compare with selected series")
        self.win.frames[key] = framed(w, "Compare" if view == vg.AXIAL else "Compare coronal", COMPARE_COLOUR)
        return w

    def widgets(self) -> list[SliceViewWidget]:
        return [w for w in (self.widget, self.coronal_widget) if w is not None]

    # -------------------------------------------------------------- linking
    @property
    def same_frame(self) -> bool:
        a, b = _for_uid(self.win.state.volume), _for_uid(self.state.volume)
        return bool(a) and a == b

    @property
    def link(self) -> str:
        """How current and compare are linked: ``"same frame of reference"``, the transform's method, or ""."""
        if self.state.volume is None or self.win.state.volume is None:
            return ""
        if self.transform is not None:
            return self.transform.method
        return "same frame of reference" if self.same_frame else ""

    @property
    def synchronised(self) -> bool:
        """True when scrolling is linked: sync on and a link (same frame of reference or a registration)."""
        return self.sync_action.isChecked() and bool(self.link)

    def to_compare(self, lps) -> np.ndarray:
        """The compare point of a current point (identity in one frame of reference)."""
        return self.transform.apply(lps) if self.transform is not None else np.asarray(lps, float)

    def to_current(self, lps) -> np.ndarray:
        return self.transform.inverse_apply(lps) if self.transform is not None else np.asarray(lps, float)

    def _sync_from(self, src: ViewerState, dst: ViewerState) -> None:
        if self._syncing or not self.synchronised:
            return
        target = self.to_compare(src.cursor) if src is self.win.state else self.to_current(src.cursor)
        self._syncing = True
        try:
            dst.set_cursor(target)
        finally:
            self._syncing = False

    def _sync_window(self, dst: ViewerState, width: float, level: float) -> None:
        if self._syncing or not self.sync_action.isChecked() or dst.volume is None:
            return
        if (self.win.state.volume is None or self.state.volume is None
                or self.win.state.volume.modality != self.state.volume.modality):
            return  # a window in HU means nothing to an MR
        self._syncing = True
        try:
            dst.set_window(width, level)
        finally:
            self._syncing = False

    def _sync_camera(self, view: str, to_compare: bool) -> None:
        """Zoom (and pan) of the linked view of the other study follow."""
        if not self.sync_action.isChecked():
            return
        current = self.win.slice_widgets.get(view)
        other = {vg.AXIAL: self.widget, vg.CORONAL: self.coronal_widget}.get(view)
        if current is None or other is None:
            return
        src, dst = (current, other) if to_compare else (other, current)
        dst.slice_view.zoom = src.slice_view.zoom
        dst.slice_view.pan = np.array(src.slice_view.pan, float)
        dst.slice_view.reset_camera()
        dst.request_render()

    def _current_changed(self, _volume) -> None:
        """A new current study: the old registration and prior no longer apply."""
        if self.registration_task is not None and self.registration_task.running:
            self.registration_task.cancel()
        self.prior = None
        self.set_transform(None)

    def set_transform(self, transform) -> None:
        """Link through ``transform`` (current LPS -> compare LPS; None: by frame of reference or not at all)."""
        self.transform = transform
        self.reset_action.setEnabled(transform is not None)
        if self.synchronised:
            self._sync_from(self.win.state, self.state)
        self.link_changed.emit(self.link)

    @guarded("Link by point pair")
    def link_point_pair(self) -> None:
        """Link the current cursor to the compare cursor (set each on the same landmark first, sync off)."""
        from meddiag_desktop.reading.registration import point_pair_transform

        if self.state.volume is None or self.win.state.volume is None:
            raise ValueError("Open a prior (or compare series) first, then set the cursor on one landmark in each")
        self.set_transform(point_pair_transform(self.win.state.cursor, self.state.cursor))
        self.sync_action.setChecked(True)
        self.win.statusBar().showMessage("Compare: linked by the point pair (the two cursors)", 8000)

    @guarded("Reset registration")
    def reset_registration(self) -> None:
        if self.registration_task is not None and self.registration_task.running:
            self.registration_task.cancel()
        self.set_transform(None)
        how = "by frame of reference" if self.link else "not linked (different frames of reference)"
        self.win.statusBar().showMessage(f"Compare: registration reset; {how}", 8000)

    def register(self) -> BackgroundTask | None:
        """Rigidly register the compare series to the current one in the background (progress, cancel)."""
        cur, other = self.win.state.volume, self.state.volume
        if cur is None or other is None:
            self.win.show_error("Register: open a prior (or compare series) first")
            return None

        options = dict(self.registration_options)

        def run(progress, cancel):
            from meddiag_desktop.reading.registration import register_rigid

            return register_rigid(cur, other, progress=progress, cancel=cancel, **options)

        task = BackgroundTask(run, "registration", self.win)
        self.win._watch(task, "Registering the prior to the current study")  # progress bar with Cancel
        task.succeeded.connect(self._registered)
        task.cancelled.connect(lambda: self.win.statusBar().showMessage(  # after the window's "Loading cancelled"
            "Registration cancelled: the prior is not linked (register again or link by a point pair)", 10000))
        self.registration_task = task
        return task

    def _registered(self, transform) -> None:
        if self.state.volume is None:
            return
        self.set_transform(transform)
        self.win.statusBar().showMessage(
            f"Compare: registered ({transform.describe(self.win.state.cursor)})", 10000)

    # -------------------------------------------------------------- loading
    @guarded("Compare")
    def open_selected(self, _checked: bool = False) -> None:
        """Load the series selected in the study browser into the compare view."""
        from meddiag_desktop.qt.study_browser import _SERIES_ROLE

        item = self.win.browser.tree.currentItem()
        series = item.data(0, _SERIES_ROLE) if item is not None else None
        if series is None:
            raise ValueError("Select a series in the study browser first, then choose Compare")
        self.prior = None
        self.open_series(series)

    def open_prior(self, prior, layout: str = "prior_2x2", register: bool = True) -> BackgroundTask:
        """Load a :class:`~meddiag_desktop.reading.priors.PriorStudy` beside the current study.

        In another frame of reference it is registered once loaded (``register``).
        """
        self.prior = prior
        self.pending_layout = layout
        self._register_when_shown = register
        return self.open_series(prior.series)

    def open_series(self, series) -> BackgroundTask:
        """Load ``series`` (SeriesInfo or path) in the background and show it beside the axial view."""

        def load(progress, cancel):
            from meddiag_desktop import io

            return io.load(series, progress=progress, cancel=cancel)

        task = BackgroundTask(load, "compare", self.win)
        task.succeeded.connect(self.show_volume)
        task.failed.connect(lambda msg, _exc: self.win.show_error(f"Compare: {msg}"))
        self.win._watch(task, "Loading the prior" if self.prior is not None else "Loading the compare series")
        self._task = task
        return task

    @guarded("Compare")
    def show_volume(self, volume) -> None:
        from meddiag_desktop.render.image_data import image_from_volume

        layout = self.pending_layout or "compare"
        self.pending_layout = ""
        self.transform = None
        self.ensure_widgets(layout)
        image = image_from_volume(volume)
        for w in self.widgets():
            w.set_image(volume, image)
        self._syncing = True  # its own start cursor and window must not move the current study
        try:
            self.state.set_volume(volume)
        finally:
            self._syncing = False
        self.state.set_window(*self.win.state.window)
        self.win.set_layout(layout)
        self.reset_action.setEnabled(False)
        if self.synchronised:
            self._sync_from(self.win.state, self.state)
            self.win.statusBar().showMessage("Compare: linked by LPS position (same frame of reference)", 5000)
        elif self.prior is not None and getattr(self, "_register_when_shown", True) and self.sync_action.isChecked():
            self.register()
        else:
            why = "sync is off" if not self.sync_action.isChecked() else "different frames of reference"
            self.win.statusBar().showMessage(f"Compare: not synchronised ({why})", 8000)
        self.link_changed.emit(self.link)

    # --------------------------------------------------------------- labels
    def label_frames(self, layout: str) -> None:
        """Titles with the study dates while current and compare are side by side; plain titles otherwise."""
        side_by_side = layout in ("compare", "prior_2x2") and self.state.volume is not None
        which = "prior" if self.prior is not None else "compare"
        for key in (vg.AXIAL, vg.CORONAL, *PRIOR_FRAMES):
            frame = self.win.frames.get(key)
            title = frame.findChild(QLabel, "view_title") if frame is not None else None
            if title is None:
                continue
            if key in _FRAME_VIEWS:
                view = _FRAME_VIEWS[key]
                title.setText(f"{view.capitalize()} \u2014 {which} {_date(self.state.volume)}".strip())
            else:
                base = self.win.slice_widgets[key].slice_view.title
                date = _date(self.win.state.volume)
                title.setText(f"{base} \u2014 current {date}".strip() if side_by_side else base)

    def slice_position(self) -> float:
        """Position (mm along S) of the compare view's slice."""
        return float(np.asarray(self.state.cursor) @ vg.slice_axis(vg.AXIAL))
