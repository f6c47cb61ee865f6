"""Ask which loaded series goes to each input channel of a multi-input MONAI bundle (BraTS: T1c, T1, T2, FLAIR).

The channel names come from the bundle's ``network_data_format``
(:func:`meddiag_desktop.ai.bundle.bundle_inputs`); a series whose description
names a channel as a word (``AX FLAIR``, ``T1C POST``) is preselected for it. OK
is enabled only when every channel has its own series.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

__all__ = ["ChannelMapDialog", "guess_series", "bundle_channels", "ask_channel_series"]

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


def bundle_channels(info, on_problem: Callable[[str], None] | None = None) -> list[tuple[str, str]]:
    """(input key, channel name) of a MONAI bundle needing more than one image; [] otherwise."""
    if getattr(getattr(info, "manifest", None), "kind", "") != "monai_bundle":
        return []
    from meddiag_desktop.ai.bundle import bundle_inputs

    try:
        pairs = [(k, ch) for k, chs in bundle_inputs(info.path).items() for ch in chs]
    except Exception as exc:  # noqa: BLE001 - a broken metadata.json: the run itself says what is wrong
        if on_problem is not None:
            on_problem(f"Could not read the bundle's inputs: {exc}")
        return []
    return pairs if len(pairs) > 1 else []


def ask_channel_series(parent: QWidget, name: str, channels: list[tuple[str, str]], series: list,
                       chosen: Callable[[list | None], None],
                       error: Callable[[str], None]) -> ChannelMapDialog | None:
    """Open the dialog (non-modal ``open()``) for ``channels`` over ``series`` (``io.SeriesInfo``).

    ``chosen`` gets ``[((key, channel), SeriesInfo), ...]`` on OK, ``None`` on Cancel. Fewer
    series than channels is reported through ``error`` and no dialog opens (returns None).
    """
    if len(series) < len(channels):
        names = ", ".join(ch for _, ch in channels)
        error(f"{name} needs {len(channels)} series ({names}); the open study has {len(series)}. "
              "Open the folder that holds all of them.")
        return None
    by_key = {s.key: s for s in series}
    dlg = ChannelMapDialog(name, [ch for _, ch in channels], [(s.key, s.label) for s in series], parent)
    dlg.setObjectName("ChannelMapDialog")

    def done(code: int) -> None:
        if code != QDialog.DialogCode.Accepted:
            chosen(None)
            return
        chosen(list(zip(channels, [by_key[k] for k in dlg.mapping()])))

    dlg.finished.connect(done)
    dlg.open()
    return dlg
