"""Share a :class:`~meddiag_desktop.core.Volume`'s voxels with VTK without copying."""

from __future__ import annotations

import numpy as np
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonDataModel import vtkImageData

from meddiag_desktop.core import Volume

__all__ = ["image_from_array", "image_from_volume", "downsample_for_3d"]


def image_from_array(array_zyx: np.ndarray, spacing: tuple[float, float, float]) -> vtkImageData:
    """A vtkImageData over ``array_zyx`` in scaled-index space (origin 0, identity direction).

    The voxels are shared, not copied, when the array is C-contiguous (the VTK
    array keeps a reference to it); an RGB array (z, y, x, 3) becomes a
    3-component image.
    """
    arr = np.ascontiguousarray(array_zyx)
    nz, ny, nx = arr.shape[:3]
    ncomp = arr.shape[3] if arr.ndim == 4 else 1
    scalars = numpy_support.numpy_to_vtk(arr.reshape(-1, ncomp) if ncomp > 1 else arr.reshape(-1), deep=False)
    scalars.SetName("values")
    image = vtkImageData()
    image.SetDimensions(nx, ny, nz)
    image.SetSpacing(*spacing)
    image.SetOrigin(0.0, 0.0, 0.0)
    image.GetPointData().SetScalars(scalars)
    image._meddiag_array = arr  # belt and braces: keep the buffer alive with the image
    return image


def image_from_volume(volume: Volume) -> vtkImageData:
    """The whole volume as a vtkImageData in scaled-index space (see :func:`image_from_array`)."""
    return image_from_array(volume.array, volume.spacing)


def downsample_for_3d(volume: Volume, max_dim: int = 256) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Voxels strided so that no axis exceeds ``max_dim``, and the matching spacing.

    Striding keeps voxel (0, 0, 0) in place, so the volume's origin and direction still apply.
    """
    factors = [max(1, int(np.ceil(n / max_dim))) for n in volume.shape_xyz]
    fx, fy, fz = factors
    arr = volume.array[::fz, ::fy, ::fx]
    spacing = tuple(s * f for s, f in zip(volume.spacing, factors))
    return np.ascontiguousarray(arr), spacing  # type: ignore[return-value]
