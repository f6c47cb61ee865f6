"""Batch AI dialog: choose a folder of studies, plugins and an output folder; run ``meddiag batch`` off the UI thread.

The batch itself is :func:`meddiag_desktop.batch.engine.run_batch` (Dask; a
LocalCluster here, or a scheduler address); this dialog only collects the
arguments, runs it on a :class:`~meddiag_desktop.qt.background.BackgroundTask`
and shows its progress (done / failed / remaining, rate, ETA), each finished
study, the Dask dashboard link and where the tables were written. Cancel stops
the batch; studies already complete stay complete (``--resume`` continues).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QProgressBar, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from meddiag_desktop.qt.background import BackgroundTask

__all__ = ["BatchDialog"]


class _PathField(QWidget):
    """A line edit with a Browse... button that opens a folder chooser."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit(self)
        self._title = title
        button = QPushButton("Browse...", self)
        button.clicked.connect(self._browse)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(button)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, self._title, self.edit.text())
        if path:
            self.edit.setText(path)

    def text(self) -> str:
        return self.edit.text().strip()


class BatchDialog(QDialog):
    """Start a batch on a folder of studies and follow it; never blocks the UI thread."""

    #: emitted from the batch thread with a BatchProgress; delivered on the UI thread
    progressed = Signal(object)

    def __init__(self, parent: QWidget | None = None, input_folder: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch AI over studies")
        self.setObjectName("batch_dialog")
        self.resize(720, 560)
        self.task: BackgroundTask | None = None
        self.outcome = None

        self.input = _PathField("Folder of studies", self)
        self.input.edit.setText(input_folder)
        self.input.edit.setPlaceholderText("a folder with one sub-folder per study")
        self.output = _PathField("Output folder", self)
        self.output.edit.setPlaceholderText("where OUT/<StudyInstanceUID>/ and the tables go")
        self.plugins = QListWidget(self)
        self.plugins.setMaximumHeight(110)
        self._fill_plugins()
        self.workers = QSpinBox(self)
        self.workers.setRange(0, 256)
        self.workers.setSpecialValueText("auto (this machine)")
        self.scheduler = QLineEdit(self)
        self.scheduler.setPlaceholderText("empty: this computer; or tcp://host:8786 of a Dask scheduler")
        self.resume = QCheckBox("Skip studies already complete in the output folder (resume)", self)
        self.resume.setChecked(True)

        form = QFormLayout()
        form.addRow("Studies:", self.input)
        form.addRow("Output:", self.output)
        form.addRow("AI plugins:", self.plugins)
        form.addRow("Workers:", self.workers)
        form.addRow("Scheduler:", self.scheduler)
        form.addRow("", self.resume)

        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.status = QLabel("Choose the studies, the plugins and an output folder, then Start.", self)
        self.status.setObjectName("batch_status")
        self.status.setWordWrap(True)
        self.dashboard = QLabel("", self)
        self.dashboard.setTextFormat(Qt.TextFormat.RichText)
        self.dashboard.setOpenExternalLinks(True)
        self.log = QListWidget(self)
        self.log.setObjectName("batch_log")

        self.buttons = QDialogButtonBox(self)
        self.start_button = self.buttons.addButton("Start", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton("Cancel batch", QDialogButtonBox.ButtonRole.RejectRole)
        self.open_button = self.buttons.addButton("Open output folder", QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.cancel_button.setEnabled(False)
        self.open_button.setEnabled(False)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button.clicked.connect(self._open_output)
        self.close_button.clicked.connect(self.close)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.dashboard)
        layout.addWidget(self.log, 1)
        layout.addWidget(self.buttons)
        self.progressed.connect(self._show_progress)

    # ---------------------------------------------------------------- set-up
    def _fill_plugins(self) -> None:
        from meddiag_desktop.ai.discovery import discover_plugins

        for info in discover_plugins():
            if not info.ok:
                continue
            item = QListWidgetItem(f"{info.manifest.name}  ({info.id})", self.plugins)
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)

    def set_plugins_checked(self, ids: list[str]) -> None:
        """Tick the plugins with these ids (and untick the others)."""
        for i in range(self.plugins.count()):
            item = self.plugins.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in ids
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def checked_plugins(self) -> list[str]:
        return [self.plugins.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.plugins.count())
                if self.plugins.item(i).checkState() == Qt.CheckState.Checked]

    # ----------------------------------------------------------------- batch
    def start(self) -> None:
        """Check the fields and start the batch on a background thread."""
        from meddiag_desktop.batch.engine import BatchConfig, run_batch
        from meddiag_desktop.batch.study import ReportOptions

        plugins = self.checked_plugins()
        problem = ("choose the folder of studies" if not self.input.text() else
                   "choose an output folder" if not self.output.text() else
                   "tick at least one AI plugin" if not plugins else "")
        if problem:
            self.status.setText(f"Cannot start: {problem}.")
            return
        config = BatchConfig(self.input.text(), Path(self.output.text()), ReportOptions(tuple(plugins), device="cpu"),
                             scheduler=self.scheduler.text() or None, workers=self.workers.value() or None,
                             resume=self.resume.isChecked())
        self.log.clear()
        self.outcome = None
        self.status.setText("Starting the workers and reading the study headers...")
        self.task = BackgroundTask(lambda progress, cancel: run_batch(config, self.progressed.emit, cancel),
                                   "batch", self)
        self.task.succeeded.connect(self._finished)
        self.task.failed.connect(lambda message, _exc: self._stopped(f"The batch did not run: {message}"))
        self.task.cancelled.connect(lambda: self._stopped("Cancelled; complete studies are kept (resume continues)."))
        self._set_running(True)
        self.task.start()

    def cancel(self) -> None:
        if self.task is not None and self.task.running:
            self.status.setText("Cancelling: stopping the workers...")
            self.task.cancel()

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for w in (self.input, self.output, self.plugins, self.workers, self.scheduler, self.resume):
            w.setEnabled(not running)

    @Slot(object)
    def _show_progress(self, p) -> None:
        if p.dashboard and not self.dashboard.text():
            self.dashboard.setText(f'Dask dashboard: <a href="{p.dashboard}">{p.dashboard}</a>')
        if p.total:
            self.bar.setRange(0, p.total)
            self.bar.setValue(p.total - p.remaining)
            self.status.setText(p.line())
        r = p.last
        if r is not None and getattr(self, "_last_shown", None) is not r:
            self._last_shown = r
            who = f"{Path(r.path).name}  {r.key}"
            text = f"{who}: done ({r.seconds:.1f} s)" if r.status == "done" else f"{who}: FAILED: {r.reason}"
            self.log.addItem(text)
            self.log.scrollToBottom()

    def _finished(self, outcome) -> None:
        self.outcome = outcome
        p = outcome.progress
        for f in outcome.failures:
            if f.get("stage") == "scan":
                self.log.addItem(f"{f['path']}: FAILED: {f['reason']}")
        self.bar.setRange(0, max(p.total, 1))
        self.bar.setValue(max(p.total, 1) if not p.remaining else p.total - p.remaining)
        state = "Cancelled" if outcome.cancelled else "Finished"
        self.status.setText(f"{state}: {p.done} done, {len(outcome.failures)} failed, {p.skipped} already complete. "
                            f"Summary: {outcome.tables.get('summary', [''])[0]}")
        self._set_running(False)
        self.open_button.setEnabled(True)

    def _stopped(self, message: str) -> None:
        self.status.setText(message)
        self._set_running(False)

    def _open_output(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(self.output.text()))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self.task is not None and self.task.running:
            self.task.wait(60000)  # cancels, then waits for the workers to stop
        super().closeEvent(event)
