"""File > Query/Retrieve from PACS and File > Send to PACS: dialogs over :mod:`meddiag_desktop.pacs`.

Every network call runs on a :class:`~meddiag_desktop.qt.background.BackgroundTask`
(the dialog stays responsive, Cancel stops a retrieve or a send); errors are the
one-line :class:`~meddiag_desktop.pacs.PacsError` messages, shown in the dialog.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from meddiag_desktop.core.corner_text import format_dicom_date, format_person_name
from meddiag_desktop.qt.background import BackgroundTask

__all__ = ["QueryRetrieveDialog", "SendDialog", "NodeChooser", "ProgressiveOpen"]

_COLUMNS = [("StudyDate", "Date"), ("PatientID", "Patient ID"), ("PatientName", "Patient name"),
            ("ModalitiesInStudy", "Modalities"), ("NumberOfStudyRelatedInstances", "Images"),
            ("StudyDescription", "Description"), ("AccessionNumber", "Accession"), ("StudyInstanceUID", "Study UID")]


class NodeChooser(QComboBox):
    """The configured PACS nodes, editable: a name, ``AE@host:port`` or a DICOMweb URL."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditable(True)
        self.setMinimumWidth(280)
        self.lineEdit().setPlaceholderText("node name, AE@host:port or http(s)://…/dicom-web")
        try:
            from meddiag_desktop.pacs.nodes import load_settings

            for n in load_settings().nodes:
                self.addItem(n.name)
        except Exception as exc:  # noqa: BLE001 - a broken settings file must not block the dialog
            self.setToolTip(str(exc))
        self.setToolTip("A configured node (settings pacs.json), AE@host:port or a DICOMweb URL")

    def node(self):
        from meddiag_desktop.pacs import PacsError, resolve_node

        text = self.currentText().strip()
        if not text:
            raise PacsError("choose a PACS node first")
        return resolve_node(text)


