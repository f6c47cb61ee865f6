"""Risk model inputs derived from the image, its segmentation and its DICOM header.

Nodule size is the Fleischner 2017 mean diameter (average of the long and short
axis on the axial slice of greatest cross-section) and ``diameter_mm`` its long
axis; components, volumes and diameters all come from
:mod:`meddiag_desktop.core.label_geometry`, the one definition the measurements
table, the PDF and the SR use too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np

from meddiag_desktop.core import label_geometry
from meddiag_desktop.core.lung_anatomy import in_upper_lobe, lung_extent
from meddiag_desktop.core.volume import Volume

__all__ = [
    "DerivedValue",
    "NoduleMeasurement",
    "NoduleComponent",
    "connected_components",
    "nodule_components",
    "axial_diameters",
    "parse_age",
    "patient_inputs",
    "derive_nodule_inputs",
]

Source = Literal["segmentation", "measurement", "classification", "dicom"]
_NODULE_TYPES = {"solid": "solid", "part_solid": "part_solid", "partsolid": "part_solid", "non_solid": "non_solid",
                 "nonsolid": "non_solid", "ground_glass": "non_solid", "ggo": "non_solid", "ggn": "non_solid"}


@dataclass(frozen=True)
class DerivedValue:
    """An input value found in the image data, where it came from, and how."""

    value: Any
    source: Source
    detail: str = ""


@dataclass(frozen=True)
class NoduleMeasurement:
    """A reader's calipers: long axis and (optionally) the perpendicular short axis, mm."""

    long_axis_mm: float
    short_axis_mm: float | None = None


@dataclass(frozen=True)
class NoduleComponent:
    """One connected component of the nodule label."""

    index: int  # 1-based, raster order of the first voxel
    voxel_count: int
    volume_mm3: float
    centroid_lps: tuple[float, float, float]


def connected_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Label the 26-connected components of a boolean 3D ``mask``: (labels int32, count).

    Kept for callers of this module; the one implementation is :func:`meddiag_desktop.core.label_geometry.connected_components`.
    """
    return label_geometry.connected_components(mask)


def _label_array(volume: Volume, labels: Volume | np.ndarray) -> np.ndarray:
    arr = labels.array if isinstance(labels, Volume) else np.asarray(labels)
    if arr.shape[:3] != volume.array.shape[:3]:
        raise ValueError(f"label map shape {arr.shape} does not match the volume {volume.array.shape[:3]}")
    return arr


def _voxel_lps(volume: Volume, zyx: np.ndarray) -> np.ndarray:
    return volume.to_lps(zyx[:, ::-1].astype(float))


def nodule_components(volume: Volume, labels: Volume | np.ndarray, nodule_label: int = 7) -> list[NoduleComponent]:
    """The connected components of ``nodule_label`` with their size and centroid."""
    comps = label_geometry.label_components(volume, _label_array(volume, labels), nodule_label, diameters=False)
    return [NoduleComponent(c.index, c.voxels, c.volume_mm3, c.centroid_lps) for c in comps]


def axial_diameters(volume: Volume, mask: np.ndarray) -> tuple[float, float, int]:
    """(long axis mm, short axis mm, slice index) of ``mask``: see :func:`meddiag_desktop.core.label_geometry.axial_diameters`."""
    d = label_geometry.axial_diameters(volume, mask)
    return d.long_axis_mm, d.short_axis_mm, d.axial_slice


def _lung_for_nodule(volume: Volume, arr: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     lung_labels: tuple[int, ...]) -> int | None:
    """The lung label with most voxels around the nodule (voxels ``lo..hi``, ``[z, y, x]``), up to 30 mm away."""
    spacing_zyx = np.asarray(volume.spacing[::-1])
    for margin_mm in (5.0, 15.0, 30.0):
        m = np.ceil(margin_mm / spacing_zyx).astype(int)
        a, b = np.maximum(lo - m, 0), np.minimum(hi + m + 1, arr.shape[:3])
        box = arr[a[0]:b[0], a[1]:b[1], a[2]:b[2]]
        counts = {lab: int(np.count_nonzero(box == lab)) for lab in lung_labels}
        if max(counts.values(), default=0) > 0:
            return max(counts, key=counts.get)
    return None


def _lung_extent_points(volume: Volume, lung: np.ndarray, box: tuple[slice, slice, slice] | None = None) -> np.ndarray:
    """LPS positions of the first and last voxel of every row of ``lung``: enough for its extent.

    The LPS coordinates are linear in the index, so along a row they are extreme at its ends.
    ``box``: ``lung`` is the crop of the whole mask at this box (its :func:`bounding_box`).
    """
    if box is None:
        box = label_geometry.bounding_box(lung)
        if box is None:
            return np.zeros((0, 3))
        lung = lung[box]
    first = np.argmax(lung, axis=2)  # every row at once: no copy of the rows
    z, y = np.nonzero(np.take_along_axis(lung, first[..., None], axis=2)[..., 0])
    last = lung.shape[2] - 1 - np.argmax(lung[z, y, ::-1], axis=1) if z.size else np.zeros(0, np.intp)
    first = first[z, y]
    zyx = np.concatenate([np.stack([z, y, first], 1), np.stack([z, y, last], 1)])
    return _voxel_lps(volume, zyx + np.array([b.start for b in box]))


_AGE_RE = re.compile(r"^\s*(\d{1,3})\s*([DWMY]?)\s*$", re.IGNORECASE)
_AGE_UNIT_YEARS = {"D": 1 / 365.25, "W": 7 / 365.25, "M": 1 / 12, "Y": 1.0, "": 1.0}


def _parse_date(text: Any) -> date | None:
    s = str(text or "").strip().replace("-", "")
    if len(s) >= 8 and s[:8].isdigit():
        try:
            return date(int(s[:4]), int(s[4:6]), int(s[6:8]))
        except ValueError:
            return None
    return None


def parse_age(value: Any) -> float | None:
    """Years from a DICOM AgeString (``"067Y"``, ``"018M"``, ``"003W"``, ``"010D"``) or a number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) and value >= 0 else None
    m = _AGE_RE.match(str(value or ""))
    if not m:
        return None
    years = int(m.group(1)) * _AGE_UNIT_YEARS[m.group(2).upper()]
    return float(int(years)) if m.group(2).upper() in ("Y", "") else round(years, 2)


