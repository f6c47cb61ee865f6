"""What a report says, as plain dataclasses (Qt-free, no I/O).

The same :class:`Report` feeds the PDF, the DICOM SR and the GUI preview, so a
finding cannot appear in one and be missing from another. Label maps travel
beside the findings (:class:`LabelMap`) because the DICOM SEG needs the voxels.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

__all__ = [
    "AI_STATEMENT",
    "OUTSIDE_INTENDED_USE",
    "UNCONFIRMED",
    "PatientStudy",
    "Provenance",
    "Measurement",
    "SegmentFinding",
    "ClassificationFinding",
    "RiskInput",
    "RiskFinding",
    "KeyImage",
    "LabelMap",
    "Technique",
    "Comparison",
    "Report",
]

#: the words every output of a run forced outside a plugin's intended use carries
OUTSIDE_INTENDED_USE = "outside intended use"
#: how an unconfirmed AI finding is marked in the PDF and the SR
UNCONFIRMED = "AI proposal, unconfirmed"

#: printed on every report and written into the SR; fixed text, not configurable
AI_STATEMENT = (
    "Results marked AI were produced by software and have not been validated for clinical use on their own. "
    "They must be reviewed by a qualified reader and are not a diagnosis."
)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


@dataclass(frozen=True)
class PatientStudy:
    """Who and what the report is about (from ``Volume.metadata`` of the source series)."""

    patient_name: str = ""
    patient_id: str = ""
    patient_birth_date: str = ""  # DICOM DA, YYYYMMDD
    patient_sex: str = ""
    patient_age: str = ""
    study_date: str = ""
    study_description: str = ""
    accession_number: str = ""
    study_uid: str = ""
    series_uid: str = ""
    series_description: str = ""
    frame_of_reference_uid: str = ""
    modality: str = ""
    pseudonymised: bool = False

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> PatientStudy:
        """Fields from a loaded volume's metadata (missing keys stay empty)."""
        g = metadata.get
        return cls(
            patient_name=_text(g("patient_name")).replace("^", " ").strip(),
            patient_id=_text(g("patient_id")),
            patient_birth_date=_text(g("patient_birth_date")),
            patient_sex=_text(g("patient_sex")),
            patient_age=_text(g("patient_age")),
            study_date=_text(g("study_date")),
            study_description=_text(g("study_description")),
            accession_number=_text(g("accession_number")),
            study_uid=_text(g("study_uid")),
            series_uid=_text(g("series_uid")),
            series_description=_text(g("series_description")),
            frame_of_reference_uid=_text(g("frame_of_reference_uid")),
            modality=_text(g("modality")),
        )

    @classmethod
    def from_volume(cls, volume: Any) -> PatientStudy:
        """Like :meth:`from_metadata`, completing accession number and age from the first source file."""
        md = dict(volume.metadata)
        files = md.get("files") or []
        if files and (not md.get("accession_number") or not md.get("patient_age")):
            try:
                import pydicom

                ds = pydicom.dcmread(files[0], stop_before_pixels=True, specific_tags=["AccessionNumber", "PatientAge"])
                md.setdefault("accession_number", str(ds.get("AccessionNumber", "") or ""))
                if not md.get("patient_age"):
                    md["patient_age"] = str(ds.get("PatientAge", "") or "")
            except Exception:  # an unreadable header only costs the accession number
                pass
        study = cls.from_metadata(md)
        if not study.patient_age:
            from meddiag_desktop.risk.image_inputs import patient_inputs

            age = patient_inputs(md).get("age")
            if age is not None:
                study = replace(study, patient_age=f"{int(age.value):03d}Y")
        return study

    @property
    def age_text(self) -> str:
        """``"69 y"`` from a DICOM AgeString, else ''."""
        a = self.patient_age.strip()
        units = {"Y": "y", "M": "mo", "W": "wk", "D": "d"}
        if len(a) == 4 and a[:3].isdigit() and a[3].upper() in units:
            return f"{int(a[:3])} {units[a[3].upper()]}"
        return a

    def pseudonymise(self, pseudonym: str, uid_map: Mapping[str, str] | None = None,
                     date_shift_days: int = 0) -> PatientStudy:
        """A copy without identifiers: pseudonym for name and ID, no birth date or accession,
        UIDs through ``uid_map`` (dropped when absent), study date shifted."""
        uid_map = uid_map or {}
        return replace(
            self,
            patient_name=pseudonym,
            patient_id=pseudonym,
            patient_birth_date="",
            accession_number="",
            study_date=shift_da(self.study_date, date_shift_days),
            study_uid=uid_map.get(self.study_uid, ""),
            series_uid=uid_map.get(self.series_uid, ""),
            frame_of_reference_uid=uid_map.get(self.frame_of_reference_uid, ""),
            study_description=self.study_description,
            pseudonymised=True,
        )


