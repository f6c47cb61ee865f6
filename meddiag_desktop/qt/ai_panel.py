"""AI side panel: pick a plugin, read its model card, run it in the background, see and toggle results.

The panel wraps :mod:`meddiag_desktop.ai` (Qt-free): runs go through
:func:`~meddiag_desktop.ai.isolation.run_isolated` (a worker *process*) on a
QThread, so neither the UI thread nor the app process ever runs plugin code.
torch is never imported here. Results leave the panel as signals:

* ``overlayChanged(object)``: a :class:`~meddiag_desktop.ai.overlay.LabelOverlay`
  (segmentation) or :class:`~meddiag_desktop.ai.overlay.HeatOverlay`
  (classification explanation), aligned with the source volume, re-emitted on every
  toggle / opacity change; ``None`` when cleared (new run, cancel, new volume);
* ``resultReady(object)``: the raw Segmentation/Classification/DetectionResult (e.g. for the risk panel);
* ``detectionsChanged(object)``: a :class:`~meddiag_desktop.ai.results.DetectionResult` whose boxes
  the views draw (styled by the reader's decisions in :attr:`AIPanel.findings`);
* ``runReady(object)``: the workflow's :class:`~meddiag_desktop.workflow.AIRun` (provenance, findings).

Runs go through :func:`meddiag_desktop.workflow.run_ai`, the same workflow as the CLI:
the intended-use gate, the audit entry and the provenance. A study outside the
plugin's intended use is refused with one sentence naming the mismatch; the
"Run anyway" dialog (:attr:`AIPanel.force_dialog`) lets the reader override, and the
result then says "outside intended use" everywhere. Every finding is a proposal
until the reader accepts it in :class:`~meddiag_desktop.qt.findings_review.FindingsReview`.

A MONAI bundle with several input channels (BraTS: T1c, T1, T2, FLAIR, from its
``network_data_format.inputs``) asks which series of the open study goes to each
channel (:class:`~meddiag_desktop.qt.channel_map_dialog.ChannelMapDialog`, preselected
from the series descriptions); the chosen series are loaded off the UI thread and
passed to the run as ``inputs`` in the bundle's channel order, as ``meddiag infer
--input KEY=PATH`` does. The series come from :attr:`AIPanel.series_provider`.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from types import SimpleNamespace

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from meddiag_desktop.ai.discovery import PluginInfo, discover_plugins
from meddiag_desktop.ai.overlay import HeatOverlay, LabelOverlay
from meddiag_desktop.core.findings import FindingSet
from meddiag_desktop.core.label_map import LabelMap
from meddiag_desktop.qt.background import BackgroundTask
from meddiag_desktop.qt.error_banner import ErrorBanner
from meddiag_desktop.qt.findings_review import FindingsReview

__all__ = ["AIPanel", "ModelCard", "ResultsTable"]

_INTENDED = ("QLabel { background: #fff4e5; color: #7a3e00; border: 1px solid #f0a040; border-radius: 4px;"
             " padding: 4px; font-weight: bold; }")


class _Relay(QObject):
    """Carries worker-thread callbacks (stage, note) to the UI thread as queued signals."""

    text = Signal(str)


class ModelCard(QFrame):
    """Intended use (prominent), then the rest of the manifest's model card."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.intended = QLabel()
        self.intended.setWordWrap(True)
        self.intended.setStyleSheet(_INTENDED)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setStyleSheet("QLabel { font-size: 11px; }")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.intended)
        lay.addWidget(self.details)

    def show_plugin(self, info: PluginInfo | None) -> None:
        if info is None:
            self.intended.setText("No AI plugin installed.")
            self.details.setText("")
            return
        if not info.ok:
            self.intended.setText(f"Cannot use {info.path.name}")
            self.details.setText(f"<span style='color:#b00020'>{escape(info.error or '')}</span>")
            return
        m = info.manifest
        self.intended.setText(f"Intended use: {m.intended_use}")
        verified = info.weights_verified()
        badge = {True: "weights verified (SHA-256)", False: "<b style='color:#b00020'>weights do not match their hash</b>",
                 None: "weights not hashed by the author"}[verified]
        lines = [f"<b>{escape(m.name)}</b> {escape(m.version)} · {m.task} · {info.source} · {badge}"]
        lines += [escape(line) for line in m.model_card().splitlines()[2:]]
        self.details.setText("<br>".join(lines))


