"""One 2D patient-oriented slice view as a VTK pipeline (no Qt).

``vtkImageData`` (scaled-index space, shared with numpy) -> ``vtkImageReslice``
(2D output in view coordinates, axes from :mod:`meddiag_desktop.core.view_geometry`)
-> ``vtkImageActor`` (window/level in its property), plus a two-line
crosshair, orientation letters on all four edges and corner text. A
MONOCHROME1 image (DICOM: low values white, as in CR/DX) keeps its stored values
and is drawn through an inverted grey ramp (:func:`is_monochrome1`), as Weasis
and OHIF do, so readouts and window presets stay in stored units. The world
coordinates of the renderer are view coordinates ``(u, v)`` in mm, seen by a
parallel camera looking down ``-w`` with ``v`` up, so screen right is ``+u``.

A single image whose plane is oblique to its nearest standard view is shown, in
that view, in the image's own plane (:func:`view_geometry.single_image_frame`):
``frame_override`` holds that frame and :attr:`SliceView.geom` (the view name
or the frame) is what every geometry call gets.

Oblique MPR: :meth:`SliceView.set_oblique` gives the view the current frames of
all three planes (:class:`view_geometry.ObliqueMPR`); a rotated plane is
resliced along its own frame (``oblique_frame``, which :attr:`SliceView.geom`
then returns), the crosshair lines are drawn where the two other planes cut
this one (at any angle) and the corner text says "Oblique" with the tilt.

Corner texts are shortened with an ellipsis (:func:`fit_corner_lines`) so the
left and right corners never overlap, however narrow the view.

Thick slabs (:class:`~meddiag_desktop.core.slab.Slab`): in a view aligned with the
volume whose layers are whole array planes along ``k`` or ``j`` (the axial and coronal
views of an axial CT), the slab is projected in numpy over that contiguous block
(:func:`~meddiag_desktop.core.slab.reduce_layers`, ~0.2 ms for 11 layers of 512x512
against ~3 ms for ``vtkImageReslice``'s slab mode) into a one-layer image that the same
reslice then samples as a thin slice, so the image is value for value the slab mode's.
Oblique views and layers along ``i`` (strided in memory, where the reslice is faster)
keep ``vtkImageReslice``'s slab mode.
"""

from __future__ import annotations

import os
import weakref

import numpy as np
import vtkmodules.vtkRenderingFreeType  # noqa: F401  (text rendering backend)
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (rendering backend)
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonCore import vtkLookupTable, vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkImageData, vtkPolyData
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkImagingCore import vtkImageReslice
from vtkmodules.vtkRenderingAnnotation import vtkCornerAnnotation
from vtkmodules.vtkRenderingCore import (
    vtkActor,
    vtkImageActor,
    vtkPolyDataMapper,
    vtkRenderer,
    vtkTextActor,
    vtkTextProperty,
    vtkTextRenderer,
)

from meddiag_desktop.core import Volume
from meddiag_desktop.core import view_geometry as vg
from meddiag_desktop.core.corner_text import axis_position_text, format_dicom_date, lossy_text
from meddiag_desktop.core.slab import Slab, reduce_layers, slab_block, slab_center

__all__ = [
    "SliceView",
    "VIEW_COLOURS",
    "MAX_OUTPUT_PIXELS",
    "IMAGE_PLANE_TITLE",
    "ELLIPSIS",
    "is_monochrome1",
    "inverted_grey_lut",
    "elide",
    "text_width",
    "fit_corner_lines",
]

#: Colour of each view's plane (Slicer convention): its title and the crosshair lines showing it.
VIEW_COLOURS: dict[str, tuple[float, float, float]] = {
    vg.AXIAL: (0.93, 0.33, 0.31),
    vg.SAGITTAL: (0.95, 0.84, 0.31),
    vg.CORONAL: (0.43, 0.75, 0.36),
}
#: Largest reslice output along either screen axis (keeps very fine volumes fast).
MAX_OUTPUT_PIXELS = 1024
_TEXT_COLOUR = (0.86, 0.88, 0.90)
_LETTER_COLOUR = (0.98, 0.72, 0.30)
_BACKGROUND = (0.0, 0.0, 0.0)
#: Title (upper right) of a view showing a single oblique image in its own plane.
IMAGE_PLANE_TITLE = "Image plane"
ELLIPSIS = "\u2026"
CORNER_MARGIN = 5  #: vtkCornerAnnotation's distance (px) of its texts from the viewport edges
CORNER_GAP = 24  #: least room (px) kept between a left and a right corner line (an edge letter fits)


def elide(text: str, max_width: float, measure) -> str:
    """``text``, or its longest prefix plus ``"\u2026"`` whose width (``measure(str) -> px``) is at most ``max_width``.

    Trailing spaces of the prefix are dropped; ``""`` when not even the ellipsis fits.
    """
    if measure(text) <= max_width:
        return text
    lo, hi = 0, len(text) - 1  # longest n in [lo, hi] with prefix n fitting; 0 = the ellipsis alone
    if measure(ELLIPSIS) > max_width:
        return ""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(text[:mid].rstrip() + ELLIPSIS) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS


_CHAR_WIDTHS: dict[tuple[int, bool, int], dict[str, float]] = {}
_MEASURE_PROP: vtkTextProperty | None = None


