"""Oblique MPR in the render layer: the resliced image of a tilted plate appears where the geometry predicts."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("vtkmodules.vtkRenderingCore")

from vtkmodules.util.numpy_support import vtk_to_numpy  # noqa: E402

from meddiag_desktop.core import Volume  # noqa: E402
from meddiag_desktop.core import view_geometry as vg  # noqa: E402
from meddiag_desktop.render.slice_view import SliceView  # noqa: E402

OFFSET = 20.0  # mm from the volume centre to the plate, along the plate's normal


def _plate_volume(normal: np.ndarray) -> Volume:
    """A 1 mm grid of -1000 with a 2 mm thick plate of 1000 at OFFSET mm along ``normal`` from the centre."""
    n = 80
    vol = Volume(np.full((n, n, n), -1000, np.int16), (1.0, 1.0, 1.0), origin=(-40.0, -30.0, -50.0))
    k, j, i = np.meshgrid(np.arange(n), np.arange(n), np.arange(n), indexing="ij")
    lps = vol.to_lps(np.stack([i, j, k], -1).reshape(-1, 3)).reshape(n, n, n, 3)
    dist = (lps - vol.center_lps()) @ normal - OFFSET
    vol.array[np.abs(dist) <= 1.0] = 1000
    return vol


def _image(sv: SliceView) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The resliced image and the view (u, v) of its pixel columns and rows."""
    sv.reslice.Update()
    out = sv.reslice.GetOutput()
    nu, nv, _ = out.GetDimensions()
    (ou, ov, _), (du, dv, _) = out.GetOrigin(), out.GetSpacing()
    img = vtk_to_numpy(out.GetPointData().GetScalars()).reshape(nv, nu).astype(float)
    return img, ou + du * np.arange(nu), ov + dv * np.arange(nv)


def _views(vol: Volume) -> dict[str, SliceView]:
    views = {}
    for v in vg.VIEWS:
        sv = SliceView(v)
        sv.set_volume(vol)
        views[v] = sv
    return views


def test_tilted_plate_is_a_band_where_predicted_and_fills_the_oblique_plane_parallel_to_it():
    mpr = vg.ObliqueMPR()
    mpr.rotate(vg.AXIAL, 30.0)
    plate_normal = mpr.frame(vg.CORONAL)[:, 2]  # the plate lies in the rotated coronal plane's orientation
    vol = _plate_volume(plate_normal)
    views = _views(vol)
    c = vol.center_lps()
    for sv in views.values():
        sv.set_oblique(mpr.frames())
        sv.set_cursor(c)
    assert views[vg.AXIAL].oblique_frame is None and views[vg.SAGITTAL].oblique_frame is not None
    assert views[vg.CORONAL].oblique_label() == "Oblique 30.0\u00b0"

    # sagittal (turned with the crosshair) cuts the plate along S: a vertical band OFFSET mm from the cursor
    sag = views[vg.SAGITTAL]
    img, us, vs = _image(sag)
    uc, vc, _ = vg.lps_to_view(sag.geom, c)
    right = sag.geom[:, 0]
    predicted = uc + OFFSET * float(plate_normal @ right) / 1.0  # plate_normal is -right here: uc - OFFSET
    assert predicted == pytest.approx(uc - OFFSET)
    rows = np.abs(vs - vc) < 15
    profile = img[rows].mean(axis=0)
    band = us[profile > 0]
    assert band.size and np.ptp(band) <= 3.0  # one narrow band, nowhere else
    weight = np.clip(profile + 1000.0, 0.0, None)
    centre = float((weight * us).sum() / weight.sum())
    assert abs(centre - predicted) < 0.3
    # the standard sagittal would show it 23.1 mm away (OFFSET / cos 30): the reslice really is oblique
    assert abs(centre - (uc - OFFSET / np.cos(np.radians(30.0)))) > 2.5

    # the oblique coronal through the cursor is parallel to the plate: no plate; moved onto it: all plate
    cor = views[vg.CORONAL]
    img, us, vs = _image(cor)
    inside = np.abs(us[None, :] - vg.lps_to_view(cor.geom, c)[0]) < 20
    inside = inside & (np.abs(vs[:, None] - vg.lps_to_view(cor.geom, c)[1]) < 20)
    assert img[inside].max() < -900
    cor.set_cursor(c + OFFSET * plate_normal)
    img, _, _ = _image(cor)
    assert img[inside].min() > 500 and img[inside].mean() > 950  # linear interpolation of a voxelised plate

    # reset: exactly the standard planes; the standard coronal through the same point cuts the
    # plate in a vertical band (2 mm / sin 30 = 4 mm wide) where the plate crosses that plane
    for sv in views.values():
        sv.set_oblique(None)
        sv.set_cursor(c + OFFSET * plate_normal)
    assert all(sv.oblique_frame is None and sv.geom == v for v, sv in views.items())
    assert views[vg.CORONAL].oblique_label() == ""
    cor = views[vg.CORONAL]
    img, us, vs = _image(cor)
    uc, vc, _ = vg.lps_to_view(vg.CORONAL, c)
    band = us[img[np.abs(vs - vc) < 15].mean(axis=0) > 0]
    # (p - c) . n = OFFSET with p - c = (dx, -OFFSET cos 30, 0) and n = (-sin 30, -cos 30, 0): dx = -10 mm
    assert band.mean() == pytest.approx(uc - OFFSET * (1 - np.cos(np.radians(30.0)) ** 2) / 0.5, abs=0.6)
    assert 3.0 <= np.ptp(band) + 1.0 <= 5.0


