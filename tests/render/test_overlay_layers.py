"""Slice-view layers (several at once, filled or outlined), the AI legend and segment surfaces in 3D."""

from __future__ import annotations

import numpy as np
import pytest
from vtkmodules.vtkRenderingCore import vtkRenderer, vtkRenderWindow

from meddiag_desktop.core import Volume
from meddiag_desktop.render.overlay_layers import LegendEntry
from meddiag_desktop.render.segment_surfaces import SegmentSurfaces, label_surfaces
from meddiag_desktop.render.slice_view import SliceView

LUT = np.array([[0, 0, 0, 0], [0, 255, 0, 255], [255, 0, 0, 255]], np.uint8)


@pytest.fixture
def view():
    vol = Volume(np.zeros((10, 30, 30), np.int16), spacing=(1.0, 1.0, 2.0))
    sv = SliceView("axial")
    rw = vtkRenderWindow()
    rw.SetOffScreenRendering(1)
    rw.AddRenderer(sv.renderer)
    rw.SetSize(300, 300)
    sv.set_volume(vol)
    sv.set_cursor(vol.to_lps((15, 15, 5)))
    yield sv, vol, rw
    rw.Finalize()


def _painted(sv, layer):
    return sv.layers[layer].slice_rgba()[..., 3] > 0


def test_outline_keeps_only_the_edge_pixels_of_each_label(view):
    sv, vol, _ = view
    labels = np.zeros(vol.array.shape, np.uint8)
    labels[3:7, 10:20, 8:22] = 2  # 10 rows x 14 columns in the axial slice
    labels[3:7, 10:20, 22:25] = 1  # touching it on the right: 10 x 3
    sv.set_overlay(labels, LUT, layer="seg")
    assert _painted(sv, "seg").sum() == 140 + 30
    sv.set_overlay(labels, LUT, layer="seg", outline=True)
    rgba = sv.layers["seg"].slice_rgba()
    red = (rgba[..., 0] == 255) & (rgba[..., 3] > 0)
    green = (rgba[..., 1] == 255) & (rgba[..., 3] > 0)
    assert red.sum() == 2 * 10 + 2 * 14 - 4  # the rectangle's border, its inside left out
    assert green.sum() == 30 - 8  # 3 columns wide: only its middle column, rows 2-9, is inside


def test_segmentation_and_heat_map_are_separate_layers_shown_together(view):
    sv, vol, _ = view
    labels = np.zeros(vol.array.shape, np.uint8)
    labels[5, 5:10, 5:10] = 1
    heat = np.zeros(vol.array.shape, np.float32)
    heat[5, 15:25, 15:25] = 1.0
    sv.set_overlay(labels, LUT, layer="segmentation", depth=0.5)
    sv.set_overlay(heat, np.array([[255, 0, 0, 0], [255, 128, 0, 200]], np.uint8), (0.0, 1.0),
                   smooth=True, layer="classification", depth=0.45)
    assert set(sv.layers) == {"segmentation", "classification"}
    assert _painted(sv, "segmentation").sum() == 25 and _painted(sv, "classification").sum() >= 100
    actors = [sv.layers[n].actor for n in ("segmentation", "classification")]
    props = sv.renderer.GetViewProps()
    assert all(props.IsItemPresent(a) for a in actors)
    sv.set_overlay(None, layer="classification")  # e.g. a new classifier run: the segmentation stays
    assert list(sv.layers) == ["segmentation"] and sv._overlay[0] is actors[0]
    sv.set_volume(vol)  # a new study clears everything
    assert sv.layers == {} and sv._overlay is None


def test_label_map_edited_in_place_is_shown_after_modified(view):
    sv, vol, rw = view
    labels = np.zeros(vol.array.shape, np.uint8)
    sv.set_overlay(labels, LUT, layer="segmentation")
    rw.Render()
    assert _painted(sv, "segmentation").sum() == 0
    labels[5, 0:4, 0:5] = 1  # painted by the editor: same array, no copy
    sv.overlay_modified("segmentation")
    assert _painted(sv, "segmentation").sum() == 20


