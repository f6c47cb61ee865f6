"""Thick-slab projection of a 2D view (MIP, MinIP, average): which voxel layers, in mm along the normal.

A slab of thickness ``t`` mm in a view holds the voxel layers of that view whose
centres lie within ``t / 2`` of the current slice (the slice nearest the cursor),
counted along the view's slice axis with the spacing of :func:`view_geometry.slice_step`
(so a 10 mm axial slab of 2.5 mm slices holds 5 layers, of 1 mm slices 11). Layers
beyond the volume's first or last slice are left out, never filled with background:
at the volume's ends the slab is thinner, and the MinIP stays honest.

This module defines the slab (:func:`slab_layers`, :func:`slab_center`), where its
layers lie in the voxel array of a volume aligned with the view (:func:`slab_block`),
and the projection of those layers (:func:`reduce_layers`, :func:`project_slab`). The
render layer projects an aligned volume's slab with :func:`reduce_layers` over the
contiguous block (fast, and value for value what ``vtkImageReslice``'s slab mode
gives) and an oblique one with ``vtkImageReslice``'s slab mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core import view_geometry as vg

if TYPE_CHECKING:
    from meddiag_desktop.core.volume import Volume

__all__ = [
    "MODES", "MODE_LABELS", "Slab", "slab_layers", "slab_center", "slab_block", "reduce_layers", "project_slab",
    "THICKNESS_PRESETS",
]

#: slab projections: ``"mip"`` maximum, ``"minip"`` minimum, ``"mean"`` average
MODES: tuple[str, ...] = ("mip", "minip", "mean")
#: the name of each mode as shown in the corner text and the tool bar
MODE_LABELS: dict[str, str] = {"mip": "MIP", "minip": "MinIP", "mean": "Average"}
#: thicknesses (mm) offered in the tool bar (any positive value is valid)
THICKNESS_PRESETS: tuple[float, ...] = (3.0, 5.0, 10.0, 15.0, 20.0, 30.0)


@dataclass(frozen=True)
class Slab:
    """A slab projection: ``mode`` (one of :data:`MODES`) over ``thickness`` mm."""

    mode: str = "mip"
    thickness: float = 10.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown slab mode {self.mode!r}; expected one of {', '.join(MODES)}")
        if not np.isfinite(self.thickness) or self.thickness <= 0:
            raise ValueError(f"slab thickness must be a positive number of mm, got {self.thickness}")

    @property
    def label(self) -> str:
        """Corner-text label, e.g. ``"MIP 10.0 mm"``."""
        return f"{MODE_LABELS[self.mode]} {self.thickness:.1f} mm"


def slab_layers(view: vg.ViewLike, volume: "Volume", cursor_lps, thickness: float) -> tuple[int, int]:
    """First and last slice numbers (inclusive, along the view's slice axis) of a slab around the cursor.

    The slab is centred on the slice nearest the cursor (:func:`view_geometry.slice_info`) and
    holds the slices whose centres are within ``thickness / 2`` mm of it, clipped to the volume.
    """
    info = vg.slice_info(view, volume, cursor_lps)
    half = int(np.floor(thickness / 2.0 / info.step + 1e-6))
    return max(info.index - half, 0), min(info.index + half, info.count - 1)


def slab_center(view: vg.ViewLike, volume: "Volume", cursor_lps, thickness: float) -> tuple[np.ndarray, int]:
    """The LPS point whose plane is the middle of the slab, and its number of layers.

    The point is the cursor moved along the slice axis, so the plane through it with
    layers ``step`` mm apart on both sides hits exactly the layers of :func:`slab_layers`.
    """
    info = vg.slice_info(view, volume, cursor_lps)
    lo, hi = slab_layers(view, volume, cursor_lps, thickness)
    middle = info.first + (lo + hi) / 2.0 * info.step
    point = np.asarray(cursor_lps, float) + vg.slice_axis(view) * (middle - info.position)
    return point, hi - lo + 1


def slab_block(view: vg.ViewLike, volume: "Volume", cursor_lps, thickness: float) -> tuple[int, int, int]:
    """Where the layers of :func:`slab_layers` lie in ``volume.array``: ``(axis, first, last)``.

    The slab is ``volume.array`` indexed ``first..last`` (inclusive) along array axis
    ``axis`` (0: k, 1: j, 2: i; the array is ``[z, y, x]``): a contiguous block, since
    the slice numbers of the view run along one index axis, forwards or backwards.
    Only for volumes whose index axes are aligned with ``view``
    (:func:`view_geometry.is_aligned`).
    """
    if not vg.is_aligned(view, volume):
        raise ValueError("slab_block needs a volume aligned with the view; the renderer handles oblique ones")
    d = np.asarray(volume.direction, float)
    d = d / np.linalg.norm(d, axis=0)
    axis_xyz = int(np.argmax(np.abs(vg.slice_axis(view) @ d)))
    lo, hi = slab_layers(view, volume, cursor_lps, thickness)
    positive = float(vg.slice_axis(view) @ d[:, axis_xyz]) > 0  # slice numbers grow with the index?
    n = volume.shape_xyz[axis_xyz]
    first, last = (lo, hi) if positive else (n - 1 - hi, n - 1 - lo)
    return 2 - axis_xyz, first, last


def reduce_layers(layers: np.ndarray, axis: int, mode: str) -> np.ndarray:
    """The projection of a block of layers along ``axis``, in the block's dtype, as the 2D views show it.

    ``"mip"``/``"minip"``: the largest/smallest value, layer by layer in order (a
    float NaN is kept or dropped as ``a if a > b else b`` does). ``"mean"``: the layers
    summed in float64 in order, times ``1 / n``, then for an integer dtype rounded half up
    (``floor(x + 0.5)``). This is, value for value, ``vtkImageReslice``'s slab mode with
    nearest-neighbour sampling at the same layers (tests/render/test_slab_fast_path.py).
    """
    if mode not in MODES:
        raise ValueError(f"unknown slab mode {mode!r}; expected one of {', '.join(MODES)}")
    n = layers.shape[axis]
    if n < 1:
        raise ValueError("a slab needs at least one layer")
    integer = np.issubdtype(layers.dtype, np.integer) or layers.dtype == np.bool_

    def layer(i: int) -> np.ndarray:  # a view, not a copy
        return layers[(slice(None),) * axis + (i,)]

    if mode == "mean":
        if integer and layers.dtype.itemsize <= 4:  # an exact integer sum: so is every partial sum in float64
            small = layers.dtype.itemsize <= 2 and n <= 32768  # |sum| < 2**31
            mean = layers.sum(axis=axis, dtype=np.int32 if small else np.int64) * (1.0 / n)
        else:
            mean = layer(0).astype(np.float64)
            for i in range(1, n):
                mean += layer(i)
            mean *= 1.0 / n
        if integer:
            np.add(mean, 0.5, out=mean)
            np.floor(mean, out=mean)
        return mean.astype(layers.dtype)
    out = layers.max(axis=axis) if mode == "mip" else layers.min(axis=axis)
    if integer or not np.isnan(out).any():  # numpy's max/min spread any NaN: without one, order does not matter
        return out
    out = layer(0).copy()
    for i in range(1, n):
        keep = out > layer(i) if mode == "mip" else out < layer(i)
        out = np.where(keep, out, layer(i))
    return out


def project_slab(volume: "Volume", view: str, cursor_lps, slab: Slab) -> np.ndarray:
    """The slab projection through the cursor as a 2D numpy array (reference implementation).

    Only for volumes whose index axes are aligned with ``view``
    (:func:`view_geometry.is_aligned`); rows and columns are in the volume's index
    order (the projection of ``volume.array`` along the index axis normal to the view).
    The mean is the exact float64 average (the views show :func:`reduce_layers`,
    rounded to the volume's dtype).
    """
    if volume.is_rgb:
        raise ValueError("slab projections are for greyscale volumes")
    if not vg.is_aligned(view, volume):
        raise ValueError("project_slab needs a volume aligned with the view; the renderer handles oblique ones")
    axis_arr, first, last = slab_block(view, volume, cursor_lps, slab.thickness)
    layers = np.take(volume.array, np.arange(first, last + 1), axis=axis_arr)
    if slab.mode == "mip":
        return layers.max(axis=axis_arr)
    if slab.mode == "minip":
        return layers.min(axis=axis_arr)
    return layers.astype(np.float64).mean(axis=axis_arr)
