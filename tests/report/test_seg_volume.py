"""DICOM SEG on the volume's own grid (highdicom Volume API): resampled series and enhanced multi-frame sources
export instead of being refused; LABELMAP on request; what still cannot be exported says why."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from tests.report.report_helpers import PATIENT, dciodvfy, seg_on_volume_grid

from meddiag_desktop.report import LabelMap, build_report, export_report

hd = pytest.importorskip("highdicom")


def _testdata(name: str) -> str:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} not available (pydicom-data missing)")
    return path


def _labels(shape, z: tuple[int, int], y: tuple[int, int], x: tuple[int, int]) -> np.ndarray:
    """A 'liver' box with a 'lesion' inside it on one slice, so both segments and both frame kinds show."""
    labels = np.zeros(shape, np.uint8)
    labels[z[0]:z[1], y[0]:y[1], x[0]:x[1]] = 1
    labels[z[0], y[0] + 1:y[0] + 4, x[0] + 2:x[0] + 6] = 2
    return labels


NAMES = {1: "liver", 2: "lesion"}


def _export(volume, labels, out: Path, **kw):
    report = build_report(volume, label_maps=[LabelMap(labels, NAMES)], key_images=[])
    return export_report(report, volume, out, pdf=False, **kw)


def _highdicom_volume_on_grid(seg_path: Path, volume) -> np.ndarray:
    """The SEG read back by highdicom (``segread(...).get_volume()``), mapped voxel by voxel onto the volume's grid."""
    seg = hd.seg.segread(seg_path)
    got = seg.get_volume(combine_segments=True, relabel=False)
    idx = np.indices(got.spatial_shape).reshape(3, -1).T
    ijk = volume.to_index(got.map_indices_to_reference(idx))
    whole = np.rint(ijk).astype(int)
    assert np.abs(ijk - whole).max() < 1e-3, "highdicom's volume is not on the volume's grid"
    out = np.zeros(volume.array.shape[:3], np.uint16)
    out[whole[:, 2], whole[:, 1], whole[:, 0]] = np.asarray(got.array).reshape(-1)
    return out


# ---------------------------------------------------------------- resampled source series (grid != source frames)

def _resampled_series(tmp_path: Path, kind: str):
    """A CT series the loader resamples: one slice missing (the volume has a slice no file has), or a gantry tilt
    (every slice shifted in-plane, so the volume's slices are not the files' planes)."""
    from meddiag_desktop.io import load
    from meddiag_desktop.io.dicom_write import write_series

    nz, ny, nx = 8, 24, 28
    hu = np.full((nz, ny, nx), 1024 + 40, np.int16)
    step = 2.5
    if kind == "missing slice":
        keep = [k for k in range(nz) if k != 3]
        positions = [(-20.0, 30.0, -100.0 + step * k) for k in keep]
        hu = hu[keep]
    else:  # gantry tilt: each slice 1 mm further along y, 21.8 degrees
        positions = [(-20.0, 30.0 + 1.0 * k, -100.0 + step * k) for k in range(nz)]
    folder = tmp_path / "source" / kind.replace(" ", "-")
    write_series(hu, folder, spacing=(1.0, 1.0, step), slice_positions=positions, rescale_intercept=-1024.0,
                 gantry_tilt=21.8 if kind == "gantry tilt" else None, **PATIENT)
    volume = load(folder)
    return folder, volume


@pytest.mark.parametrize("kind", ["missing slice", "gantry tilt"])
def test_resampled_series_exports_seg_on_the_volume_grid(tmp_path, kind):
    folder, volume = _resampled_series(tmp_path, kind)
    warned = "missing slice" if kind == "missing slice" else "Gantry tilt"
    assert any(warned in w for w in volume.warnings), volume.warnings  # the loader resampled it
    files = volume.metadata["files"]
    planes = {tuple(np.round([float(v) for v in pydicom.dcmread(f).ImagePositionPatient], 3)) for f in files}
    grid = {tuple(np.round(volume.to_lps((0, 0, k)), 3)) for k in range(volume.array.shape[0])}
    assert grid != planes  # the label map's grid is not the source frames

    labels = _labels(volume.array.shape, (2, 6), (5, 15), (6, 20))
    result = _export(volume, labels, tmp_path / "out")
    assert set(result.paths) == {"seg", "sr"}, result.warnings
    assert dciodvfy(result.paths["seg"]) == [] and dciodvfy(result.paths["sr"]) == []
    assert np.array_equal(seg_on_volume_grid(result.paths["seg"], volume), labels)
    assert np.array_equal(_highdicom_volume_on_grid(result.paths["seg"], volume), labels)
    # the source series is referenced as a whole, every file of it
    raw = pydicom.dcmread(result.paths["seg"], stop_before_pixels=True)
    series = raw.ReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == volume.metadata["series_uid"]
    assert {i.ReferencedSOPInstanceUID for i in series.ReferencedInstanceSequence} == \
        {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files}
    assert raw.FrameOfReferenceUID == volume.metadata["frame_of_reference_uid"]


