"""DICOM Segmentation (SEG) from label maps on the source series' grid (highdicom).

Each label present becomes one binary segment with SNOMED CT category and type
codes and the plugin as algorithm identification. A segment the reader edited
(``LabelMap.edited``) is SEMIAUTOMATIC with the proposing AI kept, or MANUAL when
the reader drew it from nothing; its SegmentDescription says which. Frame ``k`` of a label map is
slice ``k`` of the volume, which is source instance ``Volume.metadata["files"][k]``
(the loader lists files in slice order); :func:`source_datasets` checks that each
source image really sits at that slice before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meddiag_desktop.core.volume import Volume
from meddiag_desktop.report.model import LabelMap

__all__ = ["DicomExportError", "SegmentCode", "segment_code", "source_datasets", "build_seg", "SegmentRef"]

MANUFACTURER = "MedDiag"
MODEL_NAME = "MedDiag Desktop"


class DicomExportError(ValueError):
    """The study cannot be exported as DICOM SEG/SR; the message says why and what to do."""


@dataclass(frozen=True)
class SegmentCode:
    """Coded meaning of a segment (SNOMED CT), from its label name."""

    category: tuple[str, str, str]
    type: tuple[str, str, str]
    modifier: tuple[str, str, str] | None = None
    region: tuple[str, str, str] | None = None


_ANATOMY = ("91723000", "SCT", "Anatomical Structure")
_ABNORMAL = ("49755003", "SCT", "Morphologically Abnormal Structure")
_TISSUE = ("85756007", "SCT", "Tissue")
_LUNG = ("39607008", "SCT", "Lung")
_RIGHT = ("24028007", "SCT", "Right")
_LEFT = ("7771000", "SCT", "Left")

#: (words in the label name, code); the first rule whose words all appear wins
_RULES: list[tuple[tuple[str, ...], SegmentCode]] = [
    (("nodule",), SegmentCode(_ABNORMAL, ("27925004", "SCT", "Nodule"), region=_LUNG)),
    (("mass",), SegmentCode(_ABNORMAL, ("4147007", "SCT", "Mass"))),
    (("lesion",), SegmentCode(_ABNORMAL, ("52988006", "SCT", "Lesion"))),
    (("tumo",), SegmentCode(_ABNORMAL, ("108369006", "SCT", "Neoplasm"))),
    (("right", "lung"), SegmentCode(_ANATOMY, _LUNG, modifier=_RIGHT)),
    (("left", "lung"), SegmentCode(_ANATOMY, _LUNG, modifier=_LEFT)),
    (("vessel",), SegmentCode(_ANATOMY, ("59820001", "SCT", "Blood vessel"))),
    (("lung",), SegmentCode(_ANATOMY, _LUNG)),
    (("airway",), SegmentCode(_ANATOMY, ("89187006", "SCT", "Airway structure"))),
    (("trachea",), SegmentCode(_ANATOMY, ("44567001", "SCT", "Trachea"))),
    (("heart",), SegmentCode(_ANATOMY, ("80891009", "SCT", "Heart"))),
    (("bone",), SegmentCode(_ANATOMY, ("272673000", "SCT", "Bone structure"))),
    (("liver",), SegmentCode(_ANATOMY, ("10200004", "SCT", "Liver"))),
]


def segment_code(name: str) -> SegmentCode:
    """SNOMED CT codes for a label called ``name``; generic Tissue when nothing matches."""
    low = name.lower()
    for words, code in _RULES:
        if all(w in low for w in words):
            if words == ("vessel",) and ("pulmonary" in low or "lung" in low):
                return SegmentCode(code.category, code.type, region=_LUNG)
            return code
    return SegmentCode(_TISSUE, _TISSUE)


def source_datasets(volume: Volume) -> list:
    """The source images (headers, pixels not read) in slice order, checked against the volume's grid."""
    import pydicom

    files = list(volume.metadata.get("files") or [])
    if volume.metadata.get("source") != "dicom" or not files:
        raise DicomExportError(
            "this study was not loaded from DICOM, so a DICOM SEG or SR cannot reference it; "
            "export the PDF only, or open the study's DICOM series"
        )
    nz, ny, nx = volume.array.shape[:3]
    if len(files) != nz:
        raise DicomExportError(
            f"the volume has {nz} slices but comes from {len(files)} file(s) (multi-frame or resampled series); "
            "DICOM SEG export needs one single-frame source image per slice"
        )
    out = []
    normal = volume.direction[:, 2]
    for k, f in enumerate(files):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        if int(ds.Rows) != ny or int(ds.Columns) != nx:
            raise DicomExportError(f"{Path(f).name}: {ds.Rows}x{ds.Columns} pixels, the volume has {ny}x{nx}")
        pos = np.asarray([float(v) for v in ds.get("ImagePositionPatient", [])] or [np.nan] * 3)
        expected = volume.to_lps((0, 0, k))
        tol = max(0.05, 0.05 * volume.spacing[2])
        if not np.all(np.isfinite(pos)) or abs(float((pos - expected) @ normal)) > tol or \
                np.linalg.norm(pos - expected) > max(0.5, volume.spacing[2]):
            raise DicomExportError(
                f"source image {Path(f).name} is not at slice {k + 1} of the volume (the series was resampled "
                "on loading, e.g. gantry tilt or uneven spacing); the segmentation cannot be stored as DICOM SEG"
            )
        out.append(ds)
    return out


