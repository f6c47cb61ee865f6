"""Saves and restores the reading session of the open study; autosaves a few seconds after each change.

Session files live in the user data folder (``$MEDDIAG_SESSION_DIR`` overrides it),
never beside the study. When a study opens: if the previous run did not exit
cleanly (its lock is still there) the user is asked whether to restore the
autosaved state (``$MEDDIAG_RESTORE_SESSION=yes|no`` answers without asking,
for tests and kiosks); otherwise a session saved at a clean exit is restored
directly. Only the measurements and view state are stored; label maps from AI
are stored beside them (compressed) so their overlay comes back too.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMessageBox

from meddiag_desktop.atomic_files import write_bytes_atomic
from meddiag_desktop.qt.errors import guarded
from meddiag_desktop.session_store import SessionState, SessionStore, geometry_fingerprint

__all__ = ["SessionController", "AUTOSAVE_MS"]

log = logging.getLogger(__name__)
AUTOSAVE_MS = int(os.environ.get("MEDDIAG_AUTOSAVE_MS", "2000"))  #: delay after the last change


class SessionController(QObject):
    """Keeps one :class:`SessionState` per study in a :class:`SessionStore`."""

    def __init__(self, window, store: SessionStore | None = None) -> None:
        super().__init__(window)
        self.win = window
        self.store = store or SessionStore()
        self.key: str | None = None
        self.restoring = False
        self.saves = 0
        self.last_restored: SessionState | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(AUTOSAVE_MS)
        self._timer.timeout.connect(self.save)
        st = window.state
        st.history_changed.connect(self.changed)
        st.window_changed.connect(lambda *_: self.changed())
        st.cursor_changed.connect(lambda *_: self.changed())
        st.camera_changed.connect(lambda *_: self.changed())
        window.volume_shown.connect(self._on_volume)

    def show_error(self, message: str) -> None:
        self.win.show_error(message)

    @staticmethod
    def key_for(volume, source: str = "") -> str:
        uid = str(volume.metadata.get("series_uid") or "")
        if uid:
            return uid
        return f"file:{Path(source).resolve()}" if source else "unknown"

    def changed(self) -> None:
        """Something worth keeping changed: autosave soon (coalesced)."""
        if self.key is not None and not self.restoring:
            self._timer.start()

    # ---------------------------------------------------------------- save
    def collect(self) -> SessionState:
        win, st = self.win, self.win.state
        cams = {}
        for view, w in win.slice_widgets.items():
            sv = w.slice_view
            cams[view] = {"zoom": float(sv.zoom), "pan": [float(x) for x in sv.pan]}
        overlays = {}
        panels = getattr(win, "panels", None)
        seg = getattr(panels, "segmentation", None) if panels is not None else None
        # only a built AI panel can have produced a segmentation: do not build one to find out
        overlay = getattr(getattr(panels, "ai", None), "overlay", None) if seg is not None else None
        if seg is not None and overlay is not None and hasattr(overlay, "labels"):
            overlays = {"plugin_id": seg.plugin_id, "names": {str(k): v for k, v in seg.label_names.items()},
                        "colors": {str(k): v for k, v in seg.label_colors.items()},
                        "visible": sorted(int(v) for v in overlay.visible), "opacity": float(overlay.opacity),
                        "intended_use": seg.intended_use, "labels_file": self._save_labels(seg.labels)}
        return SessionState(series_uid=self.key or "", source=st.source, measurements=st.measurements.to_list(),
                            window=tuple(st.window), layout=win.layout_name, cursor_lps=tuple(float(c) for c in st.cursor),
                            cameras=cams, overlays=overlays,
                            geometry=geometry_fingerprint(st.volume) if st.volume is not None else "")

    def _save_labels(self, labels: np.ndarray) -> str:
        path = self.store.path_for(self.key or "").with_suffix(".labels.npz")
        buf = io.BytesIO()
        np.savez_compressed(buf, labels=labels)
        write_bytes_atomic(path, buf.getvalue())
        return path.name

    @guarded("Save session")
    def save(self, _checked: bool = False) -> Path | None:
        """Write the session now (atomic); returns its path."""
        self._timer.stop()
        if self.key is None or self.win.state.volume is None:
            return None
        path = self.store.save(self.collect())
        self.saves += 1
        return path

    # ------------------------------------------------------------- restore
    def _ask_restore(self, state: SessionState) -> bool:
        answer = os.environ.get("MEDDIAG_RESTORE_SESSION", "").lower()
        if answer in ("yes", "no"):
            return answer == "yes"
        n = len(state.measurements)
        box = QMessageBox(QMessageBox.Icon.Question, "Restore session",
                          "MedDiag Desktop did not close normally last time this study was open.\n\n"
                          f"Restore the autosaved session ({n} measurement{'s' if n != 1 else ''}, views, window/level)?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self.win)
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        return box.exec() == QMessageBox.StandardButton.Yes

    @guarded("Restore session")
    def _on_volume(self, volume) -> None:
        self.close_current()  # normally done by the window before the views change
        self.key = self.key_for(volume, self.win.state.source)
        unclean = self.store.open_lock(self.key)
        try:
            saved = self.store.load(self.key)
        except ValueError as exc:
            self.win.show_error(str(exc))
            return
        if saved is None:
            return
        if not unclean:
            self.restore(saved)
            return
        if os.environ.get("MEDDIAG_RESTORE_SESSION", "").lower() in ("yes", "no"):
            self._offer_restore(saved, self.key)
        else:  # after the views have the study, outside the volume_shown signal
            QTimer.singleShot(0, lambda key=self.key: self._offer_restore(saved, key))

    @guarded("Restore session")
    def _offer_restore(self, saved: SessionState, key: str | None) -> None:
        if self.key == key and self._ask_restore(saved):
            self.restore(saved)

    def restore(self, s: SessionState) -> None:
        """Apply a saved state to the window (not undoable: it is where the session starts)."""
        win, st = self.win, self.win.state
        moved = bool(s.geometry) and st.volume is not None and s.geometry != geometry_fingerprint(st.volume)
        self.restoring = True
        try:
            st.measurements.load_list(s.measurements)  # the reader's work is never dropped
            st.history.clear()
            if s.window:
                st.set_window(*s.window)
            if moved:  # views, cursor and overlay belong to the old grid: start from the defaults
                self._warn_moved(len(s.measurements), bool((s.overlays or {}).get("labels_file")))
            elif s.layout:
                win.set_layout({"2x2": "four"}.get(s.layout, s.layout))
            if s.cursor_lps and not moved:
                st.set_cursor(s.cursor_lps)
            for view, cam in ({} if moved else s.cameras or {}).items():
                w = win.slice_widgets.get(view)
                if w is not None and "zoom" in cam:
                    w.slice_view.zoom = float(cam["zoom"])
                    w.slice_view.pan = np.asarray(cam.get("pan", (0, 0)), float)
                    w.slice_view.reset_camera()
                    w.refresh_measurements()
            if not moved:
                self._restore_overlay(s.overlays or {})
        finally:
            self.restoring = False
        self.last_restored = s
        if s.measurements:
            win.statusBar().showMessage(f"Session restored: {len(s.measurements)} measurement(s)", 5000)

    def _warn_moved(self, n_measurements: int, had_overlay: bool) -> None:
        text = ("This study is now read onto a different grid than when its session was saved (for example after "
                "an update of MedDiag Desktop): the saved layout and views were not restored")
        if had_overlay:
            text += ", nor the AI overlay (run the plugin again)"
        if n_measurements:
            text += f"; check the {n_measurements} restored measurement(s), which keep their saved patient positions"
        warnings = list(self.win.warnings.volume_warnings)
        self.win.warnings.set_volume_warnings([*warnings, text + "."])

    def _restore_overlay(self, ov: dict) -> None:
        name = ov.get("labels_file")
        if not name:
            return
        path = self.store.root / name
        with np.load(path) as data:
            labels = data["labels"]
        volume = self.win.state.volume
        if labels.shape != volume.array.shape[:3]:
            raise ValueError("the saved label map does not match this study's grid; it was not shown")
        from meddiag_desktop.ai.overlay import LabelOverlay
        from meddiag_desktop.core.label_map import LabelMap

        shown = LabelMap(labels, {int(k): v for k, v in ov["names"].items()}, {int(k): v for k, v in ov["colors"].items()})
        overlay = LabelOverlay(ov.get("plugin_id", ""), shown, set(ov.get("visible", [])),
                               float(ov.get("opacity", 0.5)), ov.get("intended_use", ""))
        self.win.set_overlay(overlay)
        self.win.restored_overlay = overlay
        panels = getattr(self.win, "panels", None)
        if panels is not None:  # the segment table comes back with the overlay, as after a run
            panels.show_segment_statistics(labels, overlay.names)

    def close_current(self) -> None:
        """Save and mark a clean close of the current study's session."""
        if self.key is None:
            return
        self.save()
        self.store.close_lock(self.key)
        self.key = None
