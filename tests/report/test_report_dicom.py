"""SEG and SR: valid for dciodvfy, aligned with the source slices, read back by highdicom and pydicom."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from tests.report.report_helpers import NAMES, dciodvfy, make_report, seg_on_volume_grid

from meddiag_desktop.report import export_report

hd = pytest.importorskip("highdicom")


@pytest.fixture
def exported(study, tmp_path):
    folder, volume, labels = study
    result = export_report(make_report(volume, labels), volume, tmp_path / "out")
    return folder, volume, labels, result


def test_seg_and_sr_pass_dciodvfy(exported):
    *_, result = exported
    assert set(result.paths) == {"pdf", "seg", "sr"}
    assert dciodvfy(result.paths["seg"]) == []
    assert dciodvfy(result.paths["sr"]) == []


def test_seg_pixels_equal_the_label_map_slice_by_slice(exported):
    folder, volume, labels, result = exported
    seg = hd.seg.segread(result.paths["seg"])
    assert [seg.get_segment_description(n).segment_label for n in seg.segment_numbers] == list(NAMES.values())
    nodule = seg.get_segment_description(3)
    assert nodule.segmented_property_type.value == "27925004"
    assert seg.FrameOfReferenceUID == volume.metadata["frame_of_reference_uid"]
    algo = seg.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0]
    assert (algo.AlgorithmName, algo.AlgorithmVersion) == ("Test lung segmentation", "0.3.1")
    sop_by_file = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID: k
                   for k, f in enumerate(volume.metadata["files"])}
    raw = pydicom.dcmread(result.paths["seg"])
    frames = raw.pixel_array if raw.NumberOfFrames > 1 else raw.pixel_array[None]
    rebuilt = np.zeros_like(labels)
    for i, item in enumerate(raw.PerFrameFunctionalGroupsSequence):
        number = item.SegmentIdentificationSequence[0].ReferencedSegmentNumber
        src = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        k = sop_by_file[src]
        pos = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
        assert np.allclose(pos, volume.to_lps((0, 0, k)), atol=1e-3)
        rebuilt[k][frames[i].astype(bool)] = number
    assert np.array_equal(rebuilt, labels)


def test_sr_is_tid1500_with_volumes_diameters_and_risk(exported):
    _, volume, labels, result = exported
    sr = hd.sr.srread(result.paths["sr"])
    seg = pydicom.dcmread(result.paths["seg"], stop_before_pixels=True)
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert len(groups) == 3
    by_label = {g.tracking_identifier: g for g in groups}
    nodule = by_label["nodule"]
    assert nodule.referenced_segment.referenced_sop_instance_uid == seg.SOPInstanceUID
    vol = nodule.get_measurements(name=pydicom.sr.codedict.codes.SCT.Volume)[0]
    voxel_ml = np.prod(volume.spacing) / 1000
    assert vol.value == pytest.approx((labels == 3).sum() * voxel_ml, rel=1e-3)
    assert vol.unit.value == "ml"
    assert nodule.get_measurements(name=hd.sr.CodedConcept("103339001", "SCT", "Long Axis"))[0].value > 5
    plain = sr.content.get_planar_roi_measurement_groups() + []
    assert plain == []
    flat = [str(v) for v in pydicom.dcmread(result.paths["sr"]).iterall()]
    text = "\n".join(flat)
    assert "111047" in text and "Probability of cancer" in text  # the Brock estimate
    evidence = {s.ReferencedSOPInstanceUID for e in sr.CurrentRequestedProcedureEvidenceSequence
                for r in e.ReferencedSeriesSequence for s in r.ReferencedSOPSequence}
    sources = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in volume.metadata["files"]}
    assert sources | {seg.SOPInstanceUID} == evidence


@pytest.mark.parametrize("orientation", ["axial_feet_first", "sagittal", "oblique"])
def test_seg_follows_any_slice_orientation(make_series, tmp_path, orientation):
    from meddiag_desktop.io import load
    from meddiag_desktop.report import LabelMap, build_report

    folder, arr, *_ = make_series(orientation, shape=(6, 9, 11))
    volume = load(folder)
    labels = np.zeros(volume.array.shape, np.uint8)
    labels[2:4, 3:6, 4:8] = 1
    labels[5, 0, 0] = 2
    report = build_report(volume, label_maps=[LabelMap(labels, {1: "liver", 2: "lesion"})], key_images=[])
    result = export_report(report, volume, tmp_path / "out")
    assert dciodvfy(result.paths["seg"]) == [] and dciodvfy(result.paths["sr"]) == []
    assert np.array_equal(seg_on_volume_grid(result.paths["seg"], volume), labels)  # orientation, spacing, positions
    raw = pydicom.dcmread(result.paths["seg"])
    sop_index = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID: k
                 for k, f in enumerate(volume.metadata["files"])}
    frames = raw.pixel_array if raw.NumberOfFrames > 1 else raw.pixel_array[None]
    rebuilt = np.zeros_like(labels)
    for i, item in enumerate(raw.PerFrameFunctionalGroupsSequence):
        k = sop_index[item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID]
        rebuilt[k][frames[i].astype(bool)] = item.SegmentIdentificationSequence[0].ReferencedSegmentNumber
    assert np.array_equal(rebuilt, labels)


def test_non_dicom_study_gets_the_pdf_and_a_reason(study, tmp_path):
    import SimpleITK as sitk

    from meddiag_desktop.io import load
    from meddiag_desktop.report import LabelMap, build_report

    _, volume, labels = study
    img = sitk.GetImageFromArray(volume.array)
    img.SetSpacing(volume.spacing)
    nii = tmp_path / "in" / "ct.nii.gz"
    nii.parent.mkdir()
    sitk.WriteImage(img, str(nii))
    vol2 = load(nii)
    report = build_report(vol2, label_maps=[LabelMap(labels, NAMES)], key_images=[])
    result = export_report(report, vol2, tmp_path / "out")
    assert set(result.paths) == {"pdf"}
    assert any("not loaded from DICOM" in w for w in result.warnings)


def test_report_without_findings_writes_the_pdf_and_says_why_there_is_no_sr(study, tmp_path):
    from meddiag_desktop.report import build_report

    _, volume, _ = study
    result = export_report(build_report(volume, impression="Normal study."), volume, tmp_path / "out")
    assert set(result.paths) == {"pdf"}
    assert any("no DICOM SR" in w for w in result.warnings)


def test_two_segmentations_become_one_seg_with_overlapping_segments(study, tmp_path):
    from tests.report.report_helpers import provenance

    from meddiag_desktop.report import LabelMap, Provenance, build_report

    _, volume, labels = study
    lesion = (labels == 3).astype(np.uint8) * 5  # a second plugin labels the nodule too (overlap)
    other = Provenance("test.nodule", "Test nodule finder", "1.0", (), "cpu", "2026-11-28T11:00:00+00:00")
    report = build_report(volume, key_images=[], label_maps=[LabelMap(labels, NAMES, {}, provenance()),
                                                             LabelMap(lesion, {5: "lung nodule"}, {}, other)])
    result = export_report(report, volume, tmp_path / "out")
    assert dciodvfy(result.paths["seg"]) == [] and dciodvfy(result.paths["sr"]) == []
    seg = hd.seg.segread(result.paths["seg"])
    assert seg.segment_numbers == [1, 2, 3, 4]
    last = seg.SegmentSequence[3]
    assert last.SegmentLabel == "lung nodule"
    assert last.SegmentationAlgorithmIdentificationSequence[0].AlgorithmName == "Test nodule finder"
    raw = pydicom.dcmread(result.paths["seg"])
    sop_index = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID: k
                 for k, f in enumerate(volume.metadata["files"])}
    masks = np.zeros((5, *labels.shape), bool)
    for i, item in enumerate(raw.PerFrameFunctionalGroupsSequence):
        k = sop_index[item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID]
        masks[item.SegmentIdentificationSequence[0].ReferencedSegmentNumber][k] = raw.pixel_array[i].astype(bool)
    for number, expected in ((1, labels == 1), (3, labels == 3), (4, lesion == 5)):
        assert np.array_equal(masks[number], expected)
    groups = hd.sr.srread(result.paths["sr"]).content.get_volumetric_roi_measurement_groups()
    assert sorted(g.referenced_segment.referenced_segment_numbers[0] for g in groups) == [1, 2, 3, 4]


def test_sr_carries_the_ai_classification_with_its_point(study, tmp_path):
    from tests.report.report_helpers import provenance

    from meddiag_desktop.report import ClassificationFinding

    folder, volume, labels = study
    point = tuple(float(v) for v in volume.to_lps((20, 20, 6)))
    cls = ClassificationFinding({"solid": 0.15, "part_solid": 0.8, "non_solid": 0.05}, point, provenance())
    result = export_report(make_report(volume, labels, classifications=[cls]), volume, tmp_path / "out")
    assert dciodvfy(result.paths["sr"]) == []
    assert hd.sr.srread(result.paths["sr"]).ContentTemplateSequence[0].TemplateIdentifier == "1500"
    def content(item):
        for child in getattr(item, "ContentSequence", []):
            yield child
            yield from content(child)

    items = list(content(pydicom.dcmread(result.paths["sr"])))
    names = {}
    for it in items:
        if it.ValueType == "NUM":
            c = it.ConceptNameCodeSequence[0]
            names[(c.CodingSchemeDesignator, c.CodeValue)] = float(it.MeasuredValueSequence[0].NumericValue)
    assert names[("99MEDDIAG", "P:part_solid")] == pytest.approx(80.0)
    assert names[("99MEDDIAG", "P:solid")] == pytest.approx(15.0)
    assert names[("99MEDDIAG", "P:non_solid")] == pytest.approx(5.0)
    findings = [it.ConceptCodeSequence[0].CodeValue for it in items
                if it.ValueType == "CODE" and it.ConceptNameCodeSequence[0].CodeValue == "121071"]
    assert [f for f in findings if f.startswith("CLS:")] == ["CLS:part_solid"]  # beside the segments' findings
    points = [it for it in items if it.ValueType == "SCOORD3D" and it.GraphicType == "POINT"]
    assert len(points) == 3  # one per probability, all at the classified point
    assert np.allclose([float(v) for v in points[0].GraphicData], point, atol=1e-3)
    assert points[0].ReferencedFrameOfReferenceUID == volume.metadata["frame_of_reference_uid"]
