"""Thick-slab MIP / MinIP / average in the 2D views: exact voxels against the Qt-free definition."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("vtkmodules.vtkRenderingCore")

from vtkmodules.util.numpy_support import vtk_to_numpy  # noqa: E402

from meddiag_desktop.core import Volume  # noqa: E402
from meddiag_desktop.core import view_geometry as vg  # noqa: E402
from meddiag_desktop.core.slab import Slab, project_slab  # noqa: E402
from meddiag_desktop.render.slice_view import SliceView  # noqa: E402


def _image(sv: SliceView) -> np.ndarray:
    sv.reslice.Update()
    out = sv.reslice.GetOutput()
    nu, nv, _ = out.GetDimensions()
    return vtk_to_numpy(out.GetPointData().GetScalars()).reshape(nv, nu)


def _expected(sv: SliceView, vol: Volume, slab: Slab) -> np.ndarray:
    """The numpy projection looked up at each output pixel's voxel."""
    proj = project_slab(vol, sv.view, sv.cursor, slab)
    out = sv.reslice.GetOutput()
    nu, nv, _ = out.GetDimensions()
    (ou, ov, _), (du, dv, _) = out.GetOrigin(), out.GetSpacing()
    uu, vv = np.meshgrid(ou + du * np.arange(nu), ov + dv * np.arange(nv))
    lps = vg.view_to_lps(sv.view, np.stack([uu, vv, np.zeros_like(uu)], -1).reshape(-1, 3))
    ijk = np.rint(vol.to_index(lps)).astype(int)
    d = vol.direction / np.linalg.norm(vol.direction, axis=0)
    normal_axis = int(np.argmax(np.abs(vg.slice_axis(sv.view) @ d)))
    keep = [a for a in range(3) if a != normal_axis]  # x, y, z index axes left in the projection
    rows, cols = ijk[:, keep[1]], ijk[:, keep[0]]  # projection is [.., ..] in array order (z, y, x minus one)
    return proj[rows, cols].reshape(nv, nu)


@pytest.mark.parametrize("view", vg.VIEWS)
@pytest.mark.parametrize("flip", [False, True])
def test_slab_matches_numpy_definition_in_every_view(view, flip):
    rng = np.random.default_rng(3)
    arr = rng.integers(-1000, 1000, size=(14, 12, 10), dtype=np.int16)
    direction = np.diag([-1.0, 1.0, -1.0]) if flip else np.eye(3)  # index axes against L and S
    vol = Volume(arr, (0.8, 1.1, 2.5), origin=(3.0, -7.0, 11.0), direction=direction)
    sv = SliceView(view)
    sv.set_volume(vol)
    for mode in ("mip", "minip", "mean"):
        for thickness, ijk in ((10.0, (4, 5, 6)), (6.0, (0, 0, 0)), (4.0, (9, 11, 13))):  # ends: a thinner slab
            slab = Slab(mode, thickness)
            sv.set_slab(slab)
            sv.set_cursor(vol.to_lps(ijk))
            got = _image(sv)
            want = _expected(sv, vol, slab)
            if mode == "mean":
                np.testing.assert_allclose(got, want, atol=0.5)  # int16 output: rounded
            else:
                np.testing.assert_array_equal(got, want)
    sv.set_slab(None)
    thin = _image(sv)
    sv.set_slab(Slab("mip", 10.0))
    assert (_image(sv) >= thin).all() and (_image(sv) > thin).any()


def test_bright_voxel_3mm_off_the_slice_shows_in_10mm_mip_not_in_4mm():
    arr = np.zeros((30, 20, 20), np.int16)
    arr[18, 7, 9] = 900  # 3 slices of 1 mm above the cursor's slice 15
    arr[11, 3, 3] = -700  # 4 mm below
    vol = Volume(arr, (0.7, 0.7, 1.0))
    sv = SliceView("axial")
    sv.set_volume(vol)
    sv.set_cursor(vol.to_lps((5, 5, 15)))
    assert _image(sv).max() == 0  # the thin slice does not show it
    sv.set_slab(Slab("mip", 10.0))
    assert _image(sv).max() == 900
    sv.set_slab(Slab("mip", 4.0))
    assert _image(sv).max() == 0
    sv.set_slab(Slab("minip", 10.0))
    assert _image(sv).min() == -700
    sv.set_slab(Slab("minip", 6.0))  # +-3 mm: the -700 voxel 4 mm away is outside
    assert _image(sv).min() == 0
    sv.set_slab(Slab("mean", 10.0))  # 11 layers: 900 / 11 rounds to 82
    img = _image(sv)
    assert img.max() == 82 and img.min() == -64  # -700 / 11


def test_slab_in_the_corner_text():
    vol = Volume(np.zeros((10, 8, 8), np.int16), (1.0, 1.0, 2.0), metadata={"modality": "CT"})
    sv = SliceView("coronal")
    sv.set_volume(vol)
    sv.set_slab(Slab("mip", 10.0))
    assert "MIP 10.0 mm" in sv.corner_text.GetText(3).split("\n")
    sv.set_slab(Slab("minip", 5.0))
    assert "MinIP 5.0 mm" in sv.corner_text.GetText(3).split("\n")
    sv.set_slab(None)
    assert "mm" not in sv.corner_text.GetText(3)
