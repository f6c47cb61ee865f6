"""Measurements in LPS mm: lengths, angles, areas and ROI statistics checked independently."""

from __future__ import annotations

import math

import numpy as np
import pytest

from meddiag_desktop.core.measurements import (
    Measurement,
    angle_deg,
    distance_mm,
    nodule_axes,
    polygon_area_mm2,
    region_stats,
    summarize,
)
from meddiag_desktop.core.volume import Volume
from tests.conftest import rotation


def test_distance_and_angle():
    assert distance_mm((0, 0, 0), (3, 4, 12)) == pytest.approx(13.0)
    assert angle_deg((1, 0, 0), (0, 0, 0), (0, 1, 0)) == pytest.approx(90.0)
    assert angle_deg((1, 0, 0), (0, 0, 0), (1, 1, 0)) == pytest.approx(45.0)
    assert angle_deg((2, 0, 5), (0, 0, 5), (-3, 0, 5)) == pytest.approx(180.0)


def test_polygon_area_in_any_plane():
    square = [(0, 0, 0), (10, 0, 0), (10, 5, 0), (0, 5, 0)]
    assert polygon_area_mm2(square, (0, 0, 1)) == pytest.approx(50.0)
    r = rotation("x", 37) @ rotation("z", 12)
    tilted = [tuple(r @ np.array(p, float)) for p in square]
    assert polygon_area_mm2(tilted, r @ np.array([0, 0, 1.0])) == pytest.approx(50.0)


def test_wrong_point_count_is_refused():
    with pytest.raises(ValueError, match="Distance needs 2"):
        Measurement("distance", [(0, 0, 0)])
    with pytest.raises(ValueError, match="unknown measurement kind"):
        Measurement("ruler", [(0, 0, 0), (1, 1, 1)])


def _anisotropic_volume():
    """Pixels 0.5 x 1.5 mm, slices 2 mm; value = 10*i + 1000*j + k (distinct per voxel)."""
    nz, ny, nx = 5, 40, 60
    k, j, i = np.mgrid[:nz, :ny, :nx]
    arr = (10 * i + 1000 * j + k).astype(np.int32).astype(np.float32)
    return Volume(arr, spacing=(0.5, 1.5, 2.0), origin=(-10.0, 20.0, 30.0), metadata={"units": "HU"})


def test_ellipse_roi_on_anisotropic_pixels_matches_brute_force():
    vol = _anisotropic_volume()
    k = 2
    z = 30.0 + 2.0 * k
    c = np.array([4.0, 50.0, z])
    a, b = 7.0, 12.0  # semi-axes along x and y (mm)
    m = Measurement("ellipse", [tuple(c), tuple(c + [a, 0, 0]), tuple(c + [0, b, 0])], normal=(0, 0, 1))
    st = region_stats(vol, m)
    # independent: voxel centres of slice k inside the ellipse
    xs = -10.0 + 0.5 * np.arange(60)
    ys = 20.0 + 1.5 * np.arange(40)
    inside = ((xs[None, :] - c[0]) / a) ** 2 + ((ys[:, None] - c[1]) / b) ** 2 <= 1.0
    vals = vol.array[k][inside].astype(float)
    assert st.area_mm2 == pytest.approx(math.pi * a * b)
    assert st.count == int(inside.sum())
    assert st.mean == pytest.approx(vals.mean())
    assert st.sd == pytest.approx(vals.std(ddof=1))
    assert (st.min, st.max) == (vals.min(), vals.max())
    # pixel area times count approximates the geometric area
    assert st.count * 0.5 * 1.5 == pytest.approx(st.area_mm2, rel=0.05)


def test_freehand_roi_square_counts_exact_voxels():
    vol = _anisotropic_volume()
    z = 30.0 + 2.0 * 1
    # a rectangle from x=-5.25..-0.25 (10 columns: x=-5..-0.5) and y=23.25..35.25 (8 rows)
    pts = [(-5.25, 23.25, z), (-0.25, 23.25, z), (-0.25, 35.25, z), (-5.25, 35.25, z)]
    st = region_stats(vol, Measurement("freehand", pts))
    assert st.area_mm2 == pytest.approx(5.0 * 12.0)
    assert st.count == 10 * 8
    i0, j0 = 10, 3  # x=-5 -> i=10, y=24.5 -> j=3
    expected = vol.array[1, j0 : j0 + 8, i0 : i0 + 10]
    assert st.mean == pytest.approx(float(expected.mean()))


def test_roi_on_oblique_volume_finds_the_plane():
    r = rotation("z", 30) @ rotation("x", 20)
    arr = np.full((30, 40, 40), 100, np.int16)
    vol = Volume(arr, spacing=(1, 1, 1), origin=(0, 0, 0), direction=r)
    centre = vol.center_lps()
    m = Measurement("ellipse", [tuple(centre), tuple(centre + [6, 0, 0]), tuple(centre + [0, 4, 0])])
    st = region_stats(vol, m)
    assert st.mean == 100 and st.sd == 0
    assert st.area_mm2 == pytest.approx(math.pi * 24)
    # about one voxel layer: count ~ area / pixel area (1 mm² voxels)
    assert 0.6 * st.area_mm2 < st.count < 1.6 * st.area_mm2


def test_nodule_axes_and_summary():
    m = Measurement("nodule_axes", [(0, 0, 0), (12, 0, 0), (6, -4, 0), (6, 4, 0)])
    long_, short, mean, ang = nodule_axes(m)
    assert (long_, short, mean) == (12.0, 8.0, 10.0)
    assert ang == pytest.approx(90.0)
    vol = _anisotropic_volume()
    s = summarize(vol, Measurement("point", [(-10.0 + 0.5 * 3, 20.0 + 1.5 * 2, 34.0)]))
    assert s["value"] == 10 * 3 + 1000 * 2 + 2
    assert s["units"] == "HU"


def test_round_trip_and_moved_handle():
    m = Measurement("distance", [(0, 0, 0), (1, 2, 3)], label="RUL nodule")
    m2 = Measurement.from_dict(m.to_dict())
    assert m2 == m
    moved = m.moved(1, (4, 0, 0))
    assert moved.id == m.id and distance_mm(*moved.points) == 4.0 and m.points[1] == (1, 2, 3)