def test_crosshair_lines_turn_with_the_planes_and_take_their_colours():
    from meddiag_desktop.render.slice_view import VIEW_COLOURS

    vol = Volume(np.zeros((20, 20, 20), np.int16), (1.0, 1.0, 1.0))
    sv = SliceView(vg.AXIAL)
    sv.set_volume(vol)
    p0, p1 = np.array(sv._hpoints.GetPoint(0)), np.array(sv._hpoints.GetPoint(1))
    assert p0[1] == pytest.approx(p1[1])  # standard: horizontal
    mpr = vg.ObliqueMPR()
    mpr.rotate(vg.AXIAL, 30.0)
    sv.set_oblique(mpr.frames())
    assert sv.oblique_frame is None  # the axial plane itself did not turn
    for line, other in ((sv._hpoints, vg.CORONAL), (sv._vpoints, vg.SAGITTAL)):
        d = np.array(line.GetPoint(1)) - np.array(line.GetPoint(0))
        want = vg.view_frame(vg.AXIAL).T @ mpr.line_direction(vg.AXIAL, other)
        assert abs(d[0] * want[1] - d[1] * want[0]) / np.linalg.norm(d[:2]) < 1e-6  # parallel (float32 points)
        assert np.degrees(np.arctan2(d[1], d[0])) % 90.0 == pytest.approx(30.0)
    assert sv._hline.GetProperty().GetColor() == pytest.approx(VIEW_COLOURS[vg.CORONAL])
    assert sv._vline.GetProperty().GetColor() == pytest.approx(VIEW_COLOURS[vg.SAGITTAL])
    sv.set_oblique(None)
    d = np.array(sv._vpoints.GetPoint(1)) - np.array(sv._vpoints.GetPoint(0))
    assert d[0] == 0.0  # back to exactly vertical


def test_a_thick_slab_in_an_oblique_view_projects_along_the_oblique_normal():
    from meddiag_desktop.core.slab import Slab

    mpr = vg.ObliqueMPR()
    mpr.rotate(vg.AXIAL, 30.0)
    plate_normal = mpr.frame(vg.CORONAL)[:, 2]
    vol = _plate_volume(plate_normal)
    cor = SliceView(vg.CORONAL)
    cor.set_volume(vol)
    cor.set_oblique(mpr.frames())
    c = vol.center_lps()
    cor.set_cursor(c)
    img, us, vs = _image(cor)
    uc, vc, _ = vg.lps_to_view(cor.geom, c)
    inside = (np.abs(us[None, :] - uc) < 20) & (np.abs(vs[:, None] - vc) < 20)
    assert img[inside].max() < -900  # thin: the plate is 20 mm away
    cor.set_slab(Slab("mip", 2 * OFFSET + 6.0))  # reaches the plate, parallel to it: all of it
    img, _, _ = _image(cor)
    assert "MIP" in cor.slab_label() and img[inside].min() > 300 and img[inside].mean() > 900
    cor.set_slab(Slab("mip", 2 * OFFSET - 6.0))  # stops short of it
    img, _, _ = _image(cor)
    assert img[inside].max() < -900