def _char_width(ch: str, size: int, bold: bool, dpi: int) -> float:
    global _MEASURE_PROP
    if _MEASURE_PROP is None:
        _MEASURE_PROP = vtkTextProperty()
        _MEASURE_PROP.SetFontFamilyToArial()
    tp = _MEASURE_PROP
    tp.SetFontSize(size)
    tp.SetBold(bold)
    renderer = vtkTextRenderer.GetInstance()
    bb = [0, 0, 0, 0]
    renderer.GetBoundingBox(tp, "||", bb, dpi)
    bare = bb[1] - bb[0]
    renderer.GetBoundingBox(tp, "|" + ch * 10 + "|", bb, dpi)  # ten copies: advance to 1/10 px
    return max((bb[1] - bb[0] - bare) / 10.0, 0.0)


def text_width(text: str, font_size: int, bold: bool = False, dpi: int = 72) -> float:
    """Width (display px) of one line of Arial text as VTK draws it (glyph advances, +1 px shadow)."""
    table = _CHAR_WIDTHS.setdefault((int(font_size), bool(bold), int(dpi)), {})
    total = 0.0
    for ch in text:
        w = table.get(ch)
        if w is None:
            w = table[ch] = _char_width(ch, int(font_size), bool(bold), int(dpi))
        total += w
    return total + 1.0 if text else 0.0


def fit_corner_lines(
    left: list[str], right: list[str], width: float, measure, *,
    margin: float = CORNER_MARGIN, gap: float = CORNER_GAP,
) -> tuple[list[str], list[str]]:
    """Lines of a left and a right corner text, elided so the two text blocks never overlap.

    The room is ``width - 2 margin - gap`` (``measure(str) -> px``). When the
    widest lines of both blocks fit side by side nothing changes. Otherwise a
    block narrower than half the room keeps its width and the other block gets
    the rest; when both are wider, each gets half the room. Lines are shortened
    at the end with an ellipsis (:func:`elide`).
    """
    room = max(width - 2.0 * margin - gap, 0.0)
    half = room / 2.0
    wl = max((measure(t) for t in left), default=0.0)
    wr = max((measure(t) for t in right), default=0.0)
    if wl + wr <= room:
        return list(left), list(right)
    if wr <= half:
        budget_l, budget_r = room - wr, wr
    elif wl <= half:
        budget_l, budget_r = wl, room - wl
    else:
        budget_l = budget_r = half
    return [elide(t, budget_l, measure) for t in left], [elide(t, budget_r, measure) for t in right]


def is_monochrome1(volume: Volume | None) -> bool:
    """True when ``volume`` is greyscale to be shown inverted (DICOM PhotometricInterpretation MONOCHROME1)."""
    if volume is None or volume.is_rgb:
        return False
    md = volume.metadata
    return bool(md.get("monochrome1")) or str(md.get("photometric", "")).upper() == "MONOCHROME1"


def inverted_grey_lut() -> vtkLookupTable:
    """A 256-entry white-to-black ramp; its range follows the image property's window/level."""
    lut = vtkLookupTable()
    lut.SetRange(0.0, 1.0)
    lut.SetNumberOfTableValues(256)
    for i in range(256):  # set last: a later Build() keeps explicitly inserted values
        g = 1.0 - i / 255.0
        lut.SetTableValue(i, g, g, g, 1.0)
    return lut


def _plane_showing(direction: np.ndarray) -> str:
    """The view whose slice axis is ``direction`` (the plane a crosshair line represents)."""
    return max(vg.VIEWS, key=lambda v: abs(float(vg.slice_axis(v) @ direction)))


def _line_actor(colour: tuple[float, float, float]) -> tuple[vtkActor, vtkPoints, vtkPolyData]:
    points = vtkPoints()
    points.SetNumberOfPoints(2)
    lines = vtkCellArray()
    lines.InsertNextCell(2)
    lines.InsertCellPoint(0)
    lines.InsertCellPoint(1)
    poly = vtkPolyData()
    poly.SetPoints(points)
    poly.SetLines(lines)
    mapper = vtkPolyDataMapper()
    mapper.SetInputData(poly)
    actor = vtkActor()
    actor.SetMapper(mapper)
    prop = actor.GetProperty()
    prop.SetColor(*colour)
    prop.SetLineWidth(1.0)
    prop.SetOpacity(1.0)  # opaque: a translucent prop costs a whole extra pass on software GL
    prop.LightingOff()
    actor.PickableOff()
    return actor, points, poly


def _corner_annotation(size: int, colour: tuple[float, float, float], bold: bool = False) -> vtkCornerAnnotation:
    ann = vtkCornerAnnotation()
    ann.SetMinimumFontSize(size)
    ann.SetMaximumFontSize(size)
    ann.SetLinearFontScaleFactor(100)  # fixed size: scaling is clamped to min/max
    ann.SetNonlinearFontScaleFactor(1)
    tp = ann.GetTextProperty()
    tp.SetColor(*colour)
    tp.SetFontFamilyToArial()
    tp.SetBold(bold)
    tp.SetShadow(True)
    tp.SetShadowOffset(1, -1)
    ann.PickableOff()
    return ann