class ResultsTable(QTableWidget):
    """Per-label rows (show toggle, colour, volume, intensity stats) or per-finding probabilities."""

    visibilityChanged = Signal(int, bool)  # label value, shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 0, parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.verticalHeader().setVisible(False)
        self.itemChanged.connect(self._on_item_changed)
        self._filling = False

    def show_segmentation(self, result) -> None:
        self._filling = True
        self.clear()
        cols = ["Label", "Volume (mL)", "Mean", "SD", "Min", "Max"]
        self.setColumnCount(len(cols))
        self.setHorizontalHeaderLabels(cols)
        self.setRowCount(len(result.stats))
        for row, s in enumerate(result.stats):
            name = QTableWidgetItem(s.name)
            name.setData(Qt.ItemDataRole.UserRole, s.value)
            name.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            name.setCheckState(Qt.CheckState.Checked)
            name.setData(Qt.ItemDataRole.DecorationRole, QColor(s.color))
            name.setToolTip(f"label value {s.value}; untick to hide it in the views")
            self.setItem(row, 0, name)
            fmt = [f"{s.volume_ml:.2f}"] + ["–" if v is None else f"{v:.0f}" for v in (s.mean, s.sd, s.min, s.max)]
            for col, text in enumerate(fmt, start=1):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(row, col, item)
        self._fit()
        self._filling = False

    def show_classification(self, result) -> None:
        self._filling = True
        self.clear()
        cols = ["Location (LPS mm)", "Result", *result.classes]
        self.setColumnCount(len(cols))
        self.setHorizontalHeaderLabels(cols)
        self.setRowCount(len(result.findings))
        for row, f in enumerate(result.findings):
            loc = QTableWidgetItem(", ".join(f"{c:.0f}" for c in f.point_lps))
            loc.setToolTip(f.source)
            self.setItem(row, 0, loc)
            self.setItem(row, 1, QTableWidgetItem(f.top_class))
            for col, cls in enumerate(result.classes, start=2):
                item = QTableWidgetItem(f"{f.probabilities.get(cls, 0.0):.2f}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(row, col, item)
        self._fit()
        self._filling = False

    def show_detection(self, result, class_names: dict[int, str]) -> None:
        """One row per box: class, score, centre and size (LPS mm), highest score first."""
        self._filling = True
        self.clear()
        cols = ["Box", "Score", "Centre (LPS mm)", "Size x, y, z (mm)"]
        self.setColumnCount(len(cols))
        self.setHorizontalHeaderLabels(cols)
        self.setRowCount(len(result.detections))
        for row, d in enumerate(result.detections):
            self.setItem(row, 0, QTableWidgetItem(f"{class_names.get(int(d.label), f'class {d.label}')} {row + 1}"))
            texts = [f"{d.score:.2f}", ", ".join(f"{c:.1f}" for c in d.center_lps),
                     " × ".join(f"{v:.1f}" for v in d.size_mm)]
            for col, text in enumerate(texts, start=1):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(row, col, item)
        self._fit()
        self._filling = False

    def _fit(self) -> None:
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, self.columnCount()):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 0:
            return
        value = item.data(Qt.ItemDataRole.UserRole)
        if value is not None:
            self.visibilityChanged.emit(int(value), item.checkState() == Qt.CheckState.Checked)


