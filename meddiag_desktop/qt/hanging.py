"""Hanging protocols in the window: find priors and apply the matching protocol when a study opens.

The logic is Qt-free (:mod:`meddiag_desktop.reading.hanging`, ``.priors``); this
adapter looks for priors in the background (the study browser's series, and the
local database when installed), picks the protocol, applies its stage (layout,
window preset, loading the prior beside the current study when the stage shows
one), and steps stages on ``]`` / ``[`` (``protocol.next`` / ``protocol.previous``
in ``shortcuts.json``). A bad user protocol file is shown in the error banner
and the shipped protocols are used.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction

from meddiag_desktop.qt.background import BackgroundTask
from meddiag_desktop.qt.errors import guarded

__all__ = ["HangingProtocols"]

log = logging.getLogger(__name__)

#: the search starts this long after the study's first 3D frame (or FALLBACK_MS after it is shown)
AFTER_FRAME_MS = 150
FALLBACK_MS = 1500


class HangingProtocols(QObject):
    """Priors of the open study and its hanging protocol (``run``: protocol and stage)."""

    applied = Signal(str, str)  #: protocol name, stage name (after a stage was applied)
    priors_found = Signal(object)  #: list of PriorStudy

    def __init__(self, window) -> None:
        super().__init__(window)
        self.win = window
        self.protocols: list | None = None  # read on the first study
        self.problems: list[str] = []
        self.priors: list = []
        self.run = None  #: ProtocolRun of the open study
        self.auto_apply = True  #: apply the protocol's first stage when a study opens
        self._task: BackgroundTask | None = None
        self._pending = None  #: the study waiting for its first frame before the search
        tools = window.tools
        self.next_action = tools._action("protocol.next", "Next hanging-protocol stage", lambda _=False: self.step(1))
        self.previous_action = tools._action("protocol.previous", "Previous hanging-protocol stage",
                                             lambda _=False: self.step(-1))
        self.prior_action = QAction("Open &prior beside the current study", window)
        self.prior_action.triggered.connect(lambda _=False: self.open_prior())
        menu = window._view_menu.addMenu("&Hanging protocol")
        self.menu = menu
        self.title_action = menu.addAction("(no study open)")
        self.title_action.setEnabled(False)
        for act in (self.next_action, self.previous_action, self.prior_action):
            menu.addAction(act)
        act = menu.addAction("Reload protocols")
        act.triggered.connect(lambda _=False: self.reload())
        window.volume_shown.connect(self._on_volume)

    def show_error(self, message: str) -> None:
        """The error boundary (:func:`guarded`) reports through the window's banner."""
        self.win.show_error(message)

    # -------------------------------------------------------------- protocols
    def reload(self) -> None:
        """Read the shipped and the user's protocol files again (problems go to the banner); used from the menu."""
        from meddiag_desktop.reading.hanging import load_protocols

        self.protocols, self.problems = load_protocols()
        for p in self.problems:
            self.win.show_error(p)

    def _series_list(self) -> list:
        from meddiag_desktop.qt.study_browser import _SERIES_ROLE

        return [s for s in (i.data(0, _SERIES_ROLE) for i in self.win.browser.series_items()) if s is not None]

    def _on_volume(self, volume) -> None:
        """Look for priors once the study's first frame is on screen (the search imports pydantic, reads files)."""
        self._pending = volume
        self.priors, self.run = [], None
        self._layout_at_open = getattr(self.win, "layout_name", None)  # the reader's later choice wins
        self.win.volume_widget.rendered.connect(lambda: QTimer.singleShot(AFTER_FRAME_MS, self, self._start),
                                                Qt.ConnectionType.SingleShotConnection)
        QTimer.singleShot(FALLBACK_MS, self, self._start)  # the 3D view may be hidden

    def _start(self) -> None:
        volume, self._pending = self._pending, None
        if volume is not None and volume is self.win.state.volume and self.win.isVisible():  # not after close
            self.search(volume)

    @guarded("Hanging protocol")
    def search(self, volume) -> None:
        """Find the priors of ``volume`` in the background, then choose and apply its protocol."""
        if self._task is not None and self._task.running:
            self._task.cancel()
        self.priors, self.run = [], None
        metadata = dict(volume.metadata)
        series = self._series_list()

        protocols = self.protocols

        def find(progress, cancel):  # off the UI thread: pydantic, the protocol files, the database
            from meddiag_desktop.reading.hanging import context_for, load_protocols
            from meddiag_desktop.reading.priors import find_priors

            problems: list[str] = []
            loaded = (protocols, []) if protocols is not None else load_protocols()
            priors = find_priors(metadata, series, problems=problems)
            return priors, problems, loaded, context_for(metadata, 1 + min(len(priors), 1))

        task = BackgroundTask(find, "priors", self)
        task.succeeded.connect(lambda result, v=volume: self._found(v, *result))
        task.failed.connect(lambda msg, _e: log.info("prior search failed: %s", msg))
        self.win._tasks.append(task)  # the window waits for it on close; is_busy() sees it
        task.finished.connect(lambda t=task: self.win._tasks.remove(t) if t in self.win._tasks else None)
        self._task = task
        task.start()

    @guarded("Hanging protocol")
    def _found(self, volume, priors: list, problems: list[str], loaded: tuple, context) -> None:
        from meddiag_desktop.reading.hanging import ProtocolRun, match_protocol

        if getattr(self.win, "closing", False):
            return  # the search ended as the window closed: open no prior now
        if self.protocols is None:
            self.protocols, self.problems = loaded
            for p in self.problems:  # a bad user file: said once, the shipped protocols are used
                self.win.show_error(p)
        if volume is not self.win.state.volume:
            return  # another study opened meanwhile
        self.priors = priors
        for p in problems:
            self.win.statusBar().showMessage(p, 8000)
        self.priors_found.emit(priors)
        protocol = match_protocol(self.protocols or [], context)
        if protocol is None:
            self.title_action.setText("(no protocol matches)")
            return
        self.run = ProtocolRun(protocol)
        self.prior_action.setEnabled(bool(priors))
        if self.auto_apply and self._may_change_layout(volume):
            self.apply_stage()
        else:
            self._show_title()

    def _may_change_layout(self, volume) -> bool:
        """Single images keep their own view; a restored session keeps the reader's layout."""
        from meddiag_desktop.core import view_geometry as vg

        if volume.shape_xyz[2] == 1 or volume.is_rgb or not vg.has_patient_geometry(volume):
            return False
        if getattr(self.win, "layout_name", None) != getattr(self, "_layout_at_open", None):
            return False  # the reader changed the layout (or opened a compare series) while we searched
        sessions = getattr(self.win, "sessions", None)
        try:
            return sessions is None or sessions.key is None or sessions.store.load(sessions.key) is None
        except (OSError, ValueError):
            return True

    def _show_title(self) -> None:
        if self.run is not None:
            self.title_action.setText(f"{self.run.protocol.name} \u2014 {self.run.position} {self.run.stage.name}")

    # ----------------------------------------------------------------- stages
    @guarded("Hanging protocol")
    def step(self, delta: int) -> None:
        """Next (``+1``) or previous (``-1``) stage of the protocol."""
        if self.run is None:
            self.win.statusBar().showMessage("No hanging protocol: open a study first", 5000)
            return
        if not self.run.step(delta):
            self.win.statusBar().showMessage(
                f"{self.run.protocol.name}: already at the {'last' if delta > 0 else 'first'} stage", 4000)
            return
        self.apply_stage()

    def apply_stage(self) -> None:
        """Show the current stage: its layout (loading the prior when it shows one) and its window preset."""
        from meddiag_desktop.reading.hanging import PRIOR_LAYOUTS

        stage = self.run.stage
        if stage.layout in PRIOR_LAYOUTS:
            compare = self.win.compare
            if not self.priors:
                raise ValueError(f"stage {stage.name!r} shows a prior, and this patient has none in the opened "
                                 "folder or the database")
            if compare.prior is None or compare.prior.study_uid != self.priors[0].study_uid:
                compare.open_prior(self.priors[0], layout=stage.layout)
            else:
                self.win.set_layout(stage.layout)
        else:
            self.win.set_layout(stage.layout)
        if stage.window:
            preset = next((p for p in self.win.window_presets.presets if p.name.casefold() == stage.window.casefold()),
                          None)
            if preset is not None:
                self.win.state.apply_preset(preset)
            else:
                self.win.statusBar().showMessage(f"{stage.name}: this study has no window preset {stage.window!r}", 6000)
        self._show_title()
        self.win.statusBar().showMessage(
            f"Hanging protocol {self.run.protocol.name}: stage {self.run.position}, {stage.name}", 6000)
        self.applied.emit(self.run.protocol.name, stage.name)

    @guarded("Open prior")
    def open_prior(self, index: int = 0):
        """Show prior ``index`` (newest first) beside the current study, axial and coronal of each."""
        if not self.priors:
            raise ValueError("No prior found: no earlier study of this patient in the opened folder or the database")
        return self.win.compare.open_prior(self.priors[index], layout="prior_2x2")