def shift_da(value: str, days: int) -> str:
    """DICOM date ``YYYYMMDD`` moved by ``days``; '' when it is not a date."""
    try:
        d = _dt.datetime.strptime(value.strip()[:8], "%Y%m%d").date()
    except ValueError:
        return ""
    return (d + _dt.timedelta(days=days)).strftime("%Y%m%d")


@dataclass(frozen=True)
class Provenance:
    """Which software made an AI result, with which weights, where and when."""

    plugin_id: str
    name: str = ""
    version: str = ""
    weights_sha256: tuple[str, ...] = ()
    device: str = ""
    run_at: str = ""  # ISO 8601, local time with offset
    intended_use: str = ""
    outside_intended_use: str = ""  # the mismatch of a run the reader forced outside the intended use

    @classmethod
    def from_plugin(cls, info: Any, device: str = "", run_at: _dt.datetime | None = None,
                    outside_intended_use: str = "") -> Provenance:
        """From a :class:`meddiag_desktop.ai.PluginInfo` (or anything with a ``manifest``).

        A forced run's name ends with "(outside intended use)", so every output naming the
        algorithm (SEG algorithm identification, SR, PDF) says so.
        """
        m = getattr(info, "manifest", info)
        when = (run_at or _dt.datetime.now().astimezone()).isoformat(timespec="seconds")
        name = m.name
        if outside_intended_use:
            suffix = f" ({OUTSIDE_INTENDED_USE})"
            name = name[: 64 - len(suffix)] + suffix
        return cls(
            plugin_id=m.id,
            name=name,
            version=m.version,
            weights_sha256=tuple(w.sha256 or "not recorded" for w in m.weights),
            device=device,
            run_at=when,
            intended_use=m.intended_use,
            outside_intended_use=outside_intended_use,
        )


@dataclass(frozen=True)
class Measurement:
    """A reader's measurement: a value with unit and the LPS points it was taken between."""

    name: str
    value: float
    unit: str
    points_lps: tuple[tuple[float, float, float], ...] = ()
    description: str = ""
    location: str = ""  # in words, e.g. "right upper lobe" (report.location); '' when unknown
    image: str = ""  # where it was drawn, e.g. "axial image 75/150"


@dataclass(frozen=True)
class SegmentFinding:
    """One structure found by a segmentation: its size and density."""

    label_value: int
    name: str
    volume_ml: float
    voxels: int
    mean_hu: float | None = None
    longest_diameter_mm: float | None = None
    color: str = "#ff0000"
    provenance: Provenance | None = None
    component: int | None = None  # set for one connected component of a label (e.g. nodule 2)
    short_axis_mm: float | None = None  # Fleischner 2017, with longest_diameter_mm (the long axis)
    mean_diameter_mm: float | None = None
    status: str = ""  # AI findings: proposed / accepted / edited (rejected ones are left out); '' manual
    decided_by: str = ""
    location: str = ""  # lesions: in words, e.g. "left lower lobe" (report.location)

    @property
    def confirmed(self) -> bool:
        """A reader's own structure, or an AI finding the reader accepted or edited."""
        return self.provenance is None or self.status in ("accepted", "edited")

    @property
    def display_name(self) -> str:
        return f"{self.name} {self.component}" if self.component else self.name


@dataclass(frozen=True)
class ClassificationFinding:
    """Class probabilities at a location."""

    probabilities: Mapping[str, float]
    point_lps: tuple[float, float, float] | None = None
    provenance: Provenance | None = None
    status: str = "proposed"  # proposed / accepted / edited (rejected ones are left out)
    decided_by: str = ""
    location: str = ""  # in words, e.g. "right upper lobe" (report.location)

    @property
    def confirmed(self) -> bool:
        return self.status in ("accepted", "edited")

    @property
    def top_class(self) -> str:
        return max(self.probabilities, key=self.probabilities.get) if self.probabilities else ""


@dataclass(frozen=True)
class DetectionFinding:
    """One box of a detection model: centre (LPS mm), size along x, y, z (mm), score, class name."""

    name: str
    center_lps: tuple[float, float, float]
    size_mm: tuple[float, float, float]
    score: float
    index: int = 1  # 1-based rank of the box in its result (highest score first)
    provenance: Provenance | None = None
    status: str = "proposed"  # proposed / accepted / edited (rejected ones are left out)
    decided_by: str = ""

    @property
    def confirmed(self) -> bool:
        return self.status in ("accepted", "edited")

    @property
    def display_name(self) -> str:
        return f"{self.name} {self.index}"


@dataclass(frozen=True)
class RiskInput:
    """One input of a risk model: its value and whether the image gave it or a person entered it."""

    name: str
    value: Any
    origin: Literal["image", "entered"]
    label: str = ""
    unit: str = ""
    detail: str = ""


