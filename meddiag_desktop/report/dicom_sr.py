"""Comprehensive 3D SR following TID 1500 (Measurement Report), via highdicom.

Content:

* one TID 1411 volumetric group per SEG segment: volume (SCT 118565006, mL), mean
  attenuation (DCM 112031 with derivation SCT 373098007 Mean, HU) and long axis
  (SCT 103339001, mm), referencing the segment and the source series;
* one TID 1501 group per connected component of a lesion label (nodule 1, 2...)
  with the same measurements, since the SEG stores one segment per label;
* one TID 1501 group per risk estimate: the probability as a numeric measurement
  named DCM 111047 "Probability of cancer" (unit UCUM %) when the model's outcome is
  malignancy (Brock, Mayo, breast FNA), otherwise a private code
  ``99MEDDIAG RISK:<model>``; the model is the algorithm identification;
* one TID 1501 group per AI classification (e.g. nodule type): the top class as a
  qualitative evaluation named DCM 121071 "Finding", and each class's probability
  as a numeric measurement (UCUM %), with the classified point as a 3D POINT; the
  class names are private codes ``99MEDDIAG CLS:<name>`` and their probabilities
  ``99MEDDIAG P:<name>`` (a plugin's classes have no standard code); the plugin is
  the algorithm identification;
* every AI group carries the reader's decision as a qualitative evaluation
  ``99MEDDIAG STATUS`` = ``CONFIRMED`` / ``UNCONFIRMED`` ("AI proposal, unconfirmed"),
  and ``99MEDDIAG OUTSIDEUSE`` = SCT Yes when the run was forced outside the plugin's
  intended use; the observer context names the device, and the person only when a
  person confirmed findings or measured (TID 1500 has no per-group observer);
* sizes are core.label_geometry's: Long Axis (SCT 103339001), Short Axis (SCT
  103340004) and Diameter (SCT 81827009) with derivation Mean, Fleischner 2017;
* one TID 1501 group per reader measurement of length (SCT 410668003, mm) with its
  3D polyline in the source frame of reference.

Why DCM 111047: it is the standard concept for a likelihood of malignancy
(Mammography/Chest CAD, CID 6048...), which is exactly what these models
estimate; a private code would be opaque to every other system.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from meddiag_desktop.core.volume import Volume
from meddiag_desktop.report.dicom_seg import MANUFACTURER, MODEL_NAME, DicomExportError, SegmentRef, segment_code
from meddiag_desktop.report.model import ClassificationFinding, Report, RiskFinding

__all__ = ["build_sr", "class_concept", "risk_concept", "DEVICE_UID"]

#: stable UID of this software as an observer device (derived from a fixed name, not random)
DEVICE_UID = f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, 'urn:meddiag-desktop:observer-device').int}"

_ML = ("ml", "UCUM", "milliliter")
_MM = ("mm", "UCUM", "millimeter")
_HU = ("[hnsf'U]", "UCUM", "Hounsfield unit")
_PERCENT = ("%", "UCUM", "Percent")


def _code(t: tuple[str, str, str]):
    from pydicom.sr.coding import Code

    return Code(t[0], t[1], t[2])


def risk_concept(risk: RiskFinding) -> tuple[str, str, str]:
    """The measurement name of a risk probability (see the module docstring)."""
    text = f"{risk.outcome} {risk.title}".lower()
    if any(w in text for w in ("malign", "cancer")):
        return ("111047", "DCM", "Probability of cancer")
    return (f"RISK:{risk.model_id}"[:16], "99MEDDIAG", f"{risk.title} probability"[:64])


def class_concept(name: str) -> tuple[str, str, str]:
    """The private code of a classifier's class (``99MEDDIAG CLASS:<name>``)."""
    return (f"CLS:{name}"[:16], "99MEDDIAG", name.replace("_", "-")[:64])


