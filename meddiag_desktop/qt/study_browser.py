"""Study browser dock: patient -> study -> series tree from ``scan``; double-click opens a series."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDockWidget, QTreeWidget, QTreeWidgetItem, QWidget

from meddiag_desktop.core.corner_text import format_dicom_date, format_person_name

__all__ = ["StudyBrowser", "patient_label"]

_SERIES_ROLE = Qt.ItemDataRole.UserRole + 1


def patient_label(name: str, patient_id: str) -> str:
    """A patient's row in a study tree: ``Doe Jane  [12345]`` (``(no name)``, ``-`` when missing)."""
    return f"{format_person_name(name) or '(no name)'}  [{patient_id or '-'}]"


class StudyBrowser(QDockWidget):
    """Lists the series of the last scanned folder; emits :attr:`series_activated` on double-click."""

    series_activated = Signal(object)  #: SeriesInfo

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Studies", parent)
        self.setObjectName("study_browser")
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["Patient / study / series", "Type", "Images"])
        self.tree.setUniformRowHeights(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, header.ResizeMode.Stretch)
        header.setSectionResizeMode(1, header.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, header.ResizeMode.ResizeToContents)
        self.setMinimumWidth(200)
        self.tree.itemActivated.connect(self._activated)
        self.tree.itemDoubleClicked.connect(self._activated)
        self.setWidget(self.tree)
        self._current_key: str | None = None

    def add_tab(self, widget: QWidget, title: str) -> None:
        """Show ``widget`` as a tab beside the folder tree (e.g. the local study database)."""
        from PySide6.QtWidgets import QTabWidget

        tabs = self.widget()
        if not isinstance(tabs, QTabWidget):
            tabs = QTabWidget(self)
            tabs.setObjectName("study_tabs")
            tabs.setDocumentMode(True)
            tabs.addTab(self.tree, "Folder")
            self.setWidget(tabs)
        tabs.addTab(widget, title)

    def set_series(self, series_list) -> None:
        """Fill the tree from a ScanResult (or any list of SeriesInfo)."""
        self.tree.clear()
        patients: dict[tuple[str, str], QTreeWidgetItem] = {}
        studies: dict[str, QTreeWidgetItem] = {}
        for s in series_list:
            pkey = (s.patient_id, s.patient_name)
            pitem = patients.get(pkey)
            if pitem is None:
                pitem = QTreeWidgetItem([patient_label(s.patient_name, s.patient_id), "", ""])
                self.tree.addTopLevelItem(pitem)
                patients[pkey] = pitem
            sitem = studies.get(s.study_uid + repr(pkey))
            if sitem is None:
                date = format_dicom_date(s.study_date)
                label = " ".join(x for x in (date, s.study_description or "(no description)") if x)
                sitem = QTreeWidgetItem([label, "", ""])
                pitem.addChild(sitem)
                studies[s.study_uid + repr(pkey)] = sitem
            num = f"#{s.series_number} " if s.series_number is not None else ""
            extra = f" [{s.split_reason}]" if getattr(s, "split_reason", "") else ""
            text = f"{num}{s.description or '(no description)'}{extra}"
            item = QTreeWidgetItem([text, s.modality or "?", str(s.image_count)])
            item.setData(0, _SERIES_ROLE, s)
            item.setToolTip(0, f"{s.label}\nSeries UID {s.series_uid}\n{s.rows}x{s.columns}")
            sitem.addChild(item)
        self.tree.expandAll()
        self.mark_open(self._current_key)

    def series_items(self) -> list[QTreeWidgetItem]:
        out = []
        for i in range(self.tree.topLevelItemCount()):
            p = self.tree.topLevelItem(i)
            for j in range(p.childCount()):
                st = p.child(j)
                out.extend(st.child(k) for k in range(st.childCount()))
        return out

    def mark_open(self, key: str | None) -> None:
        """Show which series is open (bold)."""
        self._current_key = key
        for item in self.series_items():
            f = item.font(0)
            f.setBold(getattr(item.data(0, _SERIES_ROLE), "key", None) == key)
            item.setFont(0, f)

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        s = item.data(0, _SERIES_ROLE)
        if s is not None:
            self.series_activated.emit(s)