@dataclass(frozen=True)
class RiskFinding:
    """A risk model's result with everything needed to check it."""

    model_id: str
    title: str
    probability: float
    category: str
    action: str
    inputs: tuple[RiskInput, ...]
    contributions: Mapping[str, float]  # input -> log-odds
    baseline_log_odds: float = 0.0
    citation: str = ""
    guideline_citation: str = ""
    rule: str | None = None
    model_version: str = ""
    intended_use: str = ""
    reference: str = ""
    warnings: tuple[str, ...] = ()
    outcome: str = ""  # what the probability is of (e.g. "probability that a lung nodule ... is malignant")


@dataclass(frozen=True)
class KeyImage:
    """A view rendered by the caller (PNG bytes) with its caption."""

    png: bytes
    caption: str = ""


@dataclass(frozen=True)
class Technique:
    """How the study was acquired, from the source header (missing values stay empty)."""

    modality: str = ""
    body_part: str = ""
    slice_thickness_mm: float | None = None
    contrast: str = ""  # ContrastBolusAgent / Route when the header has them
    series_description: str = ""


@dataclass(frozen=True)
class Comparison:
    """The prior study the current one is compared with."""

    study_date: str = ""  # DICOM DA of the prior
    description: str = ""


@dataclass
class LabelMap:
    """A label map on the source volume's grid (``[z, y, x]``) and what its values mean."""

    array: np.ndarray
    names: Mapping[int, str]
    colors: Mapping[int, str] = field(default_factory=dict)
    provenance: Provenance | None = None
    #: labels the reader edited -> DICOM SegmentAlgorithmType: "SEMIAUTOMATIC" (an AI proposal the
    #: reader changed) or "MANUAL" (drawn by the reader); see :class:`meddiag_desktop.core.seg_edit.LabelEditor`
    edited: Mapping[int, str] = field(default_factory=dict)

    def present(self) -> list[int]:
        """Label values that have at least one voxel, in ascending order."""
        counts = np.bincount(np.asarray(self.array).ravel().astype(np.int64), minlength=1)
        return [int(v) for v in np.flatnonzero(counts) if v != 0 and int(v) in self.names]


@dataclass
class Report:
    """Everything one report holds; built by :func:`meddiag_desktop.report.build_report`."""

    patient: PatientStudy
    measurements: list[Measurement] = field(default_factory=list)
    segments: list[SegmentFinding] = field(default_factory=list)
    classifications: list[ClassificationFinding] = field(default_factory=list)
    risks: list[RiskFinding] = field(default_factory=list)
    key_images: list[KeyImage] = field(default_factory=list)
    label_maps: list[LabelMap] = field(default_factory=list)
    impression: str = ""
    reader_name: str = ""
    app_version: str = ""
    created_at: str = ""  # ISO 8601
    institution: str = ""
    notes: list[str] = field(default_factory=list)  # e.g. an AI plugin that refused the study, and why
    statement: str = AI_STATEMENT
    detections: list[DetectionFinding] = field(default_factory=list)  # boxes of detection models
    indication: str = ""  # why the study was done (header's reason for study, or typed by the reader)
    indication_source: str = ""  # the header attribute the indication was copied from ('' typed by the reader)
    technique: Technique | None = None
    comparison: Comparison | None = None  # None: "Comparison: none"

    def __post_init__(self) -> None:
        if not self.app_version:
            from meddiag_desktop import __version__

            self.app_version = __version__
        if not self.created_at:
            self.created_at = _dt.datetime.now().astimezone().isoformat(timespec="seconds")

    @property
    def provenances(self) -> list[Provenance]:
        """Distinct AI provenances of all findings, in first-seen order."""
        seen: dict[tuple, Provenance] = {}
        items = [s.provenance for s in self.segments] + [c.provenance for c in self.classifications]
        items += [d.provenance for d in self.detections]
        items += [m.provenance for m in self.label_maps]
        for p in items:
            if p is not None:
                seen.setdefault((p.plugin_id, p.version, p.weights_sha256, p.device, p.run_at), p)
        return list(seen.values())

    @property
    def has_ai(self) -> bool:
        return bool(self.provenances)

    @property
    def outside_intended_use(self) -> list[Provenance]:
        """Provenances of runs the reader forced outside the plugin's intended use."""
        return [p for p in self.provenances if p.outside_intended_use]

    @property
    def unconfirmed(self) -> list:
        """AI findings no reader has confirmed (shown as proposals)."""
        return [s for s in self.segments if not s.confirmed] + [c for c in self.classifications if not c.confirmed] \
            + [d for d in self.detections if not d.confirmed]

    @property
    def confirmed_by(self) -> list[str]:
        """Readers who confirmed AI findings, in first-seen order."""
        seen: dict[str, None] = {}
        for f in [*self.segments, *self.classifications, *self.detections]:
            if f.confirmed and f.decided_by:
                seen.setdefault(f.decided_by, None)
        return list(seen)
