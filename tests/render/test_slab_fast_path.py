"""Thick slabs projected in numpy (aligned views) are value for value vtkImageReslice's slab mode.

The 2D views project a slab whose layers are whole planes of the voxel array in numpy
(``SliceView.numpy_slab``, :func:`meddiag_desktop.core.slab.reduce_layers`); these tests
draw the same slabs with the numpy path off (``vtkImageReslice``'s slab mode, what the
views showed before) and require identical image arrays, on volumes we did not make:
nilearn's MNI152 template (float32, index axes against L and P, also restacked as a
sagittal acquisition and thinned to 3 mm anisotropic int16) and pydicom's multi-frame MR.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("vtkmodules.vtkRenderingCore")

from vtkmodules.util.numpy_support import vtk_to_numpy  # noqa: E402

from meddiag_desktop.core import Volume  # noqa: E402
from meddiag_desktop.core import view_geometry as vg  # noqa: E402
from meddiag_desktop.core.slab import MODES, Slab, reduce_layers, slab_layers  # noqa: E402
from meddiag_desktop.render.slice_view import SliceView  # noqa: E402


def _image(sv: SliceView) -> np.ndarray:
    sv.reslice.Update()
    out = sv.reslice.GetOutput()
    nu, nv, _ = out.GetDimensions()
    return vtk_to_numpy(out.GetPointData().GetScalars()).reshape(nv, nu).copy()


@pytest.fixture(scope="module")
def mni(mni152_nifti):
    """nilearn's MNI152 T1 template, opened by our loader."""
    from meddiag_desktop import io

    return io.load(mni152_nifti)


@pytest.fixture(scope="module")
def emri():
    from pydicom.data import get_testdata_file

    from meddiag_desktop import io

    return io.load(get_testdata_file("emri_small.dcm"))


def _variants(mni: Volume, emri: Volume) -> dict[str, Volume]:
    arr = mni.array
    # the same voxels stored as a sagittal acquisition: k runs to the patient's left
    sag = np.ascontiguousarray(np.transpose(arr, (2, 1, 0))[:, ::-1])  # [x, y reversed, z] -> k=L, j=-S.., i=...
    d = np.asarray(mni.direction, float)
    sag_dir = np.stack([d[:, 2], -d[:, 1], d[:, 0]], axis=1)  # columns: i, j, k directions
    thin = np.ascontiguousarray(np.rint(arr[::3] * 1000.0).astype(np.int16))  # 3 mm slices, integers (ties in the mean)
    return {
        "mni_float32_flipped": mni,
        "mni_sagittal_stack": Volume(sag, (mni.spacing[2], mni.spacing[1], mni.spacing[0]), origin=mni.origin,
                                     direction=sag_dir),
        "mni_int16_3mm": Volume(thin, (mni.spacing[0], mni.spacing[1], 3.0 * mni.spacing[2]), origin=mni.origin,
                                direction=mni.direction),
        "emri_small_int16": emri,
    }


def test_numpy_slab_equals_reslice_slab_mode_on_real_volumes(mni, emri):
    fast_axes, parities = set(), set()
    for name, vol in _variants(mni, emri).items():
        for view in vg.VIEWS:
            new, old = SliceView(view), SliceView(view)
            old.numpy_slab = False
            new.set_volume(vol)
            old.set_volume(vol)
            info = new.slice_info()
            step = info.step
            centre = vol.center_lps()
            # the middle, both ends (clipped slabs, odd and even layer counts) and one slice in from each end
            points = [centre] + [
                centre + vg.slice_axis(view) * (info.first + n * step - info.position)
                for n in (0, 1, info.count - 2, info.count - 1)
            ]
            for mode in MODES:
                for thickness in (10.0, 5.0 * step):  # 10 mm, and a slab of 5 or 6 layers
                    slab = Slab(mode, thickness)
                    new.set_slab(slab)
                    old.set_slab(slab)
                    for p in points:
                        new.set_cursor(p)
                        old.set_cursor(p)
                        lo, hi = slab_layers(view, vol, p, thickness)
                        if hi == lo:
                            continue
                        parities.add((hi - lo + 1) % 2)
                        assert old._slab_block is None and old.reslice.GetSlabNumberOfSlices() == hi - lo + 1
                        if new._slab_block is not None:
                            fast_axes.add(new._slab_block[0])
                            assert new._slab_block[2] - new._slab_block[1] == hi - lo
                        got, want = _image(new), _image(old)
                        assert got.dtype == want.dtype == vol.array.dtype
                        assert np.array_equal(got, want), f"{name} {view} {slab.label} at slice {lo}..{hi}"
    assert fast_axes == {0, 1}  # the numpy path ran for layers along k and along j
    assert parities == {0, 1}  # odd and even numbers of layers


def test_numpy_slab_keeps_vtk_nan_order_and_follows_voxels_changed_in_place():
    rng = np.random.default_rng(5)
    arr = rng.normal(0.0, 100.0, (12, 16, 14)).astype(np.float32)
    arr[5, 3, 4] = np.nan  # a NaN in the middle of a slab: VTK keeps or drops it depending on the layer order
    arr[7, 8, 9] = np.nan
    vol = Volume(arr, (0.9, 0.9, 2.0))
    for mode in MODES:
        new, old = SliceView("axial"), SliceView("axial")
        old.numpy_slab = False
        for sv in (new, old):
            sv.set_volume(vol)
            sv.set_slab(Slab(mode, 10.0))
            sv.set_cursor(vol.to_lps((4, 4, 6)))
        assert new._slab_block == (0, 4, 8)
        np.testing.assert_array_equal(_image(new), _image(old))
    # a series filling in: the voxels change in place and the image is marked modified
    new.volume.array[6] = 5000.0
    for sv in (new, old):
        sv._image.Modified()
    got = _image(new)
    np.testing.assert_array_equal(got, _image(old))
    assert np.nanmax(got) < 5000.0  # the mean over 5 layers moved, and no layer was left out


def test_reduce_layers_modes_and_rounding():
    block = np.array([[[1, -1, 3]], [[2, -2, 4]]], np.int16)  # 2 layers along axis 0
    np.testing.assert_array_equal(reduce_layers(block, 0, "mip"), [[2, -1, 4]])
    np.testing.assert_array_equal(reduce_layers(block, 0, "minip"), [[1, -2, 3]])
    np.testing.assert_array_equal(reduce_layers(block, 0, "mean"), [[2, -1, 4]])  # 1.5 -> 2, -1.5 -> -1: half up
    assert reduce_layers(block, 0, "mean").dtype == np.int16
    with pytest.raises(ValueError, match="unknown slab mode"):
        reduce_layers(block, 0, "sum")


def test_thread_count_follows_the_path():
    """A thin slice or a numpy slab is a strided copy (one thread); the reslice's slab mode uses every core."""
    import os

    vol = Volume(np.zeros((20, 16, 12), np.int16), (0.8, 0.8, 1.0))
    sv = SliceView("axial")
    sv.set_volume(vol)
    assert sv.reslice.GetNumberOfThreads() == 1
    sv.set_slab(Slab("mip", 10.0))
    assert sv._slab_block is not None and sv.reslice.GetNumberOfThreads() == 1
    sv.numpy_slab = False
    sv.set_slab(Slab("mip", 10.0))
    assert sv._slab_block is None and sv.reslice.GetNumberOfThreads() == (os.cpu_count() or 1)
    sv.set_slab(None)
    assert sv.reslice.GetNumberOfThreads() == 1 and sv.reslice.GetSlabNumberOfSlices() == 1
