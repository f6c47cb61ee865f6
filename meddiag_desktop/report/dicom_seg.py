"""DICOM Segmentation (SEG) of label maps, placed by the volume's own grid (highdicom's Volume API).

Each label present becomes one segment with SNOMED CT category and type codes and
the plugin as algorithm identification. A segment the reader edited
(``LabelMap.edited``) is SEMIAUTOMATIC with the proposing AI kept, or MANUAL when
the reader drew it from nothing; its SegmentDescription says which.

The label maps lie on the loaded volume's grid, which need not be the source
frames: a series with a gantry tilt, uneven spacing or a missing slice is resampled
on loading, and an enhanced (multi-frame) CT/MR is one file. The SEG therefore
carries the volume's geometry (each frame's ImagePositionPatient, the shared
ImageOrientationPatient and PixelSpacing, from a :class:`highdicom.Volume`), and
highdicom references a source image or frame per SEG frame wherever the planes
coincide; the source series (or multi-frame image) is referenced in any case.

Segmentation type: ``"BINARY"`` by default, one 1-bit frame per segment and slice,
read by every SEG viewer and checked by dciodvfy; ``"LABELMAP"`` (Label Map
Segmentation Storage, DICOM 2024, Supplement 243) on request: one frame per slice of
segment numbers, smaller, but newer viewers only, no overlapping segments, and the
installed dicom3tools (2022) do not know its SOP class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meddiag_desktop.core.volume import Volume
from meddiag_desktop.report.model import LabelMap

__all__ = ["DicomExportError", "SegmentsOverlapError", "SegmentCode", "segment_code", "source_datasets", "build_seg",
           "SegmentRef", "SEG_TYPES"]

MANUFACTURER = "MedDiag"
MODEL_NAME = "MedDiag Desktop"


class DicomExportError(ValueError):
    """The study cannot be exported as DICOM SEG/SR; the message says why and what to do."""


class SegmentsOverlapError(DicomExportError):
    """Segments share voxels, which a LABELMAP SEG cannot store (a BINARY one can)."""


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
    """The source images (headers, pixels not read) the SEG and SR reference.

    Either the series' single-frame images, or its one enhanced multi-frame image. Each must
    place its frames in the patient's frame of reference (a SEG frame needs a position); they
    need not lie on the volume's grid, since the SEG carries the volume's own geometry. The
    headers are read here, for this export, and completed where highdicom needs what the
    standard lets a file leave out; the files are only read.
    """
    import pydicom

    files = list(volume.metadata.get("files") or [])
    if volume.metadata.get("source") != "dicom" or not files:
        raise DicomExportError(
            "this study was not loaded from DICOM, so a DICOM SEG or SR cannot reference it; "
            "export the PDF only, or open the study's DICOM series"
        )
    datasets = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    for_uid = str(volume.metadata.get("frame_of_reference_uid") or "")
    for f, ds in zip(files, datasets):
        if for_uid and ds.get("FrameOfReferenceUID") and str(ds.FrameOfReferenceUID) != for_uid:
            raise DicomExportError(f"source image {Path(f).name} is in another frame of reference than the volume; "
                                   "the volume does not come from it, so a DICOM SEG cannot reference it")
    if len(datasets) == 1 and _is_multiframe(datasets[0]):
        ds = _multiframe_source(datasets[0], Path(files[0]).name)
        per = ds.PerFrameFunctionalGroupsSequence
        shared = ds.SharedFunctionalGroupsSequence[0]
        positions = [(item.get("PlanePositionSequence") or shared.PlanePositionSequence)[0].ImagePositionPatient
                     for item in per[:int(ds.get("NumberOfFrames", 1) or 1)]]
        _check_within(volume, positions, [f"{Path(files[0]).name} frame {i + 1}" for i in range(len(positions))])
        return [ds]
    for f, ds in zip(files, datasets):
        name = Path(f).name
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            raise DicomExportError(
                f"{name} is a multi-frame image among {len(files)} source files; a DICOM SEG references either "
                "single-frame images of one series or one multi-frame image, so this study cannot be stored as SEG"
            )
        if not ds.get("FrameOfReferenceUID") or not ds.get("ImagePositionPatient") or \
                not ds.get("ImageOrientationPatient"):
            raise DicomExportError(
                f"source image {name} has no ImagePositionPatient, ImageOrientationPatient or FrameOfReferenceUID, "
                "so the volume's slices were placed by guesswork; a DICOM SEG needs each frame's position in the "
                "patient, so the segmentation cannot be stored as SEG"
            )
        if "SliceThickness" not in ds:  # highdicom reads it (Type 2); absent e.g. in secondary captures
            ds.SliceThickness = None  # in this header only: the file is not touched
    _check_within(volume, [ds.ImagePositionPatient for ds in datasets], [Path(f).name for f in files])
    return datasets


def _check_within(volume: Volume, positions, names: Sequence[str]) -> None:
    """Each source plane lies within the volume's slices (any grid: resampled, tilted); else the volume
    does not come from these images and a SEG on its grid must not claim them as its source."""
    nz = volume.array.shape[0]
    for pos, name in zip(positions, names):
        k = float(volume.to_index([float(v) for v in pos])[2])
        if not -0.5 - 1e-3 <= k <= nz - 0.5 + 1e-3:
            raise DicomExportError(
                f"source image {name} lies outside the volume (at slice {k + 1:.1f} of {nz}); the volume does not "
                "come from these images, so a DICOM SEG on its grid cannot reference them"
            )


def _is_multiframe(ds) -> bool:
    """Whether ``ds`` belongs to a multi-frame IOD, which is how highdicom decides to read its functional groups."""
    try:
        from highdicom._standard_utils import is_multiframe_image  # the test highdicom itself applies

        return bool(is_multiframe_image(ds))
    except Exception:  # noqa: BLE001 - an unknown SOP class: judge by the header
        return "NumberOfFrames" in ds or "PerFrameFunctionalGroupsSequence" in ds


def _multiframe_source(ds, name: str):
    """The header of an enhanced multi-frame source, checked to place every frame.

    highdicom reads a multi-frame source's orientation and pixel spacing from the shared
    functional groups; scanners (e.g. Philips enhanced MR) often repeat them per frame
    instead. When every frame has the same values they are copied into the shared group
    of ``ds``, the header read for this export (the file is not touched).
    """
    import copy

    from pydicom.dataset import Dataset

    nf = int(ds.get("NumberOfFrames", 1) or 1)
    per = ds.get("PerFrameFunctionalGroupsSequence") or []
    shared = (ds.get("SharedFunctionalGroupsSequence") or [None])[0]

    def group(i: int, keyword: str):
        if i < len(per) and keyword in per[i]:
            return per[i].get(keyword)
        return shared.get(keyword) if shared is not None and keyword in shared else None

    if not ds.get("FrameOfReferenceUID") or len(per) < nf or any(group(i, "PlanePositionSequence") is None
                                                                 for i in range(nf)):
        raise DicomExportError(
            f"{name} is a multi-frame image whose frames have no 3D positions in its functional groups (a cine "
            "loop, or a legacy multi-frame stacked by SpacingBetweenSlices or GridFrameOffsetVector); a DICOM SEG "
            "can only reference multi-frame images that place every frame (enhanced CT/MR), so the segmentation "
            "cannot be stored as SEG"
        )
    missing = []
    for keyword, attr, what in (("PlaneOrientationSequence", "ImageOrientationPatient", "orientations"),
                                ("PixelMeasuresSequence", "PixelSpacing", "pixel spacings")):
        if shared is not None and keyword in shared:
            continue
        values = [group(i, keyword) for i in range(nf)]
        distinct = {tuple(round(float(v), 4) for v in (seq[0].get(attr) or ())) for seq in values if seq}
        if None in values or not values or len(distinct) != 1 or distinct == {()}:
            if len(distinct) > 1:
                raise DicomExportError(
                    f"{name}: its frames have {len(distinct)} different {what}; a DICOM SEG of a multi-frame image "
                    "needs one for all frames, so the segmentation cannot be stored as SEG"
                )
            missing.append(attr)
            continue
        if shared is None:
            shared = Dataset()
            ds.SharedFunctionalGroupsSequence = [shared]
            shared = ds.SharedFunctionalGroupsSequence[0]
        setattr(shared, keyword, copy.deepcopy(values[0]))
    if missing:
        raise DicomExportError(f"{name} is a multi-frame image without {' or '.join(missing)}; "
                               "the segmentation cannot be placed, so it cannot be stored as SEG")
    return ds


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


#: segmentation types :func:`build_seg` writes (see the module docstring for the choice)
SEG_TYPES = ("BINARY", "LABELMAP")


def build_seg(volume: Volume, label_maps: Sequence[LabelMap], sources: Sequence, *, app_version: str,
              series_number: int = 901, series_uid: str | None = None, sop_uid: str | None = None,
              seg_type: str = "BINARY"):
    """The SEG dataset and the segment each present label became (:class:`SegmentRef` list).

    Parameters
    ----------
    volume:
        the loaded volume; every label map lies on its grid, which the SEG frames take.
    sources:
        :func:`source_datasets` of the volume.
    seg_type:
        ``"BINARY"`` (default, widest support) or ``"LABELMAP"`` (DICOM 2024; no overlapping segments).
    """
    import highdicom as hd
    from pydicom.dataset import Dataset
    from pydicom.uid import generate_uid

    seg_type = str(seg_type).upper()
    if seg_type not in SEG_TYPES:
        raise DicomExportError(f"unknown DICOM SEG type {seg_type!r}; choose one of {', '.join(SEG_TYPES)}")
    refs: list[SegmentRef] = []
    descriptions = []
    for mi, lm in enumerate(label_maps):
        if np.asarray(lm.array).shape[:3] != volume.array.shape[:3]:
            raise DicomExportError(f"label map {mi + 1} has shape {np.asarray(lm.array).shape}, the volume "
                                   f"{volume.array.shape[:3]}; a label map must lie on the volume's grid "
                                   "(resample it to the volume first)")
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
    pixels = _segment_volume(volume, label_maps, refs, sources[0], labelmap=seg_type == "LABELMAP")
    try:
        seg = hd.seg.Segmentation(
            source_images=list(sources),
            pixel_array=pixels,
            segmentation_type=hd.seg.SegmentationTypeValues[seg_type],
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
    except (ValueError, TypeError, AttributeError, KeyError) as exc:  # highdicom's checks on the source headers
        raise DicomExportError(f"the source images cannot be referenced by a DICOM SEG ({exc}); "
                               "the segmentation cannot be stored as SEG") from exc
    measures = seg.SharedFunctionalGroupsSequence[0].get("PixelMeasuresSequence")
    if measures and measures[0].get("SliceThickness") in (None, ""):
        # copied from a source without one (Type 1C in a SEG): a segment voxel is as thick as the volume's
        # slice step, as highdicom states for a volume that matches no source
        measures[0].SliceThickness = measures[0].get("SpacingBetweenSlices") or f"{volume.spacing[2]:.6g}"
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


def _segment_volume(volume: Volume, label_maps: Sequence[LabelMap], refs: Sequence[SegmentRef], source,
                    labelmap: bool):
    """The segments as a :class:`highdicom.Volume` on the volume's grid.

    A label image of segment numbers when one label map holds all segments (or for a LABELMAP SEG,
    which cannot hold overlapping segments), else (slice, row, column, segment) bits.
    """
    import highdicom as hd

    shape = volume.array.shape[:3]
    m = volume.direction @ np.diag(volume.spacing)  # (x, y, z) index -> LPS
    affine = np.eye(4)
    affine[:3, :3] = m[:, ::-1]  # highdicom indexes (slice, row, column), i.e. (z, y, x)
    affine[:3, 3] = volume.origin
    for_uid = str(source.get("FrameOfReferenceUID", "") or "") or None
    dtype = np.uint16 if len(refs) > 255 else np.uint8
    by_map: dict[int, list[SegmentRef]] = {}
    for r in refs:
        by_map.setdefault(r.map_index, []).append(r)
    if labelmap or len(by_map) == 1:
        image = np.zeros(shape, dtype)
        for mi, mine in by_map.items():
            arr = np.asarray(label_maps[mi].array)
            lut = np.zeros(int(arr.max()) + 1, dtype)
            for r in mine:
                lut[r.label_value] = r.segment_number
            numbers = lut[arr]
            both = (image != 0) & (numbers != 0)
            if both.any():
                a, b = int(image[both][0]), int(numbers[both][0])
                names = {r.segment_number: r.name for r in refs}
                raise SegmentsOverlapError(
                    f"segments '{names[a]}' and '{names[b]}' overlap ({int(both.sum())} voxels), which a LABELMAP "
                    "SEG cannot store (one segment per voxel); the BINARY type can"
                )
            np.copyto(image, numbers, where=numbers != 0)
        return hd.Volume(image, affine, "PATIENT", frame_of_reference_uid=for_uid)
    bits = np.zeros((*shape, len(refs)), np.uint8)
    for i, r in enumerate(refs):
        bits[..., i] = np.asarray(label_maps[r.map_index].array) == r.label_value
    return hd.Volume(bits, affine, "PATIENT", frame_of_reference_uid=for_uid,
                     channels={"SegmentNumber": [r.segment_number for r in refs]})
