"""Reading tools in the main window: measurement tool bar, undo/redo, history and measurement panels,
cine, user window/level presets, sessions and the keyboard help overlay.

Every action has an id (see :data:`~meddiag_desktop.qt.shortcuts.DEFAULT_SHORTCUTS`) whose key
the user can change in ``shortcuts.json``.
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDockWidget, QInputDialog, QToolBar

from meddiag_desktop.core import view_geometry as vg
from meddiag_desktop.core.measurements import KINDS
from meddiag_desktop.qt.cine import CineControl
from meddiag_desktop.qt.errors import user_message
from meddiag_desktop.qt.history_panel import HistoryPanel
from meddiag_desktop.qt.measurements_panel import MeasurementsPanel
from meddiag_desktop.qt.session_controller import SessionController
from meddiag_desktop.qt.shortcuts import ShortcutHelp, load_shortcuts
from meddiag_desktop.qt.tool_icons import tool_icon
from meddiag_desktop.qt.user_presets import UserPresets

__all__ = ["ReadingTools", "TOOLS"]

log = logging.getLogger(__name__)

#: status bar help shown when a tool is chosen
HINTS = {
    "navigate": "Navigate: click or drag to move the cursor; drag a measurement's handle to edit it",
    "distance": "Distance: drag from one end to the other, or click both ends. Esc cancels",
    "angle": "Angle: drag the first arm to the vertex, then click the end of the second arm (or click three points)",
    "ellipse": "Ellipse ROI: drag its bounding box (or click two opposite corners)",
    "freehand": "Freehand ROI: draw the outline with the button held down; release closes it",
    "point": "Point probe: click to read the value",
    "nodule_axes": "Nodule: drag the long axis, then drag the short axis across it",
}

TOOLS = ("navigate", "distance", "angle", "ellipse", "freehand", "point", "nodule_axes")


class ReadingTools(QObject):
    """Builds and owns the reading tools of ``window`` (a MainWindow)."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.win = window
        st = window.state
        self.keys, problems = load_shortcuts()
        self.actions: dict[str, QAction] = {}

        # measurement tool bar
        tb = QToolBar("Tools", window)
        tb.setObjectName("tools_toolbar")
        tb.setMovable(False)
        tb.setIconSize(tb.iconSize().scaled(22, 22, Qt.AspectRatioMode.KeepAspectRatio))
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        window.addToolBar(Qt.ToolBarArea.LeftToolBarArea, tb)
        self.toolbar = tb
        group = QActionGroup(self)
        group.setExclusive(True)
        for tool in TOOLS:
            label = "Navigate" if tool == "navigate" else KINDS[tool][1]
            act = self._action(f"tool.{tool}", label, lambda _=False, t=tool: self.choose_tool(t), checkable=True)
            act.setIcon(tool_icon(tool))
            group.addAction(act)
            tb.addAction(act)
        self.actions["tool.navigate"].setChecked(True)
        st.tool_changed.connect(lambda t: self.actions[f"tool.{t}"].setChecked(True))
        st.tool_changed.connect(lambda t: window.statusBar().showMessage(HINTS.get(t, ""), 15000))

        # undo / redo
        tb.addSeparator()
        self.undo_action = self._action("undo", "Undo", lambda _=False: st.history.undo())
        self.redo_action = self._action("redo", "Redo", lambda _=False: st.history.redo())
        st.history_changed.connect(self._update_undo)
        self._update_undo()

        # panels
        self.measurements_panel = MeasurementsPanel(st)
        self.measurements_panel.jump_requested.connect(self.jump_to)
        self.measurements_dock = window.add_side_panel(self.measurements_panel, "Measurements")
        QTimer.singleShot(0, self.measurements_dock.raise_)  # the reading panel in front of AI and risk
        self.history_panel = HistoryPanel(st)
        self.history_dock = QDockWidget("History", window)
        self.history_dock.setObjectName("history_dock")
        self.history_dock.setWidget(self.history_panel)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.history_dock)
        window.splitDockWidget(window.browser, self.history_dock, Qt.Orientation.Vertical)

        # cine and presets on the view tool bar
        self.cine = CineControl(st, window)
        window.view_toolbar.addSeparator()
        window.view_toolbar.addWidget(self.cine)
        self._action("cine.play", "Cine play / stop", lambda _=False: self.cine.toggle(self._view_under_mouse()))
        self.user_presets = UserPresets()
        window.window_presets.user_presets = self.user_presets
        if self.user_presets.problem:
            problems.append(self.user_presets.problem)

        # thick slab (MIP / MinIP / average) of the 2D views
        from meddiag_desktop.qt.slab_control import SlabControl

        self.slab_control = SlabControl(window)
        window.view_toolbar.addSeparator()
        window.view_toolbar.addWidget(self.slab_control)
        self.slab_control.slab_changed.connect(self.set_slab)
        self._action("slab.cycle", "Thick slab: next projection", lambda _=False: self.slab_control.cycle())
        self._action("mpr.reset_oblique", "Reset oblique MPR", lambda _=False: self.reset_oblique())

        # sessions and help
        self.sessions = SessionController(window)
        self._action("session.save", "Save session", lambda _=False: self.sessions.save())
        self._action("wl.save", "Save window/level as preset...", lambda _=False: self.save_preset())
        self.help = ShortcutHelp(window.centralWidget())
        self.help.set_keys(self.keys)
        self._action("help.shortcuts", "Keyboard shortcuts", lambda _=False: self.help.toggle())
        for name, act in window.layout_actions.items():  # the View menu's layout entries take configured keys
            aid = f"layout.{ {'four': '2x2'}.get(name, name) }"
            key = self.keys.get(aid, "")
            act.setShortcut(QKeySequence(key) if key else QKeySequence())
            self.actions[aid] = act
        for w in window.slice_widgets.values():
            w.double_clicked.connect(window.toggle_maximise)
        self._fill_menus()
        if problems:
            window.statusBar().showMessage("; ".join(problems), 10000)

    # ------------------------------------------------------------ actions
    def _action(self, aid: str, text: str, slot, checkable: bool = False) -> QAction:
        act = QAction(text, self.win)
        act.setObjectName(aid)
        act.setCheckable(checkable)
        key = self.keys.get(aid, "")
        if key:
            act.setShortcut(QKeySequence(key))
            if key == "?":  # typed as Shift+/ on most layouts: match either way
                act.setShortcuts([QKeySequence("?"), QKeySequence("Shift+?")])
            act.setToolTip(f"{text}  ({QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)})")
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)

        def run(checked: bool = False) -> None:
            try:
                slot(checked)
            except Exception as exc:  # the error boundary: shown, never a crash
                log.exception("%s failed", text)
                self.win.show_error(f"{text} failed: {user_message(exc)}")

        act.triggered.connect(run)
        self.win.addAction(act)  # shortcuts work with menus closed and in every view
        self.actions[aid] = act
        return act

    def _fill_menus(self) -> None:
        win = self.win
        menu = win.menuBar().addMenu("&Edit")
        win.menuBar().insertMenu(win._view_menu.menuAction(), menu)
        menu.addAction(self.undo_action)
        menu.addAction(self.redo_action)
        menu.addSeparator()
        tools = menu.addMenu("&Measure")
        for tool in TOOLS:
            tools.addAction(self.actions[f"tool.{tool}"])
        win.file_menu.insertAction(win.export_action, self.actions["session.save"])
        v = win._view_menu
        v.addSeparator()
        v.addAction(self.actions["cine.play"])
        v.addAction(self.actions["slab.cycle"])
        v.addAction(self.actions["mpr.reset_oblique"])
        v.addAction(self.history_dock.toggleViewAction())
        win.help_menu.insertAction(win.help_menu.actions()[0] if win.help_menu.actions() else None,
                                   self.actions["help.shortcuts"])
        wl = win.window_menu
        wl.aboutToShow.connect(self._add_wl_entries)

    def _add_wl_entries(self) -> None:
        wl = self.win.window_menu
        wl.addSeparator()
        wl.addAction(self.actions["wl.save"])
        act = wl.addAction("Use current window as default for this modality")
        act.triggered.connect(lambda: self.set_default_window())
        act.setEnabled(self.win.state.volume is not None)

    def _update_undo(self) -> None:
        h = self.win.state.history
        self.undo_action.setEnabled(h.can_undo)
        self.redo_action.setEnabled(h.can_redo)
        self.undo_action.setText(f"Undo {h.texts[h.index - 1]}" if h.can_undo else "Undo")
        self.redo_action.setText(f"Redo {h.texts[h.index]}" if h.can_redo else "Redo")

    def _view_under_mouse(self) -> str:
        for view, w in self.win.slice_widgets.items():
            if w.underMouse() or w.hasFocus():
                return view
        return vg.AXIAL

    # ------------------------------------------------------------ behaviour
    def choose_tool(self, tool: str) -> None:
        """Switch tools; choosing Navigate (Esc) first cancels a measurement being placed."""
        st = self.win.state
        if tool == "navigate" and any(w.cancel_placement() for w in self.win.slice_widgets.values()):
            self.actions[f"tool.{st.tool}"].setChecked(True)
            return
        st.set_tool(tool)

    def jump_to(self, mid: str) -> None:
        """Move the cursor (and so every view's slice) to a measurement's centre."""
        st = self.win.state
        m = st.measurements.get(mid)
        centre = np.asarray(m.points, float).mean(axis=0) if m.kind != "ellipse" else np.asarray(m.points[0], float)
        st.set_cursor(centre)
        st.select(mid)
        oblique = getattr(self.win, "oblique", None)
        if oblique is not None and m.kind != "point" and vg.has_patient_geometry(st.volume):
            view = oblique.show_plane(m.normal)  # a measurement drawn in an oblique plane: that plane again
        else:
            view = max(vg.VIEWS, key=lambda v: abs(float(vg.view_frame(v)[:, 2] @ np.asarray(m.normal))))
        if self.win.layout_name not in ("four", "1x3", view):
            self.win.set_layout("four")

    def set_slab(self, slab) -> None:
        """Show every 2D view as a thick slab (a :class:`~meddiag_desktop.core.slab.Slab`) or thin (``None``)."""
        for w in self.win.slice_widgets.values():
            w.slice_view.set_slab(slab)
            w.request_render()
        self.win.statusBar().showMessage(f"Slab: {slab.label}" if slab is not None else "Thin slices", 3000)

    def reset_oblique(self) -> None:
        """Back to the standard axial, coronal and sagittal planes (oblique MPR reset)."""
        oblique = getattr(self.win, "oblique", None)
        if oblique is not None and oblique.is_oblique:
            oblique.reset()
            self.win.statusBar().showMessage("Oblique MPR reset: standard planes", 3000)

    def save_preset(self, name: str | None = None) -> None:
        """Save the current window as a named preset for this modality (asks for the name)."""
        st = self.win.state
        if st.volume is None:
            raise ValueError("Open a study first: a preset saves the window shown")
        if name is None:
            name, ok = QInputDialog.getText(self.win, "Save window/level preset",
                                            f"Name for W {st.window[0]:.0f} / L {st.window[1]:.0f}:")
            if not ok:
                return
        self.user_presets.add(name, *st.window, modality=st.volume.modality)
        self.win.window_presets.reload()
        self.win.refresh_window_menu()

    def set_default_window(self) -> None:
        """The current window becomes the first window of every study of this modality."""
        st = self.win.state
        if st.volume is not None:
            self.user_presets.set_default(st.volume.modality, *st.window)
            self.win.statusBar().showMessage(f"Default window for {st.volume.modality} saved", 5000)

    def default_window(self, volume) -> tuple[float, float] | None:
        return self.user_presets.default_for(volume.modality)
