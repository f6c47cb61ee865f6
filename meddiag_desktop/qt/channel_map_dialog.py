"""Ask which loaded series goes to each input channel of a multi-input MONAI bundle (BraTS: T1c, T1, T2, FLAIR).

The channel names come from the bundle's ``network_data_format``
(:func:`meddiag_desktop.ai.bundle.bundle_inputs`); a series whose description
names a channel as a word (``AX FLAIR``, ``T1C POST``) is preselected for it. OK
is enabled only when every channel has its own series.
"""

from __future__ import annotations

import re

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

__all__ = ["ChannelMapDialog", "guess_series"]

_ALIASES = {"t1c": {"t1c", "t1ce", "t1gd", "t1post"}, "flair": {"flair"}}


def _tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[^a-z0-9]+", text.lower()) if t}


def guess_series(channel: str, series: list[tuple[str, str]]) -> str | None:
    """Id of the one series whose description names ``channel`` as a word (or a known alias), else None."""
    names = _ALIASES.get(channel.lower(), {channel.lower()})
    hits = [sid for sid, desc in series if _tokens(desc) & names]
    return hits[0] if len(hits) == 1 else None


class ChannelMapDialog(QDialog):
    """One series chooser per channel; :meth:`mapping` gives the chosen series ids in channel order."""

    def __init__(self, bundle_name: str, channels: list[str], series: list[tuple[str, str]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{bundle_name}: input channels")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{bundle_name} needs {len(channels)} series. Choose the series for each channel."))
        form = QFormLayout()
        layout.addLayout(form)
        self.combos: list[QComboBox] = []
        for name in channels:
            box = QComboBox()
            box.addItem("(choose a series)", None)
            for sid, desc in series:
                box.addItem(desc, sid)
            guess = guess_series(name, series)
            if guess is not None:
                box.setCurrentIndex(box.findData(guess))
            box.currentIndexChanged.connect(self._check)
            form.addRow(name, box)
            self.combos.append(box)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #d08770")
        layout.addWidget(self.problem)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._check()

    def mapping(self) -> list[str | None]:
        return [box.currentData() for box in self.combos]

    def _check(self) -> None:
        chosen = self.mapping()
        problem = ""
        if any(c is None for c in chosen):
            problem = "Every channel needs a series."
        elif len(set(chosen)) != len(chosen):
            problem = "Each channel needs a different series."
        self.problem.setText(problem)
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(not problem)