def _classification_group(hd, c: ClassificationFinding, index: int, frame_of_reference_uid: str | None):
    prov = c.provenance
    algo = hd.sr.AlgorithmIdentification(name=(prov.name or prov.plugin_id)[:64], version=prov.version or "unknown") \
        if prov is not None else None
    coords = None
    if c.point_lps is not None and frame_of_reference_uid:
        import numpy as np

        coords = [hd.sr.CoordinatesForMeasurement3D(
            graphic_type=hd.sr.GraphicTypeValues3D.POINT,
            graphic_data=np.asarray([c.point_lps], float),
            frame_of_reference_uid=frame_of_reference_uid,
        )]
    measurements = [hd.sr.Measurement(
        name=_code((f"P:{name}"[:16], "99MEDDIAG", f"Probability of {name.replace('_', '-')}"[:64])),
        value=round(float(p) * 100, 3), unit=_code(_PERCENT), algorithm_id=algo, referenced_coordinates=coords,
    ) for name, p in c.probabilities.items()]
    finding = hd.sr.QualitativeEvaluation(name=_code(("121071", "DCM", "Finding")), value=_code(class_concept(c.top_class)))
    what = (prov.name if prov is not None else "") or "AI classification"
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=_uid(), identifier=f"{what} {index}"[:64]),
        algorithm_id=algo, measurements=measurements, qualitative_evaluations=[finding, *_review(hd, c)],
    )


#: box size of a detection along the patient's x, y, z (private codes: TID 1500 has no box concept)
_BOX_SIZE_CONCEPTS = (("BOXX", "99MEDDIAG", "Box size along x (LPS)"), ("BOXY", "99MEDDIAG", "Box size along y (LPS)"),
                      ("BOXZ", "99MEDDIAG", "Box size along z (LPS)"))
_SCORE_CONCEPT = ("DETSCORE", "99MEDDIAG", "Detection score")


def _detection_group(hd, d, frame_of_reference_uid):
    """A detected box as a finding: its centre as a 3D point, its size along x, y, z (mm), its score, its status."""
    import numpy as np

    prov = d.provenance
    algo = hd.sr.AlgorithmIdentification(name=(prov.name or prov.plugin_id)[:64], version=prov.version or "unknown") \
        if prov is not None else None
    coords = None
    if frame_of_reference_uid:
        coords = [hd.sr.CoordinatesForMeasurement3D(
            graphic_type=hd.sr.GraphicTypeValues3D.POINT,
            graphic_data=np.asarray([d.center_lps], float),
            frame_of_reference_uid=frame_of_reference_uid,
        )]
    measurements = [hd.sr.Measurement(name=_code(concept), value=round(float(v), 2), unit=_code(_MM),
                                      algorithm_id=algo, referenced_coordinates=coords)
                    for concept, v in zip(_BOX_SIZE_CONCEPTS, d.size_mm)]
    measurements.append(hd.sr.Measurement(name=_code(_SCORE_CONCEPT), value=round(float(d.score), 4),
                                          unit=_code(("1", "UCUM", "no units")), algorithm_id=algo))
    code = segment_code(d.name)
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=_uid(), identifier=d.display_name[:64]),
        finding_type=_code(code.type), finding_category=_code(code.category), algorithm_id=algo,
        measurements=measurements, qualitative_evaluations=_review(hd, d) or None,
    )


def _uid() -> str:
    from pydicom.uid import generate_uid

    return generate_uid()


#: the reader's decision on an AI finding, as a qualitative evaluation of its group (private codes)
STATUS_CONCEPT = ("STATUS", "99MEDDIAG", "AI finding status")
CONFIRMED_CODE = ("CONFIRMED", "99MEDDIAG", "Confirmed by reader")
UNCONFIRMED_CODE = ("UNCONFIRMED", "99MEDDIAG", "AI proposal, unconfirmed")
OUTSIDE_USE_CONCEPT = ("OUTSIDEUSE", "99MEDDIAG", "Outside intended use")
_YES = ("373066001", "SCT", "Yes")


