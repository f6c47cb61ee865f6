"""Coloured layers over a 2D slice view, filled or outlined, and the on-image AI legend (VTK, no Qt).

A layer is a map on the volume's voxel grid (labels, a heat map) resliced with
the view's own reslice axes and coloured through a lookup table. Several
layers are drawn at once (e.g. a segmentation and a classifier's explanation
map), each at its own depth. A label layer can be drawn as an *outline*: only
the pixels of a label that touch another value in the slice (3 x 3
neighbourhood: the slice's maximum differs from its minimum there) keep their
colour, so the image under the segment stays visible.

The values are shared with VTK (:func:`~meddiag_desktop.render.image_data.image_from_array`),
so a label map edited in place is shown again after :meth:`OverlayLayer.modified`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from vtkmodules.vtkCommonCore import vtkLookupTable
from vtkmodules.vtkImagingCore import vtkImageBinaryThreshold, vtkImageMapToColors, vtkImageMask, vtkImageReslice
from vtkmodules.vtkImagingMath import vtkImageMathematics
from vtkmodules.vtkImagingMorphological import vtkImageContinuousDilate3D, vtkImageContinuousErode3D
from vtkmodules.vtkRenderingCore import vtkImageActor, vtkRenderer, vtkTextActor

__all__ = ["OverlayLayer", "Legend", "LegendEntry", "BrushCursor", "make_lut"]


def make_lut(table: np.ndarray, lo: float, hi: float) -> vtkLookupTable:
    """A VTK lookup table of ``n x 4`` uint8 colours spread over ``[lo, hi]``."""
    lut = vtkLookupTable()
    lut.SetNumberOfTableValues(len(table))
    for i, (r, g, b, a) in enumerate(np.asarray(table, np.uint8)):
        lut.SetTableValue(i, r / 255.0, g / 255.0, b / 255.0, a / 255.0)
    lut.SetTableRange(lo, hi if hi > lo else lo + 1.0)
    return lut


class OverlayLayer:
    """One coloured map over a slice view: reslice (same axes and output grid as the image) -> colours -> actor.

    Parameters
    ----------
    image:
        The map as vtkImageData in scaled-index space (like the volume's).
    axes:
        The slice view's reslice axes (a shared vtkMatrix4x4: the layer follows the slice).
    like:
        The image's vtkImageReslice, whose output spacing, origin and extent are copied.
    table, value_range:
        Colours (``n x 4`` uint8) and the value range spread over them.
    smooth:
        Linear interpolation (heat maps); nearest otherwise (labels).
    outline:
        Draw only the edges of each label in the slice.
    depth:
        z of the actor: above the image (0) and below the crosshair (1).
    """

    def __init__(self, image, axes, like: vtkImageReslice, table: np.ndarray,
                 value_range: tuple[float, float] | None = None, smooth: bool = False,
                 outline: bool = False, depth: float = 0.5) -> None:
        table = np.asarray(table, np.uint8)
        lo, hi = value_range if value_range is not None else (0.0, float(max(len(table) - 1, 1)))
        self.image = image
        self.outline = bool(outline) and not smooth
        self.reslice = vtkImageReslice()
        self.reslice.SetInputData(image)
        self.reslice.SetResliceAxes(axes)
        self.reslice.SetOutputDimensionality(2)
        self.reslice.SetOutputSpacing(like.GetOutputSpacing())
        self.reslice.SetOutputOrigin(like.GetOutputOrigin())
        self.reslice.SetOutputExtent(like.GetOutputExtent())
        self.reslice.SetBackgroundLevel(lo)
        if smooth:
            self.reslice.SetInterpolationModeToLinear()
        else:
            self.reslice.SetInterpolationModeToNearestNeighbor()
        source = self.reslice
        self._outline_filters: list = []
        if self.outline:
            source = self._edges(self.reslice)
        self.lut = make_lut(table, lo, hi)
        self.colours = vtkImageMapToColors()
        self.colours.SetLookupTable(self.lut)
        self.colours.SetOutputFormatToRGBA()
        self.colours.SetInputConnection(source.GetOutputPort())
        self.actor = vtkImageActor()
        self.actor.GetMapper().SetInputConnection(self.colours.GetOutputPort())
        self.actor.SetPosition(0.0, 0.0, float(depth))
        if smooth:
            self.actor.GetProperty().SetInterpolationTypeToLinear()
        else:
            self.actor.GetProperty().SetInterpolationTypeToNearest()
        self.actor.PickableOff()

    def _edges(self, labels: vtkImageReslice):
        """Labels kept only where the slice's 3x3 maximum differs from its minimum (the edges)."""
        dilate = vtkImageContinuousDilate3D()
        dilate.SetKernelSize(3, 3, 1)
        dilate.SetInputConnection(labels.GetOutputPort())
        erode = vtkImageContinuousErode3D()
        erode.SetKernelSize(3, 3, 1)
        erode.SetInputConnection(labels.GetOutputPort())
        diff = vtkImageMathematics()
        diff.SetOperationToSubtract()
        diff.SetInputConnection(0, dilate.GetOutputPort())
        diff.SetInputConnection(1, erode.GetOutputPort())
        edge = vtkImageBinaryThreshold()  # 1 where max - min >= 1, else 0
        edge.SetLowerThreshold(1.0)  # integer labels: a difference of at least 1
        edge.SetUpperThreshold(1e30)
        edge.SetInValue(1)
        edge.SetOutValue(0)
        edge.SetReplaceIn(True)
        edge.SetReplaceOut(True)
        edge.SetOutputScalarTypeToUnsignedChar()  # what vtkImageMask needs
        edge.SetInputConnection(diff.GetOutputPort())
        mask = vtkImageMask()
        mask.SetInputConnection(0, labels.GetOutputPort())
        mask.SetInputConnection(1, edge.GetOutputPort())
        mask.SetMaskedOutputValue(0)
        self._outline_filters = [dilate, erode, diff, edge, mask]
        return mask

    def modified(self) -> None:
        """The map's values changed in place: draw them again on the next render."""
        self.image.Modified()
        self.reslice.Modified()

    def set_table(self, table: np.ndarray, value_range: tuple[float, float] | None = None) -> None:
        """New colours (e.g. a label hidden, the opacity changed) without rebuilding the pipeline."""
        table = np.asarray(table, np.uint8)
        lo, hi = value_range if value_range is not None else (0.0, float(max(len(table) - 1, 1)))
        self.lut = make_lut(table, lo, hi)
        self.colours.SetLookupTable(self.lut)

    def slice_rgba(self) -> np.ndarray:
        """The coloured slice as drawn (rows bottom to top, ``(v, u, 4)``), for tests and checks."""
        from vtkmodules.util import numpy_support

        self.colours.Update()
        out = self.colours.GetOutput()
        nx, ny, _ = out.GetDimensions()
        return numpy_support.vtk_to_numpy(out.GetPointData().GetScalars()).reshape(ny, nx, 4)


@dataclass(frozen=True)
class LegendEntry:
    """One line of the legend: text and its colour (0..1 RGB)."""

    text: str
    color: tuple[float, float, float] = (0.95, 0.95, 0.95)
    bold: bool = False


@dataclass
class Legend:
    """Lines of text under the upper-left corner text of a view (e.g. ``"AI: Chest CT seg 1.0"`` and label swatches)."""

    renderer: vtkRenderer
    font_size: int = 13
    top_offset: int = 62  #: px from the top: below the three lines of patient and study text
    actors: list[vtkTextActor] = field(default_factory=list)
    entries: list[LegendEntry] = field(default_factory=list)

    def set_entries(self, entries: list[LegendEntry]) -> None:
        for a in self.actors:
            self.renderer.RemoveViewProp(a)
        self.actors = []
        self.entries = list(entries)
        for e in self.entries:
            a = vtkTextActor()
            a.SetInput(e.text)
            tp = a.GetTextProperty()
            tp.SetFontFamilyToArial()
            tp.SetFontSize(self.font_size)
            tp.SetColor(*e.color)
            tp.SetBold(e.bold)
            tp.SetShadow(True)
            tp.SetShadowOffset(1, -1)
            tp.SetVerticalJustificationToTop()
            a.PickableOff()
            self.renderer.AddViewProp(a)
            self.actors.append(a)
        self.place()

    def place(self) -> None:
        """Position the lines for the renderer's current size (call after a resize)."""
        _, h = self.renderer.GetSize()
        line = self.font_size + 4
        for i, a in enumerate(self.actors):
            a.SetDisplayPosition(6, int(h) - self.top_offset - i * line)

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.entries]


