"""Consent before the first run of an AI plugin or MONAI bundle: its files, their hash, Trust and run / Cancel.

The decision is recorded by :func:`meddiag_desktop.ai.trust.trust_plugin` (the same
store as ``meddiag plugins trust``), pinned to the hash shown: if the folder changes
while the dialog is open, nothing is recorded. The AI panel calls
:func:`confirm_trust` before it starts a run.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from meddiag_desktop.ai.trust import PluginUntrusted, TrustStatus, describe_changes, trust_plugin, trust_status

__all__ = ["PluginTrustDialog", "confirm_trust"]

_STATUS_TEXT = {"changed": "changed", "added": "new", "missing": "removed"}


class PluginTrustDialog(QDialog):
    """Shows what would run (every file with its SHA-256, the folder's hash) and asks for consent."""

    def __init__(self, status: TrustStatus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = status
        what = "MONAI bundle" if status.kind == "bundle" else "AI plugin"
        self.setWindowTitle(f"Trust this {what}?")
        self.setObjectName("PluginTrustDialog")
        self.setModal(True)

        if status.state == "changed":
            when = ((status.record or {}).get("trusted_at") or "")[:10]
            intro = (f"<b>{escape(status.name)}</b> changed since you trusted it{' on ' + when if when else ''} "
                     f"({escape(describe_changes(status.changes))}).")
        else:
            intro = f"<b>{escape(status.name)}</b> has not been trusted on this computer yet."
        code = ("the expressions in its configs and its scripts" if status.kind == "bundle"
                else "its Python code")
        self.text = QLabel(
            f"{intro}<br><br>Running it lets {code} run with your permissions: it can read and change your "
            "files, including studies. Trust it only if it comes from a source you trust. Your consent is "
            "pinned to the files listed below; if any of them changes, you will be asked again.")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.path = QLabel(f"Folder: {escape(str(status.path))}")
        self.path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path.setWordWrap(True)

        self.digest = QLineEdit(status.digest or "")
        self.digest.setReadOnly(True)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        self.digest.setFont(mono)

        rows = status.file_rows()
        self.files = QTableWidget(len(rows), 3)
        self.files.setHorizontalHeaderLabels(["File", "SHA-256", ""])
        self.files.verticalHeader().hide()
        self.files.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.files.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        for r, row in enumerate(rows):
            note = _STATUS_TEXT.get(row["status"], "")
            items = [QTableWidgetItem(row["path"]), QTableWidgetItem(row["sha256"] or "—"), QTableWidgetItem(note)]
            items[1].setFont(mono)
            items[1].setToolTip(row["sha256"] or "")
            for c, item in enumerate(items):
                if note:
                    item.setForeground(QColor("#b00020"))
                self.files.setItem(r, c, item)
        header = self.files.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)

        self.buttons = QDialogButtonBox()
        self.trust_button = QPushButton("Trust and run")
        self.cancel_button = QPushButton("Cancel")
        self.buttons.addButton(self.trust_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.trust_button.setAutoDefault(False)  # Enter does not grant consent
        self.cancel_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        lay = QVBoxLayout(self)
        lay.addWidget(self.text)
        lay.addWidget(self.path)
        lay.addWidget(QLabel(f"SHA-256 of all {len(status.files)} files:"))
        lay.addWidget(self.digest)
        lay.addWidget(self.files, 1)
        lay.addWidget(self.buttons)
        self.resize(760, 460)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.cancel_button.setFocus()  # keyboard focus on Cancel, not on consent


def confirm_trust(parent: QWidget | None, plugin, on_refused: Callable[[str], None] | None = None) -> bool:
    """True when ``plugin`` may run: already trusted, or the user chose "Trust and run" (recorded).

    A bundled plugin that does not match its lock, or a folder with links out of
    it, cannot be trusted here: ``on_refused`` gets the reason and False is returned.
    """
    status = trust_status(plugin)
    if status.trusted:
        return True
    if status.state == "unsafe" or status.basis == "lock":
        if on_refused is not None:
            on_refused(status.message or f"{status.path} cannot be trusted")
        return False
    dialog = PluginTrustDialog(status, parent)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
    finally:
        dialog.deleteLater()
    try:
        trust_plugin(plugin, via="gui", expect_digest=status.digest)
    except (PluginUntrusted, OSError) as err:
        if on_refused is not None:
            on_refused(str(err))
        return False
    return True
