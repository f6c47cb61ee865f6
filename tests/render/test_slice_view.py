"""The VTK slice pipeline shows each voxel at its patient position, for any acquisition orientation."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("vtkmodules.vtkImagingCore")

from vtkmodules.util.numpy_support import vtk_to_numpy  # noqa: E402

from meddiag_desktop.core import Volume  # noqa: E402
from meddiag_desktop.core import view_geometry as vg  # noqa: E402
from meddiag_desktop.render.image_data import downsample_for_3d, image_from_volume  # noqa: E402
from meddiag_desktop.render.slice_view import SliceView  # noqa: E402

_c, _s = np.cos(np.radians(30)), np.sin(np.radians(30))
DIRECTIONS = {
    "identity": np.eye(3),
    "flipped": np.diag([-1.0, -1.0, 1.0]),
    "sagittal": np.array([[0, 1, 0], [0, 0, -1], [-1, 0, 0]], float).T,
    "coronal": np.array([[1, 0, 0], [0, 0, -1], [0, -1, 0]], float).T,
    "oblique30": np.array([[1, 0, 0], [0, _c, _s], [0, -_s, _c]], float).T,
}


def marker_volume(direction: np.ndarray) -> tuple[Volume, np.ndarray]:
    arr = np.zeros((24, 30, 36), np.int16)  # z, y, x
    ijk = np.array([25, 9, 15])
    arr[ijk[2] - 1 : ijk[2] + 2, ijk[1] - 1 : ijk[1] + 2, ijk[0] - 1 : ijk[0] + 2] = 1000  # 3x3x3 cube
    vol = Volume(arr, spacing=(1.0, 1.0, 1.5), origin=(10.0, -20.0, 5.0), direction=direction, metadata={"modality": "CT"})
    return vol, vol.to_lps(ijk)


def resliced(sv: SliceView) -> tuple[np.ndarray, tuple[float, ...], tuple[float, ...]]:
    sv.reslice.Update()
    out = sv.reslice.GetOutput()
    nx, ny, _ = out.GetDimensions()
    pixels = vtk_to_numpy(out.GetPointData().GetScalars()).reshape(ny, nx)
    return pixels, out.GetOrigin(), out.GetSpacing()


@pytest.mark.parametrize("name", list(DIRECTIONS))
@pytest.mark.parametrize("view", vg.VIEWS)
def test_marker_at_its_view_position(name, view):
    vol, marker = marker_volume(DIRECTIONS[name])
    sv = SliceView(view)
    sv.set_volume(vol)
    sv.set_cursor(marker)
    pixels, origin, spacing = resliced(sv)
    u, v, _ = vg.lps_to_view(view, marker)
    col = int(round((u - origin[0]) / spacing[0]))
    row = int(round((v - origin[1]) / spacing[1]))
    assert pixels[row, col] == 1000
    # the bright cube is 3 voxels wide: 4 mm away along either screen axis it is gone
    for du, dv in ((4.5, 0), (-4.5, 0), (0, 4.5), (0, -4.5)):
        c = int(round((u + du - origin[0]) / spacing[0]))
        r = int(round((v + dv - origin[1]) / spacing[1]))
        assert pixels[r, c] == 0


def test_reslice_shares_the_numpy_buffer():
    vol, _ = marker_volume(np.eye(3))
    image = image_from_volume(vol)
    scalars = vtk_to_numpy(image.GetPointData().GetScalars())
    assert np.shares_memory(scalars, vol.array)


def test_downsample_for_3d_keeps_origin_and_scales_spacing():
    vol = Volume(np.zeros((600, 100, 513), np.int16), spacing=(0.5, 0.5, 1.0))
    arr, spacing = downsample_for_3d(vol, 256)
    assert arr.shape == (200, 100, 171)
    assert spacing == (1.5, 0.5, 3.0)


def test_display_view_mapping_roundtrip():
    vol, marker = marker_volume(np.eye(3))
    sv = SliceView("coronal")
    sv.set_volume(vol)
    sv.set_zoom(2.5)
    sv.pan_by_display(13, -7)
    d = sv.lps_to_display(marker)
    lps = sv.display_to_lps(*d)
    f = vg.view_frame("coronal")
    assert np.allclose(lps @ f[:, :2], marker @ f[:, :2])


def test_label_overlay_follows_the_slice_and_lut():
    vol, marker = marker_volume(DIRECTIONS["oblique30"])
    labels = (vol.array > 0).astype(np.uint8) * 2  # label 2 where the cube is
    sv = SliceView("axial")
    sv.set_volume(vol)
    sv.set_cursor(marker)
    lut = np.array([[0, 0, 0, 0], [0, 255, 0, 255], [255, 0, 0, 200]], np.uint8)
    sv.set_overlay(labels, lut)
    _, reslice, colours, _ = sv._overlay
    colours.Update()
    out = colours.GetOutput()
    nx, ny, _ = out.GetDimensions()
    rgba = vtk_to_numpy(out.GetPointData().GetScalars()).reshape(ny, nx, 4)
    origin, spacing = out.GetOrigin(), out.GetSpacing()
    u, v, _ = vg.lps_to_view("axial", marker)
    col, row = int(round((u - origin[0]) / spacing[0])), int(round((v - origin[1]) / spacing[1]))
    assert rgba[row, col].tolist() == [255, 0, 0, 200]
    assert rgba[0, 0, 3] == 0  # label 0: transparent
    with pytest.raises(ValueError):
        sv.set_overlay(np.zeros((2, 2, 2), np.uint8))
    sv.set_overlay(None)
    assert sv._overlay is None