class BrushCursor:
    """The brush's outline (a circle of its radius in mm) under the mouse in a slice view."""

    def __init__(self, renderer: vtkRenderer, segments: int = 48) -> None:
        from vtkmodules.vtkCommonCore import vtkPoints
        from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
        from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

        self.renderer = renderer
        self._n = segments
        self.points = vtkPoints()
        self.points.SetNumberOfPoints(segments)
        lines = vtkCellArray()
        lines.InsertNextCell(segments + 1)
        for i in range(segments + 1):
            lines.InsertCellPoint(i % segments)
        poly = vtkPolyData()
        poly.SetPoints(self.points)
        poly.SetLines(lines)
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(poly)
        self.actor = vtkActor()
        self.actor.SetMapper(mapper)
        prop = self.actor.GetProperty()
        prop.SetColor(1.0, 1.0, 0.4)
        prop.SetLineWidth(1.5)
        prop.LightingOff()
        self.actor.PickableOff()
        self.actor.VisibilityOff()
        renderer.AddActor(self.actor)
        self.centre: tuple[float, float] | None = None
        self.radius = 0.0

    def show(self, u: float, v: float, radius_mm: float, color: tuple[float, float, float] | None = None) -> None:
        """A circle of ``radius_mm`` around view point ``(u, v)`` (mm), above the layers."""
        t = np.linspace(0.0, 2.0 * np.pi, self._n, endpoint=False)
        for i, (x, y) in enumerate(zip(u + radius_mm * np.cos(t), v + radius_mm * np.sin(t))):
            self.points.SetPoint(i, float(x), float(y), 0.9)
        self.points.Modified()
        if color is not None:
            self.actor.GetProperty().SetColor(*color)
        self.centre, self.radius = (float(u), float(v)), float(radius_mm)
        self.actor.VisibilityOn()

    def hide(self) -> None:
        self.centre = None
        self.actor.VisibilityOff()

    @property
    def visible(self) -> bool:
        return bool(self.actor.GetVisibility())
