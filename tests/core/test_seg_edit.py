"""Segmentation editing: exact brush geometry in mm, threshold paint, islands, holes, undo/redo."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core import Volume
from meddiag_desktop.core.history import UndoStack
from meddiag_desktop.core.seg_edit import Brush, LabelEditor, brush_mask

SPACING = (0.7, 0.7, 2.5)  # x, y, z mm: a typical chest CT


def _volume(shape=(20, 40, 40), spacing=SPACING, direction=None, values=None) -> Volume:
    arr = np.zeros(shape, np.int16) if values is None else values
    return Volume(arr, spacing=spacing, origin=(-10.0, 20.0, -50.0),
                  direction=np.eye(3) if direction is None else direction)


def _centres_within(volume: Volume, center, radius) -> np.ndarray:
    """Brute force over the whole volume: voxels whose centre lies within ``radius`` mm of ``center``."""
    k, j, i = np.indices(volume.array.shape)
    lps = volume.to_lps(np.stack([i, j, k], -1).reshape(-1, 3).astype(float))
    return (np.linalg.norm(lps - np.asarray(center), axis=1) <= radius).reshape(volume.array.shape)


def _lattice_count(radius: float, spacing: tuple[float, float, float]) -> int:
    """Voxel centres of a grid with ``spacing`` within ``radius`` of a voxel centre, counted by rows."""
    sx, sy, sz = spacing
    total = 0
    for k in range(-int(radius // sz), int(radius // sz) + 1):
        for j in range(-int(radius // sy), int(radius // sy) + 1):
            rest = radius**2 - (k * sz) ** 2 - (j * sy) ** 2
            if rest >= 0:
                total += 2 * int(np.sqrt(rest) // sx) + 1
    return total


def test_5mm_sphere_at_anisotropic_spacing_touches_exactly_the_voxels_within_5mm():
    vol = _volume()
    centre = vol.to_lps((20, 20, 10))
    ed = LabelEditor(vol, np.zeros(vol.array.shape, np.uint8), {1: "nodule"})
    assert ed.paint(centre, 1, Brush(5.0)) == _lattice_count(5.0, SPACING) == 405
    assert np.array_equal(ed.labels == 1, _centres_within(vol, centre, 5.0))
    # five layers (0, +-2.5, +-5 mm): the brush does not stretch along z with the slice thickness
    assert sorted(np.unique(np.nonzero(ed.labels)[0])) == [8, 9, 10, 11, 12]


def test_sphere_off_centre_and_oblique_matches_brute_force():
    a = np.deg2rad(30)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])
    tilt = np.array([[1, 0, 0], [0, np.cos(0.3), -np.sin(0.3)], [0, np.sin(0.3), np.cos(0.3)]]) @ rot
    vol = _volume(direction=tilt)
    centre = vol.to_lps((17.3, 22.6, 9.4))
    box, mask = brush_mask(vol, centre, Brush(4.2))
    full = np.zeros(vol.array.shape, bool)
    full[box] = mask
    assert full.sum() > 100 and np.array_equal(full, _centres_within(vol, centre, 4.2))


def test_sphere_is_clipped_at_the_volume_edge():
    vol = _volume()
    centre = vol.to_lps((0, 0, 0))
    box, mask = brush_mask(vol, centre, Brush(5.0))
    full = np.zeros(vol.array.shape, bool)
    full[box] = mask
    assert np.array_equal(full, _centres_within(vol, centre, 5.0))
    assert brush_mask(vol, vol.to_lps((-100, 0, 0)), Brush(5.0)) is None


@pytest.mark.parametrize("view, in_plane", [("axial", (0.7, 0.7)), ("coronal", (0.7, 2.5)), ("sagittal", (0.7, 2.5))])
def test_disc_lies_in_the_views_plane(view, in_plane):
    vol = _volume()
    centre = vol.to_lps((20, 20, 10))
    ed = LabelEditor(vol, np.zeros(vol.array.shape, np.uint8), {1: "x"})
    n = ed.paint(centre, 1, Brush(5.0, "disc", view))
    sx, sy = in_plane  # voxel centres of the slice within 5 mm, in that slice's spacing
    expected = sum(2 * int(np.sqrt(25 - (b * sy) ** 2) // sx) + 1 for b in range(-int(5 // sy), int(5 // sy) + 1))
    assert n == expected
    z, y, x = np.nonzero(ed.labels)
    axis_values = {"axial": z, "coronal": y, "sagittal": x}[view]
    assert set(axis_values) == {10 if view == "axial" else 20}  # one slice of that view


def test_disc_between_slices_takes_the_nearest_slice():
    vol = _volume()
    ed = LabelEditor(vol, np.zeros(vol.array.shape, np.uint8), {1: "x"})
    ed.paint(vol.to_lps((20, 20, 10.4)), 1, Brush(3.0, "disc", "axial"))
    assert set(np.nonzero(ed.labels)[0]) == {10}


def test_threshold_paint_only_touches_voxels_in_the_range():
    values = np.full((20, 40, 40), -800, np.int16)
    values[:, :, 20:] = 40  # right half soft tissue
    vol = _volume(values=values)
    centre = vol.to_lps((20, 20, 10))
    ed = LabelEditor(vol, np.zeros(values.shape, np.uint8), {1: "nodule"})
    n = ed.paint(centre, 1, Brush(5.0, hu_range=(-100, 100)))
    want = _centres_within(vol, centre, 5.0) & (values >= -100) & (values <= 100)
    assert n == want.sum() > 0 and np.array_equal(ed.labels == 1, want)
    assert not (ed.labels[:, :, :20]).any()


def test_erase_removes_only_its_label_and_paint_can_spare_other_segments():
    vol = _volume()
    labels = np.zeros(vol.array.shape, np.uint8)
    labels[:, :, :20] = 1
    labels[:, :, 20:] = 2
    ed = LabelEditor(vol, labels, {1: "right lung", 2: "left lung", 3: "nodule"})
    centre = vol.to_lps((20, 20, 10))
    sphere = _centres_within(vol, centre, 5.0)
    assert ed.erase(centre, 1, Brush(5.0)) == (sphere & (np.indices(labels.shape)[2] < 20)).sum()
    assert (labels[sphere] != 1).all() and (labels[~sphere] != 0).all()
    assert ed.paint(centre, 3, Brush(5.0), overwrite=False) == (sphere & (np.indices(labels.shape)[2] < 20)).sum()
    assert (labels == 2).sum() == 20 * 40 * 20  # the left lung was spared


def test_undo_redo_restore_bit_identical_arrays_and_store_only_the_change():
    rng = np.random.default_rng(1)
    values = rng.integers(-1000, 200, (20, 40, 40)).astype(np.int16)
    vol = _volume(values=values)
    labels = np.zeros(values.shape, np.uint8)
    labels[5:15, 10:30, 10:30] = 1
    history = UndoStack()
    ed = LabelEditor(vol, labels, {1: "lung", 2: "nodule"}, history)
    states = [labels.copy()]
    ed.paint(vol.to_lps((12, 12, 4)), 2, Brush(4.0))
    states.append(labels.copy())
    ed.erase(vol.to_lps((20, 20, 10)), 1, Brush(3.0, "disc", "coronal"))
    states.append(labels.copy())
    ed.paint(vol.to_lps((25, 25, 8)), 2, Brush(6.0, hu_range=(-300, 100)))
    states.append(labels.copy())
    ed.fill_holes(1, "coronal")
    states.append(labels.copy())
    assert history.texts == ["Paint nodule", "Erase lung", "Paint nodule", "Fill holes of lung (coronal 2D)"]
    for want in reversed(states[:-1]):
        assert history.undo()
        assert np.array_equal(labels, want) and labels.dtype == np.uint8
    assert ed.edited == {}
    for want in states[1:]:
        assert history.redo()
        assert np.array_equal(labels, want)
    assert ed.edited == {1: "SEMIAUTOMATIC", 2: "MANUAL"}


def test_a_stroke_is_one_undo_step_keeping_only_changed_voxels():
    vol = _volume(shape=(40, 200, 200))
    labels = np.zeros(vol.array.shape, np.uint8)
    history = UndoStack()
    ed = LabelEditor(vol, labels, {1: "nodule"}, history)
    seen = []
    ed.subscribe(lambda touched: seen.append(set(touched)))
    ed.begin_stroke("Paint nodule")
    for x in range(60, 120, 3):  # a drag: overlapping dabs
        ed.paint(vol.to_lps((x, 100, 20)), 1, Brush(3.0, "disc"))
    edit = ed.end_stroke()
    assert history.texts == ["Paint nodule"] and len(seen) == 20 and seen[0] == {1}
    painted = labels.copy()
    assert edit.voxel_count == (painted == 1).sum()
    assert edit.nbytes < labels.nbytes / 100  # a bounding-box diff, not a copy of the volume
    history.undo()
    assert not labels.any()
    history.redo()
    assert np.array_equal(labels, painted)


def test_remove_and_keep_island():
    vol = _volume()
    labels = np.zeros(vol.array.shape, np.uint8)
    labels[2:5, 2:6, 2:6] = 1
    labels[10:14, 20:30, 20:30] = 1
    labels[15, 35, 35] = 1  # one voxel more
    labels[13, 29, 29:32] = 2  # replaces one voxel of the big piece (399 left) and touches it: not the same island
    original = labels.copy()
    history = UndoStack()
    ed = LabelEditor(vol, labels, {1: "nodule", 2: "vessel"}, history)
    assert ed.remove_island(vol.to_lps((3, 3, 3))) == 48
    assert (labels[2:5, 2:6, 2:6] == 0).all() and (labels == 1).sum() == 399 + 1
    history.undo()
    assert np.array_equal(labels, original)
    assert ed.keep_island(vol.to_lps((25, 25, 12)), 1) == 49
    assert (labels == 1).sum() == 399 and (labels == 2).sum() == 3
    with pytest.raises(ValueError, match="click inside nodule: the voxel under the point is background"):
        ed.remove_island(vol.to_lps((0, 39, 0)), 1)
    with pytest.raises(ValueError, match="outside the image"):
        ed.keep_island(vol.to_lps((-5, 0, 0)))


def test_fill_holes_3d_and_2d_keep_other_segments():
    vol = _volume(shape=(20, 30, 30), spacing=(1.0, 1.0, 1.0))
    z, y, x = np.indices(vol.array.shape)
    r = np.sqrt((x - 15) ** 2 + (y - 15) ** 2 + (z - 10) ** 2)
    labels = ((r >= 5) & (r < 7)).astype(np.uint8)  # a closed shell
    labels[10, 15, 15] = 2  # another segment inside it
    ed = LabelEditor(vol, labels, {1: "heart", 2: "nodule"})
    inside = (r < 5).sum() - 1
    assert ed.fill_holes(1) == inside
    assert labels[10, 15, 15] == 2 and (labels[r < 5] != 0).all()

    tube = np.zeros(vol.array.shape, np.uint8)
    ring = np.sqrt((x - 15) ** 2 + (y - 15) ** 2)
    tube[(ring >= 4) & (ring < 6) & (z >= 3) & (z < 17)] = 1  # open at both ends: no 3D hole
    ed = LabelEditor(vol, tube, {1: "airway"})
    assert ed.fill_holes(1) == 0
    assert ed.fill_holes(1, "axial") == 14 * (ring[0] < 4).sum()
    assert ed.fill_holes(1, "coronal") == 0  # each coronal slice of an open tube has no closed hole


def test_bad_input_says_what_is_wrong():
    vol = _volume()
    ed = LabelEditor(vol, np.zeros(vol.array.shape, np.uint8), {1: "nodule"})
    with pytest.raises(ValueError, match="label 4 is not a segment of this segmentation"):
        ed.paint(vol.center_lps(), 4, Brush(2.0))
    with pytest.raises(ValueError, match="positive number of mm"):
        Brush(0.0)
    with pytest.raises(ValueError, match="low <= high"):
        Brush(2.0, hu_range=(100, -100))
    with pytest.raises(ValueError, match="does not match the volume"):
        LabelEditor(vol, np.zeros((2, 2, 2), np.uint8))
