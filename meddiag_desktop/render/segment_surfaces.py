"""Segments as surfaces in the 3D view (VTK, no Qt): discrete flying edges, light smoothing, one colour per label.

:func:`label_surfaces` builds the meshes and touches no renderer, so it can run
on a worker thread; :class:`SegmentSurfaces` puts them in a renderer, placed in
LPS by the volume's direction and origin (like the volume rendering). Large label
maps are strided to at most ``max_dim`` voxels per axis first (as the volume
rendering is), which keeps a 512 x 512 x 300 chest at about a second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from vtkmodules.vtkCommonDataModel import vtkPolyData
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkFiltersCore import vtkPolyDataNormals, vtkWindowedSincPolyDataFilter
from vtkmodules.vtkFiltersGeneral import vtkDiscreteFlyingEdges3D
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper, vtkRenderer

from meddiag_desktop.core import Volume
from meddiag_desktop.render.image_data import image_from_array

__all__ = ["label_surfaces", "SegmentSurfaces", "MAX_DIM"]

#: voxels per axis at most before the meshes are built
MAX_DIM = 256


def label_surfaces(labels: np.ndarray, spacing: tuple[float, float, float], values: Iterable[int], *,
                   smooth_iterations: int = 15, max_dim: int = MAX_DIM,
                   cancel: Callable[[], bool] | None = None) -> dict[int, vtkPolyData]:
    """One smoothed surface per label value (in scaled-index space: ``spacing * (i, j, k)``), empty ones left out.

    ``labels`` is ``[z, y, x]``; ``cancel()`` returning True stops between labels
    (what was built so far is returned).
    """
    factors = [max(1, int(np.ceil(n / max_dim))) for n in labels.shape[::-1]]  # x, y, z
    fx, fy, fz = factors
    arr = np.array(labels[::fz, ::fy, ::fx], order="C", copy=True)  # a snapshot: the reader may paint meanwhile
    image = image_from_array(arr, tuple(s * f for s, f in zip(spacing, factors)))
    present = set(np.unique(arr).tolist())
    out: dict[int, vtkPolyData] = {}
    for value in values:
        if cancel is not None and cancel():
            break
        if int(value) == 0 or int(value) not in present:
            continue
        edges = vtkDiscreteFlyingEdges3D()
        edges.SetInputData(image)
        edges.SetValue(0, float(value))
        edges.ComputeNormalsOff()
        edges.ComputeGradientsOff()
        edges.ComputeScalarsOff()
        smooth = vtkWindowedSincPolyDataFilter()
        smooth.SetInputConnection(edges.GetOutputPort())
        smooth.SetNumberOfIterations(int(smooth_iterations))
        smooth.SetPassBand(0.08)  # light: keeps small nodules their size
        smooth.BoundarySmoothingOff()
        smooth.FeatureEdgeSmoothingOff()
        smooth.NonManifoldSmoothingOn()
        smooth.NormalizeCoordinatesOn()
        normals = vtkPolyDataNormals()
        normals.SetInputConnection(smooth.GetOutputPort() if smooth_iterations > 0 else edges.GetOutputPort())
        normals.SplittingOff()
        normals.Update()
        poly = vtkPolyData()
        poly.DeepCopy(normals.GetOutput())
        if poly.GetNumberOfPoints():
            out[int(value)] = poly
    return out


class SegmentSurfaces:
    """The segment meshes in a 3D renderer, placed in patient space; hidden/shown as a whole."""

    def __init__(self, renderer: vtkRenderer) -> None:
        self.renderer = renderer
        self.actors: dict[int, vtkActor] = {}
        self.visible = True
        self._matrix = vtkMatrix4x4()

    def set_volume(self, volume: Volume | None) -> None:
        """Remove the surfaces and take the new volume's placement (direction, origin)."""
        self.clear()
        if volume is None:
            return
        affine = np.eye(4)
        affine[:3, :3] = volume.direction
        affine[:3, 3] = volume.origin
        for r in range(4):
            for c in range(4):
                self._matrix.SetElement(r, c, float(affine[r, c]))

    def set_surfaces(self, surfaces: dict[int, vtkPolyData], colors: dict[int, tuple[float, float, float]],
                     replace: bool = True, opacities: dict[int, float] | None = None) -> None:
        """Show ``surfaces`` (label -> mesh) in ``colors`` (label -> 0..1 RGB); ``replace`` drops the others.

        ``opacities`` (label -> 0..1, default 1) lets an enclosing organ show what lies inside it.
        """
        if replace:
            self.clear()
        for value, poly in surfaces.items():
            old = self.actors.pop(value, None)
            if old is not None:
                self.renderer.RemoveActor(old)
            mapper = vtkPolyDataMapper()
            mapper.SetInputData(poly)
            mapper.ScalarVisibilityOff()
            actor = vtkActor()
            actor.SetMapper(mapper)
            actor.SetUserMatrix(self._matrix)
            prop = actor.GetProperty()
            prop.SetColor(*colors.get(value, (1.0, 0.3, 0.3)))
            prop.SetOpacity(float((opacities or {}).get(value, 1.0)))
            prop.SetSpecular(0.2)
            prop.SetSpecularPower(20)
            actor.SetVisibility(self.visible)
            actor.PickableOff()
            self.renderer.AddActor(actor)
            self.actors[value] = actor

    def remove(self, values: Iterable[int]) -> None:
        for v in values:
            actor = self.actors.pop(int(v), None)
            if actor is not None:
                self.renderer.RemoveActor(actor)

    def set_visible(self, on: bool) -> None:
        self.visible = bool(on)
        for a in self.actors.values():
            a.SetVisibility(self.visible)

    def clear(self) -> None:
        self.remove(list(self.actors))

    def bounds_lps(self, value: int) -> np.ndarray | None:
        """LPS bounds ``(xmin, xmax, ymin, ymax, zmin, zmax)`` of a label's surface as placed."""
        a = self.actors.get(int(value))
        return None if a is None else np.asarray(a.GetBounds())
