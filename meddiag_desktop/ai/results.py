"""What a plugin run returns: label maps with statistics, or class probabilities with an explanation.

Each result crosses the worker-process boundary as ``to_summary()`` (JSON-ready,
no arrays) plus ``arrays()`` (saved as ``.npy`` files), and is rebuilt on the
other side by :func:`result_from_summary` (each class's ``from_summary``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from meddiag_desktop.core.label_map import LabelMap, LabelMapHolder

__all__ = ["LabelStats", "SegmentationResult", "Finding", "ClassificationResult", "Detection", "DetectionResult",
           "label_statistics", "result_from_summary"]


@dataclass
class LabelStats:
    """Volume and source-intensity statistics of one label."""

    value: int
    name: str
    color: str
    voxels: int
    volume_ml: float
    mean: float | None
    sd: float | None
    min: float | None
    max: float | None


@dataclass
class SegmentationResult(LabelMapHolder):
    """A plugin's label map (aligned voxel for voxel with the source volume, ``[z, y, x]``) and how it was made.

    ``labels``, ``label_names`` and ``label_colors`` are the :class:`LabelMap`'s
    ``array``, ``names`` and ``colors``.
    """

    plugin_id: str
    label_map: LabelMap
    stats: list[LabelStats]
    intended_use: str
    device: str = "cpu"
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    task: str = "segmentation"
    outside_intended_use: str = ""  #: the mismatch, when the reader ran it anyway outside the intended use

    @property
    def label_names(self) -> dict[int, str]:
        return self.label_map.names

    @property
    def label_colors(self) -> dict[int, str]:
        return self.label_map.colors

    def to_summary(self) -> dict:
        """JSON-ready description (no arrays; the label map is :meth:`arrays`)."""
        return {
            "plugin": self.plugin_id,
            "task": self.task,
            "intended_use": self.intended_use,
            "labels": {str(k): v for k, v in self.label_names.items()},
            "colors": {str(k): v for k, v in self.label_colors.items()},
            "volumes_ml": {s.name: round(s.volume_ml, 3) for s in self.stats},
            "stats": [s.__dict__ for s in self.stats],
            "device": self.device,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "notes": self.notes,
            "warnings": self.warnings,
            "outside_intended_use": self.outside_intended_use,
        }

    summary = to_summary  #: the name callers used before ``to_summary``

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays :meth:`to_summary` leaves out, by name."""
        return {"labels": self.labels}

    @classmethod
    def from_summary(cls, summary: Mapping, arrays: Mapping[str, np.ndarray]) -> SegmentationResult:
        """The result again from :meth:`to_summary` and :meth:`arrays` (values as the summary rounds them)."""
        return cls(
            summary["plugin"],
            LabelMap(arrays["labels"], {int(k): v for k, v in summary["labels"].items()},
                     {int(k): v for k, v in summary["colors"].items()}),
            [LabelStats(**s) for s in summary["stats"]],
            summary["intended_use"], summary["device"], summary["timings"], summary["notes"], summary["warnings"],
            outside_intended_use=summary.get("outside_intended_use", ""),
        )


@dataclass
class Finding:
    """Class probabilities at one location (LPS mm)."""

    point_lps: tuple[float, float, float]
    probabilities: dict[str, float]
    source: str = "user"

    @property
    def top_class(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)


