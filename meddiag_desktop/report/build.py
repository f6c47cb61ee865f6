"""Turn a session's results (AI runs, risk evaluations, measurements) into a :class:`Report`.

The GUI calls :func:`build_report` with what it has in memory; the CLI does the
same after running plugins itself. Sizes come from
:mod:`meddiag_desktop.core.label_geometry` (Fleischner 2017 long axis, short axis,
mean diameter), on the source grid, so the table, the risk inputs, the PDF and the
SR show the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from dataclasses import replace

from meddiag_desktop.core import label_geometry
from meddiag_desktop.core.findings import PROPOSED, REJECTED, classification_key, detection_key, segment_key
from meddiag_desktop.core.label_geometry import is_lesion
from meddiag_desktop.core.volume import Volume
from meddiag_desktop.report.key_images import default_key_images
from meddiag_desktop.report.model import (
    ClassificationFinding,
    DetectionFinding,
    Comparison,
    KeyImage,
    LabelMap,
    Measurement,
    PatientStudy,
    Provenance,
    Report,
    RiskFinding,
    RiskInput,
    SegmentFinding,
    Technique,
)

__all__ = [
    "build_report",
    "without_rejected",
    "label_map_from_result",
    "segment_findings",
    "classification_findings",
    "detection_findings",
    "risk_finding",
    "study_technique",
    "study_indication",
    "locate_findings",
]

def _size(volume: Volume, zyx: np.ndarray, values: np.ndarray | None, diameters: bool):
    """Voxels, volume (mL), mean value and Fleischner diameters of the voxels at ``zyx`` (label_geometry)."""
    n = len(zyx)
    ml = n * label_geometry.voxel_volume_mm3(volume) / 1000.0
    mean = float(values.mean()) if values is not None and len(values) else None
    d = label_geometry.axial_diameters_of_points(volume, zyx) if diameters and n else None
    return n, ml, mean, d


def _decision(findings: Any, key: str) -> tuple[str, str]:
    """(status, decided_by) of the AI finding ``key``: 'proposed' and nobody while no reader decided."""
    if findings is None or key not in findings:
        return PROPOSED, ""
    f = findings.get(key)
    return f.status, f.decided_by


def _status(findings: Any, prov: Provenance | None, value: int, component: int | None = None) -> tuple[str, str]:
    """(status, decided_by) of a segment finding: '' for a reader's own map, 'proposed' when nobody decided."""
    if prov is None:
        return "", ""
    if findings is None:
        return PROPOSED, ""
    key = segment_key(prov.plugin_id, value, component)
    if key not in findings:
        editor = findings.edited_by(prov.plugin_id, value)  # a reader-edited label is the reader's
        return ("edited", editor) if editor is not None else (PROPOSED, "")
    return _decision(findings, key)


def segment_findings(volume: Volume, label_map: LabelMap, findings: Any = None) -> list[SegmentFinding]:
    """One finding per present label, plus one per connected component of lesion labels.

    Sizes come from :mod:`meddiag_desktop.core.label_geometry` (the one definition). With
    ``findings`` (a :class:`~meddiag_desktop.core.findings.FindingSet`), each AI finding
    carries the reader's decision and rejected ones are left out; without it, every AI
    finding is an unconfirmed proposal.
    """
    arr = np.asarray(label_map.array)
    if arr.shape[:3] != volume.array.shape[:3]:
        raise ValueError(f"label map shape {arr.shape} does not match the volume {volume.array.shape[:3]}")
    prov = label_map.provenance
    image = None if volume.is_rgb else np.asarray(volume.array)
    out: list[SegmentFinding] = []
    for value in label_map.present():
        name = label_map.names[value]
        color = label_map.colors.get(value, "#ff0000")
        mask = arr == value
        box = label_geometry.bounding_box(mask)
        if box is None:
            continue
        offset = np.array([b.start for b in box])
        crop = mask[box]
        vals = image[box] if image is not None else None
        if not is_lesion(name):
            status, by = _status(findings, prov, value)
            if status == REJECTED:
                continue
            n, ml, mean, d = _size(volume, np.argwhere(crop) + offset, vals[crop] if vals is not None else None, True)
            out.append(_finding(value, name, n, ml, mean, d, color, prov, None, status, by))
            continue
        comp, count = label_geometry.connected_components(crop)
        kept = []
        for i in range(1, count + 1):
            status, by = _status(findings, prov, value, i)
            if status != REJECTED:
                kept.append((i, status, by))
        if not kept:
            continue
        rows = []
        for i, status, by in kept:
            m = comp == i
            n, ml, mean, d = _size(volume, np.argwhere(m) + offset, vals[m] if vals is not None else None, True)
            rows.append(_finding(value, name, n, ml, mean, d, color, prov, i, status, by))
        if len(rows) == 1:
            out.append(replace(rows[0], component=None))
            continue
        union = np.isin(comp, [i for i, _, _ in kept])
        n, ml, mean, _ = _size(volume, np.argwhere(union) + offset, vals[union] if vals is not None else None, False)
        statuses = {r.status for r in rows}
        whole = ("edited" if "edited" in statuses else "accepted") if statuses <= {"accepted", "edited"} else PROPOSED
        out.append(_finding(value, name, n, ml, mean, None, color, prov, None, whole,
                            ", ".join(dict.fromkeys(r.decided_by for r in rows if r.decided_by))))
        out.extend(rows)
    return out


