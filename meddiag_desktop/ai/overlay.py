"""What the viewer overlays after a plugin run (Qt-free): labels with colours, visibility and opacity.

The AI panel emits these; the main window turns them into coloured layers in
every view. A :class:`LabelOverlay` draws a :class:`~meddiag_desktop.core.label_map.LabelMap`
(its ``labels``, ``names`` and ``colors``); ``labels`` / ``heat`` are aligned voxel
for voxel with the source volume (``[z, y, x]``), so no geometry is needed beyond
the source's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from meddiag_desktop.core.label_map import LabelMap, LabelMapHolder, hex_to_rgb

__all__ = ["LabelOverlay", "HeatOverlay"]


def _legend(name: str, version: str, note: str = "", what: str = "") -> str:
    text = " ".join(x for x in (f"AI: {name}", version) if x)
    if what:
        text += f" ({what})"
    return f"{text} \u2014 {note}" if note else text


@dataclass
class LabelOverlay(LabelMapHolder):
    """A label map to draw (value -> name and colour), which values are shown, opacity 0..1."""

    plugin_id: str
    label_map: LabelMap
    visible: set[int] = field(default_factory=set)
    opacity: float = 0.5
    intended_use: str = ""
    plugin_name: str = ""  #: shown in the on-image legend, with the version
    plugin_version: str = ""
    legend_note: str = ""  #: e.g. "outside intended use", appended to the legend

    @property
    def names(self) -> dict[int, str]:
        return self.label_map.names

    @property
    def colors(self) -> dict[int, str]:
        return self.label_map.colors

    def legend(self) -> str:
        """The on-image legend line: ``"AI: <plugin name> <version>"`` (and the note, if any)."""
        return _legend(self.plugin_name or self.plugin_id, self.plugin_version, self.legend_note)

    def lut(self) -> np.ndarray:
        """RGBA lookup table (``max label + 1`` x 4, uint8): hidden labels and 0 are transparent."""
        n = max([int(self.labels.max()) if self.labels.size else 0, *self.names]) + 1
        table = np.zeros((n, 4), np.uint8)
        alpha = int(round(255 * min(max(self.opacity, 0.0), 1.0)))
        for value, color in self.colors.items():
            if value in self.visible and 0 < value < n:
                table[value, :3] = hex_to_rgb(color)
                table[value, 3] = alpha
        return table

    def rgba(self, labels_2d: np.ndarray) -> np.ndarray:
        """Colour a slice of ``labels`` (any 2D index array taken from it)."""
        return self.lut()[labels_2d]


@dataclass
class HeatOverlay:
    """A float map in 0..max (e.g. an occlusion-sensitivity explanation) drawn with a warm colour ramp."""

    plugin_id: str
    heat: np.ndarray
    opacity: float = 0.5
    visible: bool = True
    title: str = "explanation"
    plugin_name: str = ""
    plugin_version: str = ""
    legend_note: str = ""

    def legend(self) -> str:
        """``"AI: <plugin name> <version> (<title> map)"`` (and the note, if any)."""
        return _legend(self.plugin_name or self.plugin_id, self.plugin_version, self.legend_note, f"{self.title} map")

    def rgba(self, heat_2d: np.ndarray) -> np.ndarray:
        peak = float(self.heat.max()) or 1.0
        t = np.clip(heat_2d / peak, 0, 1)
        out = np.zeros(t.shape + (4,), np.uint8)
        out[..., 0] = 255
        out[..., 1] = (255 * np.clip(2 * t - 0.5, 0, 1)).astype(np.uint8)
        out[..., 3] = (255 * self.opacity * t * self.visible).astype(np.uint8)
        return out
