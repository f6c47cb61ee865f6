"""Header values that are present but wrong (issue 12): each gives a LoadError in plain words, and a
folder scan skips (or lists) the file instead of aborting. Each file is a real pydicom test file
(CT_small, emri_small, rtdose) with one value damaged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataelem import RawDataElement
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import generate_uid

from meddiag_desktop.io import LoadError, load, scan


def _raw(ds: Dataset, keyword: str, text: str, vr: str = "DS") -> None:
    """Store ``text`` as the element's bytes, as a damaged file would hold it (pydicom would refuse it)."""
    tag = Tag(tag_for_keyword(keyword))
    b = text.encode()
    if len(b) % 2:
        b += b" "
    ds._dict[tag] = RawDataElement(tag, vr, len(b), b, 0, False, True)


def _enhanced(n_items: int | None = None) -> Dataset:
    """emri_small (10 frames of 64x64) with per-frame plane positions/orientations and shared pixel measures."""
    ds = pydicom.dcmread(get_testdata_file("emri_small.dcm"))
    per = []
    for i in range(int(ds.NumberOfFrames) if n_items is None else n_items):
        fg, pp, po = Dataset(), Dataset(), Dataset()
        pp.ImagePositionPatient = [0, 0, 2.0 * i]
        po.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        fg.PlanePositionSequence = Sequence([pp])
        fg.PlaneOrientationSequence = Sequence([po])
        per.append(fg)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per)
    shared, pm = Dataset(), Dataset()
    pm.PixelSpacing = [0.5, 0.5]
    pm.SliceThickness = 2
    shared.PixelMeasuresSequence = Sequence([pm])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    return ds


def _zero_iop():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.ImageOrientationPatient = [0] * 6
    return ds


def _text_plane_position():
    ds = _enhanced()
    _raw(ds.PerFrameFunctionalGroupsSequence[2].PlanePositionSequence[0], "ImagePositionPatient", "abc\\1\\2")
    return ds


def _text_pixel_spacing():
    ds = _enhanced()
    _raw(ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0], "PixelSpacing", "x\\y")
    return ds


def _text_dose_scaling():
    ds = pydicom.dcmread(get_testdata_file("rtdose.dcm"))
    _raw(ds, "DoseGridScaling", "lots")
    return ds


def _text_spacing_between():
    ds = pydicom.dcmread(get_testdata_file("emri_small.dcm"))
    ds.ImagePositionPatient = [0, 0, 0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [1, 1]
    _raw(ds, "SpacingBetweenSlices", "wide")
    return ds


def _single_grid_offset():
    ds = pydicom.dcmread(get_testdata_file("rtdose.dcm"))
    ds.GridFrameOffsetVector = 0
    return ds


CASES = {
    "zero_orientation": (_zero_iop, "ImageOrientationPatient is all zeros"),
    "short_per_frame": (lambda: _enhanced(3), "per-frame functional groups describe 3 frame(s) but the file holds 10"),
    "text_plane_position": (_text_plane_position, "frame 3's ImagePositionPatient is 'abc\\1\\2', not 3 numbers"),
    "text_pixel_spacing": (_text_pixel_spacing, "PixelSpacing (pixel measures) is 'x\\y', not 2 numbers"),
    "text_dose_scaling": (_text_dose_scaling, "DoseGridScaling is 'lots', not a number; the file is damaged and its dose values cannot be scaled"),
    "text_spacing_between": (_text_spacing_between, "SpacingBetweenSlices is 'wide', not a number"),
    "single_grid_offset": (_single_grid_offset, "GridFrameOffsetVector gives 1 offset(s) for 15 frames"),
}


def _write(folder: Path, name: str) -> Path:
    ds = CASES[name][0]()
    ds.SOPInstanceUID = generate_uid()  # distinct instances, as in a real folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.dcm"
    ds.save_as(path, enforce_file_format=False)
    return path


@pytest.mark.parametrize("name", sorted(CASES))
def test_damaged_value_raises_load_error_in_plain_words(tmp_path, name):
    path = _write(tmp_path, name)
    with pytest.raises(LoadError) as info:
        load(path)
    msg = str(info.value)
    assert CASES[name][1] in msg
    assert path.name in msg
    for raw in ("ValueError", "IndexError", "TypeError", "could not convert", "has no len", "out of range"):
        assert raw not in msg


def test_folder_scan_with_every_damaged_file_skips_or_lists_them_and_loads_the_good_series(tmp_path):
    study = tmp_path / "study"
    for name in CASES:
        _write(study, name)
    good = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    good.save_as(study / "good.dcm")
    found = scan(study)  # never raises
    skipped = {s.path.name: s.reason for s in found.skipped}
    assert "ImageOrientationPatient is all zeros" in skipped["zero_orientation.dcm"]
    listed = {Path(s.instances[0].path).name for s in found}
    assert listed | set(skipped) == {f"{n}.dcm" for n in CASES} | {"good.dcm"}
    # every listed series loads or says what is wrong: nothing else escapes
    for s in found:
        try:
            load(s)
        except LoadError as exc:
            assert "damaged" in str(exc)
    vol = load(study / "good.dcm")
    ref = pydicom.dcmread(study / "good.dcm")
    np.testing.assert_array_equal(vol.array[0], ref.pixel_array * int(ref.RescaleSlope) + int(ref.RescaleIntercept))


def test_meddiag_info_reports_each_damaged_series_and_finishes(tmp_path):
    from meddiag_desktop.io.cli_info import describe

    study = tmp_path / "study"
    for name in CASES:
        _write(study, name)
    info = describe(str(study))
    errors = [s["error"] for s in info["series"] if "error" in s]
    assert len(errors) == len(CASES) - 1  # the zero orientation is skipped by the scan
    assert any("all zeros" in s["reason"] for s in info["skipped"])
