"""Resampling between a source :class:`Volume` grid and a model's canonical grid (SimpleITK).

The model grid covers the source's physical extent, with the model's spacing and
axes along LPS or RAS (or the source's own axes for ``native``). Labels come back
to the source grid with nearest-neighbour interpolation, so results line up voxel
for voxel with the source, oblique acquisitions included.

SimpleITK (about 0.2 s to import) is imported by the functions that resample, so
the viewer can list plugins and build its AI panel without it.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.volume import Volume

if TYPE_CHECKING:
    import SimpleITK as sitk

__all__ = ["Grid", "model_grid", "source_grid", "volume_to_sitk", "resample_to_grid", "resample_array_to_source"]

_AXES = {"LPS": np.eye(3), "RAS": np.diag([-1.0, -1.0, 1.0])}


@dataclass(frozen=True)
class Grid:
    """A voxel grid: size and spacing ``(x, y, z)``, LPS origin, direction columns (ITK convention)."""

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...]  # row-major 3x3, as SimpleITK wants it

    def reference_image(self) -> sitk.Image:
        import SimpleITK as sitk

        img = sitk.Image([int(s) for s in self.size], sitk.sitkUInt8)
        img.SetSpacing(self.spacing)
        img.SetOrigin(self.origin)
        img.SetDirection(self.direction)
        return img

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        return (self.size[2], self.size[1], self.size[0])


def source_grid(volume: Volume) -> Grid:
    """The grid of ``volume`` itself."""
    return Grid(
        tuple(int(s) for s in volume.shape_xyz),
        tuple(volume.spacing),
        tuple(volume.origin),
        tuple(float(v) for v in np.asarray(volume.direction).ravel()),
    )


def model_grid(volume: Volume, spacing: tuple[float, float, float] | None, orientation: str = "LPS") -> Grid:
    """Grid with the model's spacing/orientation covering the whole physical extent of ``volume``."""
    if orientation == "native" or orientation not in _AXES:
        axes = np.asarray(volume.direction, dtype=float)
    else:
        axes = _AXES[orientation]
    spacing = tuple(float(s) for s in (spacing or volume.spacing))
    nx, ny, nz = volume.shape_xyz
    # physical box: voxel centres of the corners +- half a voxel
    corners = np.array([[i, j, k] for i in (-0.5, nx - 0.5) for j in (-0.5, ny - 0.5) for k in (-0.5, nz - 0.5)])
    lps = volume.to_lps(corners)
    local = lps @ axes  # coordinates along the new axes (columns of axes)
    lo, hi = local.min(axis=0), local.max(axis=0)
    size = np.maximum(1, np.ceil((hi - lo) / np.asarray(spacing) - 1e-6)).astype(int)
    first = lo + np.asarray(spacing) / 2  # centre of the first new voxel
    origin = axes @ first
    return Grid(tuple(int(s) for s in size), spacing, tuple(float(o) for o in origin), tuple(axes.ravel()))


def volume_to_sitk(volume: Volume, array: np.ndarray | None = None) -> sitk.Image:
    """SimpleITK image of ``volume`` (or of ``array`` on the volume's grid)."""
    import SimpleITK as sitk

    arr = np.ascontiguousarray(volume.array if array is None else array)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(volume.spacing)
    img.SetOrigin(volume.origin)
    img.SetDirection(tuple(float(v) for v in np.asarray(volume.direction).ravel()))
    return img


_FLOAT_MEMO: dict = {}  # the last read-only volume's image: id -> (weakref, array, geometry, image)

#: pixel types resampled as they are: every value is exactly a float32 (and ITK interpolates in double),
#: so the result equals that of the float32 copy, without making the copy (0.05 s on a 384x384x150 CT)
_EXACT_IN_FLOAT32 = (np.int8, np.uint8, np.int16, np.uint16, np.float32)


def _float_image(volume: Volume) -> sitk.Image:
    """``volume`` as a SimpleITK image whose values are float32 values: the study's own pixel type
    where every value is exactly a float32 (8- and 16-bit integers), else a float32 copy.

    Made once for a read-only volume (the worker's), so a classifier resampling a patch per
    nodule does not convert the whole study again for each one.
    """
    import weakref

    import SimpleITK as sitk

    arr = volume.array
    geometry = (tuple(volume.spacing), tuple(volume.origin), tuple(np.asarray(volume.direction, float).ravel()))
    frozen = isinstance(arr, np.ndarray) and not arr.flags.writeable
    if frozen:
        hit = _FLOAT_MEMO.get(id(volume))
        if hit is not None and hit[0]() is volume and hit[1] is arr and hit[2] == geometry:
            return hit[3]
    img = volume_to_sitk(volume)
    if np.asarray(arr).dtype.type not in _EXACT_IN_FLOAT32:
        img = sitk.Cast(img, sitk.sitkFloat32)
    if frozen:
        _FLOAT_MEMO.clear()
        _FLOAT_MEMO[id(volume)] = (weakref.ref(volume), arr, geometry, img)
    return img


def resample_to_grid(volume: Volume, grid: Grid, pad_value: float = 0.0, linear: bool = True) -> np.ndarray:
    """Source intensities on ``grid`` (float32 ``[z, y, x]``); outside the source: ``pad_value``."""
    import SimpleITK as sitk

    img = _float_image(volume)
    out = sitk.Resample(
        img,
        grid.reference_image(),
        sitk.Transform(),
        sitk.sitkLinear if linear else sitk.sitkNearestNeighbor,
        float(pad_value),
        sitk.sitkFloat32,
    )
    return sitk.GetArrayFromImage(out)


def resample_array_to_source(array: np.ndarray, grid: Grid, volume: Volume, labels: bool = True) -> np.ndarray:
    """Bring ``array`` (``[z, y, x]`` on ``grid``) onto the source volume's grid.

    Labels use nearest neighbour and keep their integer type; other maps are
    linearly interpolated (float32). Outside the model grid the value is 0.
    """
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.ascontiguousarray(array))
    img.SetSpacing(grid.spacing)
    img.SetOrigin(grid.origin)
    img.SetDirection(grid.direction)
    ref = source_grid(volume).reference_image()
    if labels:
        out = sitk.Resample(img, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0, img.GetPixelID())
    else:
        img = sitk.Cast(img, sitk.sitkFloat32)
        out = sitk.Resample(img, ref, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(out)
