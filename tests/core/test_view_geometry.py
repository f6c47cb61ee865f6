"""Patient-oriented view geometry: exact positions for several acquisition orientations."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core import Volume, WindowPreset
from meddiag_desktop.core import view_geometry as vg

# --------------------------------------------------------------- volumes
AXIAL_DIR = np.eye(3)
FLIPPED_DIR = np.diag([-1.0, -1.0, 1.0])  # x runs to patient Right, y to Anterior
SAGITTAL_DIR = np.array([[0, 1, 0], [0, 0, -1], [-1, 0, 0]], float).T  # cols: +Y, -Z, -X (rows P, columns I, slices R)
CORONAL_DIR = np.array([[1, 0, 0], [0, 0, -1], [0, -1, 0]], float).T  # cols: +X, -Z, -Y
_c, _s = np.cos(np.radians(30)), np.sin(np.radians(30))
OBLIQUE_DIR = np.array([[1, 0, 0], [0, _c, _s], [0, -_s, _c]], float).T  # 30 deg about X

GEOMETRIES = {
    "identity": AXIAL_DIR,
    "flipped": FLIPPED_DIR,
    "sagittal": SAGITTAL_DIR,
    "coronal": CORONAL_DIR,
    "oblique30": OBLIQUE_DIR,
}


def make_volume(direction: np.ndarray, shape_xyz=(20, 16, 12), spacing=(0.8, 1.0, 2.0), origin=(-5.0, 7.0, 30.0)):
    nx, ny, nz = shape_xyz
    arr = np.zeros((nz, ny, nx), np.int16)
    return Volume(arr, spacing=spacing, origin=origin, direction=direction, metadata={"modality": "CT", "units": "HU"})


def sample_nearest(view: str, vol: Volume, cursor: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """What the render layer shows: nearest-neighbour reslice through ``cursor`` at view points (u, v)."""
    m = vg.reslice_matrix(view, vol, cursor)
    pts = np.stack([u, v, np.zeros_like(u), np.ones_like(u)], axis=-1) @ m.T
    ijk = np.rint(pts[..., :3] / np.asarray(vol.spacing)).astype(int)
    nx, ny, nz = vol.shape_xyz
    inside = (ijk >= 0).all(-1) & (ijk < np.array([nx, ny, nz])).all(-1)
    out = np.zeros(u.shape, vol.array.dtype)
    i, j, k = ijk[inside].T
    out[inside] = vol.array[k, j, i]
    return out


# --------------------------------------------------------------- frames
def test_frames_follow_radiological_convention():
    assert vg.view_frame("axial").tolist() == [[1, 0, 0], [0, -1, 0], [0, 0, -1]]
    assert vg.view_frame("coronal").tolist() == [[1, 0, 0], [0, 0, -1], [0, 1, 0]]
    assert vg.view_frame("sagittal").tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    for view in vg.VIEWS:
        f = vg.view_frame(view)
        assert np.allclose(np.cross(f[:, 0], f[:, 1]), f[:, 2])  # right-handed: normal = right x up


def test_edge_letters():
    assert vg.edge_letters("axial") == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    assert vg.edge_letters("coronal") == {"left": "R", "right": "L", "top": "S", "bottom": "I"}
    assert vg.edge_letters("sagittal") == {"left": "A", "right": "P", "top": "S", "bottom": "I"}


def test_direction_letters_dominant_first():
    assert vg.direction_letters((0, 0, 1)) == "S"
    assert vg.direction_letters((-0.2, 0.9, 0.0)) == "P"
    assert vg.direction_letters((0.5, -0.86, 0.0)) == "AL"
    assert vg.direction_letters((0, 0, 0)) == ""


def test_lps_view_roundtrip():
    p = np.array([12.5, -3.0, 40.0])
    assert vg.lps_to_view("axial", p).tolist() == [12.5, 3.0, -40.0]
    assert vg.lps_to_view("coronal", p).tolist() == [12.5, 40.0, 3.0]
    assert vg.lps_to_view("sagittal", p).tolist() == [-3.0, 40.0, 12.5]
    for view in vg.VIEWS:
        assert np.allclose(vg.view_to_lps(view, vg.lps_to_view(view, p)), p)


# --------------------------------------------------------------- reslice
@pytest.mark.parametrize("name", list(GEOMETRIES))
@pytest.mark.parametrize("view", vg.VIEWS)
def test_marker_voxel_appears_at_its_patient_position(name, view):
    vol = make_volume(GEOMETRIES[name])
    ijk = (13, 5, 7)
    vol.array[ijk[2], ijk[1], ijk[0]] = 1000
    lps = vol.to_lps(ijk)
    u, v, _ = vg.lps_to_view(view, lps)
    got = sample_nearest(view, vol, lps, np.array([u]), np.array([v]))
    assert got[0] == 1000
    # one voxel-size away on screen it is gone (the marker is a single voxel)
    for du, dv in ((2.1, 0), (-2.1, 0), (0, 2.1), (0, -2.1)):
        assert sample_nearest(view, vol, lps, np.array([u + du]), np.array([v + dv]))[0] == 0


@pytest.mark.parametrize("name", list(GEOMETRIES))
def test_patient_left_anterior_superior_shows_right_top(name):
    """A marker on the patient's left-anterior side is at the screen's right/top in axial."""
    vol = make_volume(GEOMETRIES[name], shape_xyz=(24, 24, 24), spacing=(1.0, 1.0, 1.0), origin=(0, 0, 0))
    centre = vol.center_lps()
    marker = centre + np.array([5.0, -5.0, 5.0])  # Left, Anterior, Superior
    i, j, k = np.rint(vol.to_index(marker)).astype(int)
    vol.array[k, j, i] = 7
    marker = vol.to_lps((i, j, k))
    cu, cv, _ = vg.lps_to_view("axial", centre)
    mu, mv, _ = vg.lps_to_view("axial", marker)
    assert mu > cu and mv > cv  # right and up on screen
    cu, cv, _ = vg.lps_to_view("coronal", centre)
    mu, mv, _ = vg.lps_to_view("coronal", marker)
    assert mu > cu and mv > cv  # Left -> right, Superior -> up
    cu, cv, _ = vg.lps_to_view("sagittal", centre)
    mu, mv, _ = vg.lps_to_view("sagittal", marker)
    assert mu < cu and mv > cv  # Anterior -> left, Superior -> up


def test_identity_reslice_matrix_exact():
    vol = make_volume(AXIAL_DIR)  # origin (-5, 7, 30), spacing (0.8, 1, 2)
    cursor = vol.to_lps((2, 3, 4))  # (-3.4, 10, 38)
    m = vg.reslice_matrix("axial", vol, cursor)
    # output (u, v) = (x, -y) at w = -z = -38  -> scaled index (x+5, y-7, z-30)
    assert np.allclose(m @ [-3.4, -10.0, 0, 1], [1.6, 3.0, 8.0, 1])
    assert np.allclose(m[:3, :3], [[1, 0, 0], [0, -1, 0], [0, 0, -1]])


def test_view_extent_and_slices_identity():
    vol = make_volume(AXIAL_DIR)  # x -5..10.2, y 7..22, z 30..52
    assert np.allclose(vg.view_extent("axial", vol), (-5, 10.2, -22, -7, -52, -30))
    assert np.allclose(vg.view_extent("coronal", vol), (-5, 10.2, 30, 52, -22, -7))
    assert np.allclose(vg.view_extent("sagittal", vol), (7, 22, 30, 52, -5, 10.2))
    assert vg.slice_step("axial", vol) == 2.0
    assert vg.slice_step("coronal", vol) == 1.0
    assert vg.slice_step("sagittal", vol) == pytest.approx(0.8)
    info = vg.slice_info("axial", vol, vol.to_lps((0, 0, 5)))
    assert (info.index, info.count, info.position) == (5, 12, 40.0)


def test_slice_step_oblique_projects_spacing():
    vol = make_volume(OBLIQUE_DIR)
    assert vg.slice_step("axial", vol) == pytest.approx(2.0 * _c)
    assert vg.slice_step("sagittal", vol) == pytest.approx(0.8)


@pytest.mark.parametrize("name", list(GEOMETRIES))
def test_step_cursor_moves_whole_slices_and_clamps(name):
    vol = make_volume(GEOMETRIES[name])
    for view in vg.VIEWS:
        c = vol.center_lps()
        info0 = vg.slice_info(view, vol, c)
        c3 = vg.step_cursor(view, vol, c, 3)
        info3 = vg.slice_info(view, vol, c3)
        assert info3.index == min(info0.index + 3, info0.count - 1)
        # only the slice coordinate changes
        f = vg.view_frame(view)
        assert np.allclose((c3 - c) @ f[:, :2], 0)
        assert vg.slice_info(view, vol, vg.step_cursor(view, vol, c, 10_000)).index == info0.count - 1
        assert vg.slice_info(view, vol, vg.step_cursor(view, vol, c, -10_000)).index == 0


def test_axial_next_slice_is_superior():
    vol = make_volume(AXIAL_DIR)
    c = vol.to_lps((1, 1, 3))
    assert np.allclose(vg.step_cursor("axial", vol, c, 1) - c, [0, 0, 2.0])
    assert np.allclose(vg.step_cursor("coronal", vol, c, 1) - c, [0, -1.0, 0])
    assert np.allclose(vg.step_cursor("sagittal", vol, c, 1) - c, [0.8, 0, 0])


def test_clamp_to_volume():
    vol = make_volume(AXIAL_DIR)
    assert np.allclose(vg.clamp_to_volume(vol, (-100, 8, 1000)), (-5, 8, 52))


# --------------------------------------------------------------- window/level
def test_named_presets_exact():
    got = {p.name: (p.width, p.level) for p in vg.NAMED_PRESETS}
    assert got == {
        "Brain": (80, 40),
        "Lung": (1500, -600),
        "Mediastinum": (350, 50),
        "Abdomen": (400, 50),
        "Liver": (150, 30),
        "Bone": (1800, 400),
    }
    assert vg.window_range(1500, -600) == (-1350, 150)


def test_presets_for_volume_puts_dicom_first():
    vol = make_volume(AXIAL_DIR)
    vol.metadata["window_presets"] = [WindowPreset("WINDOW1", 400, 40)]
    presets = vg.window_presets_for(vol)
    assert presets[0] == WindowPreset("WINDOW1", 400, 40)
    assert len(presets) == 1 + len(vg.NAMED_PRESETS)
    assert vg.default_window(vol) == WindowPreset("WINDOW1", 400, 40)
    mr = Volume(np.arange(1000, dtype=np.int16).reshape(10, 10, 10), metadata={"modality": "MR"})
    assert vg.window_presets_for(mr) == []
    auto = vg.default_window(mr)
    assert 900 < auto.width < 1000 and auto.level == pytest.approx(499.5, abs=20)


def test_drag_window_level():
    assert vg.drag_window_level(400, 40, 10, -5, 2.0) == (420, 30)
    assert vg.drag_window_level(10, 40, -100, 0, 2.0) == (2.0, 40)
    vol = Volume(np.array([[[-1000, 1000]]], np.int16))
    assert vg.wl_sensitivity(vol) == 2.0


def test_aligned_volumes_sample_at_voxel_centres():
    vol = make_volume(SAGITTAL_DIR)  # spacing (0.8, 1.0, 2.0): x->+Y, y->-Z, z->-X
    assert vg.is_aligned("axial", vol) and vg.is_aligned("sagittal", vol)
    assert vg.output_spacing("axial", vol) == (2.0, 0.8)  # right = +X (index z), up = -Y (index x)
    assert vg.output_spacing("sagittal", vol) == (0.8, 1.0)  # right = +Y (index x), up = +Z (index y)
    oblique = make_volume(OBLIQUE_DIR)
    assert not vg.is_aligned("axial", oblique)
    assert vg.output_spacing("axial", oblique) == (0.8, 0.8)
    big = make_volume(AXIAL_DIR, shape_xyz=(3000, 10, 10), spacing=(0.1, 1, 1))
    du, dv = vg.output_spacing("axial", big, max_pixels=1024)
    assert du == pytest.approx(299.9 / 1023) and dv == 1.0
