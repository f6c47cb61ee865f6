"""Preview a report's PDF pages, edit the impression and reader, then export (PDF, SEG, SR).

Self-contained dialog: give it a :class:`~meddiag_desktop.report.Report` and the
:class:`~meddiag_desktop.core.Volume` it describes::

    from meddiag_desktop.qt.report_preview import ReportPreviewDialog
    dialog = ReportPreviewDialog(report, volume, parent=window)
    dialog.exported.connect(on_exported)     # ExportResult
    dialog.show()

Pages are the real PDF rasterised by ``pdftoppm`` (poppler) on a background
thread, so what is previewed is what is exported. Without poppler the report is
shown as formatted text instead, with a note saying so.
"""

from __future__ import annotations

import dataclasses
import html
import shutil
import subprocess
import tempfile
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from meddiag_desktop.core.corner_text import format_dicom_date
from meddiag_desktop.core.volume import Volume
from meddiag_desktop.qt.background import BackgroundTask
from meddiag_desktop.report.model import Comparison, KeyImage, Report

__all__ = ["ReportPreviewDialog", "rasterise_pdf", "report_html", "parse_comparison", "PREVIEW_DELAY_MS"]

#: the preview renders this long after the last keystroke (typing never waits for it)
PREVIEW_DELAY_MS = 300


def parse_comparison(text: str) -> Comparison | None:
    """``"2024-01-02 CT chest"`` -> Comparison("20240102", "CT chest"); '' or "none" -> None."""
    import datetime as _dt
    import re

    t = text.strip()
    if not t or t.lower() in ("none", "-", "–"):
        return None
    m = re.match(r"^(\d{4})-?(\d{2})-?(\d{2})\b\s*[,:;-]?\s*(.*)$", t)
    if m:
        try:
            _dt.date(int(m[1]), int(m[2]), int(m[3]))
            return Comparison(f"{m[1]}{m[2]}{m[3]}", m[4].strip())
        except ValueError:
            pass
    return Comparison("", t)


def comparison_text(c: Comparison | None) -> str:
    if c is None:
        return ""
    return " ".join(x for x in (format_dicom_date(c.study_date), c.description) if x)