def _review(hd, finding) -> list:
    """Qualitative evaluations of an AI finding: confirmed or not, and outside intended use when forced."""
    prov = getattr(finding, "provenance", None)
    if prov is None:
        return []
    items = [hd.sr.QualitativeEvaluation(name=_code(STATUS_CONCEPT),
                                         value=_code(CONFIRMED_CODE if finding.confirmed else UNCONFIRMED_CODE))]
    if prov.outside_intended_use:
        items.append(hd.sr.QualitativeEvaluation(name=_code(OUTSIDE_USE_CONCEPT), value=_code(_YES)))
    return items


def _size_measurements(hd, volume_ml, mean_hu, long_mm, algo, sites, short_mm=None, mean_mm=None):
    items = [hd.sr.Measurement(name=_code(("118565006", "SCT", "Volume")), value=round(volume_ml, 3),
                               unit=_code(_ML), algorithm_id=algo, finding_sites=sites)]
    if mean_hu is not None:
        items.append(hd.sr.Measurement(name=_code(("112031", "DCM", "Attenuation Coefficient")), value=round(mean_hu, 1),
                                       unit=_code(_HU), derivation=_code(("373098007", "SCT", "Mean")),
                                       algorithm_id=algo, finding_sites=sites))
    if long_mm is not None:  # Fleischner 2017 diameters from core.label_geometry, already rounded to 0.1 mm
        items.append(hd.sr.Measurement(name=_code(("103339001", "SCT", "Long Axis")), value=round(long_mm, 1),
                                       unit=_code(_MM), algorithm_id=algo, finding_sites=sites))
    if short_mm is not None:
        items.append(hd.sr.Measurement(name=_code(("103340004", "SCT", "Short Axis")), value=round(short_mm, 1),
                                       unit=_code(_MM), algorithm_id=algo, finding_sites=sites))
    if mean_mm is not None:
        items.append(hd.sr.Measurement(name=_code(("81827009", "SCT", "Diameter")), value=round(mean_mm, 1),
                                       unit=_code(_MM), derivation=_code(("373098007", "SCT", "Mean")),
                                       algorithm_id=algo, finding_sites=sites))
    return items