# ---------------------------------------------------------------- enhanced multi-frame sources we did not make

def _source_frame_check(seg_path: Path, source_path: str, volume, labels) -> None:
    """Each source frame's segment masks (highdicom ``get_pixels_by_source_frame``) equal the label map's
    slice at that frame's PlanePosition."""
    src = pydicom.dcmread(source_path, stop_before_pixels=True)
    seg = hd.seg.segread(seg_path)
    nframes = int(src.NumberOfFrames)
    shared = (src.get("SharedFunctionalGroupsSequence") or [pydicom.Dataset()])[0]
    wanted = []
    for n, item in enumerate(src.PerFrameFunctionalGroupsSequence, start=1):
        pps = item.get("PlanePositionSequence") or shared.PlanePositionSequence
        k = volume.to_index([float(v) for v in pps[0].ImagePositionPatient])
        assert abs(k[2] - round(k[2])) < 1e-3
        if labels[int(round(k[2]))].any():
            wanted.append((n, int(round(k[2]))))
    assert wanted, "the test label map must touch at least one source frame"
    pixels = seg.get_pixels_by_source_frame(src.SOPInstanceUID, [n for n, _ in wanted],
                                            segment_numbers=[1, 2], assert_missing_frames_are_empty=True)
    assert pixels.shape == (len(wanted), src.Rows, src.Columns, 2)
    for i, (n, k) in enumerate(wanted):
        for s in (1, 2):
            assert np.array_equal(pixels[i, ..., s - 1].astype(bool), labels[k] == s), (n, s)
    assert nframes >= len(wanted)


def test_enhanced_ct_from_pydicom_exports_an_anonymised_seg_referencing_its_frames(tmp_path):
    from meddiag_desktop.io import load

    path = _testdata("eCT_Supplemental.dcm")  # Enhanced CT, 2 frames of 512x512, 10 mm apart
    volume = load(path)
    labels = _labels(volume.array.shape, (0, 2), (200, 240), (230, 300))
    result = _export(volume, labels, tmp_path / "out", anonymize=True)
    assert set(result.paths) == {"seg", "sr"}, result.warnings
    assert dciodvfy(result.paths["seg"]) == [] and dciodvfy(result.paths["sr"]) == []
    assert np.array_equal(seg_on_volume_grid(result.paths["seg"], volume), labels)
    assert np.array_equal(_highdicom_volume_on_grid(result.paths["seg"], volume), labels)
    # anonymised: the source's UIDs are replaced consistently, so read back against a renamed source
    raw = pydicom.dcmread(result.paths["seg"], stop_before_pixels=True)
    src = pydicom.dcmread(path, stop_before_pixels=True)
    assert raw.PatientID == result.pseudonym and raw.PatientIdentityRemoved == "YES"
    ref = raw.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0]
    assert ref.ReferencedSOPClassUID == src.SOPClassUID and ref.ReferencedSOPInstanceUID != src.SOPInstanceUID
    assert ref.ReferencedSOPInstanceUID == raw.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0] \
        .SourceImageSequence[0].ReferencedSOPInstanceUID
    renamed = tmp_path / "renamed.dcm"
    src.SOPInstanceUID = ref.ReferencedSOPInstanceUID
    src.save_as(renamed)
    _source_frame_check(result.paths["seg"], str(renamed), volume, labels)