def _finding(value, name, n, ml, mean, d, color, prov, component, status, by) -> SegmentFinding:
    return SegmentFinding(value, name, ml, n, mean, d.long_axis_mm if d else None, color, prov, component,
                          short_axis_mm=d.short_axis_mm if d else None,
                          mean_diameter_mm=d.mean_diameter_mm if d else None, status=status, decided_by=by)


def without_rejected(label_map: LabelMap, findings: Any) -> LabelMap:
    """``label_map`` with the segments and lesion components the reader rejected set to background."""
    prov = label_map.provenance
    if prov is None or findings is None:
        return label_map
    rejected = [f for f in findings.of_plugin(prov.plugin_id) if f.status == REJECTED and f.label_value is not None]
    if not rejected:
        return label_map
    arr = np.array(label_map.array, copy=True)
    for f in rejected:
        if f.component is None:
            arr[arr == f.label_value] = 0
            continue
        original = np.asarray(label_map.array)  # component numbers are those of the AI's map
        box = label_geometry.bounding_box(original == f.label_value)
        if box is None:
            continue
        comp, _ = label_geometry.connected_components(original[box] == f.label_value)
        arr[box][comp == f.component] = 0
    return replace(label_map, array=arr)


def label_map_from_result(result: Any, provenance: Provenance | None = None) -> LabelMap:
    """A :class:`LabelMap` from an AI :class:`~meddiag_desktop.ai.SegmentationResult`."""
    return LabelMap(np.asarray(result.labels), dict(result.label_names), dict(result.label_colors), provenance)


def classification_findings(result: Any, provenance: Provenance | None = None,
                            findings: Any = None) -> list[ClassificationFinding]:
    """Findings from an AI :class:`~meddiag_desktop.ai.ClassificationResult`, with the reader's decisions
    from ``findings`` (rejected ones left out; without it every finding is an unconfirmed proposal)."""
    out = []
    pid = provenance.plugin_id if provenance is not None else getattr(result, "plugin_id", "")
    for i, f in enumerate(result.findings, start=1):
        status, by = _decision(findings, classification_key(pid, i))
        if status == REJECTED:
            continue
        out.append(ClassificationFinding({k: float(v) for k, v in f.probabilities.items()},
                                         tuple(float(c) for c in f.point_lps), provenance, status, by))
    return out


def detection_findings(result: Any, provenance: Provenance | None = None,
                       findings: Any = None) -> list[DetectionFinding]:
    """The boxes of an AI :class:`~meddiag_desktop.ai.results.DetectionResult`, with the reader's decisions
    from ``findings`` (rejected boxes left out; without it every box is an unconfirmed proposal)."""
    from meddiag_desktop.core.findings import detection_class_names

    names = detection_class_names(result)
    pid = provenance.plugin_id if provenance is not None else getattr(result, "plugin_id", "")
    out = []
    for i, d in enumerate(result.detections, start=1):
        status, by = _decision(findings, detection_key(pid, i))
        if status == REJECTED:
            continue
        out.append(DetectionFinding(names.get(int(d.label), f"class {d.label}"),
                                    tuple(float(c) for c in d.center_lps), tuple(float(v) for v in d.size_mm),
                                    float(d.score), i, provenance, status, by))
    return out


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
    findings: Any = None,
    detections: Iterable[DetectionFinding] = (),
    indication: str | None = None,
    comparison: Comparison | None = None,
) -> Report:
    """The report of ``volume`` and the session's results.

    ``key_images=None`` renders one axial key image per label map (largest lesion,
    else the largest structure); pass ``[]`` for none, or the GUI's own views.
    ``findings`` (a :class:`~meddiag_desktop.core.findings.FindingSet`) holds the reader's
    decisions: rejected segments and components leave the findings and the label maps
    (so the SEG too); without it every AI finding is an unconfirmed proposal.
    ``indication=None`` takes the header's reason for the study; ``comparison`` is the prior
    (None: "Comparison: none"). Measurements and lesions get their location in words.
    """
    originals = list(label_maps)
    segments: list[SegmentFinding] = []
    for lm in originals:
        segments.extend(segment_findings(volume, lm, findings))
    maps = [without_rejected(lm, findings) for lm in originals]
    if key_images is None:
        key_images = default_key_images(volume, maps)
    measurements, segments = locate_findings(volume, list(measurements), segments, maps)
    headers = _first_header(volume)
    return Report(
        patient=PatientStudy.from_volume(volume),
        measurements=list(measurements),
        segments=segments,
        classifications=_located_classifications(volume, classifications, maps),
        risks=list(risks),
        key_images=list(key_images),
        label_maps=maps,
        impression=impression,
        reader_name=reader_name,
        institution=institution,
        notes=list(notes),
        detections=list(detections),
        indication=study_indication(volume, headers)[1] if indication is None else indication,
        indication_source=study_indication(volume, headers)[0] if indication is None else "",
        technique=study_technique(volume, headers),
        comparison=comparison,
    )


