"""Wires the feature panels (AI, risk) and the report/about actions into the main window.

The panels are owned by others and used only through their public API: the AI
panel's results go to the viewer (overlay) and the risk panel (segmentation,
nodule type); the risk panel also takes the reader's nodule long/short axis
measurement. Everything goes through the window's error boundary.

The two panels cost about a second to build (pydantic models, plugin discovery),
so they are built *after* the study is on screen: their docks exist from the start
with a placeholder (the window's layout never jumps), and the real panels replace
the placeholders once the reader pauses on the first study (no cursor, window, camera
or input change for ``reader_idle.QUIET_S`` seconds: building them blocks the UI thread
for about 0.3 s, a visible stall in the middle of a scroll), after :data:`IDLE_BUILD_MS`
when no study is loading, when the user brings a panel's tab to the front, or the
moment anything asks for :attr:`FeaturePanels.ai` / :attr:`FeaturePanels.risk`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt, QTimer
from PySide6.QtWidgets import QLabel

from meddiag_desktop.qt.errors import guarded

__all__ = ["FeaturePanels"]

log = logging.getLogger(__name__)

#: build the panels this long after the window appears if no study is loading then
IDLE_BUILD_MS = 1500


#: the width the placeholders ask for: at least what the built panels need, so that the
#: dock area does not widen (and every view re-render) when they replace the placeholders
PANEL_WIDTH = 360


class _Placeholder(QLabel):
    def __init__(self, title: str) -> None:
        super().__init__(f"Preparing the {title} panel\u2026")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setObjectName("panel_placeholder")

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(PANEL_WIDTH, super().sizeHint().height())


class FeaturePanels(QObject):
    """Creates the AI and risk side panels and keeps them fed with the session's data."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.win = window
        self._ai = None
        self._risk = None
        self._built = False
        self._building = False
        self._waiting_for_pause = False
        self.segmentation = None  #: last SegmentationResult
        self.classification = None  #: last ClassificationResult
        self.detection = None  #: last DetectionResult (boxes)
        self.provenances: dict[int, Any] = {}  #: id(result) -> report Provenance
        self.nodule_measurement = None  #: NoduleMeasurement from the reader's calipers
        self._derive_task = None  # the running derivation of risk inputs (off the UI thread)
        self._derive_again = False
        self._closing = False  # set by shutdown(): no new work may start while the window closes
        self._shown_rejections = False  # the overlay and table currently leave rejected findings out
        self._risk_timer = QTimer(self)  # calipers being dragged: re-derive once they rest
        self._risk_timer.setSingleShot(True)
        self._risk_timer.setInterval(200)
        self._risk_timer.timeout.connect(self._update_risk_guarded)
        self._docks = {"Risk": window.add_side_panel(_Placeholder("Risk"), "Risk"),
                       "AI": window.add_side_panel(_Placeholder("AI"), "AI")}
        window.volume_shown.connect(self._on_volume)
        window.state.measurements_changed.connect(self._on_measurements)
        QTimer.singleShot(IDLE_BUILD_MS, self, self._build_if_idle)  # dies with the window
        window.load_failed.connect(lambda _msg: QTimer.singleShot(0, self, self._build_deferred))
        for dock in self._docks.values():  # the user opened the tab: build now
            dock.visibilityChanged.connect(lambda visible: visible and QTimer.singleShot(0, self, self._build_deferred))

    # ------------------------------------------------------------- building
    @property
    def ai(self):
        """The AI panel (built now if it was not yet); ``None`` if it failed to build."""
        self.ensure_built()
        return self._ai

    @property
    def risk(self):
        """The risk panel (built now if it was not yet); ``None`` if it failed to build."""
        self.ensure_built()
        return self._risk

    @property
    def built(self) -> bool:
        return self._built

    def _build_deferred(self) -> None:
        if self.win.isVisible():  # a window being closed (or a --screenshot run ending) needs no panels
            self.ensure_built()

    def _build_if_idle(self) -> None:
        if not self.win.is_busy() and self.win.state.volume is None:
            self._build_deferred()  # else a study is loading or shown: built once the reader pauses on it

    def ensure_built(self) -> None:
        """Build the AI and risk panels in place of their placeholders (once) and feed them the open study."""
        if self._built or self._building:
            return
        self._building = True
        try:
            self._make_risk()
            self._make_ai()
        finally:
            self._building = False
            self._built = True
        for title, panel in (("Risk", self._risk), ("AI", self._ai)):
            if panel is None:  # the error boundary has shown why; say it where the panel would be
                self._docks[title].widget().setText(f"The {title} panel could not be loaded.\nSee the message at the top of the window.")
        volume = self.win.state.volume
        if volume is not None:
            if self._ai is not None:
                self._guarded_set_ai_volume(volume)
            self._update_risk_guarded()

    def _install(self, title: str, panel) -> None:
        dock = self._docks[title]
        placeholder = dock.widget()
        dock.setWidget(panel)
        if placeholder is not None:
            placeholder.deleteLater()

    @guarded("AI panel")
    def _guarded_set_ai_volume(self, volume) -> None:
        self._ai.set_volume(volume)

    def show_error(self, message: str) -> None:
        self.win.show_error(message)

    @guarded("Risk panel")
    def _make_risk(self) -> None:
        from meddiag_desktop.qt.risk_panel import RiskPanel

        self._risk = RiskPanel()
        self._install("Risk", self._risk)

    @guarded("AI panel")
    def _make_ai(self) -> None:
        from meddiag_desktop.qt.ai_panel import AIPanel

        from meddiag_desktop.qt.reader_idle import call_when_idle

        prewarm = os.environ.get("MEDDIAG_AI_PREWARM", "1") != "0"
        self._ai = AIPanel(prewarm=prewarm, when_idle=lambda start: call_when_idle(self.win.state, self, start))
        self._install("AI", self._ai)
        self._ai.overlayChanged.connect(self.win.set_overlay)
        self._ai.detectionsChanged.connect(lambda r: self.win.overlays.show_detections(r, self._ai.findings))
        self._ai.series_provider = self._study_series  # multi-channel bundles ask which series is which channel
        self._ai.resultReady.connect(self._on_result)
        self._ai.runReady.connect(self._on_run)
        self._ai.review.findingActivated.connect(self._go_to)
        self._ai.findings.subscribe(lambda _finding: self._risk_timer.start())  # a decision: re-derive, re-draw

    # ----------------------------------------------------------------- events
    @guarded("Feature panels")
    def _on_volume(self, volume) -> None:
        self.segmentation = self.classification = self.detection = None
        self.nodule_measurement = None
        self.provenances.clear()
        if not self._built and not self._waiting_for_pause:  # once the reader pauses, build (which feeds it)
            from meddiag_desktop.qt.reader_idle import call_when_idle

            self._waiting_for_pause = True  # one wait, however many studies open meanwhile
            call_when_idle(self.win.state, self, self._build_deferred)
        else:
            if self._ai is not None:
                self._ai.set_volume(volume)
            self._update_risk()
        study_uid = str(volume.metadata.get("study_uid", "") or "")
        try:
            from meddiag_desktop.report.audit import audit
        except ImportError:  # the report package is optional for the viewer
            return
        audit("open", study_uid, "ok", modality=volume.modality)

    @guarded("Point for AI")
    def set_point(self, lps) -> None:
        """A clicked location (LPS mm) for classification plugins."""
        if self.ai is not None:
            self.ai.set_point(lps)

    @property
    def findings(self):
        """The AI findings of the study with the reader's decisions (``None`` before the AI panel exists)."""
        return self._ai.findings if self._ai is not None else None

    @guarded("AI result")
    def _on_run(self, run) -> None:
        """The workflow's record of a run: its provenance (forced runs say so) goes with the result."""
        if run.provenance is not None:
            self.provenances[id(run.result)] = run.provenance

    def _study_series(self) -> list:
        """The series listed in the study browser (the scanned folder), for the AI panel's channel mapping."""
        from meddiag_desktop.qt.study_browser import _SERIES_ROLE

        return [s for s in (it.data(0, _SERIES_ROLE) for it in self.win.browser.series_items()) if s is not None]

    @guarded("Go to finding")
    def _go_to(self, lps) -> None:
        self.win.state.set_cursor(tuple(float(c) for c in lps))

    @guarded("AI result")
    def _on_result(self, result) -> None:
        if id(result) not in self.provenances:  # a result that did not come through the workflow
            prov = None
            try:
                from meddiag_desktop.report.model import Provenance

                info = self.ai.current_plugin if self.ai is not None else None
                if info is not None and getattr(info, "manifest", None) is not None:
                    prov = Provenance.from_plugin(info, device=getattr(result, "device", ""))
            except Exception:  # noqa: BLE001 - provenance is best effort; the result still counts
                log.exception("no provenance for %s", getattr(result, "plugin_id", "?"))
            self.provenances[id(result)] = prov
        if getattr(result, "task", "") == "segmentation":
            self.segmentation = result
        elif getattr(result, "task", "") == "detection":
            self.detection = result
        else:
            self.classification = result
        self._update_risk()
        self.win.statusBar().showMessage(f"AI result: {getattr(result, 'plugin_id', '')}", 5000)
        if getattr(result, "task", "") == "segmentation" and self.win.state.volume is not None:
            self.show_segment_statistics(result.labels, dict(result.label_names), getattr(result, "stats", None))

    def _on_measurements(self, _event: str, _m) -> None:
        """The newest nodule long/short-axis measurement is the reader's nodule size."""
        from meddiag_desktop.core.measurements import nodule_axes

        nodules = [m for m in self.win.state.measurements if m.kind == "nodule_axes"]
        if nodules:
            long_, short, _, _ = nodule_axes(nodules[-1])
            self.set_nodule_measurement(long_, short)
        else:
            self.set_nodule_measurement(None)

    @guarded("Nodule measurement")
    def set_nodule_measurement(self, long_axis_mm: float | None, short_axis_mm: float | None = None) -> None:
        """The reader's nodule calipers (``None`` removes them); they replace the segmented size."""
        from meddiag_desktop.risk.image_inputs import NoduleMeasurement

        new = None if not long_axis_mm else NoduleMeasurement(float(long_axis_mm), short_axis_mm)
        if new == self.nodule_measurement:
            return
        self.nodule_measurement = new
        self._risk_timer.start()

    @guarded("Risk inputs")
    def _update_risk_guarded(self) -> None:
        self._update_risk()

    def _update_risk(self) -> None:
        """Derive the risk inputs from the confirmed findings in a worker thread, then fill the risk panel.

        The same derivation (:func:`meddiag_desktop.workflow.image_inputs`) as ``meddiag report``;
        proposals are shown apart. The overlay drops the components the reader rejected.
        """
        volume = self.win.state.volume
        if self._risk is None or volume is None or self._closing:
            return
        if self._derive_task is not None and self._derive_task.running:
            self._derive_again = True  # one more pass when this one ends, with the newest state
            return
        seg = self.segmentation
        labels = names = None
        pid = ""
        if seg is not None and getattr(seg, "labels", None) is not None and seg.labels.shape[:3] == volume.array.shape[:3]:
            labels, names, pid = seg.labels, dict(seg.label_names), seg.plugin_id
        findings = self.findings
        measurement = self.nodule_measurement
        classification = self.classification if getattr(self.classification, "probabilities", None) else None
        prov = self.provenances.get(id(seg)) if seg is not None else None

        def derive(progress, cancel):
            from meddiag_desktop.report.build import without_rejected
            from meddiag_desktop.report.model import LabelMap
            from meddiag_desktop.workflow import image_inputs

            inputs = image_inputs(volume, labels, names, plugin_id=pid, findings=findings if pid else None,
                                  classification=classification, measurement=measurement)
            shown = None
            if labels is not None and prov is not None and findings is not None:
                shown = without_rejected(LabelMap(labels, names or {}, {}, prov), findings).array
            return inputs, shown, seg

        from meddiag_desktop.qt.background import BackgroundTask

        task = BackgroundTask(derive, "risk-inputs", self)
        task.succeeded.connect(self._on_derived)
        task.failed.connect(lambda msg, _exc: self.win.show_error(f"Risk inputs: {msg}"))
        task.finished.connect(self._on_derive_finished)
        self.win._tasks.append(task)  # the window waits for it on close
        task.finished.connect(lambda: task in self.win._tasks and self.win._tasks.remove(task))
        self._derive_task = task
        task.start()

    @guarded("Risk inputs")
    def _on_derived(self, payload) -> None:
        inputs, shown, seg = payload
        volume = self.win.state.volume
        if self._risk is None or volume is None or seg is not self.segmentation:
            return  # a newer study or result: its own pass follows
        self._risk.set_context(volume.metadata, inputs.derived, inputs.proposals, inputs.unconfirmed)
        if shown is not None and self._ai is not None and self._ai.result is seg:
            self._ai.show_labels(shown)
            if shown is not seg.labels or self._shown_rejections:  # the table follows the reader's rejections
                self._shown_rejections = shown is not seg.labels
                self.show_segment_statistics(shown, dict(seg.label_names))

    def _on_derive_finished(self) -> None:
        task, self._derive_task = self._derive_task, None
        if task is not None:
            task.deleteLater()
        if self._derive_again and not self._closing:
            self._derive_again = False
            self._update_risk_guarded()

    # ------------------------------------------------------ about and report
    @guarded("About")
    def show_about(self):
        from meddiag_desktop.qt.about_dialog import show_about

        return show_about(self.win)

    @guarded("Export report")
    def export_report(self):
        """Build the report of the session and open its preview (export from there)."""
        from PySide6.QtCore import Qt

        from meddiag_desktop.qt.report_export import session_report
        from meddiag_desktop.qt.report_preview import ReportPreviewDialog

        report = session_report(self.win)
        dialog = ReportPreviewDialog(report, self.win.state.volume, parent=self.win)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.report_dialog = dialog
        return dialog

    # ------------------------------------------------------ segment statistics
    def show_segment_statistics(self, labels, names: dict, stats=None):
        """Volume (mL), mean and longest diameter per label, computed off the UI thread."""
        from meddiag_desktop.qt.background import BackgroundTask
        from meddiag_desktop.qt.measurements_panel import segment_rows

        win = self.win
        volume = win.state.volume
        if getattr(win, "closing", False):
            return None
        task = BackgroundTask(lambda progress, cancel: segment_rows(volume, labels, names, stats), "segments", win)
        units = str(volume.metadata.get("units", "") or "")
        task.succeeded.connect(lambda rows: win.tools.measurements_panel.set_segments(rows, units))
        task.failed.connect(lambda msg, _exc: win.show_error(f"Segment statistics failed: {msg}"))
        win._tasks.append(task)  # the window waits for it on close
        task.finished.connect(lambda: task in win._tasks and win._tasks.remove(task))
        task.finished.connect(task.deleteLater)
        task.start()
        return task

    # --------------------------------------------------------------- closing
    def shutdown(self) -> None:
        # a pending re-derivation must not start a thread after the window has waited for its tasks
        self._closing = True
        self._risk_timer.stop()
        if self._ai is not None:
            try:
                self._ai.shutdown()
            except Exception:  # noqa: BLE001 - closing must go on
                log.exception("AI panel shutdown failed")