def test_philips_enhanced_mr_from_nibabel_exports_seg(tmp_path):
    """nibabel's Philips enhanced MR (176 oblique frames) repeats orientation and spacing per frame, where
    highdicom reads a multi-frame source's shared group; the export reads them from the frames."""
    import nibabel

    from meddiag_desktop.io import load

    gz = Path(nibabel.__file__).parent / "nicom" / "tests" / "data" / "philips_mprage.dcm.gz"
    if not gz.exists():
        pytest.skip("nibabel's test data is not installed")
    path = tmp_path / "source" / "philips_mprage.dcm"
    path.parent.mkdir()
    with gzip.open(gz) as fin, open(path, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    before = path.read_bytes()
    volume = load(path)
    assert volume.array.shape == (176, 256, 256)
    assert "SharedFunctionalGroupsSequence" not in pydicom.dcmread(path, stop_before_pixels=True) or \
        "PlaneOrientationSequence" not in pydicom.dcmread(path, stop_before_pixels=True) \
        .SharedFunctionalGroupsSequence[0]
    labels = _labels(volume.array.shape, (80, 84), (100, 130), (90, 140))
    result = _export(volume, labels, tmp_path / "out")
    assert set(result.paths) == {"seg", "sr"}, result.warnings
    assert dciodvfy(result.paths["seg"]) == []
    assert np.array_equal(seg_on_volume_grid(result.paths["seg"], volume), labels)
    _source_frame_check(result.paths["seg"], str(path), volume, labels)
    assert path.read_bytes() == before  # the source is only read


# ---------------------------------------------------------------- LABELMAP on request

def test_labelmap_seg_on_request_round_trips_exactly(study, tmp_path):
    from tests.report.report_helpers import NAMES as LUNG_NAMES
    from tests.report.report_helpers import provenance

    _, volume, labels = study
    report = build_report(volume, label_maps=[LabelMap(labels, LUNG_NAMES, {}, provenance())], key_images=[])
    result = export_report(report, volume, tmp_path / "out", pdf=False, seg_type="LABELMAP")
    raw = pydicom.dcmread(result.paths["seg"])
    assert raw.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.7"  # Label Map Segmentation Storage (DICOM 2024)
    assert raw.SegmentationType == "LABELMAP" and raw.BitsAllocated == 8
    assert [s.SegmentLabel for s in raw.SegmentSequence] == ["Background", *LUNG_NAMES.values()]
    assert raw.SegmentSequence[1].SegmentationAlgorithmIdentificationSequence[0].AlgorithmName == \
        "Test lung segmentation"
    assert np.array_equal(seg_on_volume_grid(result.paths["seg"], volume), labels)
    assert np.array_equal(_highdicom_volume_on_grid(result.paths["seg"], volume), labels)
    # the SR references the LABELMAP SEG's segments
    groups = hd.sr.srread(result.paths["sr"]).content.get_volumetric_roi_measurement_groups()
    assert {g.referenced_segment.referenced_sop_instance_uid for g in groups} == {raw.SOPInstanceUID}
    # dicom3tools' dciodvfy (2022) predates the Label Map Segmentation IOD: all it can say is that it does not
    # know it, and that segment 0 (the background LABELMAP requires) breaks the BINARY numbering rule
    known = {"Error - Information Object Not found",
             "Error - SegmentNumber not monotonically increasing from one by one - have SegmentSequence item "
             "number 1 (from one) with SegmentNumber of 0"}
    assert set(dciodvfy(result.paths["seg"])) <= known


def test_overlapping_segments_fall_back_to_binary_and_say_so(study, tmp_path):
    from tests.report.report_helpers import NAMES as LUNG_NAMES

    _, volume, labels = study
    second = (labels == 3).astype(np.uint8) * 5  # a second result labels the nodule too
    report = build_report(volume, key_images=[], label_maps=[LabelMap(labels, LUNG_NAMES),
                                                             LabelMap(second, {5: "lung nodule"})])
    result = export_report(report, volume, tmp_path / "out", pdf=False, seg_type="LABELMAP")
    assert result.warnings == [
        f"DICOM SEG stored as BINARY, not LABELMAP: segments 'nodule' and 'lung nodule' overlap "
        f"({int((labels == 3).sum())} voxels), which a LABELMAP SEG cannot store (one segment per voxel); "
        "the BINARY type can"]
    raw = pydicom.dcmread(result.paths["seg"], stop_before_pixels=True)
    assert raw.SegmentationType == "BINARY" and raw.SegmentsOverlap == "YES"
    assert dciodvfy(result.paths["seg"]) == []


# ---------------------------------------------------------------- what still cannot be exported

def test_multiframe_without_frame_positions_gets_pdf_and_the_reason(tmp_path):
    from meddiag_desktop.io import load

    volume = load(_testdata("emri_small.dcm"))  # enhanced MR whose frames carry no position
    labels = np.zeros(volume.array.shape, np.uint8)
    labels[2:4, 10:20, 10:20] = 1
    report = build_report(volume, label_maps=[LabelMap(labels, {1: "lesion"})], key_images=[])
    result = export_report(report, volume, tmp_path / "out")
    assert set(result.paths) == {"pdf"}
    assert result.warnings == [
        "no DICOM SEG/SR: emri_small.dcm is a multi-frame image whose frames have no 3D positions in its "
        "functional groups (a cine loop, or a legacy multi-frame stacked by SpacingBetweenSlices or "
        "GridFrameOffsetVector); a DICOM SEG can only reference multi-frame images that place every frame "
        "(enhanced CT/MR), so the segmentation cannot be stored as SEG"]


def test_series_without_positions_gets_the_reason(make_series):
    from meddiag_desktop.io import load
    from meddiag_desktop.report.dicom_seg import DicomExportError, source_datasets

    folder, *_ = make_series(shape=(4, 6, 7))
    for f in sorted(folder.iterdir()):
        ds = pydicom.dcmread(f)
        del ds.ImagePositionPatient
        ds.save_as(f)
    volume = load(folder)  # slices ordered by InstanceNumber, spaced by SliceThickness: placed by guesswork
    with pytest.raises(DicomExportError, match=r"^source image f\d{4}\.dcm has no ImagePositionPatient, "
                       r"ImageOrientationPatient or FrameOfReferenceUID, so the volume's slices were placed by "
                       r"guesswork; .* cannot be stored as SEG$"):
        source_datasets(volume)


def test_legacy_multiframe_rt_dose_gets_the_reason():
    from meddiag_desktop.io import load
    from meddiag_desktop.report.dicom_seg import DicomExportError, source_datasets

    volume = load(_testdata("rtdose.dcm"))  # frames stacked by GridFrameOffsetVector, no functional groups
    assert volume.array.shape == (15, 10, 10)
    with pytest.raises(DicomExportError, match=r"^rtdose\.dcm is a multi-frame image whose frames have no 3D "
                       r"positions .* GridFrameOffsetVector\); a DICOM SEG can only reference"):
        source_datasets(volume)


def test_multiframe_with_frames_in_two_orientations_gets_the_reason(tmp_path):
    """highdicom needs one orientation for a multi-frame source; a frame turned 90 degrees is refused by name."""
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.report.dicom_seg import DicomExportError, source_datasets

    ds = pydicom.dcmread(_testdata("eCT_Supplemental.dcm"), stop_before_pixels=True)
    shared = ds.SharedFunctionalGroupsSequence[0]
    for n, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        item.PlaneOrientationSequence = pydicom.Sequence([pydicom.Dataset()])
        item.PlaneOrientationSequence[0].ImageOrientationPatient = \
            [1, 0, 0, 0, 1, 0] if n == 0 else [0, 1, 0, 0, 0, -1]
    del shared.PlaneOrientationSequence
    path = tmp_path / "two-orientations.dcm"
    ds.save_as(path)
    volume = Volume(np.zeros((2, 4, 4), np.int16), metadata={"source": "dicom", "files": [str(path)]})
    with pytest.raises(DicomExportError, match=r"^two-orientations\.dcm: its frames have 2 different orientations; "
                       r"a DICOM SEG of a multi-frame image needs one for all frames"):
        source_datasets(volume)


def test_series_without_slice_thickness_still_exports(make_series, tmp_path):
    """SliceThickness may be absent (secondary captures, some MR); highdicom reads it, so the header read for the
    export gets an empty one, and the source files stay as they were."""
    from meddiag_desktop.io import load
    from meddiag_desktop.report.dicom_seg import source_datasets

    folder, *_ = make_series(shape=(4, 6, 7), folder="source/no-thickness")
    for f in sorted(folder.iterdir()):
        ds = pydicom.dcmread(f)
        del ds.SliceThickness
        ds.save_as(f)
    before = {f.name: f.read_bytes() for f in folder.iterdir()}
    volume = load(folder)
    assert all(ds.SliceThickness is None for ds in source_datasets(volume))
    labels = np.zeros(volume.array.shape, np.uint8)
    labels[1:3, 2:4, 2:5] = 1
    result = _export(volume, labels, tmp_path / "out")
    assert set(result.paths) == {"seg", "sr"}, result.warnings
    assert dciodvfy(result.paths["seg"]) == []
    assert np.array_equal(seg_on_volume_grid(result.paths["seg"], volume), labels)
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before


def test_volume_that_does_not_come_from_its_files_is_refused(study):
    """The SEG carries the volume's grid, so the grid must hold the source planes it claims to come from."""
    import dataclasses

    from meddiag_desktop.report.dicom_seg import DicomExportError, source_datasets

    _, volume, _ = study
    assert len(source_datasets(volume)) == volume.array.shape[0]
    moved = dataclasses.replace(volume, origin=tuple(np.add(volume.origin, (0.0, 0.0, 100.0))))
    with pytest.raises(DicomExportError, match=r"lies outside the volume \(at slice -39\.0 of 12\); the volume does "
                       r"not come from these images"):
        source_datasets(moved)
    other = dataclasses.replace(volume, metadata={**volume.metadata, "frame_of_reference_uid": "1.2.3.4"})
    with pytest.raises(DicomExportError, match="in another frame of reference than the volume"):
        source_datasets(other)
