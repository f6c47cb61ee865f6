"""A single oblique image is shown in its own plane: exact geometry of the in-plane frame (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core import Volume
from meddiag_desktop.core import view_geometry as vg

# ImageOrientationPatient of pydicom's MR2_UNCR.dcm: rows run P/L-wards, columns run Inferior
ROW = np.array([0.569486, 0.822001, 0.0])
ROW = ROW / np.linalg.norm(ROW)
COL = np.array([0.0, 0.0, -1.0])
SHAPE_XYZ = (40, 30, 1)
SPACING = (0.7, 0.9, 5.0)
ORIGIN = (-12.0, 33.0, 80.0)


def single_image(row=ROW, col=COL, shape_xyz=SHAPE_XYZ, spacing=SPACING) -> Volume:
    row, col = np.asarray(row, float), np.asarray(col, float)
    direction = np.column_stack([row, col, np.cross(row, col)])
    nx, ny, nz = shape_xyz
    arr = (np.arange(nx * ny * nz, dtype=np.int16).reshape(nz, ny, nx) % 997).astype(np.int16)
    return Volume(arr, spacing=spacing, origin=ORIGIN, direction=direction, metadata={"modality": "MR"})


def test_oblique_single_image_gets_its_own_frame():
    vol = single_image()
    assert vg.nearest_view(vg.image_normal(vol)) == vg.SAGITTAL
    f = vg.single_image_frame(vol)
    assert f is not None
    assert np.allclose(f.T @ f, np.eye(3)) and np.allclose(np.cross(f[:, 0], f[:, 1]), f[:, 2])
    assert np.allclose(f[:, 0], ROW)  # screen right: the image's row direction
    assert np.allclose(f[:, 1], -COL)  # screen up: minus its column direction (row 0 at the top)
    assert f[:, 2] @ vg.view_frame(vg.SAGITTAL)[:, 2] > 0  # the viewer is at the patient's left, as in sagittal
    # only the nearest view takes it; the others stay standard views
    assert np.array_equal(vg.single_image_frame(vol, vg.SAGITTAL), f)
    assert vg.single_image_frame(vol, vg.AXIAL) is None and vg.single_image_frame(vol, vg.CORONAL) is None
    assert vg.edge_letters(f) == {"left": "AR", "right": "PL", "top": "S", "bottom": "I"}
    assert vg.is_aligned(f, vol)  # pixels are voxels: exact nearest-neighbour reslicing
    assert vg.output_spacing(f, vol) == pytest.approx(SPACING[:2])


def test_corners_map_to_a_rectangle_of_the_image_size():
    vol = single_image()
    f = vg.single_image_frame(vol)
    nx, ny, _ = SHAPE_XYZ
    ijk = np.array([[0, 0, 0], [nx - 1, 0, 0], [0, ny - 1, 0], [nx - 1, ny - 1, 0]], float)
    uvw = vg.lps_to_view(f, vol.to_lps(ijk))
    (u0, v0, w0), (u1, v1, w1), (u2, v2, w2), (u3, v3, w3) = uvw
    width, height = (nx - 1) * SPACING[0], (ny - 1) * SPACING[1]
    # first row at the top, first column at the left, sides along the screen axes
    assert (u1 - u0, v1 - v0) == pytest.approx((width, 0.0), abs=1e-9)
    assert (u2 - u0, v2 - v0) == pytest.approx((0.0, -height), abs=1e-9)
    assert (u3 - u0, v3 - v0) == pytest.approx((width, -height), abs=1e-9)
    assert w0 == pytest.approx(w1, abs=1e-9) and w0 == pytest.approx(w2, abs=1e-9) and w0 == pytest.approx(w3, abs=1e-9)
    umin, umax, vmin, vmax, wmin, wmax = vg.view_extent(f, vol)
    assert (umax - umin, vmax - vmin, wmax - wmin) == pytest.approx((width, height, 0.0), abs=1e-9)


def test_voxel_round_trips_through_view_coordinates_and_reslice():
    vol = single_image()
    f = vg.single_image_frame(vol)
    cursor = vol.center_lps()
    m = vg.reslice_matrix(f, vol, cursor)
    for ijk in [(0, 0, 0), (7, 11, 0), (39, 29, 0), (25, 3, 0)]:
        lps = vol.to_lps(ijk)
        uvw = vg.lps_to_view(f, lps)
        assert np.allclose(vg.view_to_lps(f, uvw), lps)
        assert uvw[2] == pytest.approx(float(cursor @ f[:, 2]))  # on the slice shown
        scaled = m @ np.array([uvw[0], uvw[1], 0.0, 1.0])  # what the reslice samples at that screen point
        assert scaled[:3] == pytest.approx(np.asarray(ijk, float) * np.asarray(SPACING), abs=1e-9)
    info = vg.slice_info(f, vol, cursor)
    assert (info.index, info.count) == (0, 1)
    assert np.allclose(vg.step_cursor(f, vol, cursor, 5), cursor)  # scrolling stays on the image


@pytest.mark.parametrize(
    "row, col, view",
    [
        ((1, 0, 0), (0, 1, 0), vg.AXIAL),
        ((-1, 0, 0), (0, -1, 0), vg.AXIAL),
        ((1, 0, 0), (0, 0, -1), vg.CORONAL),
        ((0, 1, 0), (0, 0, -1), vg.SAGITTAL),
        ((np.cos(0.3), np.sin(0.3), 0), (-np.sin(0.3), np.cos(0.3), 0), vg.AXIAL),  # rotated in-plane only
    ],
)
def test_aligned_single_images_keep_their_standard_view(row, col, view):
    vol = single_image(row, col)
    assert vg.nearest_view(vg.image_normal(vol)) == view
    assert vg.single_image_frame(vol) is None and vg.single_image_frame(vol, view) is None


def test_stacks_are_never_shown_in_an_image_plane():
    assert vg.single_image_frame(single_image(shape_xyz=(40, 30, 3))) is None


def test_mirrored_acquisition_is_flipped_to_the_radiological_side():
    t = np.radians(20)
    # near-axial, stored with the patient's right on the right (row direction Right)
    vol = single_image((-1.0, 0.0, 0.0), (0.0, np.cos(t), np.sin(t)))
    assert vg.nearest_view(vg.image_normal(vol)) == vg.AXIAL
    f = vg.single_image_frame(vol)
    assert np.allclose(f[:, 0], (1.0, 0.0, 0.0))  # flipped left-right: patient Left on the screen's right
    assert np.allclose(f[:, 1], (0.0, -np.cos(t), -np.sin(t)))  # up kept: minus the column direction
    assert f[:, 2] @ vg.view_frame(vg.AXIAL)[:, 2] > 0  # viewer at the feet, as in axial
    assert np.allclose(np.cross(f[:, 0], f[:, 1]), f[:, 2])
    assert vg.edge_letters(f)["right"] == "L" and vg.edge_letters(f)["top"] == "AI"


def test_named_views_unchanged_and_frames_validated():
    for view in vg.VIEWS:
        f = vg.view_frame(view)
        assert np.array_equal(vg.slice_axis(f), vg.slice_axis(view))  # a standard frame numbers slices the same way
        assert vg.edge_letters(f) == vg.edge_letters(view)
    with pytest.raises(ValueError):
        vg.view_frame(np.eye(3) * 2.0)
    with pytest.raises(ValueError):
        vg.view_frame(np.diag([1.0, 1.0, -1.0]))  # left-handed
    with pytest.raises(ValueError):
        vg.view_frame("oblique")
