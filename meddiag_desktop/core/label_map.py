"""The one label-map type: a label array on a volume's grid and what its values mean (Qt-free).

An AI segmentation (:class:`meddiag_desktop.ai.results.SegmentationResult`) and
what the viewer draws of it (:class:`meddiag_desktop.ai.overlay.LabelOverlay`)
wrap a :class:`LabelMap`; the report holds them as they are
(``meddiag_desktop.report.model.LabelMap`` is this class), with the provenance
of the AI that proposed them and the labels the reader edited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["LabelMap", "LabelMapHolder", "hex_to_rgb"]


def hex_to_rgb(color: str, default: tuple[int, int, int] | None = None) -> tuple[int, int, int]:
    """``"#rrggbb"`` -> ``(r, g, b)`` in 0..255; an unreadable colour raises ValueError, or gives ``default``."""
    c = str(color).lstrip("#")
    try:
        return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
    except ValueError:
        if default is None:
            raise
        return default


@dataclass
class LabelMap:
    """A label map on the source volume's grid (``[z, y, x]``) and what its values mean."""

    array: np.ndarray
    names: Mapping[int, str]
    colors: Mapping[int, str] = field(default_factory=dict)
    #: who proposed it (a :class:`meddiag_desktop.report.model.Provenance`), None when drawn by the reader
    provenance: Any = None
    #: labels the reader edited -> DICOM SegmentAlgorithmType: "SEMIAUTOMATIC" (an AI proposal the
    #: reader changed) or "MANUAL" (drawn by the reader); see :class:`meddiag_desktop.core.seg_edit.LabelEditor`
    edited: Mapping[int, str] = field(default_factory=dict)

    def present(self) -> list[int]:
        """Label values that have at least one voxel, in ascending order."""
        counts = np.bincount(np.asarray(self.array).ravel().astype(np.int64), minlength=1)
        return [int(v) for v in np.flatnonzero(counts) if v != 0 and int(v) in self.names]


class LabelMapHolder:
    """For the types that wrap a :class:`LabelMap` in ``label_map`` (an AI result, an overlay): their
    ``labels`` is the map's array, read and replaced in one place."""

    label_map: LabelMap

    @property
    def labels(self) -> np.ndarray:
        return self.label_map.array

    @labels.setter
    def labels(self, array: np.ndarray) -> None:
        self.label_map.array = array