class SliceView:
    """A patient-oriented 2D slice of a volume through a cursor point.

    Parameters
    ----------
    view:
        ``"axial"``, ``"coronal"`` or ``"sagittal"``.
    renderer:
        Renderer to draw into; a new black one if omitted (add it to a render window).

    A single image whose plane is oblique to its nearest standard view is shown by
    that view in the image's own plane: :attr:`frame_override` is then its frame
    (:func:`view_geometry.single_image_frame`), :attr:`frame` and :attr:`geom`
    follow it, and the edge letters come from it (e.g. ``"PL"``).
    """

    def __init__(self, view: str, renderer: vtkRenderer | None = None) -> None:
        vg.view_frame(view)  # validates the name
        self.view = view
        self.frame = vg.view_frame(view)
        self.frame_override: np.ndarray | None = None  # a single oblique image: its own plane
        self.oblique_frame: np.ndarray | None = None  # oblique MPR: this plane's rotated frame
        self._mpr_frames: dict[str, np.ndarray] | None = None  # oblique MPR: every plane's frame
        self.renderer = renderer or vtkRenderer()
        self.renderer.SetBackground(*_BACKGROUND)
        self.volume: Volume | None = None
        self.cursor = np.zeros(3)
        self.window = (400.0, 40.0)
        self.zoom = 1.0
        self.pan = np.zeros(2)  # view mm of focal point relative to the extent centre
        self._extent = (0.0, 1.0, 0.0, 1.0, 0.0, 1.0)
        self._fit_scale = 1.0
        self._slice_w: float | None = None
        self._slab_layers = 1
        self._readout = ""
        self.smooth = True
        self.aligned = True
        self.layers: dict = {}  #: name -> OverlayLayer (render/overlay_layers.py), drawn together
        self.inverted = False  # MONOCHROME1: grey ramp white-to-black
        self._inverted_lut: vtkLookupTable | None = None
        self.slab: Slab | None = None  # thick-slab projection (MIP/MinIP/average), None: a thin slice
        #: project an aligned slab in numpy when its layers are planes along k or j (False: always
        #: vtkImageReslice's slab mode, the reference tests/render/test_slab_fast_path.py compares with)
        self.numpy_slab = True
        self._image: vtkImageData | None = None  # the volume's voxels in scaled-index space (the reslice's input)
        self._image_observer: int | None = None
        self._slab_image: vtkImageData | None = None  # a slab projected in numpy: one layer, the reslice's input
        self._slab_block: tuple[int, int, int] | None = None  # (array axis, first, last) of that projection

        self.reslice = vtkImageReslice()
        self.reslice.SetOutputDimensionality(2)
        self.reslice.SetInterpolationModeToLinear()
        self.reslice.AutoCropOutputOff()
        self._axes = vtkMatrix4x4()
        self.reslice.SetResliceAxes(self._axes)

        self.image_actor = vtkImageActor()  # connected to the reslice once there is a volume
        self.image_actor.GetProperty().SetInterpolationTypeToLinear()
        self.image_actor.VisibilityOff()  # added to the renderer with the first volume

        self._vline, self._vpoints, self._vpoly = _line_actor(VIEW_COLOURS[vg.AXIAL])
        self._hline, self._hpoints, self._hpoly = _line_actor(VIEW_COLOURS[vg.AXIAL])
        for a in (self._vline, self._hline):
            a.VisibilityOff()
            self.renderer.AddActor(a)
        self.crosshair_visible = True

        self.corner_text = _corner_annotation(13, _TEXT_COLOUR)
        self.letters = _corner_annotation(17, _LETTER_COLOUR, bold=True)
        self._apply_frame()
        self.letters.VisibilityOff()
        self.renderer.AddViewProp(self.corner_text)
        self.hint = vtkTextActor()  # centred message while there is no volume
        self.hint.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        self.hint.SetPosition(0.5, 0.5)
        htp = self.hint.GetTextProperty()
        htp.SetFontSize(15)
        htp.SetColor(0.55, 0.58, 0.62)
        htp.SetJustificationToCentered()
        htp.SetVerticalJustificationToCentered()
        self.hint.VisibilityOff()
        self.renderer.AddViewProp(self.hint)
        self.renderer.AddViewProp(self.letters)
        from meddiag_desktop.render.overlay_layers import Legend

        self.legend = Legend(self.renderer)  #: "AI: name version" while an AI layer is shown
        from meddiag_desktop.render.overlay_layers import BrushCursor

        self.brush_cursor = BrushCursor(self.renderer)  #: the segment editor's brush under the mouse

        cam = self.renderer.GetActiveCamera()
        cam.ParallelProjectionOn()
        cam.SetViewUp(0.0, 1.0, 0.0)

    # ------------------------------------------------------------------ frame
    @property
    def geom(self) -> vg.ViewLike:
        """What the geometry functions get: the frame override if any, else the oblique MPR frame
        if this plane is rotated, else the view name."""
        if self.frame_override is not None:
            return self.frame_override
        return self.view if self.oblique_frame is None else self.oblique_frame

    @property
    def title(self) -> str:
        """View name shown upper right: ``"Axial"``..., :data:`IMAGE_PLANE_TITLE`, or for an image
        without patient orientation :data:`view_geometry.NO_GEOMETRY_TITLE`."""
        if not self.patient_geometry:
            return vg.NO_GEOMETRY_TITLE
        return self.view.capitalize() if self.frame_override is None else IMAGE_PLANE_TITLE

    @property
    def patient_geometry(self) -> bool:
        """False for an image whose file gives no patient orientation (shown as stored, no letters)."""
        return self.volume is None or vg.has_patient_geometry(self.volume)

    def _apply_frame(self) -> None:
        """Frame, edge letters and crosshair colours for the current geometry."""
        self.frame = vg.view_frame(self.geom)
        edges = vg.edge_letters(self.geom)
        # vtkCornerAnnotation edge slots: 4 bottom, 5 right, 6 left, 7 top
        for slot, edge in ((4, "bottom"), (5, "right"), (6, "left"), (7, "top")):
            self.letters.SetText(slot, edges[edge])
        # vertical line: the plane normal to screen right; horizontal: normal to screen up
        self._vline.GetProperty().SetColor(*VIEW_COLOURS[_plane_showing(self.frame[:, 0])])
        self._hline.GetProperty().SetColor(*VIEW_COLOURS[_plane_showing(self.frame[:, 1])])
        self._line_dirs = (np.array([0.0, 1.0]), np.array([1.0, 0.0]))  # (u, v) of the vertical, horizontal line
        if self._mpr_frames is not None and self.frame_override is None:
            others = [v for v in vg.VIEWS if v != self.view]
            # the line of the plane whose normal is nearest screen right is the "vertical" one
            others.sort(key=lambda o: -abs(float(self._mpr_frames[o][:, 2] @ self.frame[:, 0])))
            dirs = []
            for line, other in zip((self._vline, self._hline), others):
                line.GetProperty().SetColor(*VIEW_COLOURS[other])
                d = np.cross(self.frame[:, 2], self._mpr_frames[other][:, 2])
                uv = (self.frame.T @ d)[:2]
                dirs.append(uv / max(float(np.linalg.norm(uv)), 1e-12))
            self._line_dirs = (dirs[0], dirs[1])

    def set_oblique(self, frames: dict[str, np.ndarray] | None) -> None:
        """Oblique MPR: the current frames of all three planes (``None``: the standard planes).

        This view reslices along its own frame when it differs from the standard
        one, and draws the crosshair lines where the other two planes cut it. The
        cursor keeps its place on the screen, so the image turns about it.
        """
        standard = frames is None or all(np.array_equal(f, vg.view_frame(v)) for v, f in frames.items())
        self._mpr_frames = None if standard else {v: np.array(f, float) for v, f in frames.items()}
        own = None if self._mpr_frames is None else self._mpr_frames[self.view]
        if own is not None and np.array_equal(own, vg.view_frame(self.view)):
            own = None
        before = self.lps_to_display(self.cursor) if self.volume is not None else None
        changed = not (own is None and self.oblique_frame is None) and not (
            own is not None and self.oblique_frame is not None and np.array_equal(own, self.oblique_frame))
        self.oblique_frame = own
        self._apply_frame()
        if self.volume is None:
            return
        if changed:
            self._apply_geometry()
            self._apply_camera()
            after = self.lps_to_display(self.cursor)
            self.pan += (after - before) * self.world_per_pixel()  # the cursor stays where it was on screen
            self._apply_camera()
        self._slice_w = None
        self.set_cursor(self.cursor)

    def oblique_label(self) -> str:
        """``"Oblique 30.0°"`` (tilt from the standard plane) while this plane is rotated, else ``""``."""
        if self.oblique_frame is None or self.frame_override is not None:
            return ""
        c = float(self.oblique_frame[:, 2] @ vg.view_frame(self.view)[:, 2])
        return f"Oblique {np.degrees(np.arccos(np.clip(c, -1.0, 1.0))):.1f}\u00b0"

    # ------------------------------------------------------------------ data
    def set_volume(self, volume: Volume | None, image: vtkImageData | None = None) -> None:
        """Show ``volume`` (``image`` is its shared vtkImageData; made here if omitted)."""
        self.clear_overlays()
        self.brush_cursor.hide()
        if self._image is not None and self._image_observer is not None:
            self._image.RemoveObserver(self._image_observer)
        self._image, self._image_observer, self._slab_image, self._slab_block = None, None, None, None
        self.volume = volume
        self.frame_override = None if volume is None else vg.single_image_frame(volume, self.view)
        self.oblique_frame, self._mpr_frames = None, None  # a new study opens in the standard planes
        self._apply_frame()
        if volume is None:
            self._apply_photometric()
            self.image_actor.VisibilityOff()
            self._vline.VisibilityOff()
            self._hline.VisibilityOff()
            self.letters.VisibilityOff()
            self.corner_text.ClearAllTexts()
            self.hint.SetVisibility(bool(self.hint.GetInput()))
            return
        self.hint.VisibilityOff()
        if image is None:
            from meddiag_desktop.render.image_data import image_from_volume

            image = image_from_volume(volume)
        self._image = image
        this = weakref.ref(self)  # the image must not keep the view alive

        def voxels_modified(_obj, _event) -> None:
            view = this()
            if view is not None:
                view._voxels_modified()

        self._image_observer = image.AddObserver("ModifiedEvent", voxels_modified)
        self.reslice.SetInputData(image)
        if self.image_actor.GetMapper().GetNumberOfInputConnections(0) == 0:
            self.image_actor.GetMapper().SetInputConnection(self.reslice.GetOutputPort())
            self.renderer.AddViewProp(self.image_actor)
        lo, _ = volume.value_range()
        if np.issubdtype(volume.array.dtype, np.integer):
            background = float(np.iinfo(volume.array.dtype).min)
        else:
            background = lo - 1.0
        self.reslice.SetBackgroundLevel(min(background, lo))
        self._apply_geometry()
        if volume.is_rgb:
            self.set_window(255.0, 127.5)
        self._apply_photometric()
        self._slice_w = None
        self.image_actor.VisibilityOn()
        self.set_crosshair_visible(self.crosshair_visible)
        self.letters.SetVisibility(self.patient_geometry)  # no letters where the file gives no orientation
        self.zoom = 1.0
        self.pan = np.zeros(2)
        self.set_cursor(volume.center_lps())
        self.reset_camera()

    def _apply_geometry(self) -> None:
        """Output grid of the reslice (extent, spacing, interpolation) for the current plane's frame."""
        volume = self.volume
        self._extent = vg.view_extent(self.geom, volume)
        umin, umax, vmin, vmax, _, _ = self._extent
        du, dv = vg.output_spacing(self.geom, volume, MAX_OUTPUT_PIXELS)
        nu = int(np.floor((umax - umin) / du + 1e-6)) + 1
        nv = int(np.floor((vmax - vmin) / dv + 1e-6)) + 1
        self.reslice.SetOutputSpacing(du, dv, 1.0)
        self.reslice.SetOutputOrigin(umin, vmin, 0.0)
        self.reslice.SetOutputExtent(0, nu - 1, 0, nv - 1, 0, 0)
        if self._overlay is not None:  # the overlay shares the reslice axes: give it the same grid
            r = self._overlay[1]
            r.SetOutputSpacing(du, dv, 1.0)
            r.SetOutputOrigin(umin, vmin, 0.0)
            r.SetOutputExtent(0, nu - 1, 0, nv - 1, 0, 0)
        self.aligned = vg.is_aligned(self.geom, volume)
        self._apply_interpolation()
        self._slice_w = None

    def _apply_photometric(self) -> None:
        """Inverted grey ramp for MONOCHROME1, the plain window/level ramp otherwise.

        The lookup table's range is taken from the property's window/level
        (``UseLookupTableScalarRange`` off), so presets and dragging work unchanged.
        """
        prop = self.image_actor.GetProperty()
        self.inverted = is_monochrome1(self.volume)
        if self.inverted:
            if self._inverted_lut is None:
                self._inverted_lut = inverted_grey_lut()
            prop.SetLookupTable(self._inverted_lut)
            prop.UseLookupTableScalarRangeOff()
        else:
            prop.SetLookupTable(None)

    # --------------------------------------------------------------- overlay
    @property
    def _overlay(self):
        """The topmost layer as ``(actor, reslice, colours, lut)``, or ``None`` without layers."""
        if not self.layers:
            return None
        top = max(self.layers.values(), key=lambda layer: layer.actor.GetPosition()[2])
        return (top.actor, top.reslice, top.colours, top.lut)

    def set_overlay(
        self,
        values: np.ndarray | None,
        lut_rgba: np.ndarray | None = None,
        value_range: tuple[float, float] | None = None,
        smooth: bool = False,
        *,
        layer: str = "overlay",
        outline: bool = False,
        depth: float = 0.5,
    ) -> None:
        """Draw a coloured map over the image (labels, heat maps), or remove it with ``None``.

        Parameters
        ----------
        values:
            Array ``(z, y, x)`` on the volume's voxel grid (shared with VTK, not copied,
            when C-contiguous: after editing it in place call :meth:`overlay_modified`).
        lut_rgba:
            ``n x 4`` uint8 colours; ``value_range`` (default ``(0, n - 1)``) is spread
            over them, so integer labels ``0..n-1`` index the table directly.
        smooth:
            Linear interpolation (heat maps) instead of nearest (labels).
        layer:
            Name of the layer; layers with other names stay (a segmentation and a
            classification map are shown together).
        outline:
            Only the edges of each label in the slice (labels only).
        depth:
            Order of the layers: higher is drawn on top (between 0, the image, and 1, the crosshair).
        """
        old = self.layers.pop(layer, None)
        if old is not None:
            self.renderer.RemoveViewProp(old.actor)
        if values is None or self.volume is None:
            return
        if values.shape[:3] != self.volume.array.shape[:3]:
            raise ValueError(f"overlay shape {values.shape} differs from the volume's {self.volume.array.shape[:3]}")
        from meddiag_desktop.render.image_data import image_from_array
        from meddiag_desktop.render.overlay_layers import OverlayLayer

        table = np.asarray(lut_rgba if lut_rgba is not None else [[0, 0, 0, 0], [255, 0, 0, 128]], np.uint8)
        image = image_from_array(values, self.volume.spacing)
        new = OverlayLayer(image, self._axes, self.reslice, table, value_range, smooth, outline, depth)
        self.layers[layer] = new
        # translucent layers are drawn in the order they were added, and even their transparent
        # pixels hide what lies deeper and comes later: add them back to front
        for each in sorted(self.layers.values(), key=lambda lay: lay.actor.GetPosition()[2]):
            self.renderer.RemoveViewProp(each.actor)
            self.renderer.AddViewProp(each.actor)

    def overlay_modified(self, layer: str = "overlay") -> None:
        """The values of ``layer`` were changed in place (e.g. a segment was painted): redraw them."""
        if layer in self.layers:
            self.layers[layer].modified()

    def clear_overlays(self) -> None:
        """Remove every layer and the legend."""
        for name in list(self.layers):
            self.set_overlay(None, layer=name)
        self.legend.set_entries([])

    def set_hint(self, text: str) -> None:
        """Message shown centred while no volume is loaded (e.g. how to open a study)."""
        self.hint.SetInput(text)
        self.hint.SetVisibility(bool(text) and self.volume is None)

    def set_interpolation(self, linear: bool) -> None:
        """Smooth (linear) or blocky (nearest) display of voxels when zoomed in."""
        self.smooth = bool(linear)
        self._apply_interpolation()

    def _apply_interpolation(self) -> None:
        # Aligned volumes are sampled at voxel centres: nearest is exact there and ~5x
        # faster; the texture's own interpolation smooths the display. Oblique ones
        # need a real interpolating reslice.
        if self.smooth and not self.aligned:
            self.reslice.SetInterpolationModeToLinear()
            self.reslice.SetNumberOfThreads(os.cpu_count() or 1)
        else:
            self.reslice.SetInterpolationModeToNearestNeighbor()
            # a strided copy: threads cost more than they save (a slab samples many layers: they pay off)
            slab_mode = self._slab_layers > 1 and self._slab_block is None
            self.reslice.SetNumberOfThreads((os.cpu_count() or 1) if slab_mode else 1)
        if self.smooth:
            self.image_actor.GetProperty().SetInterpolationTypeToLinear()
        else:
            self.image_actor.GetProperty().SetInterpolationTypeToNearest()

    # ---------------------------------------------------------------- cursor
    def set_cursor(self, lps: np.ndarray | tuple[float, float, float]) -> None:
        """Move the slice plane and crosshair to the LPS point ``lps``."""
        self.cursor = np.asarray(lps, float).copy()
        if self.volume is None:
            return
        u, v, _ = vg.lps_to_view(self.geom, self.cursor)
        plane = point = self._plane_point()
        layers = 1
        if self.slab is not None and self.frame_override is None:
            plane, layers = slab_center(self.geom, self.volume, plane, self.slab.thickness)
        w = float(plane @ self.frame[:, 2])
        if self._slice_w is None or abs(w - self._slice_w) > 1e-9 or layers != self._slab_layers:
            self._apply_slab(layers)
            self._use_block(self._fast_block(point) if layers > 1 else None)
            m = vg.reslice_matrix(self.geom, self.volume, plane)
            if layers > 1 and m[np.argmax(np.abs(m[:3, 2])), 2] < 0:
                # Only the plane (output z = 0) matters for the slice and the slab is symmetric, so
                # the normal's sign is free: VTK's axis-aligned reslice path places a slab one-sided
                # when the normal runs against an index axis (checked by tests/render/test_slab_view.py).
                m[:3, 2] *= -1.0
            for r in range(4):
                for c in range(4):
                    self._axes.SetElement(r, c, float(m[r, c]))
            self._axes.Modified()
            self.reslice.Modified()
            self._slice_w = float(w)
        z = 1.0  # above the image (camera looks down -z)
        (vu, vv), (hu, hv) = self._line_dirs  # crosshair lines through the cursor (oblique MPR: at any angle)
        big = 1e4
        self._vpoints.SetPoint(0, u - vu * big, v - vv * big, z)
        self._vpoints.SetPoint(1, u + vu * big, v + vv * big, z)
        self._hpoints.SetPoint(0, u - hu * big, v - hv * big, z)
        self._hpoints.SetPoint(1, u + hu * big, v + hv * big, z)
        self._vpoints.Modified()
        self._hpoints.Modified()
        self._update_text()

    def set_slab(self, slab: Slab | None) -> None:
        """Show a thick slab (MIP, MinIP or average over ``slab.thickness`` mm) or, with ``None``, a thin slice.

        The slab's layers are those of :func:`meddiag_desktop.core.slab.slab_layers`.
        When they are whole planes of the voxel array along ``k`` or ``j`` (an aligned
        view), numpy projects that contiguous block (:meth:`_project_block`) and the
        reslice samples the one-layer result; otherwise ``vtkImageReslice``'s slab mode
        samples them (``step`` mm apart along the normal, centred on
        :func:`~meddiag_desktop.core.slab.slab_center`), multithreaded. Both give the same
        image, value for value (tests/render/test_slab_fast_path.py).
        """
        self.slab = slab
        self._slice_w = None
        self.set_cursor(self.cursor)

    def _fast_block(self, point: np.ndarray) -> tuple[int, int, int] | None:
        """``(array axis, first, last)`` of the slab around ``point`` when numpy projects it, else ``None``.

        For greyscale volumes aligned with a standard view whose layers are planes along
        ``k`` or ``j`` of the array (contiguous rows); along ``i`` the reslice's slab mode
        is faster than a strided numpy reduction and stays.
        """
        v = self.volume
        if not self.numpy_slab or v is None or self.slab is None or v.is_rgb or self._image is None:
            return None
        if not self.aligned or self.frame_override is not None or self.oblique_frame is not None:
            return None
        block = slab_block(self.geom, v, point, self.slab.thickness)
        return block if block[0] != 2 else None

    def _use_block(self, block: tuple[int, int, int] | None) -> None:
        """Show the slab ``block`` projected in numpy, or (``None``) reslice the volume itself."""
        self._slab_block = block
        if block is None:
            if self._slab_image is not None:
                self._slab_image = None
                self.reslice.SetInputData(self._image)
        else:
            self.reslice.SetSlabNumberOfSlices(1)  # a thin slice of the one-layer projection
            self._project_block()
        self._apply_interpolation()  # threads: one for a strided copy, every core for the slab mode

    def _project_block(self) -> None:
        """Project :attr:`_slab_block` of the volume image's voxels into the one-layer image the reslice samples.

        The layer lies at the slab's middle (where :func:`~meddiag_desktop.core.slab.slab_center`
        puts the plane), with the volume's spacing and in-plane extent, so the reslice picks
        the same in-plane voxels as for the whole volume.
        """
        axis, first, last = self._slab_block
        image = self._image
        nx, ny, nz = image.GetDimensions()
        voxels = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(nz, ny, nx)
        index = [slice(None)] * 3
        index[axis] = slice(first, last + 1)
        projection = np.ascontiguousarray(reduce_layers(voxels[tuple(index)], axis, self.slab.mode))
        dims = [nx, ny, nz]
        dims[2 - axis] = 1
        origin = [0.0, 0.0, 0.0]
        spacing = image.GetSpacing()
        origin[2 - axis] = (first + last) / 2.0 * spacing[2 - axis]
        out = self._slab_image
        if out is None or list(out.GetDimensions()) != dims:
            out = vtkImageData()
            out.SetDimensions(*dims)
            out.SetSpacing(*spacing)
        out.SetOrigin(*origin)
        scalars = numpy_support.numpy_to_vtk(projection.reshape(-1), deep=False)
        scalars.SetName("values")
        out.GetPointData().SetScalars(scalars)
        out._meddiag_array = projection  # keep the buffer alive with the image
        out.Modified()
        if out is not self._slab_image:
            self._slab_image = out
            self.reslice.SetInputData(out)
        self.reslice.Modified()

    def _voxels_modified(self) -> None:
        """The volume image changed in place (a series filling in): project the shown slab again."""
        if self._slab_block is not None:
            self._project_block()

    def _apply_slab(self, layers: int) -> None:
        """Configure the reslice for ``layers`` slab layers (1: an ordinary slice)."""
        self._slab_layers = layers
        r = self.reslice
        step = vg.slice_step(self.geom, self.volume) if self.volume is not None else 1.0
        r.SetOutputSpacing(r.GetOutputSpacing()[0], r.GetOutputSpacing()[1], step)
        r.SetSlabNumberOfSlices(max(int(layers), 1))
        r.SetSlabSliceSpacingFraction(1.0)
        mode = self.slab.mode if self.slab is not None else "mip"
        {"mip": r.SetSlabModeToMax, "minip": r.SetSlabModeToMin, "mean": r.SetSlabModeToMean}[mode]()
        self._apply_interpolation()

    def _plane_point(self) -> np.ndarray:
        """A point of the plane shown: the cursor, or for a single image in its own plane the
        cursor moved onto the image (any cursor, e.g. one stepped by cine, still shows the image)."""
        if self.frame_override is None or self.volume is None:
            return self.cursor
        return vg.clamp_to_volume(self.volume, self.cursor)

    def set_crosshair_visible(self, visible: bool) -> None:
        self.crosshair_visible = bool(visible)
        on = visible and self.volume is not None and self.patient_geometry  # no other planes to show
        self._vline.SetVisibility(on)
        self._hline.SetVisibility(on)

    def slice_info(self) -> vg.SliceInfo | None:
        """Slice number/count/position of the cursor in this view (``None`` without a volume)."""
        return None if self.volume is None else vg.slice_info(self.geom, self.volume, self.cursor)

    # ---------------------------------------------------------- window/level
    def set_window(self, width: float, level: float) -> None:
        """Window width and level (centre) in the volume's units."""
        self.window = (float(width), float(level))
        prop = self.image_actor.GetProperty()
        prop.SetColorWindow(self.window[0])
        prop.SetColorLevel(self.window[1])
        self._update_text()

    def set_readout(self, text: str) -> None:
        """Value readout line (e.g. ``"-650 HU  (12.0, -30.5, 40.0)"``) shown bottom left."""
        self._readout = text
        self._update_text()

    # ---------------------------------------------------------------- camera
    def _viewport_size(self) -> tuple[int, int]:
        w, h = self.renderer.GetSize()
        return (max(int(w), 1), max(int(h), 1))

    def reset_camera(self) -> None:
        """Fit the slice in the viewport (keeping zoom and pan) and update the camera."""
        umin, umax, vmin, vmax, _, _ = self._extent
        w, h = self._viewport_size()
        aspect = w / h
        size = 12 if w < 480 else 13  # corner text: smaller in small views
        self.corner_text.SetMinimumFontSize(size)
        self.corner_text.SetMaximumFontSize(size)
        self._fit_scale = max((vmax - vmin) / 2.0, (umax - umin) / 2.0 / aspect, 1.0) * 1.04
        self.legend.place()
        self._apply_camera()

    def _apply_camera(self) -> None:
        umin, umax, vmin, vmax, _, _ = self._extent
        cu = (umin + umax) / 2.0 + self.pan[0]
        cv = (vmin + vmax) / 2.0 + self.pan[1]
        cam = self.renderer.GetActiveCamera()
        cam.SetFocalPoint(cu, cv, 0.0)
        cam.SetPosition(cu, cv, 1000.0)
        cam.SetViewUp(0.0, 1.0, 0.0)
        cam.SetParallelScale(self._fit_scale / self.zoom)
        cam.SetClippingRange(1.0, 2000.0)
        self._update_text()

    def set_zoom(self, zoom: float, anchor_display: tuple[float, float] | None = None) -> None:
        """Zoom factor relative to fit (clamped 0.1-40); ``anchor_display`` stays fixed on screen."""
        zoom = float(np.clip(zoom, 0.1, 40.0))
        if anchor_display is not None:
            before = self.display_to_view(*anchor_display)
            self.zoom = zoom
            self._apply_camera()
            after = self.display_to_view(*anchor_display)
            self.pan += before - after
        else:
            self.zoom = zoom
        self._apply_camera()

    def pan_by_display(self, dx: float, dy: float) -> None:
        """Move the image by ``(dx, dy)`` display pixels (VTK display: y up)."""
        self.pan -= np.array([dx, dy]) * self.world_per_pixel()
        self._apply_camera()

    def world_per_pixel(self) -> float:
        """Millimetres per display pixel at the current zoom."""
        _, h = self._viewport_size()
        return 2.0 * self.renderer.GetActiveCamera().GetParallelScale() / h

    def display_to_view(self, x: float, y: float) -> np.ndarray:
        """View ``(u, v)`` mm under display point ``(x, y)`` (VTK display pixels, origin bottom left)."""
        w, h = self._viewport_size()
        fu, fv, _ = self.renderer.GetActiveCamera().GetFocalPoint()
        k = self.world_per_pixel()
        return np.array([fu + (x - w / 2.0) * k, fv + (y - h / 2.0) * k])

    def view_to_display(self, u: float, v: float) -> np.ndarray:
        """Display point ``(x, y)`` of view coordinates ``(u, v)`` (inverse of :meth:`display_to_view`)."""
        w, h = self._viewport_size()
        fu, fv, _ = self.renderer.GetActiveCamera().GetFocalPoint()
        k = self.world_per_pixel()
        return np.array([(u - fu) / k + w / 2.0, (v - fv) / k + h / 2.0])

    def display_to_lps(self, x: float, y: float) -> np.ndarray:
        """LPS point on the current slice under display point ``(x, y)``."""
        u, v = self.display_to_view(x, y)
        w = float(self._plane_point() @ self.frame[:, 2])
        return vg.view_to_lps(self.geom, (u, v, w))

    def lps_to_display(self, lps: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Display point of the projection of ``lps`` onto this view."""
        u, v, _ = vg.lps_to_view(self.geom, lps)
        return self.view_to_display(u, v)

    # ------------------------------------------------------------------ text
    def _update_text(self) -> None:
        ann = self.corner_text
        if self.volume is None:
            ann.ClearAllTexts()
            return
        md = self.volume.metadata
        patient = str(md.get("patient_name", "") or "").replace("^", " ").strip()
        pid = str(md.get("patient_id", "") or "")
        study_date = format_dicom_date(str(md.get("study_date", "") or ""))  # 2013-04-15, not 20130415
        study = " ".join((study_date, str(md.get("study_description", "") or ""))).strip()
        series = str(md.get("series_description", "") or "")
        modality = self.volume.modality
        info = vg.slice_info(self.geom, self.volume, self.cursor)
        position = axis_position_text(vg.slice_axis(self.geom), info.position)  # "R 79.0 mm", not "L -79.0 mm"
        w, lvl = self.window
        lines = self.corner_lines(
            [x for x in (patient, pid, study) if x],
            [x for x in (self.title, self.oblique_label(), self.slab_label(), lossy_text(md), series, modality) if x],
            [f"Im {info.index + 1}/{info.count}" + (
                f"   {position}" if self.patient_geometry else "")] + (
                [self._readout] if self._readout else []),
            [f"W {w:.0f}  L {lvl:.0f}", f"Zoom {self.zoom:.2f}x"],
        )
        for slot in range(4):  # 0 lower left, 1 lower right, 2 upper left, 3 upper right
            ann.SetText(slot, "\n".join(lines[slot]))

    def slab_label(self) -> str:
        """``"MIP 10.0 mm"`` while a slab is shown, else ``""``."""
        return self.slab.label if self.slab is not None and self.frame_override is None else ""

    def corner_font_size(self) -> int:
        return int(self.corner_text.GetMaximumFontSize())

    def _dpi(self) -> int:
        rw = self.renderer.GetRenderWindow()
        return int(rw.GetDPI()) if rw is not None else 72

    def corner_lines(
        self, upper_left: list[str], upper_right: list[str], lower_left: list[str], lower_right: list[str]
    ) -> tuple[list[str], list[str], list[str], list[str]]:
        """The four corner texts' lines (slots 0-3: lower left, lower right, upper left, upper right),
        elided to the viewport's current width and the corner font so left and right never overlap."""
        size, dpi = self.corner_font_size(), self._dpi()
        width = int(self.renderer.GetSize()[0])
        if width <= 1:  # not in a sized window yet: elided when it gets a size (reset_camera)
            return lower_left, lower_right, upper_left, upper_right

        def measure(t: str) -> float:
            return text_width(t, size, False, dpi)

        ul, ur = fit_corner_lines(upper_left, upper_right, width, measure)
        ll, lr = fit_corner_lines(lower_left, lower_right, width, measure)
        return ll, lr, ul, ur