def test_legend_lines_sit_below_the_upper_left_corner_text(view):
    sv, _, rw = view
    sv.legend.set_entries([LegendEntry("AI: Chest CT seg 1.0.0", bold=True), LegendEntry("  nodule", (1, 0.7, 0))])
    rw.Render()
    assert sv.legend.texts == ["AI: Chest CT seg 1.0.0", "  nodule"]
    ys = [a.GetPosition()[1] for a in sv.legend.actors]
    assert ys[0] == 300 - sv.legend.top_offset and ys[1] < ys[0]
    assert all(sv.renderer.GetViewProps().IsItemPresent(a) for a in sv.legend.actors)
    sv.legend.set_entries([])
    assert sv.legend.actors == []


def test_surfaces_of_a_sphere_at_anisotropic_spacing_lie_where_the_sphere_is():
    spacing = (0.7, 0.7, 2.5)
    vol = Volume(np.zeros((30, 60, 60), np.int16), spacing=spacing, origin=(-20.0, 10.0, -100.0))
    k, j, i = np.indices(vol.array.shape)
    c = np.array([30, 30, 15])
    r = np.sqrt(((i - c[0]) * 0.7) ** 2 + ((j - c[1]) * 0.7) ** 2 + ((k - c[2]) * 2.5) ** 2)
    labels = np.where(r <= 8.0, 3, 0).astype(np.uint8)
    labels[2, 2, 2] = 5
    meshes = label_surfaces(labels, spacing, [3, 4, 5], smooth_iterations=10)
    assert set(meshes) == {3, 5}  # label 4 has no voxel
    surfaces = SegmentSurfaces(vtkRenderer())
    surfaces.set_volume(vol)
    surfaces.set_surfaces(meshes, {3: (1.0, 0.7, 0.0)})
    b = surfaces.bounds_lps(3).reshape(3, 2)
    centre = vol.to_lps(c)
    # the iso-surface lies half a voxel outside the last voxel centre: within 8 mm + half a voxel
    for axis, half in zip(range(3), (0.35, 0.35, 1.25)):
        assert centre[axis] - 8.0 - half - 0.3 <= b[axis, 0] <= centre[axis] - 8.0 + 0.3 + half
        assert centre[axis] + 8.0 - half - 0.3 <= b[axis, 1] <= centre[axis] + 8.0 + half + 0.3
    assert surfaces.actors[3].GetProperty().GetColor() == pytest.approx((1.0, 0.7, 0.0))
    surfaces.remove([3])
    assert set(surfaces.actors) == {5}


def test_a_deeper_layer_added_later_is_still_seen_through_the_upper_one(view):
    """Translucent layers must be drawn back to front: a full-slice segmentation quad (mostly
    transparent) on top must not hide the heat map under it, whatever order they were set in."""
    from vtkmodules.util import numpy_support
    from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter

    sv, vol, rw = view
    labels = np.zeros(vol.array.shape, np.uint8)
    labels[5, 0:3, 0:3] = 1  # far from the centre
    heat = np.ones(vol.array.shape, np.float32)
    sv.set_overlay(labels, LUT, layer="segmentation", depth=0.5)
    sv.set_overlay(heat, np.array([[0, 0, 0, 0], [255, 0, 0, 255]], np.uint8), (0.0, 1.0), smooth=True,
                   layer="classification", depth=0.45)
    sv.set_crosshair_visible(False)
    rw.Render()
    grab = vtkWindowToImageFilter()
    grab.SetInput(rw)
    grab.ReadFrontBufferOff()
    grab.Update()
    out = grab.GetOutput()
    w, h, _ = out.GetDimensions()
    px = numpy_support.vtk_to_numpy(out.GetPointData().GetScalars()).reshape(h, w, -1)
    assert tuple(px[h // 2, w // 2, :3]) == (255, 0, 0)  # the heat map shows at the centre