@dataclass
class ClassificationResult:
    """Per-location class probabilities and an explanation map aligned with the source (0 outside patches)."""

    plugin_id: str
    classes: list[str]
    findings: list[Finding]
    explanation: np.ndarray | None
    intended_use: str
    device: str = "cpu"
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    task: str = "classification"
    outside_intended_use: str = ""  #: the mismatch, when the reader ran it anyway outside the intended use

    @property
    def probabilities(self) -> dict[str, float]:
        """Probabilities of the first finding (the usual single-point case)."""
        return self.findings[0].probabilities if self.findings else {}

    def to_summary(self) -> dict:
        """JSON-ready description (no arrays; the explanation map is :meth:`arrays`)."""
        return {
            "plugin": self.plugin_id,
            "task": self.task,
            "intended_use": self.intended_use,
            "classes": self.classes,
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
            "findings": [
                {
                    "point_lps": [round(c, 2) for c in f.point_lps],
                    "probabilities": {k: round(v, 4) for k, v in f.probabilities.items()},
                    "top_class": f.top_class,
                    "source": f.source,
                }
                for f in self.findings
            ],
            "device": self.device,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "notes": self.notes,
            "warnings": self.warnings,
            "outside_intended_use": self.outside_intended_use,
        }

    summary = to_summary  #: the name callers used before ``to_summary``

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays :meth:`to_summary` leaves out, by name (none without an explanation map)."""
        return {} if self.explanation is None else {"explanation": self.explanation}

    @classmethod
    def from_summary(cls, summary: Mapping, arrays: Mapping[str, np.ndarray]) -> ClassificationResult:
        """The result again from :meth:`to_summary` and :meth:`arrays` (probabilities as the summary rounds them)."""
        findings = [Finding(tuple(f["point_lps"]), f["probabilities"], f["source"]) for f in summary["findings"]]
        return cls(summary["plugin"], summary["classes"], findings, arrays.get("explanation"), summary["intended_use"],
                   summary["device"], summary["timings"], summary["notes"], summary["warnings"],
                   outside_intended_use=summary.get("outside_intended_use", ""))


@dataclass
class Detection:
    """One box: centre (LPS mm), size along x, y, z (mm), score and class label."""

    center_lps: tuple[float, float, float]
    size_mm: tuple[float, float, float]
    score: float
    label: int = 0

    def to_json(self) -> dict:
        return {"center_lps": [round(c, 4) for c in self.center_lps], "size_mm": [round(s, 4) for s in self.size_mm],
                "score": round(self.score, 6), "label": self.label}


@dataclass
class DetectionResult:
    """Boxes found by a detection model (MONAI RetinaNet bundles), highest score first."""

    plugin_id: str
    detections: list[Detection]
    intended_use: str
    device: str = "cpu"
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    task: str = "detection"

    def finding_candidates(self) -> list[dict]:
        """One plain record per box for reader confirmation (AI findings are proposals until a reader accepts them)."""
        return [{"source": self.plugin_id, "kind": "detection", "point_lps": list(d.center_lps),
                 "size_mm": list(d.size_mm), "score": d.score, "label": d.label} for d in self.detections]

    def to_summary(self) -> dict:
        """JSON-ready description."""
        return {
            "plugin": self.plugin_id,
            "task": self.task,
            "intended_use": self.intended_use,
            "detections": [d.to_json() for d in self.detections],
            "device": self.device,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "notes": self.notes,
            "warnings": self.warnings,
        }

    summary = to_summary  #: the name callers used before ``to_summary``

    def arrays(self) -> dict[str, np.ndarray]:
        """No arrays: the boxes are all in :meth:`to_summary`."""
        return {}

    @classmethod
    def from_summary(cls, summary: Mapping, arrays: Mapping[str, np.ndarray] | None = None) -> DetectionResult:
        """The result again from :meth:`to_summary` (boxes as the summary rounds them)."""
        dets = [Detection(tuple(d["center_lps"]), tuple(d["size_mm"]), d["score"], d["label"])
                for d in summary["detections"]]
        return cls(summary["plugin"], dets, summary["intended_use"], summary["device"], summary["timings"],
                   summary["notes"], summary["warnings"])


_BY_TASK = {"segmentation": SegmentationResult, "classification": ClassificationResult, "detection": DetectionResult}


def result_from_summary(summary: Mapping, arrays: Mapping[str, np.ndarray]):
    """A Segmentation-, Classification- or DetectionResult from its ``to_summary()`` and ``arrays()``."""
    return _BY_TASK[summary["task"]].from_summary(summary, arrays)


def label_statistics(
    labels: np.ndarray,
    source: np.ndarray,
    spacing: tuple[float, float, float],
    names: dict[int, str],
    colors: dict[int, str],
) -> list[LabelStats]:
    """Per-label voxel count, volume (mL) and mean/SD/min/max of the source values."""
    import SimpleITK as sitk

    voxel_ml = float(np.prod(spacing)) / 1000.0
    lab_img = sitk.GetImageFromArray(np.ascontiguousarray(labels if labels.dtype in (np.uint8, np.uint16) else labels.astype(np.uint16)))
    if source.dtype not in (np.int16, np.uint16, np.int32, np.uint8, np.float32, np.float64):
        source = source.astype(np.float32)
    src_img = sitk.GetImageFromArray(np.ascontiguousarray(source))
    f = sitk.LabelStatisticsImageFilter()
    f.SetUseHistograms(False)  # no median needed; histograms cost seconds on a whole CT
    f.Execute(src_img, lab_img)
    present = set(f.GetLabels())
    out = []
    for value, name in sorted(names.items()):
        if value in present:
            n = int(f.GetCount(value))
            out.append(
                LabelStats(value, name, colors.get(value, "#ff0000"), n, n * voxel_ml, float(f.GetMean(value)),
                           float(f.GetSigma(value)), float(f.GetMinimum(value)), float(f.GetMaximum(value)))
            )
        else:
            out.append(LabelStats(value, name, colors.get(value, "#ff0000"), 0, 0.0, None, None, None, None))
    return out