def rasterise_pdf(pdf: bytes, dpi: int = 80) -> list[bytes] | None:
    """PNG bytes of each page (``pdftoppm``), or ``None`` when poppler is not installed."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        return None
    with tempfile.TemporaryDirectory(prefix="meddiag-preview-") as tmp:
        src = Path(tmp) / "report.pdf"
        src.write_bytes(pdf)
        subprocess.run([tool, "-png", "-r", str(dpi), str(src), str(Path(tmp) / "page")], check=True,
                       capture_output=True, timeout=120)
        pages = sorted(Path(tmp).glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        return [p.read_bytes() for p in pages]


def report_html(report: Report) -> str:
    """The report as simple HTML (the preview without poppler)."""
    e = html.escape
    p = report.patient
    rows = [f"<h2>Imaging report</h2><p><b>{e(p.patient_name)}</b> ({e(p.patient_id)}) &middot; "
            f"{e(p.modality)} {e(p.study_description)} &middot; {e(p.study_date)}</p>",
            f"<p><b>Indication:</b> {e(report.indication) or 'not given'}<br>"
            f"<b>Comparison:</b> {e(comparison_text(report.comparison)) or 'none'}</p>",
            f"<h3>Impression</h3><p>{e(report.impression) or '<i>none entered</i>'}</p>"]
    if report.segments:
        rows.append("<h3>Segmented structures (AI)</h3><table cellpadding=3><tr><th>Structure</th><th>mL</th>"
                    "<th>HU</th><th>Long axis mm</th></tr>")
        for s in report.segments:
            name = f"{s.name} {s.component}" if s.component else s.name
            hu = "" if s.mean_hu is None else f"{s.mean_hu:.0f}"
            ax = "" if s.longest_diameter_mm is None else f"{s.longest_diameter_mm:.1f}"
            rows.append(f"<tr><td>{e(name)}</td><td>{s.volume_ml:.2f}</td><td>{hu}</td><td>{ax}</td></tr>")
        rows.append("</table>")
    for r in report.risks:
        rows.append(f"<h3>{e(r.title)}</h3><p><b>{r.probability * 100:.1f} %</b> &middot; {e(r.category)}<br>"
                    f"{e(r.action)}</p>")
    rows.append(f"<p style='color:#a33'>{e(report.statement)}</p>")
    return "".join(rows)


class ReportPreviewDialog(QDialog):
    """Pages of the report on the left; impression, reader, anonymise and export on the right."""

    exported = Signal(object)  #: ExportResult after a successful export
    pages_ready = Signal(int)  #: number of pages shown (0 for the text fallback)

    def __init__(self, report: Report, volume: Volume, parent: QWidget | None = None,
                 out_dir: str | Path | None = None, window=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Report preview")
        self.resize(1100, 800)
        self._report = report
        self._volume = volume
        self._task: BackgroundTask | None = None
        self._deid = None  # one pseudonym for the preview and the export of this dialog
        self._pending_render = False
        self._closed = False
        self._last_export = ""  # what the last export wrote: stays in the status while the preview follows edits
        self.preview_count = 0  #: previews shown so far (tests wait on it)
        self.shown_report: Report | None = None  #: the report the pages show now

        self._pages = QWidget()
        self._pages_layout = QVBoxLayout(self._pages)
        self._pages_layout.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self._scroll = QScrollArea()
        self._scroll.setWidgetResizable(True)
        self._scroll.setWidget(self._pages)
        self._text = QTextBrowser()
        self._text.hide()

        self._window = window if window is not None else (parent if hasattr(parent, "slice_widgets") else None)
        self.impression = QPlainTextEdit(report.impression)
        self.impression.setPlaceholderText("Impression (printed after the findings, above the sign-off)")
        self.indication = QLineEdit(report.indication)
        self.indication.setPlaceholderText("Why the study was done")
        self.comparison = QLineEdit(comparison_text(report.comparison))
        self.comparison.setPlaceholderText("Prior study: YYYY-MM-DD and description (empty: none)")
        self.key_list = QListWidget()
        self.key_list.setIconSize(QSize(96, 96))
        self.key_list.setMinimumHeight(120)
        self.key_list.setWordWrap(True)
        self.key_list.setToolTip("Key images in report order; double-click a caption to edit it")
        self._key_images: list[KeyImage] = []
        self.add_view_button = QPushButton("Add current view")
        self.add_view_button.setToolTip("The active slice view as it is now, zoomed to the measurement or cursor, "
                                        "without crosshair and corner texts")
        self.add_view_button.setEnabled(self._window is not None)
        self.add_view_button.clicked.connect(self.add_current_view)
        self.remove_key_button = QPushButton("Remove")
        self.remove_key_button.clicked.connect(self.remove_key_image)
        self.up_key_button = QPushButton("Up")
        self.up_key_button.clicked.connect(lambda: self.move_key_image(-1))
        self.down_key_button = QPushButton("Down")
        self.down_key_button.clicked.connect(lambda: self.move_key_image(1))
        self.key_list.itemChanged.connect(self._caption_edited)
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.refresh)
        self.reader = QLineEdit(report.reader_name)
        self.reader.setPlaceholderText("Name printed above the signature line")
        self.anonymize = QCheckBox("Anonymise (pseudonym in the PDF, de-identified DICOM)")
        self.out_dir = QLineEdit(str(out_dir) if out_dir else "")
        self.out_dir.setPlaceholderText("Output folder")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_folder)
        self.refresh_button = QPushButton("Update preview")
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button = QPushButton("Export PDF, SEG and SR")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.export)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        folder_row = QHBoxLayout()
        folder_row.addWidget(self.out_dir, 1)
        folder_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Reader", self.reader)
        form.addRow("Output", folder_row)
        context = QFormLayout()
        context.addRow("Indication", self.indication)
        context.addRow("Comparison", self.comparison)
        key_buttons = QHBoxLayout()
        for b in (self.add_view_button, self.remove_key_button, self.up_key_button, self.down_key_button):
            key_buttons.addWidget(b)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addLayout(context)
        side_layout.addWidget(QLabel("Impression"))
        side_layout.addWidget(self.impression, 1)
        side_layout.addWidget(QLabel("Key images"))
        side_layout.addWidget(self.key_list)
        side_layout.addLayout(key_buttons)
        side_layout.addLayout(form)
        side_layout.addWidget(self.anonymize)
        side_layout.addWidget(self.refresh_button)
        side_layout.addWidget(self.export_button)
        side_layout.addWidget(self.status)
        side_layout.addWidget(close)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self._scroll)
        left_layout.addWidget(self._text)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([740, 360])
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self.anonymize.toggled.connect(lambda _on: self.refresh())
        for edit in (self.impression, self.indication, self.comparison, self.reader):  # the preview follows typing
            edit.textChanged.connect(self.schedule_refresh)
        self.set_key_images(report.key_images)
        self.refresh()

    # ------------------------------------------------------------ state
    def current_report(self) -> Report:
        """The report with the dialog's impression and reader name."""
        return dataclasses.replace(self._report, impression=self.impression.toPlainText().strip(),
                                   reader_name=self.reader.text().strip(),
                                   indication=self.indication.text().strip(),
                                   indication_source=self._indication_source(),
                                   comparison=parse_comparison(self.comparison.text()),
                                   key_images=list(self._key_images))

    def _indication_source(self) -> str:
        """The header attribute the indication came from while it still holds that text (anonymising
        removes it as the profile removes the attribute), '' once the reader wrote their own."""
        original = self._report.indication
        return self._report.indication_source if original and original in self.indication.text() else ""

    # ------------------------------------------------------- key images
    def key_images(self) -> list[KeyImage]:
        return list(self._key_images)

    def set_key_images(self, images) -> None:
        """Show ``images`` (in report order) in the list."""
        self._key_images = list(images)
        self.key_list.blockSignals(True)
        self.key_list.clear()
        for k in self._key_images:
            item = QListWidgetItem(QIcon(QPixmap.fromImage(QImage.fromData(k.png, "PNG"))), k.caption)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            self.key_list.addItem(item)
        self.key_list.blockSignals(False)

    def add_current_view(self) -> None:
        """Add the active slice view as it is now (zoomed to the finding, no crosshair) as a key image."""
        if self._window is None:
            return
        from meddiag_desktop.qt.report_export import key_image_of_view

        try:
            image = key_image_of_view(self._window)
        except ValueError as exc:
            self.status.setText(str(exc))
            return
        self.set_key_images(self._key_images + [image])
        self.key_list.setCurrentRow(len(self._key_images) - 1)
        self.status.setText(f"Key image added: {image.caption}")
        self.schedule_refresh()

    def remove_key_image(self) -> None:
        row = self.key_list.currentRow()
        if 0 <= row < len(self._key_images):
            del self._key_images[row]
            self.set_key_images(self._key_images)
            self.key_list.setCurrentRow(min(row, len(self._key_images) - 1))
            self.schedule_refresh()

    def move_key_image(self, step: int) -> None:
        row = self.key_list.currentRow()
        new = row + step
        if 0 <= row < len(self._key_images) and 0 <= new < len(self._key_images):
            items = self._key_images
            items[row], items[new] = items[new], items[row]
            self.set_key_images(items)
            self.key_list.setCurrentRow(new)
            self.schedule_refresh()

    def _caption_edited(self, item: QListWidgetItem) -> None:
        row = self.key_list.row(item)
        if 0 <= row < len(self._key_images) and item.text() != self._key_images[row].caption:
            self._key_images[row] = dataclasses.replace(self._key_images[row], caption=item.text().strip())
            self.schedule_refresh()

    def schedule_refresh(self, *_args) -> None:
        """Render the preview :data:`PREVIEW_DELAY_MS` after the last change (typing restarts the wait)."""
        self._preview_timer.start()

    def page_count(self) -> int:
        return sum(1 for i in range(self._pages_layout.count()) if isinstance(self._pages_layout.itemAt(i).widget(),
                                                                              QLabel))

    def is_busy(self) -> bool:
        """A render or export runs, or a preview is scheduled (an edit's debounce timer is pending)."""
        return self._task is not None or self._preview_timer.isActive()

    # ---------------------------------------------------------- preview
    def refresh(self) -> None:
        """Render the PDF (as it would be exported) and show its pages."""
        self._preview_timer.stop()
        if self._closed:
            return
        if self._task is not None:
            self._pending_render = True
            return
        report = self.current_report()
        deid = self._deidentifier() if self.anonymize.isChecked() else None
        volume = self._volume

        def work(progress, cancel):
            from meddiag_desktop.report.pdf import render_pdf

            shown = report
            if deid is not None:
                from meddiag_desktop.report.anonymize import pseudonymise_report
                from meddiag_desktop.report.export import source_headers

                if deid.date_shift_days is None and not deid.identifiers:
                    # the source's values before the shift is fixed, as the export learns them: the same
                    # shift in both (one that would map a source date onto another is skipped)
                    deid.learn(source_headers(volume), report.patient)

                shown = pseudonymise_report(report, deid)
            return rasterise_pdf(render_pdf(shown)), shown

        self._run(work, self._show_pages, "Rendering preview…")

    def _show_pages(self, result) -> None:
        pngs, shown = result
        if pngs is None:
            while self._pages_layout.count():
                w = self._pages_layout.takeAt(0).widget()
                if w is not None:
                    w.deleteLater()
            self._scroll.hide()
            self._text.show()
            self._text.setHtml(report_html(shown))
            self.status.setText("Page preview needs poppler (pdftoppm); showing the report's content instead.")
            self.pages_ready.emit(0)
            return
        self._text.hide()
        self._scroll.show()
        # pages are updated in place (no widgets torn down and rebuilt): no flicker, the scroll position stays
        labels = [self._pages_layout.itemAt(i).widget() for i in range(self._pages_layout.count())]
        labels = [w for w in labels if isinstance(w, QLabel)]
        for i, data in enumerate(pngs):
            if i < len(labels):
                label = labels[i]
            else:
                label = QLabel()
                label.setStyleSheet("border: 1px solid #bbb; background: white;")
                self._pages_layout.addWidget(label)
            pixmap = QPixmap.fromImage(QImage.fromData(data, "PNG"))
            label.setPixmap(pixmap)
            label.setFixedSize(pixmap.size())
        for extra in labels[len(pngs):]:
            self._pages_layout.removeWidget(extra)
            extra.deleteLater()
        self.preview_count += 1
        self.shown_report = shown
        self.status.setText(f"{len(pngs)} page(s)" + (f"\n{self._last_export}" if self._last_export else ""))
        self.pages_ready.emit(len(pngs))

    def _deidentifier(self):
        if self._deid is None:
            from meddiag_desktop.report.anonymize import Deidentifier

            self._deid = Deidentifier()
        return self._deid

    # ----------------------------------------------------------- export
    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder for the report", self.out_dir.text())
        if folder:
            self.out_dir.setText(folder)

    def export(self) -> None:
        """Write report.pdf, seg.dcm and sr.dcm into the chosen folder (background thread)."""
        out = self.out_dir.text().strip()
        if not out:
            self.status.setText("Choose an output folder first.")
            return
        if self._task is not None:
            return
        report = self.current_report()
        volume, anonymize = self._volume, self.anonymize.isChecked()
        deid = self._deidentifier() if anonymize else None
        allow_burned_in = False
        if anonymize and report.key_images:  # source pixels in an anonymised report: only when confirmed
            from meddiag_desktop.qt.report_export import confirm_burned_in

            allow_burned_in = confirm_burned_in(self, volume)

        def work(progress, cancel):
            from meddiag_desktop.report.export import export_report

            return export_report(report, volume, out, anonymize=anonymize, deidentifier=deid,
                                 allow_burned_in=allow_burned_in)

        self._run(work, self._exported, "Exporting…")

    def _exported(self, result) -> None:
        lines = [f"Wrote {p.name}" for p in result.paths.values()] + [f"Note: {w}" for w in result.warnings]
        if result.anonymized:
            lines.append(f"Pseudonym: {result.pseudonym}")
        self._last_export = "\n".join(lines) + f"\ninto {Path(next(iter(result.paths.values()))).parent}"
        self.status.setText(self._last_export)
        self.exported.emit(result)

    # ----------------------------------------------------------- plumbing
    def _run(self, work, on_success, message: str) -> None:
        """One error boundary for every background action: failures become the status text."""
        preview = on_success == self._show_pages  # a preview keeps the last export's message in view
        self.status.setText(message + (f"\n{self._last_export}" if preview and self._last_export else ""))
        self.export_button.setEnabled(False)
        self.refresh_button.setEnabled(False)
        task = BackgroundTask(work, name="report", parent=self)
        task.succeeded.connect(on_success)
        task.failed.connect(lambda msg, exc: self.status.setText(f"<span style='color:#b03a2e'>{html.escape(msg)}"
                                                                 "</span>"))
        task.finished.connect(self._task_done)
        self._task = task
        task.start()

    def _task_done(self) -> None:
        if self._task is None:
            return
        self._task = None
        self.export_button.setEnabled(True)
        self.refresh_button.setEnabled(True)
        if self._pending_render:
            self._pending_render = False
            self.refresh()

    def showEvent(self, ev) -> None:  # noqa: N802 - Qt override: shown again after a close
        self._closed = False
        super().showEvent(ev)

    def done(self, code: int) -> None:  # noqa: D401 - Qt override: wait for the worker before closing
        self._preview_timer.stop()  # no render may start once closed (its thread would outlive the dialog)
        self._pending_render = False
        self._closed = True
        if self._task is not None:
            self._task.wait()
            self._task = None
        super().done(code)
