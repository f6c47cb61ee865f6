"""Oblique MPR geometry (Qt-free): rotating the crosshair in one view turns the two other planes about it."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core import view_geometry as vg

S = np.array([0.0, 0.0, 1.0])
A = np.array([0.0, -1.0, 0.0])
L = np.array([1.0, 0.0, 0.0])


def test_rotating_the_axial_crosshair_30_degrees_turns_coronal_and_sagittal_about_s():
    mpr = vg.ObliqueMPR()
    mpr.rotate(vg.AXIAL, 30.0)  # counter-clockwise on the axial screen (seen from the feet) = -30 degrees about S
    c, s = np.cos(np.radians(30.0)), np.sin(np.radians(30.0))
    # A = (0, -1, 0) turned by -30 degrees about S: towards the patient's right
    np.testing.assert_allclose(mpr.frame(vg.CORONAL)[:, 2], [-s, -c, 0.0], atol=1e-12)
    np.testing.assert_allclose(mpr.frame(vg.CORONAL)[:, 2], vg.rotation_matrix(S, -30.0) @ A, atol=1e-12)
    np.testing.assert_allclose(mpr.frame(vg.SAGITTAL)[:, 2], vg.rotation_matrix(S, -30.0) @ L, atol=1e-12)
    np.testing.assert_allclose(mpr.frame(vg.CORONAL)[:, 1], S, atol=1e-12)  # screen up stays Superior
    assert np.array_equal(mpr.frame(vg.AXIAL), vg.view_frame(vg.AXIAL))  # the view turned in keeps its plane
    assert mpr.geom(vg.AXIAL) == vg.AXIAL and isinstance(mpr.geom(vg.CORONAL), np.ndarray)
    assert mpr.tilt_deg(vg.CORONAL) == pytest.approx(30.0)
    # the coronal plane's crosshair line in the axial view runs at 30 degrees to the screen's horizontal
    d = vg.view_frame(vg.AXIAL).T @ mpr.line_direction(vg.AXIAL, vg.CORONAL)
    assert np.degrees(np.arctan2(d[1], d[0])) % 180.0 == pytest.approx(30.0)
    # an oblique frame is a valid view frame for every geometry function
    vg.view_frame(mpr.geom(vg.CORONAL))
    mpr.reset()
    assert not mpr.is_oblique
    for v in vg.VIEWS:
        assert np.array_equal(mpr.frame(v), vg.view_frame(v))  # exactly, not approximately
        assert mpr.geom(v) == v


def test_rotating_in_a_second_view_composes_double_oblique_and_planes_stay_perpendicular():
    mpr = vg.ObliqueMPR()
    seen = []
    mpr.subscribe(lambda: seen.append(1))
    mpr.rotate(vg.AXIAL, 30.0)
    n_cor = mpr.frame(vg.CORONAL)[:, 2].copy()
    mpr.rotate(vg.CORONAL, 20.0)  # about the (already oblique) coronal normal
    np.testing.assert_allclose(mpr.frame(vg.CORONAL)[:, 2], n_cor, atol=1e-12)
    n_ax = mpr.frame(vg.AXIAL)[:, 2]
    np.testing.assert_allclose(n_ax, vg.rotation_matrix(n_cor, 20.0) @ -S, atol=1e-12)
    assert mpr.tilt_deg(vg.AXIAL) == pytest.approx(20.0)
    sag = mpr.frame(vg.SAGITTAL)[:, 2]
    assert abs(sag @ S) > 1e-3 and abs(sag @ A) > 0.3  # double-oblique: tilted out of both standard axes
    f = mpr.frames()
    for a, b in ((vg.AXIAL, vg.CORONAL), (vg.AXIAL, vg.SAGITTAL), (vg.CORONAL, vg.SAGITTAL)):
        assert abs(f[a][:, 2] @ f[b][:, 2]) < 1e-12
    for _ in range(3600):  # many small drags neither drift from orthonormal nor from the sum of the angles
        mpr.rotate(vg.SAGITTAL, 0.1)
    for v in vg.VIEWS:
        np.testing.assert_allclose(mpr.frame(v).T @ mpr.frame(v), np.eye(3), atol=1e-12)
    np.testing.assert_allclose(mpr.frame(vg.SAGITTAL)[:, 2], sag, atol=1e-9)  # 360 degrees: back
    np.testing.assert_allclose(mpr.frame(vg.AXIAL)[:, 2], n_ax, atol=1e-9)
    assert len(seen) == 2 + 3600
    with pytest.raises(ValueError, match="finite"):
        mpr.rotate(vg.AXIAL, float("nan"))
    with pytest.raises(ValueError, match="unknown view"):
        mpr.rotate("oblique", 10.0)


def test_slice_stepping_follows_the_oblique_normal():
    from meddiag_desktop.core import Volume

    vol = Volume(np.zeros((40, 40, 40), np.int16), (1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0))
    mpr = vg.ObliqueMPR()
    mpr.rotate(vg.AXIAL, 30.0)
    cor = mpr.geom(vg.CORONAL)
    start = vol.center_lps()
    moved = vg.step_cursor(cor, vol, start, 5)
    d = moved - start
    n = vg.slice_axis(cor)
    np.testing.assert_allclose(d, n * (d @ n), atol=1e-9)  # along the oblique normal only
    assert d @ n == pytest.approx(5 * vg.slice_step(cor, vol), abs=vg.slice_step(cor, vol))


def test_show_plane_brings_back_an_oblique_measurements_plane_and_resets_for_a_standard_one():
    mpr = vg.ObliqueMPR()
    mpr.rotate(vg.AXIAL, 30.0)
    mpr.rotate(vg.SAGITTAL, -12.0)
    drawn = mpr.frame(vg.CORONAL)[:, 2].copy()  # a distance drawn in the double-oblique coronal view
    mpr.reset()
    assert mpr.show_plane(drawn) == vg.CORONAL
    np.testing.assert_allclose(abs(mpr.frame(vg.CORONAL)[:, 2] @ drawn), 1.0, atol=1e-12)
    f = mpr.frames()
    assert abs(f[vg.AXIAL][:, 2] @ f[vg.CORONAL][:, 2]) < 1e-12 and abs(f[vg.SAGITTAL][:, 2] @ f[vg.CORONAL][:, 2]) < 1e-12
    before = {v: m.copy() for v, m in mpr.rotations.items()}
    assert mpr.show_plane(-drawn) == vg.CORONAL  # already shown: nothing turns
    assert all(np.array_equal(before[v], mpr.rotations[v]) for v in vg.VIEWS)
    assert mpr.show_plane((0.0, 0.0, 1.0)) == vg.AXIAL and not mpr.is_oblique  # a standard plane: exact reset
