"""Compressed, multi-frame, enhanced and single-image files that ship inside pydicom / pydicom-data."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from meddiag_desktop.io import LoadError, load


def f(name: str) -> str:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} not available (pydicom-data missing)")
    return path


@pytest.mark.parametrize(
    "compressed, reference",
    [
        ("MR_small_RLE.dcm", "MR_small.dcm"),  # RLE lossless
        ("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm"),  # JPEG-LS lossless
        ("MR_small_jp2klossless.dcm", "MR_small.dcm"),  # JPEG 2000 lossless
        ("MR_small_bigendian.dcm", "MR_small.dcm"),  # explicit VR big endian
        ("MR_small_implicit.dcm", "MR_small.dcm"),  # implicit VR little endian
        ("693_J2KR.dcm", "693_UNCR.dcm"),  # JPEG 2000 lossless, 512x512 CT
        ("RG1_J2KR.dcm", "RG1_UNCR.dcm"),  # JPEG 2000 lossless radiograph
        ("emri_small_RLE.dcm", "emri_small.dcm"),  # multi-frame RLE
        ("emri_small_jpeg_2k_lossless.dcm", "emri_small.dcm"),  # multi-frame J2K
    ],
)
def test_lossless_compressed_equals_uncompressed(compressed, reference):
    a, b = load(f(compressed)), load(f(reference))
    assert a.array.shape == b.array.shape
    np.testing.assert_array_equal(a.array, b.array)
    np.testing.assert_allclose(a.spacing, b.spacing)
    np.testing.assert_allclose(a.origin, b.origin)


def test_values_are_modality_lut_applied_like_pydicom():
    path = f("CT_small.dcm")
    ds = pydicom.dcmread(path)
    expected = ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope) + int(ds.RescaleIntercept)
    vol = load(path)
    assert vol.array.dtype == np.int16
    np.testing.assert_array_equal(vol.array[0], expected)
    assert vol.spacing[:2] == pytest.approx((0.661468, 0.661468))
    assert vol.origin == pytest.approx((-158.135803, -179.035797, -75.699997))


@pytest.mark.parametrize("name", ["JPEG-LL.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm", "JPEGLSNearLossless_16.dcm"])
def test_jpeg_lossless_matches_pydicom_decoder(name):
    ds = pydicom.dcmread(f(name))
    vol = load(f(name))
    expected = ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    np.testing.assert_array_equal(vol.array[0], expected)


def test_deflated_file_decodes():
    vol = load(f("image_dfl.dcm"))
    ds = pydicom.dcmread(f("image_dfl.dcm"))
    np.testing.assert_array_equal(vol.array[0], ds.pixel_array)


@pytest.mark.parametrize("name", ["SC_rgb_jpeg_gdcm.dcm", "JPGExtended.dcm", "SC_rgb_jpeg_dcmtk.dcm"])
def test_lossy_jpeg_opens(name):
    vol = load(f(name))
    ds = pydicom.dcmread(f(name))
    assert vol.array.shape[1:3] == (ds.Rows, ds.Columns)


def test_enhanced_ct_frames_placed_at_their_functional_group_positions():
    path = f("eCT_Supplemental.dcm")
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array
    vol = load(path)
    assert vol.array.shape == (2, 512, 512)
    # each frame appears at the slice whose LPS position equals its PlanePosition
    for i, fg in enumerate(ds.PerFrameFunctionalGroupsSequence):
        pos = np.array([float(v) for v in fg.PlanePositionSequence[0].ImagePositionPatient])
        k = int(round(vol.to_index(pos)[2]))
        np.testing.assert_allclose(vol.to_lps((0, 0, k)), pos, atol=1e-3)
        assert vol.array[k].shape == frames[i].shape
    # slices are ordered along the normal (row x column): right-handed direction
    assert np.linalg.det(vol.direction) == pytest.approx(1.0)
    assert vol.spacing == pytest.approx((0.388672, 0.388672, 10.0))


def test_enhanced_ct_values_match_pydicom_with_rescale():
    path = f("eCT_Supplemental.dcm")
    ds = pydicom.dcmread(path)
    vol = load(path)
    per = ds.PerFrameFunctionalGroupsSequence
    shared = ds.SharedFunctionalGroupsSequence[0]
    for i, fg in enumerate(per):
        pvt = fg.get("PixelValueTransformationSequence") or shared.get("PixelValueTransformationSequence")
        slope, icpt = float(pvt[0].RescaleSlope), float(pvt[0].RescaleIntercept)
        pos = np.array([float(v) for v in fg.PlanePositionSequence[0].ImagePositionPatient])
        k = int(round(vol.to_index(pos)[2]))
        np.testing.assert_array_equal(vol.array[k], ds.pixel_array[i] * slope + icpt)


def test_multiframe_without_geometry_opens_frames_as_slices_with_warning():
    vol = load(f("emri_small.dcm"))
    assert vol.array.shape == (10, 64, 64)
    assert any("no 3D positions" in w for w in vol.warnings)


@pytest.mark.parametrize("name, shape", [("SC_rgb.dcm", (1, 100, 100, 3)), ("US1_UNCR.dcm", (1, 480, 640, 3)),
                                         ("examples_palette.dcm", (1, 350, 800, 3))])
def test_colour_images_open_as_one_slice_rgb(name, shape):
    vol = load(f(name))
    assert vol.array.shape == shape and vol.array.dtype == np.uint8
    assert vol.is_rgb


def test_radiograph_opens_as_one_slice():
    vol = load(f("RG1_UNCR.dcm"))
    assert vol.array.shape[0] == 1
    assert vol.modality in ("CR", "DX", "RG", "OT", "MG")


def test_non_image_dicom_is_a_clear_error():
    with pytest.raises(LoadError, match="no image in this file"):
        load(f("rtplan.dcm"))


def test_truncated_file_is_a_clear_error():
    with pytest.raises(LoadError, match="truncated"):
        load(f("MR_truncated.dcm"))
