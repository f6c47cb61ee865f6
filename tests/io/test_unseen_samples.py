"""Sample files from pydicom / pydicom-data that a new user opened and that went wrong.

Each test names the symptom seen before the fix.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from meddiag_desktop.io import load, scan


def f(name: str) -> str:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} not available (pydicom-data missing)")
    return path


def test_rt_dose_frames_use_grid_frame_offsets_and_dose_scaling():
    """Was: 'frames have no 3D positions, shown 1 mm apart' and raw integers instead of dose."""
    path = f("rtdose.dcm")
    ds = pydicom.dcmread(path)
    vol = load(path)
    offsets = [float(v) for v in ds.GridFrameOffsetVector]
    assert vol.array.shape[0] == len(offsets)
    assert vol.spacing[2] == pytest.approx(offsets[1] - offsets[0])  # 5 mm, not 1
    assert vol.origin == pytest.approx([float(v) for v in ds.ImagePositionPatient])
    assert not any("no 3D positions" in w for w in vol.warnings)
    expected = ds.pixel_array.astype(np.float64) * float(ds.DoseGridScaling)
    np.testing.assert_allclose(vol.array, expected, rtol=1e-6)


def test_waveform_is_reported_as_no_image_not_as_corrupt():
    """Was: 'corrupt DICOM header (OSError: No tag to read at file position ...)'."""
    result = scan(f("waveform_ecg.dcm"))
    assert len(result) == 0
    (skipped,) = result.skipped
    assert "no image" in skipped.reason and "corrupt" not in skipped.reason


def test_uncompressed_ybr_full_422_loads_as_rgb():
    """Was skipped: 'pixel data holds 20000 bytes but ... need 30000' (4:2:2 stores 2 samples a pixel)."""
    path = f("SC_ybr_full_422_uncompressed.dcm")
    vol = load(path)
    assert vol.is_rgb and vol.array.shape == (1, 100, 100, 3)
    ds = pydicom.dcmread(path)
    np.testing.assert_array_equal(vol.array[0], ds.pixel_array)  # pydicom converts to RGB


def test_single_frame_one_bit_segmentation_loads():
    """Was: '1-bit pixels are not supported' for 1 frame while the 3-frame file loaded."""
    path = f("liver_1frame.dcm")
    vol = load(path)
    ds = pydicom.dcmread(path)
    np.testing.assert_array_equal(vol.array[0], ds.pixel_array)
    assert set(np.unique(vol.array)) <= {0, 1}


def test_file_without_preamble_or_file_meta_decodes():
    """Was: 'the header cannot be read (File is missing DICOM File Meta Information header...)'."""
    vol = load(f("OT-PAL-8-face.dcm"))
    assert vol.is_rgb and vol.array.shape == (1, 480, 640, 3)
    assert vol.array.max() > 0


def test_damaged_pixel_data_message_is_plain(tmp_path):
    """The size check names frames, size and samples instead of '100x100x1 images'."""
    ds = pydicom.dcmread(f("MR_small.dcm"))
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    path = tmp_path / "short.dcm"
    ds.save_as(path)
    result = scan(path)
    (skipped,) = result.skipped
    assert "1 frame of 64x64 pixels" in skipped.reason and "damaged" in skipped.reason


@pytest.mark.parametrize(
    "name, row, col",
    [("RG1_UNCI.dcm", (1, 0, 0), (0, 0, -1)),  # PA chest, PatientOrientation L\F
     ("RG3_J2KR.dcm", (-1, 0, 0), (0, 0, -1))],  # AP leg, R\F
)
def test_radiograph_orientation_from_patient_orientation(name, row, col):
    """Was: a CR without ImageOrientationPatient shown as an axial slice labelled A/P top and bottom."""
    from meddiag_desktop.core import view_geometry as vg

    vol = load(f(name))
    np.testing.assert_allclose(vol.direction[:, 0], row, atol=1e-9)
    np.testing.assert_allclose(vol.direction[:, 1], col, atol=1e-9)
    normal = vol.direction[:, 2]
    assert max(vg.VIEWS, key=lambda v: abs(float(vg.slice_axis(v) @ normal))) == vg.CORONAL
    assert vol.metadata["monochrome1"] is True  # both are MONOCHROME1


def test_patient_orientation_letters():
    from meddiag_desktop.io.dicom_volume import direction_from_patient_orientation as d

    np.testing.assert_allclose(d(("L", "F")), np.column_stack([(1, 0, 0), (0, 0, -1), (0, 1, 0)]))
    np.testing.assert_allclose(d(("A", "F"))[:, 2], (1, 0, 0))  # lateral: sagittal plane
    oblique = d(("LP", "F"))
    np.testing.assert_allclose(oblique[:, 0], np.array([1, 1, 0]) / np.sqrt(2))
    assert d(("L", "L")) is None  # not perpendicular
    assert d(("L",)) is None and d(()) is None and d(("X", "F")) is None


def test_cifti_file_is_refused_with_a_reason():
    """Was: 'Unexpected error (AttributeError): 'Cifti2Image' object has no attribute 'affine''."""
    import importlib.util
    from pathlib import Path

    from meddiag_desktop.io import LoadError

    spec = importlib.util.find_spec("nibabel.tests")
    path = Path(spec.submodule_search_locations[0]) / "data" / "row_major.dconn.nii" if spec else None
    if path is None or not path.is_file():
        pytest.skip("nibabel's CIFTI-2 test file is not installed")
    with pytest.raises(LoadError, match="CIFTI-2"):
        load(path)


def test_truncated_compressed_file_says_truncated():
    """Was: 'the image cannot be decoded (AttributeError: The dataset has no 'Pixel Data' ...)'."""
    from meddiag_desktop.io import LoadError

    with pytest.raises(LoadError, match="truncated") as info:
        load(f("emri_small_jpeg_2k_lossless_too_short.dcm"))
    assert "AttributeError" not in str(info.value)


def test_undecodable_jpeg_names_the_problem_first():
    """Was: 'the image cannot be decoded (RuntimeError: Unable to decode as exceptions were raised...'."""
    from meddiag_desktop.io import LoadError

    with pytest.raises(LoadError) as info:
        load(f("JPEG-lossy.dcm"))  # 12-bit JPEG Extended with a non-conformant scan header
    text = str(info.value)
    assert text.startswith("JPEG-lossy.dcm: no installed decoder can read this JPEG Extended")
    assert "RuntimeError" not in text and "\n" not in text