class AIPanel(QWidget):
    """Plugin list + model card, Run/Cancel with progress, results table, overlay toggles and opacity."""

    overlayChanged = Signal(object)  # LabelOverlay | HeatOverlay | None
    resultReady = Signal(object)  # SegmentationResult | ClassificationResult | DetectionResult
    detectionsChanged = Signal(object)  # DetectionResult | None
    runReady = Signal(object)  # workflow.AIRun
    runningChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None,
                 plugins: Callable[[], list[PluginInfo]] = discover_plugins,
                 run_options: dict | None = None, prewarm: bool = True,
                 when_idle: Callable[[Callable[[], None]], None] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AIPanel")
        self._provider = plugins
        self._run_kw = dict(run_options or {})
        self._plugins: list[PluginInfo] = []
        self._volume = None
        self._task: BackgroundTask | None = None
        self._overlay: LabelOverlay | HeatOverlay | None = None
        self._prewarm = prewarm
        #: how a warm-up waits for the reader to pause (``when_idle(start)``); None: it starts at once
        self._when_idle = when_idle
        self._spare = None  # a WorkerProcess importing torch ahead of the next run
        self.result = None
        self.run_record = None  #: the last workflow.AIRun
        self.findings = FindingSet()  #: every AI finding of the study, with the reader's decisions
        self.force_dialog: QMessageBox | None = None  #: the "Run anyway" question after a refusal
        #: the series of the open study (``io.SeriesInfo``), for bundles with several input channels
        self.series_provider: Callable[[], list] = lambda: []
        self.channel_dialog = None  #: the open ChannelMapDialog (a multi-channel bundle's Run)
        self.last_channels: list[tuple[str, str, str]] = []  #: (input key, channel, series label) of the last run

        self.banner = ErrorBanner(self)
        self.combo = QComboBox()
        self.combo.currentIndexChanged.connect(self._on_plugin_changed)
        self.card = ModelCard()
        self.point = QLineEdit()
        self.point.setPlaceholderText("location X, Y, Z (LPS mm); empty: the plugin's candidates")
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("%v / %m windows")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.table = ResultsTable()
        self.table.visibilityChanged.connect(self._on_visibility)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.valueChanged.connect(self._on_opacity)
        self.result_use = QLabel()
        self.result_use.setWordWrap(True)
        self.result_use.setStyleSheet(_INTENDED)
        self.result_use.hide()
        self.review = FindingsReview(self.findings)

        top = QHBoxLayout()
        top.addWidget(QLabel("Plugin"))
        top.addWidget(self.combo, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        op = QHBoxLayout()
        op.addWidget(QLabel("Overlay opacity"))
        op.addWidget(self.opacity, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.banner)
        lay.addLayout(top)
        lay.addWidget(self.card)
        lay.addWidget(self.point)
        lay.addLayout(buttons)
        lay.addWidget(self.status)
        lay.addWidget(self.result_use)
        lay.addWidget(self.table, 1)
        lay.addLayout(op)
        lay.addWidget(self.review, 1)
        self.refresh_plugins()

    # ------------------------------------------------------------ public API
    def refresh_plugins(self) -> None:
        """Discover plugins again (broken ones are listed, greyed, with their error)."""
        try:
            self._plugins = list(self._provider())
        except Exception as exc:  # discovery never should, but the panel must survive
            self._plugins = []
            self.show_error(f"Listing AI plugins failed: {exc}")
        self.combo.blockSignals(True)
        self.combo.clear()
        for info in self._plugins:
            label = info.manifest.name if info.ok else f"{info.path.name} (cannot be used)"
            self.combo.addItem(label, info.id)
            if not info.ok:
                idx = self.combo.count() - 1
                self.combo.setItemData(idx, QColor("#999999"), Qt.ItemDataRole.ForegroundRole)
                self.combo.setItemData(idx, info.error, Qt.ItemDataRole.ToolTipRole)
        self.combo.blockSignals(False)
        first_ok = next((i for i, p in enumerate(self._plugins) if p.ok), 0)
        self.combo.setCurrentIndex(first_ok if self._plugins else -1)
        self._on_plugin_changed(self.combo.currentIndex())

    def set_volume(self, volume) -> None:
        """The study to run on; a new study clears the previous result."""
        self.cancel()
        self._volume = volume
        self.findings.clear()
        self.review.set_sizes({})
        self.clear_result()
        self._update_buttons()
        self._warm_up()

    def set_point(self, lps) -> None:
        """Location (LPS mm) for classification plugins, e.g. from a click in a view."""
        self.point.setText(", ".join(f"{float(c):.1f}" for c in lps))

    def select_plugin(self, plugin_id: str) -> bool:
        idx = self.combo.findData(plugin_id)
        if idx >= 0:
            self.combo.setCurrentIndex(idx)
        return idx >= 0

    @property
    def current_plugin(self) -> PluginInfo | None:
        i = self.combo.currentIndex()
        return self._plugins[i] if 0 <= i < len(self._plugins) else None

    @property
    def overlay(self) -> LabelOverlay | HeatOverlay | None:
        return self._overlay

    def is_busy(self) -> bool:
        return self._task is not None and self._task.running

    def run(self, force: bool = False) -> None:
        """Start the current plugin on the volume in the background (worker process).

        ``force`` runs it outside its intended use (after the reader's "Run anyway").
        """
        info = self.current_plugin
        if self.is_busy() or info is None:
            return
        if not info.ok:
            self.show_error(f"{info.path.name} cannot be used: {info.error}")
            return
        if self._volume is None:
            self.show_error("Open a study first: the AI plugin runs on the current volume.")
            return
        try:
            points = self._parse_point()
        except ValueError as exc:
            self.show_error(str(exc))
            return
        from meddiag_desktop.qt.plugin_trust_dialog import confirm_trust

        if not confirm_trust(self, info, self.show_error):  # consent before its code first runs
            return
        from meddiag_desktop.qt.channel_map_dialog import bundle_channels

        channels = bundle_channels(info, self.status.setText)
        if channels:  # the reader says which series goes to each channel first
            self._ask_channels(info, channels, force)
            return
        self._start(info, force, points)

    def _ask_channels(self, info, channels: list[tuple[str, str]], force: bool) -> None:
        from meddiag_desktop.qt.channel_map_dialog import ask_channel_series

        def chosen(pairs) -> None:
            self.channel_dialog = None
            if pairs is None:
                self.status.setText("Not run: no series chosen for the channels.")
            else:
                self._start(info, force, None, pairs)

        self.channel_dialog = ask_channel_series(self, info.manifest.name, channels,
                                                 list(self.series_provider() or []), chosen, self.show_error)

    def _start(self, info, force: bool, points, channel_series: list | None = None) -> None:
        """Run ``info`` in the background; ``channel_series``: ((key, channel), SeriesInfo) to load and pass."""
        from meddiag_desktop.workflow import run_ai

        self.banner.hide()
        self.clear_result()
        self.last_channels = [(k, ch, s.label) for (k, ch), s in channel_series or []]
        volume, kw = self._volume, dict(self._run_kw)
        kw["worker"], self._spare = self._spare, None
        kw.setdefault("findings", list(self.findings))  # the reader's decisions now: rejected nodules are not classified
        device = kw.pop("device", "auto")
        relay = _Relay(self)
        relay.text.connect(self.status.setText)

        def job(progress, cancel):  # gate, run, audit, findings: the workflow the CLI uses too
            if channel_series:  # the chosen series, loaded here (off the UI thread), in channel order
                from meddiag_desktop import io

                inputs: dict[str, list] = {}
                for (key, channel), series in channel_series:
                    relay.text.emit(f"Loading {channel}: {series.label}")
                    inputs.setdefault(key, []).append(io.load(series, cancel=cancel))
                kw["inputs"] = inputs
            run = run_ai(info, volume, force=force, via="gui", device=device, points=points, progress=progress,
                         cancel=cancel, on_stage=relay.text.emit, on_note=relay.text.emit, **kw)
            spare = kw.get("worker")
            if spare is not None and not spare.used and spare.is_alive():
                self._spare = spare  # a result at hand (workflow cache) left the warm worker for the next run
            return run

        task = BackgroundTask(job, name=f"ai-{info.id}", parent=self)
        task.progress.connect(self._on_progress)
        task.succeeded.connect(self._on_result)
        task.failed.connect(lambda msg, exc: self._on_failed(info, msg, exc))
        task.cancelled.connect(lambda: self.status.setText("Cancelled; nothing was added to the views."))
        task.finished.connect(self._on_finished)
        self._task = task
        self.status.setText(f"Starting {info.manifest.name}…")
        self.progress.setRange(0, 0)  # busy until the first window is done
        task.start()
        self._update_buttons()
        self.runningChanged.emit(True)

    def cancel(self) -> None:
        """Stop the run (the worker process is terminated within about 2 s); no partial result."""
        if self._task is not None and self._task.running:
            self.status.setText("Cancelling…")
            self._task.cancel()

    def shutdown(self, ms: int = 5000) -> bool:
        """Cancel and wait for the background run, end the spare worker (call when the window closes)."""
        self._prewarm = False
        if self._spare is not None:
            self._spare.close()
            self._spare = None
        if self._task is None:
            return True
        return self._task.wait(ms)

    def clear_result(self) -> None:
        self.result = None
        self._overlay = None
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.result_use.hide()
        self.overlayChanged.emit(None)  # clears the layer of the chosen plugin's task (the boxes for a detector)

    def show_error(self, text: str) -> None:
        self.banner.show_message(text)
        self.status.setText("")

    # -------------------------------------------------------------- handlers
    def _warm_up(self) -> None:
        """Start the next run's worker process ahead, so torch is imported before Run is pressed
        (once the reader pauses, when the panel was given ``when_idle``)."""
        if not self._prewarm or self._volume is None or self.is_busy():
            return
        if self._when_idle is not None:
            self._when_idle(self._start_spare)
        else:
            self._start_spare()

    def _start_spare(self) -> None:
        if not self._prewarm or self._volume is None or self.is_busy():
            return
        if self._spare is not None and self._spare.is_alive() and not self._spare.used:
            return
        from meddiag_desktop.ai.isolation import WorkerProcess

        try:
            self._spare = WorkerProcess()
        except Exception:  # no worker ahead of time: the run starts its own
            self._spare = None

    def _parse_point(self):
        text = self.point.text().strip()
        info = self.current_plugin
        if not text or info is None or info.manifest.task != "classification":
            return None
        parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) != 3:
            raise ValueError(f"Location must be three numbers X, Y, Z in mm (LPS), got {text!r}")
        return [tuple(values)]

    def _on_plugin_changed(self, index: int) -> None:
        info = self.current_plugin
        self.card.show_plugin(info)
        self.card.details.show()
        self.point.setVisible(bool(info and info.ok and info.manifest.task == "classification"))
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.is_busy()
        info = self.current_plugin
        self.run_button.setEnabled(not busy and info is not None and info.ok and self._volume is not None)
        self.cancel_button.setEnabled(busy)
        self.combo.setEnabled(not busy)

    def _on_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            if done:
                self.status.setText(f"Running: {done} of {total} windows")

    def _on_failed(self, info, message: str, exc) -> None:
        """A refusal outside the intended use asks "Run anyway?"; anything else is shown as an error."""
        from meddiag_desktop.ai.intended_use import OutsideIntendedUse

        if not isinstance(exc, OutsideIntendedUse):
            self.show_error(f"{info.manifest.name}: {message}")
            return
        self.status.setText(f"Not run: {exc.check.sentence}")
        box = QMessageBox(QMessageBox.Icon.Warning, "Outside intended use",
                          f"{info.manifest.name} was not run: {exc.check.sentence}", parent=self)
        box.setInformativeText("Its results would not be valid for this study. If you run it anyway, every result, "
                               "overlay, report and the audit log will say \"outside intended use\".")
        box.setObjectName("RunAnywayDialog")
        self.run_anyway_button = box.addButton("Run anyway", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)

        def done(_code: int) -> None:
            if box.clickedButton() is self.run_anyway_button:
                self.select_plugin(info.id)
                self.run(force=True)
            self.force_dialog = None

        box.finished.connect(done)
        self.force_dialog = box
        box.open()

    def _on_result(self, run) -> None:
        if not hasattr(run, "result"):  # a bare result (restored session, tests): its findings are proposals
            run = self._as_run(run)
        result = run.result
        self.result = result
        self.run_record = run
        self.findings.replace_plugin(run.info.id, run.findings)
        self.review.set_sizes({**self.review._sizes, **run.sizes})
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        if run.outside_intended_use:
            self.result_use.setText(f"OUTSIDE INTENDED USE (run anyway): {run.outside_intended_use}\n"
                                    f"Intended use: {result.intended_use}")
            self.result_use.setStyleSheet(_INTENDED.replace("#fff4e5", "#fde0dc").replace("#7a3e00", "#b00020"))
        else:
            self.result_use.setText(f"Intended use: {result.intended_use}")
            self.result_use.setStyleSheet(_INTENDED)
        self.result_use.show()
        self.card.details.hide()  # room for the results and the review; back when another plugin is chosen
        extra = result.warnings + result.notes
        secs = sum(v for k, v in result.timings.items() if k.endswith("_s"))
        self.status.setText(f"Done on {result.device} in {secs:.1f} s." + ("\n" + "\n".join(extra) if extra else ""))
        detections = None
        if result.task == "detection":
            from meddiag_desktop.core.findings import detection_class_names

            self.table.show_detection(result, detection_class_names(result))
            self._overlay = None
            detections = result
            if not result.detections:
                self.status.setText(self.status.text() + "\nNo boxes found.")
        elif result.task == "segmentation":
            self.table.show_segmentation(result)
            use = f"OUTSIDE INTENDED USE: {run.outside_intended_use}" if run.outside_intended_use \
                else result.intended_use
            shown = LabelMap(result.labels, dict(result.label_names), dict(result.label_colors))  # not the result's
            self._overlay = LabelOverlay(result.plugin_id, shown, set(result.label_names), self.opacity.value() / 100,
                                         use)
        else:
            self.table.show_classification(result)
            self._overlay = None
            if result.explanation is not None and result.explanation.max() > 0:
                self._overlay = HeatOverlay(result.plugin_id, result.explanation, self.opacity.value() / 100)
        if self._overlay is not None and run.outside_intended_use:
            self._overlay.legend_note = "outside intended use"  # on the image, beside "AI: name version"
        self.runReady.emit(run)
        self.resultReady.emit(result)
        self.overlayChanged.emit(self._overlay)
        if detections is not None:
            self.detectionsChanged.emit(detections)  # after overlayChanged(None), which clears the old boxes

    def _as_run(self, result):
        from meddiag_desktop.workflow import AIRun, findings_from_result

        info = next((p for p in self._plugins if p.id == getattr(result, "plugin_id", None)), None)
        prov = None
        if info is not None and getattr(info, "manifest", None) is not None:
            from meddiag_desktop.report.model import Provenance

            prov = Provenance.from_plugin(info, device=getattr(result, "device", ""),
                                          outside_intended_use=getattr(result, "outside_intended_use", ""))
        sizes: dict = {}
        findings = findings_from_result(result, prov, self._volume, sizes) if self._volume is not None else []
        return AIRun(result, info or SimpleNamespace(id=result.plugin_id), prov, findings,
                     getattr(result, "outside_intended_use", ""), sizes)

    def show_labels(self, labels) -> None:
        """Draw ``labels`` in place of the result's (e.g. without the components the reader rejected)."""
        if isinstance(self._overlay, LabelOverlay) and labels is not None:
            self._overlay.labels = labels
            self.overlayChanged.emit(self._overlay)

    def _on_finished(self) -> None:
        if self.result is None:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        self._update_buttons()
        self.runningChanged.emit(False)
        self._warm_up()

    def _on_visibility(self, value: int, shown: bool) -> None:
        if isinstance(self._overlay, LabelOverlay):
            (self._overlay.visible.add if shown else self._overlay.visible.discard)(value)
            self.overlayChanged.emit(self._overlay)

    def _on_opacity(self, value: int) -> None:
        if self._overlay is not None:
            self._overlay.opacity = value / 100
            self.overlayChanged.emit(self._overlay)
