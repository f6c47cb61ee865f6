"""The slice pipeline shows a single oblique image in its own plane, voxel for voxel (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("vtkmodules.vtkImagingCore")

from vtkmodules.util.numpy_support import vtk_to_numpy  # noqa: E402

from meddiag_desktop.core import Volume  # noqa: E402
from meddiag_desktop.core import view_geometry as vg  # noqa: E402
from meddiag_desktop.core.measurements import Measurement  # noqa: E402
from meddiag_desktop.render.measurement_layer import MeasurementLayer  # noqa: E402
from meddiag_desktop.render.slice_view import IMAGE_PLANE_TITLE, SliceView  # noqa: E402

ROW = np.array([0.569486, 0.822001, 0.0]) / np.linalg.norm([0.569486, 0.822001, 0.0])  # as MR2_UNCR.dcm
COL = np.array([0.0, 0.0, -1.0])


def oblique_image(nx: int = 36, ny: int = 28) -> Volume:
    arr = ((np.arange(nx * ny).reshape(1, ny, nx) * 37) % 2000).astype(np.int16)
    direction = np.column_stack([ROW, COL, np.cross(ROW, COL)])
    return Volume(arr, spacing=(0.8, 1.1, 6.0), origin=(-30.0, 12.0, 50.0), direction=direction,
                  metadata={"modality": "MR"})


def test_nearest_view_reslices_the_image_exactly_as_stored():
    vol = oblique_image()
    sv = SliceView(vg.SAGITTAL)
    sv.set_volume(vol)
    assert sv.frame_override is not None and sv.geom is sv.frame_override
    assert sv.aligned  # pixels are voxels: nearest-neighbour, no interpolation
    assert [sv.letters.GetText(s) for s in (6, 5, 7, 4)] == ["AR", "PL", "S", "I"]  # left, right, top, bottom
    sv.reslice.Update()
    out = sv.reslice.GetOutput()
    nx, ny, _ = out.GetDimensions()
    pixels = vtk_to_numpy(out.GetPointData().GetScalars()).reshape(ny, nx)
    # output rows run up the screen: the image's first row is the top one, its first column the left one
    assert np.array_equal(pixels, vol.array[0][::-1])
    assert sv.corner_text.GetText(3).split("\n")[0] == IMAGE_PLANE_TITLE
    assert sv.slice_info().count == 1
    # display <-> LPS round trip through the in-plane frame
    sv.renderer.SetViewport(0, 0, 1, 1)
    for ijk in [(0, 0, 0), (35, 27, 0), (12, 20, 0)]:
        lps = vol.to_lps(ijk)
        assert np.allclose(sv.display_to_lps(*sv.lps_to_display(lps)), lps)


def test_other_views_and_stacks_keep_their_standard_frames():
    vol = oblique_image()
    for view in (vg.AXIAL, vg.CORONAL):
        sv = SliceView(view)
        sv.set_volume(vol)
        assert sv.frame_override is None and sv.geom == view
    stack = Volume(np.zeros((3, 28, 36), np.int16), (0.8, 1.1, 6.0), (0, 0, 0), vol.direction)
    sv = SliceView(vg.SAGITTAL)
    sv.set_volume(vol)
    sv.set_volume(stack)  # the next volume resets the override
    assert sv.frame_override is None and np.array_equal(sv.frame, vg.view_frame(vg.SAGITTAL))
    assert sv.letters.GetText(5) == "P"


def test_measurements_in_the_image_plane_are_drawn():
    vol = oblique_image()
    sv = SliceView(vg.SAGITTAL)
    sv.set_volume(vol)
    layer = MeasurementLayer(sv)
    a, b = vol.to_lps((5, 5, 0)), vol.to_lps((25, 5, 0))
    m = Measurement("distance", [tuple(a), tuple(b)], tuple(sv.frame[:, 2]))
    layer.update([m], {m.id: "16.0 mm"})
    assert layer.visible_ids == [m.id]
    uv = vg.lps_to_view(sv.geom, np.array([a, b]))
    assert uv[1, 0] - uv[0, 0] == pytest.approx(20 * 0.8) and uv[1, 1] == pytest.approx(uv[0, 1])  # along screen right
    tilted = Measurement("distance", [tuple(a), tuple(b)], tuple(vg.view_frame(vg.SAGITTAL)[:, 2]))
    layer.update([tilted], {tilted.id: ""})
    assert layer.visible_ids == []  # drawn in another plane


def test_image_stays_shown_whatever_the_cursor():
    vol = oblique_image()
    sv = SliceView(vg.SAGITTAL)
    sv.set_volume(vol)
    centre = vol.center_lps()
    sv.set_cursor(centre + sv.frame[:, 2] * 25.0)  # e.g. stepped along a standard axis by cine
    sv.reslice.Update()
    out = sv.reslice.GetOutput()
    nx, ny, _ = out.GetDimensions()
    assert np.array_equal(vtk_to_numpy(out.GetPointData().GetScalars()).reshape(ny, nx), vol.array[0][::-1])
    assert np.allclose(sv.display_to_lps(*sv.lps_to_display(centre)), centre)  # clicks land on the image
