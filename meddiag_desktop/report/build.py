"""Turn a session's results (AI runs, risk evaluations, measurements) into a :class:`Report`.

The GUI calls :func:`build_report` with what it has in memory; the CLI does the
same after running plugins itself. Sizes are measured here, on the source grid,
so the PDF and the SR always show the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from meddiag_desktop.core.volume import Volume
from meddiag_desktop.report.model import (
    ClassificationFinding,
    KeyImage,
    LabelMap,
    Measurement,
    PatientStudy,
    Provenance,
    Report,
    RiskFinding,
    RiskInput,
    SegmentFinding,
)

__all__ = [
    "build_report",
    "label_map_from_result",
    "segment_findings",
    "classification_findings",
    "risk_finding",
]

#: labels whose connected components are listed one by one (each nodule is a finding)
LESION_WORDS = ("nodule", "lesion", "tumour", "tumor", "mass")


def _is_lesion(name: str) -> bool:
    return any(w in name.lower() for w in LESION_WORDS)


def _measure(volume: Volume, mask: np.ndarray) -> tuple[int, float, float | None, float | None]:
    """Voxels, volume (mL), mean value and axial long-axis diameter (mm) of ``mask``."""
    from meddiag_desktop.risk.image_inputs import axial_diameters

    n = int(mask.sum())
    voxel_ml = float(abs(np.linalg.det(volume.direction)) * np.prod(volume.spacing)) / 1000.0
    if n == 0:
        return 0, 0.0, None, None
    mean = float(np.asarray(volume.array)[mask].mean()) if not volume.is_rgb else None
    # measure on the bounding box only: same geometry, a fraction of the voxels
    nz = [np.flatnonzero(mask.any(axis=axes)) for axes in ((1, 2), (0, 2), (0, 1))]
    (k0, k1), (j0, j1), (i0, i1) = [(int(a[0]), int(a[-1]) + 1) for a in nz]
    crop = mask[k0:k1, j0:j1, i0:i1]
    box = Volume(crop.view(np.uint8), volume.spacing, tuple(volume.to_lps((i0, j0, k0))), volume.direction)
    long_mm = axial_diameters(box, crop)[0]
    return n, n * voxel_ml, mean, long_mm


def segment_findings(volume: Volume, label_map: LabelMap) -> list[SegmentFinding]:
    """One finding per present label, plus one per connected component of lesion labels."""
    from meddiag_desktop.risk.image_inputs import connected_components

    arr = np.asarray(label_map.array)
    if arr.shape[:3] != volume.array.shape[:3]:
        raise ValueError(f"label map shape {arr.shape} does not match the volume {volume.array.shape[:3]}")
    out: list[SegmentFinding] = []
    for value in label_map.present():
        name = label_map.names[value]
        color = label_map.colors.get(value, "#ff0000")
        mask = arr == value
        n, ml, mean, long_mm = _measure(volume, mask)
        out.append(SegmentFinding(value, name, ml, n, mean, long_mm, color, label_map.provenance))
        if _is_lesion(name):
            comp, count = connected_components(mask)
            if count > 1:
                for i in range(1, count + 1):
                    n, ml, mean, long_mm = _measure(volume, comp == i)
                    out.append(SegmentFinding(value, name, ml, n, mean, long_mm, color, label_map.provenance, i))
    return out


def label_map_from_result(result: Any, provenance: Provenance | None = None) -> LabelMap:
    """A :class:`LabelMap` from an AI :class:`~meddiag_desktop.ai.SegmentationResult`."""
    return LabelMap(np.asarray(result.labels), dict(result.label_names), dict(result.label_colors), provenance)


def classification_findings(result: Any, provenance: Provenance | None = None) -> list[ClassificationFinding]:
    """Findings from an AI :class:`~meddiag_desktop.ai.ClassificationResult`."""
    return [
        ClassificationFinding({k: float(v) for k, v in f.probabilities.items()},
                              tuple(float(c) for c in f.point_lps), provenance)
        for f in result.findings
    ]


def risk_finding(result: Any, derived: Mapping[str, Any] | None = None, model: Any = None) -> RiskFinding:
    """A :class:`RiskFinding` from a :class:`~meddiag_desktop.risk.RiskResult`.

    ``derived`` maps input names to the :class:`~meddiag_desktop.risk.image_inputs.DerivedValue`
    that was used; an input whose value equals the derived one is marked ``image``, any other
    ``entered``. ``model`` (a :class:`~meddiag_desktop.risk.RiskModel`) adds labels, units and version.
    """
    derived = derived or {}
    specs = {i.name: i for i in model.spec.inputs} if model is not None else {}
    inputs = []
    for name, value in result.inputs.items():
        d = derived.get(name)
        from_image = d is not None and _same(getattr(d, "value", d), value)
        spec = specs.get(name)
        inputs.append(RiskInput(
            name, value, "image" if from_image else "entered",
            label=getattr(spec, "label", "") or name.replace("_", " "),
            unit=getattr(spec, "unit", "") or "",
            detail=getattr(d, "detail", "") if from_image else "",
        ))
    return RiskFinding(
        model_id=result.model,
        title=result.title,
        probability=float(result.probability),
        category=result.category,
        action=result.action,
        inputs=tuple(inputs),
        contributions={c.input: float(c.log_odds) for c in result.contributions},
        baseline_log_odds=float(result.baseline_log_odds),
        citation=result.citation,
        guideline_citation=getattr(result, "guideline_citation", ""),
        rule=getattr(result, "rule", None),
        model_version=str(model.spec.version) if model is not None else "",
        intended_use=result.intended_use,
        reference=getattr(result, "reference", ""),
        warnings=tuple(getattr(result, "warnings", ())),
        outcome=str(model.spec.outcome) if model is not None else "",
    )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) < 1e-6
    return a == b


def build_report(
    volume: Volume,
    *,
    label_maps: Iterable[LabelMap] = (),
    classifications: Iterable[ClassificationFinding] = (),
    risks: Iterable[RiskFinding] = (),
    measurements: Iterable[Measurement] = (),
    key_images: Sequence[KeyImage] | None = None,
    impression: str = "",
    reader_name: str = "",
    institution: str = "",
    notes: Sequence[str] = (),
) -> Report:
    """The report of ``volume`` and the session's results.

    ``key_images=None`` renders one axial key image per label map (largest lesion,
    else the largest structure); pass ``[]`` for none, or the GUI's own views.
    """
    maps = list(label_maps)
    segments: list[SegmentFinding] = []
    for lm in maps:
        segments.extend(segment_findings(volume, lm))
    if key_images is None:
        from meddiag_desktop.report.key_images import default_key_images

        key_images = default_key_images(volume, maps)
    return Report(
        patient=PatientStudy.from_volume(volume),
        measurements=list(measurements),
        segments=segments,
        classifications=list(classifications),
        risks=list(risks),
        key_images=list(key_images),
        label_maps=maps,
        impression=impression,
        reader_name=reader_name,
        institution=institution,
        notes=list(notes),
    )