def build_sr(report: Report, volume: Volume, sources: Sequence, seg, refs: Sequence[SegmentRef], *,
             series_number: int = 902, series_uid: str | None = None, sop_uid: str | None = None):
    """The TID 1500 Comprehensive 3D SR of ``report`` referencing ``seg`` and the ``sources``."""
    import highdicom as hd
    from pydicom.uid import generate_uid

    src0 = sources[0]
    groups = []
    seg_series = hd.sr.SourceSeriesForSegmentation(src0.SeriesInstanceUID)
    by_key = {(r.map_index, r.label_value): r for r in refs}
    for mi, lm in enumerate(report.label_maps):
        prov = lm.provenance
        algo = hd.sr.AlgorithmIdentification(name=(prov.name or prov.plugin_id)[:64], version=prov.version or "unknown") \
            if prov is not None else None
        for s in report.segments:
            ref = by_key.get((mi, s.label_value))
            if ref is None or s.provenance != prov:
                continue
            code = segment_code(s.name)
            sites = [hd.sr.FindingSite(_code(code.region))] if code.region else None
            label = f"{s.name} {s.component}" if s.component else s.name
            tracking = hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=label[:64])
            measurements = _size_measurements(hd, s.volume_ml, s.mean_hu, s.longest_diameter_mm, algo, sites,
                                              s.short_axis_mm, s.mean_diameter_mm)
            review = _review(hd, s) or None
            if s.component is None:
                groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                    tracking_identifier=tracking,
                    referenced_segment=hd.sr.ReferencedSegment(seg.SOPClassUID, seg.SOPInstanceUID, ref.segment_number,
                                                               source_series=seg_series),
                    finding_type=_code(code.type), finding_category=_code(code.category), algorithm_id=algo,
                    finding_sites=sites, measurements=measurements, qualitative_evaluations=review,
                ))
            else:
                groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
                    tracking_identifier=tracking, finding_type=_code(code.type),
                    finding_category=_code(code.category), algorithm_id=algo, finding_sites=sites,
                    measurements=measurements, qualitative_evaluations=review,
                ))
    for risk in report.risks:
        algo = hd.sr.AlgorithmIdentification(name=risk.title[:64], version=risk.model_version or "unknown")
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=f"risk {risk.model_id}"[:64]),
            finding_type=_code(("27925004", "SCT", "Nodule")) if "nodule" in risk.title.lower() else None,
            algorithm_id=algo,
            measurements=[hd.sr.Measurement(name=_code(risk_concept(risk)), value=round(risk.probability * 100, 3),
                                            unit=_code(_PERCENT), algorithm_id=algo)],
        ))
    for i, c in enumerate(report.classifications, start=1):
        if c.probabilities:
            groups.append(_classification_group(hd, c, i, getattr(src0, "FrameOfReferenceUID", None)))
    for i, d in enumerate(report.detections, start=1):
        groups.append(_detection_group(hd, d, getattr(src0, "FrameOfReferenceUID", None)))
    for m in report.measurements:
        if m.unit != "mm":
            continue
        coords = None
        if len(m.points_lps) >= 2 and report.patient.frame_of_reference_uid:
            import numpy as np

            coords = [hd.sr.CoordinatesForMeasurement3D(
                graphic_type=hd.sr.GraphicTypeValues3D.POLYLINE,
                graphic_data=np.asarray(m.points_lps, float),
                frame_of_reference_uid=src0.FrameOfReferenceUID,
            )]
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=m.name[:64]),
            measurements=[hd.sr.Measurement(name=_code(("410668003", "SCT", "Length")), value=round(m.value, 2),
                                            unit=_code(_MM), referenced_coordinates=coords)],
        ))

    if not groups:
        raise DicomExportError("the report has no measurement, segmentation, classification or risk estimate to put in an SR")
    device = hd.sr.ObserverContext(
        observer_type=_code(("121007", "DCM", "Device")),
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=DEVICE_UID, name=MODEL_NAME, manufacturer_name=MANUFACTURER, model_name=MODEL_NAME,
        ),
    )
    # the person observes only what a person did: confirmed AI findings, own measurements, own segments;
    # a report of unconfirmed AI proposals names the device alone
    person = None
    observer = (report.confirmed_by or [""])[0] or report.reader_name
    people_content = report.confirmed_by or report.measurements or any(s.provenance is None for s in report.segments)
    if observer and people_content:
        person = hd.sr.ObserverContext(
            observer_type=_code(("121006", "DCM", "Person")),
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name=_pn(observer)),
        )
    context = hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device)
    modality = str(src0.get("Modality", "")).upper()
    procedure = ("25045-6", "LN", "CT unspecified body region") if modality == "CT" else \
        ("363679005", "SCT", "Imaging procedure")
    content = hd.sr.MeasurementReport(
        observation_context=context,
        procedure_reported=_code(procedure),
        imaging_measurements=groups,
    )
    return hd.sr.Comprehensive3DSR(
        evidence=[*sources, seg] if seg is not None else list(sources),
        content=content[0],
        series_instance_uid=series_uid or generate_uid(),
        series_number=series_number,
        sop_instance_uid=sop_uid or generate_uid(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=False,
        is_verified=False,
        series_description=_series_description(report),
    )


def _series_description(report: Report) -> str:
    """'MedDiag measurement report', plus what a reader must know first (64 characters at most)."""
    text = "MedDiag measurement report"
    if report.outside_intended_use:
        text += " (AI outside intended use)"
    elif report.unconfirmed:
        text += " (AI unconfirmed)"
    return text[:64]


def _pn(name: str) -> str:
    """A free-text name as a DICOM PN (``Family^Given``) when it is not one already."""
    if "^" in name:
        return name
    parts = name.replace(",", " ").split()
    titles = {"dr", "dr.", "prof", "prof.", "mr", "mrs", "ms"}
    prefix = [p for p in parts[:1] if p.lower() in titles]
    rest = parts[len(prefix):]
    if not rest:
        return name
    return f"{rest[-1]}^{' '.join(rest[:-1])}^^{' '.join(prefix)}".rstrip("^")
