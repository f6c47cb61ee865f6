"""Read the findings back from an exported DICOM SR (TID 1500): the canonical record of a study's results.

The batch summary is built from what was written, not from what the plugins
returned in memory: one row per measurement (volume, mean attenuation, long axis,
probability...) and one row per coded finding (the finding type of a segment, the
top class of a classifier), with the tracking identifier that names the finding
("left lung", "nodule 1", "risk brock") and the algorithm that produced it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

__all__ = ["FindingRow", "read_sr_findings", "SUMMARY_COLUMNS"]

_GROUP = ("125007", "DCM")  # Measurement Group
_TRACKING_ID = ("112039", "DCM")  # Tracking Identifier
_ALGORITHM = ("111001", "DCM")  # Algorithm Name
_FINDING = ("121071", "DCM")  # Finding
_CATEGORY = ("276214006", "SCT")  # Finding category

#: columns of the summary table, in order
SUMMARY_COLUMNS = ("study_uid", "finding", "finding_type", "measurement", "value", "unit", "value_text", "code",
                   "algorithm")


@dataclass
class FindingRow:
    """One measurement or coded finding of one study, as the SR states it."""

    study_uid: str
    finding: str  #: the tracking identifier, e.g. "nodule 1", "left lung", "risk brock"
    finding_type: str  #: the coded finding type (Nodule, Lung...) or the top class of a classifier
    measurement: str  #: concept name: "Volume", "Long Axis", "Probability of cancer", "Finding"
    value: float | None  #: numeric value (None for coded findings)
    unit: str  #: UCUM code of the value ("ml", "mm", "%", "[hnsf'U]")
    value_text: str  #: coded value's meaning (the class name of a classification)
    code: str  #: "scheme:value" of the measurement concept, so tables can be joined without names
    algorithm: str  #: algorithm name of the group or measurement

    def to_dict(self) -> dict:
        return asdict(self)


def _concept(item) -> tuple[str, str, str]:
    seq = item.get("ConceptNameCodeSequence")
    if not seq:
        return ("", "", "")
    c = seq[0]
    return (str(c.get("CodeValue", "")), str(c.get("CodingSchemeDesignator", "")), str(c.get("CodeMeaning", "")))


def _is(item, code: tuple[str, str]) -> bool:
    return _concept(item)[:2] == code


def _algorithm(items) -> str:
    for it in items:
        if it.get("ValueType") == "TEXT" and _is(it, _ALGORITHM):
            return str(it.TextValue)
    return ""


def _groups(items):
    """Measurement groups anywhere under ``items`` (they sit under 'Imaging Measurements')."""
    for it in items:
        if it.get("ValueType") == "CONTAINER" and _is(it, _GROUP):
            yield it
        elif "ContentSequence" in it:
            yield from _groups(it.ContentSequence)


def read_sr_findings(path: str | os.PathLike) -> list[FindingRow]:
    """The rows of one SR file (``sr.dcm`` as ``meddiag report`` writes it); ValueError when it is not an SR."""
    import pydicom

    ds = pydicom.dcmread(os.fspath(path))
    if "ContentSequence" not in ds:
        raise ValueError(f"{path}: not a structured report (no ContentSequence)")
    study = str(ds.get("StudyInstanceUID", ""))
    rows: list[FindingRow] = []
    for group in _groups(ds.ContentSequence):
        items = list(group.get("ContentSequence", []))
        name = next((str(it.TextValue) for it in items if it.get("ValueType") == "TEXT" and _is(it, _TRACKING_ID)), "")
        finding_type = next((str(it.ConceptCodeSequence[0].CodeMeaning) for it in items
                             if it.get("ValueType") == "CODE" and _is(it, _FINDING)), "")
        group_algo = _algorithm(items)
        for it in items:
            vt = it.get("ValueType")
            code, scheme, meaning = _concept(it)
            if vt == "NUM" and it.get("MeasuredValueSequence"):
                mv = it.MeasuredValueSequence[0]
                unit = str(mv.MeasurementUnitsCodeSequence[0].CodeValue) if mv.get("MeasurementUnitsCodeSequence") else ""
                rows.append(FindingRow(study, name, finding_type, meaning, float(mv.NumericValue), unit, "",
                                       f"{scheme}:{code}", _algorithm(it.get("ContentSequence", [])) or group_algo))
            elif vt == "CODE" and it.get("RelationshipType") == "CONTAINS" and not _is(it, _CATEGORY):
                value = it.ConceptCodeSequence[0]
                rows.append(FindingRow(study, name, finding_type, meaning, None, "", str(value.CodeMeaning),
                                       f"{scheme}:{code}", group_algo))
    return rows