class _TaskDialog(QDialog):
    """A dialog that runs one background task at a time, with a progress bar, a status line and Cancel."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._task: BackgroundTask | None = None
        self.progress = QProgressBar(self)
        self.progress.setTextVisible(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)

    def busy(self) -> bool:
        return self._task is not None

    def run(self, work: Callable, on_success: Callable, message: str, cancellable: bool = True) -> BackgroundTask | None:
        if self._task is not None:
            return None
        self.set_status(message)
        self.progress.setRange(0, 0)  # busy until the first progress report
        self.cancel_button.setEnabled(cancellable)
        self._set_enabled(False)
        task = BackgroundTask(work, name="pacs", parent=self)
        task.progress.connect(self._progress)
        task.succeeded.connect(on_success)
        task.failed.connect(lambda msg, _exc: self.set_status(msg, error=True))
        task.cancelled.connect(lambda: self.set_status("Cancelled; what arrived is kept (a partial study says so)."))
        task.finished.connect(self._done)
        self._task = task
        task.start()
        return task

    def _progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
            self.progress.setFormat("%v / %m")
        else:
            self.progress.setRange(0, 0)

    def _done(self) -> None:
        task, self._task = self._task, None
        self.cancel_button.setEnabled(False)
        self._set_enabled(True)
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
        if task is not None:
            task.deleteLater()

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.set_status("Cancelling…")

    def set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(f"<span style='color:#b03a2e'>{html.escape(text)}</span>" if error else html.escape(text))

    def _set_enabled(self, on: bool) -> None:
        pass

    def done(self, code: int) -> None:  # noqa: D401 - Qt override: stop the worker before closing
        if self._task is not None:
            self._task.wait()
            self._task = None
        super().done(code)


class QueryRetrieveDialog(_TaskDialog):
    """Search a PACS, list the studies, retrieve the selected one into the local database.

    Emits :attr:`study_retrieved` with the local folder of a retrieved study.
    """

    study_retrieved = Signal(str)
    #: the local folder of the first complete series (the largest), while the rest is still coming
    series_ready = Signal(str)
    #: a retrieve started: its :class:`~meddiag_desktop.pacs.progressive.Arrivals` (emitted once the plan is known)
    arriving = Signal(object)
    #: a retrieve starts (no argument: PySide6 mishandles None sent through Signal(object))
    retrieve_started = Signal()

    def __init__(self, parent: QWidget | None = None, db_dir=None) -> None:
        super().__init__("Query/Retrieve from PACS", parent)
        self.setObjectName("pacs_query_dialog")
        self._db_dir = db_dir
        self.node = NodeChooser(self)
        self.echo_button = QPushButton("Test", self)
        self.echo_button.setToolTip("C-ECHO (DICOMweb: a one-result search)")
        self.echo_button.clicked.connect(self.echo)
        self.save_button = QPushButton("Save…", self)
        self.save_button.setToolTip("Keep this node, under a name, with your settings")
        self.save_button.clicked.connect(self._ask_save_node)
        self.fields = {k: QLineEdit(self) for k in ("patient_id", "patient_name", "study_date", "modality", "accession")}
        self.fields["patient_name"].setPlaceholderText("Doe*")
        self.fields["study_date"].setPlaceholderText("YYYYMMDD or YYYYMMDD-YYYYMMDD")
        self.fields["modality"].setPlaceholderText("CT")
        for f in self.fields.values():
            f.returnPressed.connect(self.search)
        self.search_button = QPushButton("Search", self)
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        self.table = QTableWidget(0, len(_COLUMNS), self)
        self.table.setHorizontalHeaderLabels([c[1] for c in _COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemDoubleClicked.connect(lambda _i: self.retrieve())
        self.method = QComboBox(self)
        self.method.addItem("C-GET", "get")
        self.method.addItem("C-MOVE", "move")
        self.method.setToolTip("DIMSE retrieve method (DICOMweb nodes use WADO-RS). C-MOVE needs our AE title "
                               "registered in the PACS as a destination.")
        self.retrieve_button = QPushButton("Retrieve", self)
        self.retrieve_button.clicked.connect(self.retrieve)
        self.rows: list[dict] = []
        self.first_series: str | None = None
        #: time.monotonic() when the last retrieve's work ended (None while one runs)
        self.retrieve_ended_at: float | None = None

        top = QHBoxLayout()
        top.addWidget(QLabel("PACS"))
        top.addWidget(self.node, 1)
        top.addWidget(self.echo_button)
        top.addWidget(self.save_button)
        form = QGridLayout()
        labels = {"patient_id": "Patient ID", "patient_name": "Patient name", "study_date": "Study date",
                  "modality": "Modality", "accession": "Accession"}
        for n, (k, text) in enumerate(labels.items()):
            form.addWidget(QLabel(text), n // 3, 2 * (n % 3))
            form.addWidget(self.fields[k], n // 3, 2 * (n % 3) + 1)
        form.addWidget(self.search_button, 1, 5)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Method"))
        bottom.addWidget(self.method)
        bottom.addWidget(self.retrieve_button)
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(form)
        lay.addWidget(self.table, 1)
        lay.addLayout(bottom)
        lay.addWidget(self.status)
        self.resize(980, 520)

    def _set_enabled(self, on: bool) -> None:
        for w in (self.search_button, self.retrieve_button, self.echo_button, self.save_button, self.node):
            w.setEnabled(on)

    def _database(self):
        """A connection of the worker thread's own (the default database unless ``db_dir`` was given)."""
        from meddiag_desktop.db import StudyDatabase

        return StudyDatabase(self._db_dir)

    # ------------------------------------------------------------ actions
    def echo(self) -> None:
        try:
            node = self.node.node()
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            self.set_status(str(exc), error=True)
            return

        def work(progress, cancel):
            from meddiag_desktop.pacs import echo

            return echo(node)

        self.run(work, lambda secs: self.set_status(f"{node.label}: OK ({secs * 1000:.0f} ms)"),
                 f"Testing {node.label}…", cancellable=False)

    def _ask_save_node(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        name, ok = QInputDialog.getText(self, "Save PACS node", "Name for this node:")
        if ok and name.strip():
            self.save_current_node(name.strip())

    def save_current_node(self, name: str) -> None:
        """Store the node typed in the chooser under ``name`` in the settings (pacs.json)."""
        from dataclasses import replace

        from meddiag_desktop.pacs import load_settings, save_settings

        try:
            node = replace(self.node.node(), name=name)
            settings = load_settings()
            settings.nodes = [n for n in settings.nodes if n.name != name] + [node]
            path = save_settings(settings)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            self.set_status(str(exc), error=True)
            return
        if self.node.findText(name) < 0:
            self.node.addItem(name)
        self.node.setCurrentText(name)
        self.set_status(f"Saved node {name!r} ({node.label}) in {path}")

    def query(self) -> dict[str, str]:
        return {k: f.text().strip() for k, f in self.fields.items() if f.text().strip()}

    def search(self) -> None:
        try:
            node = self.node.node()
        except Exception as exc:  # noqa: BLE001
            self.set_status(str(exc), error=True)
            return
        query = self.query()

        def work(progress, cancel):
            from meddiag_desktop.pacs import find

            return find(node, query)

        self.run(work, self._show_rows, f"Searching {node.label}…", cancellable=False)

    def _show_rows(self, rows: list[dict]) -> None:
        self.rows = sorted(rows, key=lambda r: (str(r.get("StudyDate", "")), str(r.get("StudyTime", ""))), reverse=True)
        self.table.setRowCount(len(self.rows))
        for i, r in enumerate(self.rows):
            for j, (key, _title) in enumerate(_COLUMNS):
                v = r.get(key, "")
                text = ", ".join(v) if isinstance(v, list) else str(v)
                if key == "StudyDate":
                    text = format_dicom_date(text)
                if key == "PatientName":
                    text = format_person_name(text)
                item = QTableWidgetItem(text)
                if key == "NumberOfStudyRelatedInstances":
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        if self.rows:
            self.table.selectRow(0)
        self.set_status(f"{len(self.rows)} stud{'y' if len(self.rows) == 1 else 'ies'} found")

    def selected_study(self) -> dict | None:
        rows = self.table.selectionModel().selectedRows()
        return self.rows[rows[0].row()] if rows else None

    def retrieve(self) -> BackgroundTask | None:
        study = self.selected_study()
        if study is None:
            self.set_status("Select a study in the list first.", error=True)
            return None
        try:
            node = self.node.node()
        except Exception as exc:  # noqa: BLE001
            self.set_status(str(exc), error=True)
            return None
        uid = study["StudyInstanceUID"]
        method = self.method.currentData()
        factory = self._database
        self.first_series: str | None = None
        self.retrieve_ended_at = None
        self.retrieve_started.emit()  # a viewer following an earlier retrieve lets go

        def work(progress, cancel):
            from meddiag_desktop.pacs import load_settings, retrieve
            from meddiag_desktop.pacs.progressive import Arrivals

            db = factory()
            arrivals = Arrivals(db, uid)

            def on_plan(plan: dict[str, int]) -> None:
                arrivals.on_plan(plan)
                self.arriving.emit(arrivals)  # queued to the GUI thread: the viewer follows the arrivals

            def on_series(series_uid: str) -> None:
                if self.first_series is None:  # show the largest series while the others arrive
                    self.first_series = str(db.managed_path(uid, series_uid, "x").parent)
                    self.series_ready.emit(self.first_series)

            last = [0.0]

            def every_tenth_second(done: int, total: int) -> None:  # not one queued signal per instance
                now = time.monotonic()
                if now - last[0] >= 0.1 or (total and done >= total):
                    last[0] = now
                    progress(done, total)

            try:
                return retrieve(node, uid, db, method=method, local=load_settings().local, progress=every_tenth_second,
                                cancel=cancel, on_series=on_series, on_plan=on_plan, on_instance=arrivals.on_instance)
            finally:
                self.retrieve_ended_at = time.monotonic()
                db.close()

        return self.run(work, self._retrieved, f"Retrieving study {uid} from {node.label}…")

    def _retrieved(self, out: dict) -> None:
        self.progress.setRange(0, max(1, out["instances"]))
        self.progress.setValue(out["instances"])
        self.set_status(f"Retrieved {out['received']} new instance(s); the study has {out['instances']} in {out['folder']}")
        self.study_retrieved.emit(out["folder"])


class ProgressiveOpen(QObject):
    """Shows the largest series of a running retrieve in ``window`` while it arrives.

    Once :meth:`Arrivals.first_view_ready` holds, a volume of what has arrived
    (:func:`~meddiag_desktop.pacs.progressive.load_arrived`, built off the UI
    thread) is shown, then rebuilt as more lands: at most every ``interval_ms``, after
    5 % more of the series, and after four times what the last rebuild cost (the views
    render on the UI thread, which the network threads share the interpreter with),
    keeping the reader's cursor and window; the status bar says
    "Retrieving 340/1000". When the series is complete (or the retrieve ends) it is
    opened as File > Open opens a folder (:func:`meddiag_desktop.qt.opening.open_study`:
    the study browser lists its series, the largest is loaded with
    :func:`meddiag_desktop.io.load`). A study the reader opens meanwhile stops the updates.
    """

    #: volume shown, instances in it, instances expected, final (1: the whole series; an int, not a bool:
    #: PySide6 on Python 3.11 mishandles the refcount of True/False/None sent through signals)
    shown = Signal(object, int, int, int)

    def __init__(self, window, dialog: QueryRetrieveDialog, interval_ms: int = 1000) -> None:
        super().__init__(dialog)
        self.window = window
        self.dialog = dialog
        self.interval_ms = interval_ms
        self.arrivals = None
        self.folder = None
        self.final = False
        self.loaded = 0  #: arrived instances the last volume shown was built from
        self.slices = 0  #: instances in the volume shown
        self._tried = 0  #: arrived instances the last build started from
        self._headers: dict = {}  #: header cache of load_arrived (read once per file)
        self.first_shown_at: float | None = None  #: time.monotonic() of the first partial view
        self.final_shown_at: float | None = None
        self._ours = None  #: the volume we showed last (another one in the window: the reader moved on)
        self._task: BackgroundTask | None = None
        self._ended = False
        self._final_tried = False
        self._study_folder: str | None = None
        self._cost = 0.0  #: seconds the last rebuild took to build and show
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.tick)
        dialog.arriving.connect(self.follow)
        dialog.retrieve_started.connect(lambda: self.follow(None))
        dialog.study_retrieved.connect(self._retrieve_ended)
        dialog.finished.connect(lambda _code: self.stop())

    def follow(self, arrivals) -> None:
        """Follow a retrieve's arrivals (None: stop following the previous one)."""
        self.arrivals, self.final, self.loaded, self._ours, self._ended = arrivals, False, 0, None, False
        self.folder = self.first_shown_at = self.final_shown_at = None
        self.slices = self._tried = 0
        self._headers = {}
        self._final_tried = False
        self._study_folder = None
        if arrivals is None:
            self._timer.stop()
            return
        self._timer.start(self.interval_ms)
        self.tick()

    def stop(self) -> None:
        """Stop following (the dialog closes): no more updates, a volume being built is waited for."""
        self._timer.stop()
        self.arrivals = None
        if self._task is not None:
            self._task.cancel()
            self._task.wait()

    def _reader_moved_on(self) -> bool:
        return self._ours is not None and self.window.state.volume is not self._ours

    def tick(self) -> None:
        if self.arrivals is None or self.final or self._reader_moved_on():
            self._timer.stop()
            return
        folder, arrived, expected = self.arrivals.focus()
        if folder is None:
            return
        ended = self.dialog.retrieve_ended_at is not None
        if self._task is None and ended and len(arrived) == self._tried:  # stopped or failed: keep what is shown
            self._timer.stop()
            self.window.statusBar().showMessage(f"Retrieve stopped at {len(arrived)}/{expected or '?'}", 10000)
            return
        self.window.statusBar().showMessage(f"Retrieving {len(arrived)}/{expected or '?'}"
                                            + (f" · showing {self.slices}" if self.slices else ""))
        complete = bool(expected) and len(arrived) >= expected
        # a rebuild costs the retrieve CPU (the views render on this thread): wait for 5 % more of the series
        step = max(1, expected // 20) if self.slices else 1
        if self._task is not None or len(arrived) == self._tried or (len(arrived) - self._tried < step and not complete):
            return
        if not complete and (self._ended or not self.arrivals.first_view_ready()):
            return
        self.folder = folder
        self._load(arrived, complete)

    def _retrieve_ended(self, study_folder: str = "") -> None:
        if study_folder:
            self._study_folder = study_folder
        self._ended = True
        if self.arrivals is None or self._final_tried:
            return
        if self._task is None and not self.final:
            _, arrived, _ = self.arrivals.focus()
            if arrived:
                self._load(arrived, True)

    def _load(self, arrived: list, final: bool) -> None:
        folder = self.folder or arrived[0].parent
        if final:  # the study when the retrieve is over (the study browser lists its series), else the series
            folder = getattr(self, "_study_folder", None) if self._ended else None
            folder = folder or self.folder or arrived[0].parent
            self._final_tried = True
        headers = self._headers
        self._tried = len(arrived)
        started = time.monotonic()

        def work(progress, cancel):
            if final:  # as File > Open does: meddiag_desktop.io's scan, the largest series, io.load
                from meddiag_desktop.qt.opening import open_study

                return open_study(str(folder), cancel=cancel), len(arrived)
            from meddiag_desktop.pacs.progressive import load_arrived

            part = load_arrived(arrived, cancel=cancel, headers=headers)
            return part.volume, part.shown

        def took() -> None:  # build time; with the time to show it, sets the wait before the next rebuild
            self._cost = time.monotonic() - started

        task = BackgroundTask(work, name="arriving", parent=self)
        task.succeeded.connect(lambda out: self._show(out[0], out[1], len(arrived), final, str(folder)))
        task.failed.connect(lambda msg, _exc: self.window.statusBar().showMessage(f"Retrieving: {msg}", 5000))
        task.finished.connect(took)
        task.finished.connect(lambda: self._loaded(task))
        self._task = task
        self.window._tasks.append(task)  # the window waits for it when it closes
        task.start()

    def _loaded(self, task: BackgroundTask) -> None:
        if self._task is task:
            self._task = None
        if task in self.window._tasks:
            self.window._tasks.remove(task)
        task.deleteLater()
        if self._ended and not self.final and not self._reader_moved_on() and self.arrivals is not None:
            self._retrieve_ended()  # the retrieve ended while a partial volume was being built

    def _show(self, volume, shown: int, arrived: int, final: bool, folder: str) -> None:
        if self._reader_moved_on() or self.arrivals is None:
            return
        opened = None
        if final:
            opened, volume = volume, volume.volume
            folder = opened.source
        if not final:  # only a longer slab than the one shown, and a first one of first_view slices
            _, _, expected = self.arrivals.focus()
            need = min(self.arrivals.first_view, expected) if expected else self.arrivals.first_view
            if shown <= self.slices or shown < need:
                return
        shown_started = time.monotonic()
        state = self.window.state
        keep = (state.cursor.copy(), tuple(state.window)) if self._ours is not None else None
        if opened is not None and opened.found:
            self.window.browser.set_series(opened.found)
        sessions = getattr(self.window, "sessions", None)
        quiet = not final and sessions is not None
        if quiet:  # a partial view has no session of its own: the study's session opens with the whole series
            sessions.close_current()
            self.window.volume_shown.disconnect(sessions._on_volume)
        try:
            self.window.show_volume(volume, opened.series if opened is not None else None, folder if final else "")
        finally:
            if quiet:
                self.window.volume_shown.connect(sessions._on_volume)
        if keep is not None:  # where the reader was looking, in patient coordinates
            state.set_window(*keep[1])
            state.set_cursor(keep[0])
        self._ours = state.volume
        self.loaded, self.slices = arrived, shown
        _, _, expected = self.arrivals.focus()
        now = time.monotonic()
        if self.first_shown_at is None:
            self.first_shown_at = now
        if final:
            self.final, self.final_shown_at = True, now
            self._timer.stop()
            self.window.statusBar().showMessage(f"Retrieved {arrived} image(s)", 5000)
        else:
            self.window.statusBar().showMessage(f"Retrieving {arrived}/{expected or '?'} · showing {shown}")
        self.shown.emit(volume, shown, expected, int(final))
        self._cost += time.monotonic() - now + (now - shown_started)
        self._timer.setInterval(max(self.interval_ms, int(4000 * self._cost)))
        if not final and self.dialog.retrieve_ended_at is not None:
            self.tick()


class SendDialog(_TaskDialog):
    """Send files or a folder (e.g. the exported report: SEG, SR and the PDF as Encapsulated PDF) to a PACS."""

    sent = Signal(dict)

    def __init__(self, paths: list[str] | None = None, parent: QWidget | None = None) -> None:
        super().__init__("Send to PACS", parent)
        self.setObjectName("pacs_send_dialog")
        self.node = NodeChooser(self)
        self.path = QLineEdit(self)
        self.path.setText("; ".join(paths or []))
        self.path.setPlaceholderText("the report's output folder, or DICOM files/folders (separate with ;)")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        self.send_button = QPushButton("Send", self)
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        form = QFormLayout()
        form.addRow("PACS", self.node)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form.addRow("Send", row)
        bottom = QHBoxLayout()
        bottom.addWidget(self.send_button)
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addLayout(bottom)
        lay.addWidget(self.status)
        note = QLabel("A report.pdf is sent as a DICOM Encapsulated PDF in the study of the DICOM files sent with it.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #777")
        lay.addWidget(note)
        self.resize(640, 200)

    def _set_enabled(self, on: bool) -> None:
        self.send_button.setEnabled(on)
        self.node.setEnabled(on)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder to send", self.path.text().split(";")[0].strip())
        if folder:
            self.path.setText(folder)

    def send(self) -> BackgroundTask | None:
        paths = [p.strip() for p in self.path.text().split(";") if p.strip()]
        try:
            node = self.node.node()
            if not paths:
                raise ValueError("choose what to send: the report's output folder or DICOM files")
        except Exception as exc:  # noqa: BLE001
            self.set_status(str(exc), error=True)
            return None

        def work(progress, cancel):
            from meddiag_desktop.pacs import load_settings, send_paths

            return send_paths(node, paths, load_settings().local, progress=progress, cancel=cancel)

        return self.run(work, self._sent, f"Sending to {node.label}…")

    def _sent(self, out: dict) -> None:
        n = max(1, len(out["instances"]))
        self.progress.setRange(0, n)
        self.progress.setValue(n)
        kinds = ", ".join(sorted({i["Modality"] or "?" for i in out["instances"]}))
        msg = f"Sent {out['sent']} instance(s) ({kinds})"
        if out["failed"]:
            msg += f"; {len(out['failed'])} failed: " + "; ".join(f["reason"] for f in out["failed"][:3])
        self.set_status(msg, error=bool(out["failed"]))
        self.sent.emit(out)