def _meta(metadata: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        if metadata.get(k) not in (None, ""):
            return metadata[k]
    return None


def patient_inputs(metadata: Mapping[str, Any]) -> dict[str, DerivedValue]:
    """``age`` and ``sex`` from DICOM metadata (AgeString, or birth and study dates; PatientSex)."""
    out: dict[str, DerivedValue] = {}
    raw_age = _meta(metadata, "patient_age", "PatientAge")
    age = parse_age(raw_age) if raw_age is not None else None
    if age is not None:
        out["age"] = DerivedValue(age, "dicom", f"PatientAge {raw_age}")
    else:
        born = _parse_date(_meta(metadata, "patient_birth_date", "PatientBirthDate"))
        seen = _parse_date(_meta(metadata, "study_date", "StudyDate", "series_date", "acquisition_date"))
        if born and seen and seen >= born:
            years = seen.year - born.year - ((seen.month, seen.day) < (born.month, born.day))
            out["age"] = DerivedValue(float(years), "dicom", f"PatientBirthDate {born:%Y-%m-%d} to StudyDate {seen:%Y-%m-%d}")
    sex = str(_meta(metadata, "patient_sex", "PatientSex") or "").strip().upper()
    if sex in ("F", "M"):
        out["sex"] = DerivedValue("female" if sex == "F" else "male", "dicom", f"PatientSex {sex}")
    return out


def _measurement_size(measurement: Any) -> tuple[float, float, str]:
    if isinstance(measurement, Mapping):
        long_mm, short_mm = measurement.get("long_axis_mm"), measurement.get("short_axis_mm")
    elif isinstance(measurement, (int, float)):
        long_mm, short_mm = float(measurement), None
    else:
        long_mm, short_mm = measurement.long_axis_mm, getattr(measurement, "short_axis_mm", None)
    if long_mm is None or not float(long_mm) > 0:
        raise ValueError(f"a nodule measurement needs a positive long_axis_mm, got {measurement!r}")
    long_mm = float(long_mm)
    if short_mm is None:
        return long_mm, long_mm, f"measured diameter {long_mm:.1f} mm (no short axis given)"
    short_mm = float(short_mm)
    return long_mm, (long_mm + short_mm) / 2, f"mean of measured long {long_mm:.1f} mm and short {short_mm:.1f} mm axes"


def _type_key(label: Any) -> str | None:
    return _NODULE_TYPES.get(str(label).strip().lower().replace("-", "_").replace(" ", "_"))


def _nodule_type(nodule_type: Any) -> DerivedValue:
    """Nodule type from a label, ``{"label": .., "probability": ..}``, class probabilities,
    or a classification result / finding with ``probabilities`` (and ``plugin_id``)."""
    detail = "from the nodule classification"
    probs = getattr(nodule_type, "probabilities", None)
    if isinstance(nodule_type, Mapping) and "label" not in nodule_type and "nodule_type" not in nodule_type:
        probs = nodule_type
    if isinstance(probs, Mapping) and probs:
        by_type: dict[str, float] = {}
        for cls, p in probs.items():
            key = _type_key(cls)
            if key is not None:
                by_type[key] = by_type.get(key, 0.0) + float(p)
        if not by_type:
            raise ValueError(f"no nodule type among the classes {sorted(probs)}; expected solid, part_solid or non_solid")
        key = max(by_type, key=by_type.get)
        plugin = getattr(nodule_type, "plugin_id", "")
        detail += f" (p = {by_type[key]:.2f}" + (f", {plugin})" if plugin else ")")
        return DerivedValue(key, "classification", detail)
    label = nodule_type
    if isinstance(nodule_type, Mapping):
        label = nodule_type.get("label", nodule_type.get("nodule_type"))
        if nodule_type.get("probability") is not None:
            detail += f" (p = {float(nodule_type['probability']):.2f})"
        if nodule_type.get("source"):
            detail += f", {nodule_type['source']}"
    key = _type_key(label)
    if key is None:
        raise ValueError(f"unknown nodule type {label!r}; expected solid, part_solid or non_solid")
    return DerivedValue(key, "classification", detail)


def derive_nodule_inputs(
    volume: Volume,
    labels: Volume | np.ndarray | None,
    nodule_label: int = 7,
    lung_labels: tuple[int, ...] = (1, 2),
    component: int | None = None,
    measurement: NoduleMeasurement | Mapping[str, float] | float | None = None,
    nodule_type: Any = None,
) -> dict[str, DerivedValue]:
    """Risk inputs found in the image for one nodule.

    Parameters
    ----------
    volume:
        The image (geometry and DICOM ``metadata``: age and sex are derived too).
    labels:
        Label map on the volume's grid (array ``[z, y, x]`` or a ``Volume``), or ``None``.
    component:
        1-based nodule component (see :func:`nodule_components`); ``None`` picks the largest.
    measurement:
        A reader's calipers; when given, the size comes from it instead of the segmentation.
    nodule_type:
        Classification: ``"solid"`` / ``"part_solid"`` / ``"non_solid"``, a mapping with ``label``
        and optional ``probability``, a mapping of class -> probability, or an AI classification
        result (anything with ``probabilities``); the most probable nodule type is used.

    Returns ``{input name: DerivedValue}`` for ``nodule_size_mm``, ``diameter_mm`` (long axis),
    ``nodule_count``, ``upper_lobe``, ``nodule_type``, ``age`` and ``sex`` where they can be found.
    """
    out: dict[str, DerivedValue] = dict(patient_inputs(volume.metadata))
    mask = None
    if labels is not None:
        arr = _label_array(volume, labels)
        comps, comp_map, box = label_geometry.labelled_components(volume, arr, nodule_label, diameters=False)
        n = len(comps)
        if n:
            out["nodule_count"] = DerivedValue(n, "segmentation", f"{n} connected component(s) of label {nodule_label}")
            if component is None:
                component = max(comps, key=lambda c: (c.voxels, -c.index)).index
            if not 1 <= component <= n:
                raise ValueError(f"component {component} does not exist: label {nodule_label} has {n} component(s)")
            chosen = comps[component - 1]
            zyx = np.argwhere(comp_map == component) + np.array([b.start for b in box])  # the same labelling
            d = label_geometry.axial_diameters_of_points(volume, zyx)
            names = label_geometry.SIZE_NAMES
            out["nodule_size_mm"] = DerivedValue(
                d.mean_diameter_mm, "segmentation",
                f"nodule {component}: {names['mean_diameter_mm'].lower()} of {names['long_axis_mm'].lower()} "
                f"{d.long_axis_mm:.1f} mm and {names['short_axis_mm'].lower()} {d.short_axis_mm:.1f} mm "
                f"(Fleischner 2017, axial slice {d.axial_slice})",
            )
            out["diameter_mm"] = DerivedValue(d.long_axis_mm, "segmentation",
                                              f"nodule {component}: {names['long_axis_mm'].lower()} "
                                              f"(Fleischner 2017, axial slice {d.axial_slice})")
            lung = _lung_for_nodule(volume, arr, zyx.min(axis=0), zyx.max(axis=0), tuple(lung_labels))
            if lung is not None:
                lbox = label_geometry.label_box(arr, lung)
                extent = lung_extent(_lung_extent_points(volume, arr[lbox] == lung, lbox))
                upper = in_upper_lobe(np.asarray(chosen.centroid_lps), extent)
                out["upper_lobe"] = DerivedValue(
                    upper, "segmentation",
                    f"nodule {component} centroid {'above' if upper else 'below'} the modelled oblique fissure of lung label {lung}",
                )
    if measurement is not None:
        long_mm, size_mm, detail = _measurement_size(measurement)
        out["nodule_size_mm"] = DerivedValue(round(size_mm, 2), "measurement", detail)
        out["diameter_mm"] = DerivedValue(round(long_mm, 2), "measurement", f"measured long axis {long_mm:.1f} mm")
    if nodule_type is not None:
        out["nodule_type"] = _nodule_type(nodule_type)
    return out
