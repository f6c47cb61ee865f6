"""Compare view: a second series beside the axial view, with synchronised scrolling.

The simplest honest version of linked series: one extra axial view with its own
:class:`ViewerState`, shown in the ``"compare"`` layout (axial | compare). When
both series share a FrameOfReferenceUID (same patient position, e.g. two
reconstructions or phases of one acquisition) and sync is on, scrolling either
moves the other to the same LPS position along the axial normal; in-plane
positions stay independent. Series of different frames of reference are shown
but never synchronised (their coordinates cannot be compared) and the status
bar says so.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QAction

from meddiag_desktop.core import view_geometry as vg
from meddiag_desktop.qt.background import BackgroundTask
from meddiag_desktop.qt.errors import guarded
from meddiag_desktop.qt.slice_widget import SliceViewWidget
from meddiag_desktop.qt.view_grid import framed
from meddiag_desktop.qt.viewer_state import ViewerState

__all__ = ["CompareView"]

COMPARE_COLOUR = (0.62, 0.52, 0.88)


def _for_uid(volume) -> str:
    return str(volume.metadata.get("frame_of_reference_uid", "") or "") if volume is not None else ""


class CompareView(QObject):
    """Owns the compare state and widget; ``open_series`` loads a series into it."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.win = window
        self.state = ViewerState(self)
        self.widget: SliceViewWidget | None = None  # made on first use: one GL view less at start-up
        self.frame = None
        self.sync_action = QAction("S&ynchronise compare scrolling", window, checkable=True, checked=True)
        self.sync_action.toggled.connect(lambda on: on and self._sync_from(self.win.state, self.state))
        self._syncing = False
        self._task: BackgroundTask | None = None
        window.state.cursor_changed.connect(lambda _c: self._sync_from(self.win.state, self.state))
        self.state.cursor_changed.connect(lambda _c: self._sync_from(self.state, self.win.state))

    def show_error(self, message: str) -> None:
        self.win.show_error(message)

    def ensure_widget(self) -> SliceViewWidget:
        """The compare view, created (and added to the window's frames) the first time it is needed."""
        if self.widget is None:
            self.widget = SliceViewWidget(vg.AXIAL, self.state)
            self.widget.setObjectName("compare_view")
            self.widget.slice_view.set_hint(
                "Compare: choose a series in the study browser,\nthen View \u25b8 Compare with selected series")
            self.frame = framed(self.widget, "Compare", COMPARE_COLOUR)
            self.win.frames["compare"] = self.frame
        return self.widget

    @property
    def synchronised(self) -> bool:
        """True when scrolling is linked: sync on and both series in one frame of reference."""
        a, b = _for_uid(self.win.state.volume), _for_uid(self.state.volume)
        return self.sync_action.isChecked() and bool(a) and a == b

    def _sync_from(self, src: ViewerState, dst: ViewerState) -> None:
        if self._syncing or not self.synchronised:
            return
        n = vg.slice_axis(vg.AXIAL)
        target = dst.cursor + n * float((src.cursor - dst.cursor) @ n)
        self._syncing = True
        try:
            dst.set_cursor(target)
        finally:
            self._syncing = False

    @guarded("Compare")
    def open_selected(self, _checked: bool = False) -> None:
        """Load the series selected in the study browser into the compare view."""
        from meddiag_desktop.qt.study_browser import _SERIES_ROLE

        item = self.win.browser.tree.currentItem()
        series = item.data(0, _SERIES_ROLE) if item is not None else None
        if series is None:
            raise ValueError("Select a series in the study browser first, then choose Compare")
        self.open_series(series)

    def open_series(self, series) -> BackgroundTask:
        """Load ``series`` (SeriesInfo or path) in the background and show it beside the axial view."""

        def load(progress, cancel):
            from meddiag_desktop import io

            return io.load(series, progress=progress, cancel=cancel)

        task = BackgroundTask(load, "compare", self.win)
        task.succeeded.connect(self.show_volume)
        task.failed.connect(lambda msg, _exc: self.win.show_error(f"Compare: {msg}"))
        self.win._watch(task, "Loading the compare series")
        self._task = task
        return task

    @guarded("Compare")
    def show_volume(self, volume) -> None:
        from meddiag_desktop.render.image_data import image_from_volume

        self.ensure_widget().set_image(volume, image_from_volume(volume))
        self.state.set_volume(volume)
        self.state.set_window(*self.win.state.window)
        self.win.set_layout("compare")
        if self.synchronised:
            self._sync_from(self.win.state, self.state)
            self.win.statusBar().showMessage("Compare: scrolling synchronised (same frame of reference)", 5000)
        else:
            why = "sync is off" if not self.sync_action.isChecked() else "different frames of reference"
            self.win.statusBar().showMessage(f"Compare: not synchronised ({why})", 8000)

    def slice_position(self) -> float:
        """Position (mm along S) of the compare view's slice."""
        return float(np.asarray(self.state.cursor) @ vg.slice_axis(vg.AXIAL))
