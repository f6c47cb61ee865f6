"""The local study database in the study panel: search, thumbnails, open, import, delete, query/retrieve.

The database is opened only when the tab is first shown (start-up never touches
it). Imports run on a background task with progress and cancel.
"""

from __future__ import annotations

import html

import numpy as np

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from meddiag_desktop.core.corner_text import format_dicom_date
from meddiag_desktop.qt.background import BackgroundTask
from meddiag_desktop.qt.study_browser import patient_label

__all__ = ["DatabaseBrowser"]

_STUDY_ROLE = Qt.ItemDataRole.UserRole + 1


def thumbnail_pixmap(arr: np.ndarray) -> QPixmap:
    """A grey QPixmap of a uint8 (h, w) array."""
    a = np.ascontiguousarray(arr, np.uint8)
    img = QImage(a.data, a.shape[1], a.shape[0], a.strides[0], QImage.Format.Format_Grayscale8)
    return QPixmap.fromImage(img.copy())


class DatabaseBrowser(QWidget):
    """Patients and their studies (newest first) from the local database; double-click opens a study.

    Emits :attr:`open_requested` with a study's local folder, and
    :attr:`query_requested` when the user wants the PACS dialog.
    """

    open_requested = Signal(str)
    query_requested = Signal()

    def __init__(self, parent: QWidget | None = None, db_dir=None) -> None:
        super().__init__(parent)
        self.setObjectName("database_browser")
        self._db_dir = db_dir
        self._db = None
        self._task: BackgroundTask | None = None
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Patient name or ID (* wildcards)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _t: self.refresh())
        self.modality = QComboBox(self)
        self.modality.addItems(["Any", "CT", "MR", "CR", "DX", "US", "PT", "NM", "MG", "SEG", "SR", "DOC"])
        self.modality.currentTextChanged.connect(lambda _t: self.refresh())
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["Patient / study", "Modality", "Images"])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemDoubleClicked.connect(self._activated)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.thumb = QLabel(self)
        self.thumb.setFixedSize(96, 96)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setStyleSheet("background: #111; border: 1px solid #333")
        self.details = QLabel("", self)
        self.details.setWordWrap(True)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = QPushButton("Open", self)
        self.open_button.clicked.connect(self.open_selected)
        self.import_button = QPushButton("Import…", self)
        self.import_button.setToolTip("Copy a folder or CD into the database (sources are not changed)")
        self.import_button.clicked.connect(self._choose_import)
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.clicked.connect(self.delete_selected)
        self.pacs_button = QPushButton("PACS…", self)
        self.pacs_button.setToolTip("Query/Retrieve from a PACS")
        self.pacs_button.clicked.connect(self.query_requested)
        self.progress = QProgressBar(self)
        self.progress.setMaximumHeight(14)
        self.progress.hide()
        self.status = QLabel("", self)
        self.status.setWordWrap(True)

        filters = QHBoxLayout()
        filters.addWidget(self.search, 1)
        filters.addWidget(self.modality)
        info = QHBoxLayout()
        info.addWidget(self.thumb)
        info.addWidget(self.details, 1)
        buttons = QGridLayout()  # two rows: four buttons in one row widened the Studies dock and narrowed the views
        for n, b in enumerate((self.open_button, self.import_button, self.delete_button, self.pacs_button)):
            buttons.addWidget(b, n // 2, n % 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(filters)
        lay.addWidget(self.tree, 1)
        lay.addLayout(info)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)

    # ------------------------------------------------------------ database
    @property
    def db(self):
        if self._db is None:
            from meddiag_desktop.db import StudyDatabase

            self._db = StudyDatabase(self._db_dir)
        return self._db

    def showEvent(self, ev) -> None:  # noqa: N802 - Qt override: open the database when first shown
        super().showEvent(ev)
        if self._db is None:
            self.refresh()

    def query(self) -> dict[str, str]:
        q: dict[str, str] = {}
        text = self.search.text().strip()
        if text:
            key = "patient_name" if any(c.isalpha() for c in text) and not text.isdigit() else "patient_id"
            q[key] = text if key == "patient_id" or "*" in text else f"*{text}*"
        if self.modality.currentText() != "Any":
            q["modality"] = self.modality.currentText()
        return q

    def refresh(self) -> None:
        """Fill the tree: patients, then their studies newest first (partial studies say so)."""
        try:
            studies = self.db.studies(self.query())
        except Exception as exc:  # noqa: BLE001 - shown, the window goes on
            self._say(str(exc), error=True)
            return
        self.tree.clear()
        patients: dict[tuple[str, str], QTreeWidgetItem] = {}
        for s in studies:
            key = (s.patient_id, s.patient_name)
            p = patients.get(key)
            if p is None:
                p = QTreeWidgetItem([patient_label(s.patient_name, s.patient_id), "", ""])
                self.tree.addTopLevelItem(p)
                patients[key] = p
            label = f"{format_dicom_date(s.study_date)} {s.description or '(no description)'}"
            if not s.complete:
                label += f"  [partial {s.instance_count}/{s.expected or '?'}]"
            item = QTreeWidgetItem([label, ",".join(s.modalities), str(s.instance_count)])
            item.setData(0, _STUDY_ROLE, s)
            item.setToolTip(0, f"{s.study_uid}\n{s.folder}\naccession {s.accession or '-'}")
            if not s.complete:
                item.setForeground(0, Qt.GlobalColor.darkYellow)
            p.addChild(item)
        self.tree.expandAll()
        self._selection_changed()
        self._say(f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'} in the database")

    def selected_studies(self) -> list:
        out = []
        for item in self.tree.selectedItems():
            s = item.data(0, _STUDY_ROLE)
            if s is not None:
                out.append(s)
            elif item.childCount():  # a patient: the newest study
                out.append(item.child(0).data(0, _STUDY_ROLE))
        return out

    def _selection_changed(self) -> None:
        sel = self.selected_studies()
        if not sel:
            self.thumb.clear()
            self.thumb.setText("<span style='color:#888'>select<br>a study</span>")
            self.details.setText("")
            return
        s = sel[0]
        series = self.db.series(s.study_uid)
        lines = [f"<b>{html.escape(format_dicom_date(s.study_date))}</b> {html.escape(s.description)}",
                 f"{len(series)} series, {s.instance_count} instance(s)" + ("" if s.complete else " — partial")]
        lines += [html.escape(f"#{x.number if x.number is not None else ''} {x.modality} {x.description} ({x.instance_count})")
                  for x in series[:4]]
        self.details.setText("<br>".join(lines))
        thumb = next((t for t in (self.db.thumbnail(x.series_uid) for x in series) if t is not None), None)
        if thumb is None:
            self.thumb.setText("no image")
        else:
            self.thumb.setPixmap(thumbnail_pixmap(thumb).scaled(94, 94, Qt.AspectRatioMode.KeepAspectRatio,
                                                                Qt.TransformationMode.SmoothTransformation))

    # ------------------------------------------------------------ actions
    def _activated(self, item: QTreeWidgetItem, _col: int = 0) -> None:
        s = item.data(0, _STUDY_ROLE)
        if s is None and item.childCount():
            s = item.child(0).data(0, _STUDY_ROLE)  # a patient opens the newest study
        if s is not None:
            self._open(s)

    def open_selected(self) -> None:
        sel = self.selected_studies()
        if sel:
            self._open(sel[0])

    def _open(self, s) -> None:
        if not s.complete:
            self._say(f"Study {s.study_uid} is only partly retrieved ({s.instance_count}/{s.expected or '?'}); "
                      "retrieve it again to finish before opening.", error=True)
            return
        priors = [x for x in self.db.studies({"patient_id": s.patient_id}) if x.complete and x.study_uid != s.study_uid]
        if priors:
            self._say("Priors: " + "; ".join(f"{format_dicom_date(p.study_date)} {p.description}" for p in priors))
        self.open_requested.emit(s.folder)

    def delete_selected(self, confirm: bool = True) -> None:
        sel = self.selected_studies()
        if not sel:
            return
        if confirm:
            answer = QMessageBox.question(
                self, "Delete studies",
                f"Remove {len(sel)} stud{'y' if len(sel) == 1 else 'ies'} from the database? Managed copies are "
                "deleted; files indexed in place stay where they are.")
            if answer != QMessageBox.StandardButton.Yes:
                return
        for s in sel:
            self.db.remove_study(s.study_uid)
        self.refresh()

    def _choose_import(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a folder or CD into the database")
        if not folder:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Import", f"Import {folder}:\n\nCopy the files into the "
                          "database (a CD can be removed afterwards), or index them where they are? "
                          "The source files are never changed.", parent=self)
        copy = box.addButton("Copy", QMessageBox.ButtonRole.AcceptRole)
        in_place = box.addButton("Index in place", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() in (copy, in_place):
            self.import_path(folder, copy=box.clickedButton() is copy)

    def import_path(self, path: str, copy: bool = True) -> BackgroundTask | None:
        """Import on a background task (its own connection), progress in the bar, refresh when done."""
        if self._task is not None:
            return None
        root = self.db.root

        def work(progress, cancel):
            from meddiag_desktop.db import StudyDatabase

            with StudyDatabase(root) as db:
                return db.import_path(path, copy=copy, progress=progress, cancel=cancel)

        task = BackgroundTask(work, "db-import", self)
        self.progress.setRange(0, 0)
        self.progress.show()
        task.progress.connect(lambda d, t: (self.progress.setRange(0, max(t, 1)), self.progress.setValue(d)))
        task.succeeded.connect(lambda r: self._say(f"Imported {r.instances} instance(s) of {len(r.studies)} "
                                                   f"stud{'y' if len(r.studies) == 1 else 'ies'}; {len(r.skipped)} skipped"))
        task.failed.connect(lambda msg, _e: self._say(msg, error=True))
        task.finished.connect(self._import_done)
        self._task = task
        self._say(f"Importing {path}…")
        task.start()
        return task

    def _import_done(self) -> None:
        task, self._task = self._task, None
        self.progress.hide()
        msg = self.status.text()
        self.refresh()
        self.status.setText(msg)
        if task is not None:
            task.deleteLater()

    def cancel(self) -> None:
        if self._task is not None:
            self._task.wait()
            self._task = None

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(f"<span style='color:#b03a2e'>{html.escape(text)}</span>" if error else html.escape(text))

    def close_database(self) -> None:
        self.cancel()
        if self._db is not None:
            self._db.close()
            self._db = None