@dataclass(frozen=True)
class SegmentRef:
    """Where one (label map, label value) went in the SEG."""

    map_index: int
    label_value: int
    segment_number: int
    name: str


def _code(t: tuple[str, str, str]):
    from pydicom.sr.coding import Code

    return Code(t[0], t[1], t[2])


def build_seg(volume: Volume, label_maps: Sequence[LabelMap], sources: Sequence, *, app_version: str,
              series_number: int = 901, series_uid: str | None = None, sop_uid: str | None = None):
    """The SEG dataset and the segment each present label became (:class:`SegmentRef` list)."""
    import highdicom as hd
    from pydicom.dataset import Dataset
    from pydicom.uid import generate_uid

    refs: list[SegmentRef] = []
    descriptions = []
    for mi, lm in enumerate(label_maps):
        if np.asarray(lm.array).shape[:3] != volume.array.shape[:3]:
            raise DicomExportError(f"label map {mi + 1} has shape {np.asarray(lm.array).shape}, "
                                   f"the volume {volume.array.shape[:3]}")
        prov = lm.provenance
        algo = None
        if prov is not None:
            algo = hd.AlgorithmIdentificationSequence(
                name=(prov.name or prov.plugin_id)[:64], version=(prov.version or "unknown")[:64],
                family=_code(("123110", "DCM", "Artificial Intelligence")), source=prov.plugin_id[:64],
            )
        for value in lm.present():
            number = len(refs) + 1
            name = str(lm.names[value])
            code = segment_code(name)
            algo_type, seg_algo, note = _algorithm(lm, value, algo)
            desc = hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=name[:64],
                segmented_property_category=_code(code.category),
                segmented_property_type=_code(code.type),
                algorithm_type=algo_type,
                algorithm_identification=seg_algo,
                tracking_uid=generate_uid(),
                tracking_id=f"{name} ({prov.plugin_id if prov else 'manual'})"[:64],
                anatomic_regions=[_code(code.region)] if code.region else None,
                display_color=_lab(lm.colors.get(value)),
            )
            if note:
                desc.SegmentDescription = note
            if code.modifier is not None:
                mod = Dataset()
                mod.CodeValue, mod.CodingSchemeDesignator, mod.CodeMeaning = code.modifier
                desc.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [mod]
            descriptions.append(desc)
            refs.append(SegmentRef(mi, value, number, name))
    if not refs:
        raise DicomExportError("the segmentation is empty: no label has any voxel, so there is no SEG to write")
    pixels = _pixels(label_maps, refs, volume.array.shape[:3])
    seg = hd.seg.Segmentation(
        source_images=list(sources),
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=series_uid or generate_uid(),
        series_number=series_number,
        sop_instance_uid=sop_uid or generate_uid(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=MODEL_NAME,
        software_versions=str(app_version),
        device_serial_number="0",
        content_label="AI_SEG",
        content_description="Segmentation by MedDiag Desktop"[:64],
        series_description="MedDiag AI segmentation",
        omit_empty_frames=True,
    )
    return seg, refs


#: SegmentDescription (0062,0006) of a segment the reader edited, by its SegmentAlgorithmType
EDITED_NOTES = {"SEMIAUTOMATIC": "AI proposal edited by the reader", "MANUAL": "drawn by the reader"}


def _algorithm(lm: LabelMap, value: int, algo):
    """(SegmentAlgorithmType, algorithm identification, description) of one segment.

    An AI segment is AUTOMATIC; one the reader edited is SEMIAUTOMATIC and keeps the
    identification of the AI that proposed it; one the reader drew from nothing (or
    any segment without an AI provenance) is MANUAL, without an algorithm.
    """
    edited = str((getattr(lm, "edited", None) or {}).get(value, "")).upper()
    if edited == "SEMIAUTOMATIC" and algo is not None:
        return "SEMIAUTOMATIC", algo, EDITED_NOTES[edited]
    if edited in EDITED_NOTES or algo is None:
        return "MANUAL", None, EDITED_NOTES.get(edited, "")
    return "AUTOMATIC", algo, ""


def _lab(color: str | None):
    import highdicom as hd

    if not color:
        return None
    try:
        return hd.color.CIELabColor.from_string(color)
    except Exception:  # an unusual colour name: leave the viewer's default
        return None


def _pixels(label_maps: Sequence[LabelMap], refs: Sequence[SegmentRef], shape: tuple[int, int, int]) -> np.ndarray:
    """A label image of segment numbers when one label map holds all segments, else (z, y, x, segments) bits."""
    if len({r.map_index for r in refs}) == 1:
        arr = np.asarray(label_maps[refs[0].map_index].array)
        lut = np.zeros(int(arr.max()) + 1, np.uint16 if len(refs) > 255 else np.uint8)
        for r in refs:
            lut[r.label_value] = r.segment_number
        return lut[arr]
    bits = np.zeros((*shape, len(refs)), bool)
    for i, r in enumerate(refs):
        bits[..., i] = np.asarray(label_maps[r.map_index].array) == r.label_value
    return bits