# ------------------------------------------------------------- study context and locations
def _first_header(volume: Volume) -> Any:
    """The first source file's header (no pixels), or None (not from DICOM, unreadable)."""
    files = volume.metadata.get("files") or []
    if not files:
        return None
    try:
        import pydicom

        return pydicom.dcmread(files[0], stop_before_pixels=True, force=True)
    except Exception:  # noqa: BLE001 - an unreadable header only costs the technique details
        return None


def _header_text(ds: Any, keyword: str) -> str:
    v = ds.get(keyword) if ds is not None else None
    return "" if v is None else str(v.value if hasattr(v, "value") else v).strip()


def study_technique(volume: Volume, header: Any = "read") -> Technique:
    """Modality, body part, slice thickness and contrast (when the header names one) of ``volume``."""
    ds = _first_header(volume) if isinstance(header, str) else header
    thickness = None
    try:
        thickness = float(ds.SliceThickness) if ds is not None and ds.get("SliceThickness") not in (None, "") else None
    except (TypeError, ValueError):
        thickness = None
    agent = _header_text(ds, "ContrastBolusAgent")
    route = _header_text(ds, "ContrastBolusRoute")
    contrast = f"{agent} ({route})" if agent and route else agent
    return Technique(
        modality=volume.modality or _header_text(ds, "Modality"),
        body_part=_header_text(ds, "BodyPartExamined"),
        slice_thickness_mm=thickness,
        contrast=contrast,
        series_description=str(volume.metadata.get("series_description") or ""),
    )


def study_indication(volume: Volume, header: Any = "read") -> tuple[str, str]:
    """(attribute keyword, text): why the study was done, as the header says it (reason for study or
    for the requested procedure, else the requested procedure's description), else ('', '').
    The keyword tells the anonymiser what the profile does with that text."""
    ds = _first_header(volume) if isinstance(header, str) else header
    if ds is None:
        return "", ""
    for kw in ("ReasonForStudy", "ReasonForTheRequestedProcedure", "RequestedProcedureDescription"):
        text = _header_text(ds, kw)
        if text:
            return kw, text
    for item in ds.get("RequestAttributesSequence") or []:
        for kw in ("ReasonForTheRequestedProcedure", "RequestedProcedureDescription"):
            text = _header_text(item, kw)
            if text:
                return kw, text
    return "", ""


def locate_findings(volume: Volume, measurements: list[Measurement], segments: list[SegmentFinding],
                    label_maps: Sequence[LabelMap] = ()) -> tuple[list[Measurement], list[SegmentFinding]]:
    """Measurements and lesion findings with their location in words ("right upper lobe"):
    a measurement at the centre of its points, a lesion at the centroid of its component."""
    from meddiag_desktop.report.location import locate, lung_model

    todo_m = [m for m in measurements if not m.location and m.points_lps]
    todo_s = [x for x in segments if not x.location and is_lesion(x.name) and
              (x.component is not None or not any(y.component for y in segments if y.label_value == x.label_value))]
    if not (todo_m or todo_s) or volume.is_rgb:
        return measurements, segments
    model = lung_model(volume, label_maps)

    def where(p) -> str:
        return locate(volume, p, label_maps, model).text

    measurements = [replace(m, location=where(np.mean(np.asarray(m.points_lps, float), axis=0)))
                    if m in todo_m else m for m in measurements]
    centroids: dict[tuple[int, int], tuple] = {}
    for lm in label_maps:
        for value in {x.label_value for x in todo_s}:
            if value in lm.names and lm.names[value] in {x.name for x in todo_s}:
                for c in label_geometry.label_components(volume, lm.array, value, diameters=False):
                    centroids.setdefault((value, c.index), c.centroid_lps)
    out = []
    for x in segments:
        c = centroids.get((x.label_value, x.component or 1)) if x in todo_s else None
        out.append(replace(x, location=where(c)) if c is not None else x)
    return measurements, out


def _located_classifications(volume: Volume, classifications: Iterable[ClassificationFinding],
                             label_maps: Sequence[LabelMap] = ()) -> list[ClassificationFinding]:
    """Classification findings with the location of their point in words."""
    from meddiag_desktop.report.location import locate, lung_model

    items = list(classifications)
    todo = [c.point_lps is not None and not c.location for c in items]
    if not any(todo) or volume.is_rgb:
        return items
    model = lung_model(volume, label_maps)
    return [replace(c, location=locate(volume, c.point_lps, label_maps, model).text) if t else c
            for c, t in zip(items, todo)]
