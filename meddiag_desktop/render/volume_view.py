"""3D volume rendering of a :class:`~meddiag_desktop.core.Volume` in patient space (no Qt).

The volume is strided to at most ``max_dim`` voxels per axis to stay
interactive, placed in LPS by the vtkVolume's user matrix (direction and
origin), and seen from anterior with Superior up. The mapper depends on the
OpenGL renderer: on a software rasteriser (Mesa llvmpipe/softpipe) the CPU
``vtkFixedPointVolumeRayCastMapper`` is several times faster than the GPU
ray caster emulated in software; elsewhere ``vtkGPUVolumeRayCastMapper``.
``MEDDIAG_VOLUME_MAPPER=cpu|gpu`` overrides the choice.
"""

from __future__ import annotations

import os
import re

import numpy as np
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401
import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401  (GPU ray cast factory overrides)
from vtkmodules.vtkCommonDataModel import vtkPiecewiseFunction
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkRenderingCore import (
    vtkColorTransferFunction,
    vtkRenderer,
    vtkRenderWindow,
    vtkVolume,
    vtkVolumeProperty,
)
from vtkmodules.vtkRenderingVolume import vtkFixedPointVolumeRayCastMapper, vtkGPUVolumeRayCastMapper

from meddiag_desktop.core import Volume
from meddiag_desktop.render.image_data import downsample_for_3d, image_from_array

__all__ = ["VolumeView", "PRESETS", "MR_PRESETS", "mr_anchors", "is_software_renderer"]

PRESETS: tuple[str, ...] = ("CT bone", "CT soft tissue", "MIP", "MR T1", "MR angiography (MIP)")
#: the presets for MR (their anchors follow the volume's intensities, MR having no absolute scale)
MR_PRESETS: tuple[str, ...] = ("MR T1", "MR angiography (MIP)")
#: Largest volume per axis for each mapper. The CPU mapper precomputes shading
#: gradients on its first frame (about 1.3 s for 256x256x150 on two cores, 0.6 s
#: at 160), which dominates start-up; the GPU one samples on the fly.
MAX_DIM = {"cpu": 160, "gpu": 256}
#: While the view is being turned, the CPU ray caster casts a ray every 2nd to 4th pixel
#: (VTK picks the distance within these bounds to keep the interactive update rate) and
#: steps rays :data:`INTERACTIVE_SAMPLE_DISTANCE` mm apart; the still frame after the
#: release casts one ray per pixel again, 1 mm apart (:meth:`VolumeView.set_interactive`).
INTERACTIVE_IMAGE_SAMPLE_DISTANCE = (2.0, 4.0)
INTERACTIVE_SAMPLE_DISTANCE = 2.0
_STILL_IMAGE_SAMPLE_DISTANCE = (1.0, 10.0)  # VTK's defaults: a still frame is given all the time it needs
#: a new study's draft frame (unshaded, see VolumeView.set_volume) casts a ray every 2nd pixel
DRAFT_IMAGE_SAMPLE_DISTANCE = 2.0

# (value in HU, opacity), (value in HU, r, g, b)
_BONE_OPACITY = ((-1024, 0.0), (140, 0.0), (220, 0.12), (450, 0.55), (1200, 0.85), (3071, 0.9))
_BONE_COLOUR = ((-1024, 0.0, 0.0, 0.0), (140, 0.55, 0.25, 0.15), (220, 0.88, 0.70, 0.52), (450, 1.0, 0.94, 0.84), (3071, 1.0, 1.0, 1.0))
_SOFT_OPACITY = ((-1024, 0.0), (-200, 0.0), (-80, 0.004), (30, 0.012), (90, 0.10), (200, 0.30), (450, 0.55), (1200, 0.8), (3071, 0.85))
_SOFT_COLOUR = (
    (-1024, 0.0, 0.0, 0.0),
    (-200, 0.62, 0.45, 0.30),
    (30, 0.75, 0.35, 0.28),
    (120, 0.92, 0.30, 0.25),
    (250, 1.0, 0.72, 0.55),
    (600, 1.0, 0.95, 0.88),
    (3071, 1.0, 1.0, 1.0),
)

# MR T1 (fraction of the robust maximum, the 99.5th percentile): background and CSF clear,
# brain and muscle faint, fat and enhancing tissue opaque; skin-like colours as in Slicer's MR-Default.
_MR_T1_OPACITY = ((0.0, 0.0), (0.15, 0.0), (0.3, 0.03), (0.55, 0.2), (0.8, 0.55), (1.0, 0.75))
_MR_T1_COLOUR = ((0.0, 0.0, 0.0, 0.0), (0.2, 0.55, 0.35, 0.28), (0.5, 0.86, 0.66, 0.55), (1.0, 1.0, 0.96, 0.9))
# MR angiography (TOF / contrast MRA) maximum intensity projection: vessels are the brightest
# voxels, so the grey ramp runs from the 90th (stationary tissue) to the 99.9th percentile.
_MRA_PERCENTILES = (90.0, 99.9)


def mr_anchors(volume_array: np.ndarray) -> tuple[float, float, float]:
    """``(robust max, p90, p99.9)`` of an MR volume's values: what the MR presets are scaled to."""
    sample = np.asarray(volume_array).reshape(-1)
    sample = sample[:: max(1, sample.size // 400_000)].astype(np.float64)  # a strided sample: ~0.4 M values
    if sample.size == 0:
        return 1.0, 0.0, 1.0
    p995, p90, p999 = np.percentile(sample, [99.5, *_MRA_PERCENTILES])
    robust_max = float(p995) if p995 > 0 else float(sample.max()) or 1.0
    return robust_max, float(p90), float(max(p999, p90 + 1e-3))


def is_software_renderer(render_window: vtkRenderWindow) -> bool | None:
    """True for Mesa llvmpipe/softpipe/swrast, False for a hardware GPU, None if unknown yet."""
    try:
        caps = render_window.ReportCapabilities() or ""
    except Exception:  # pragma: no cover - depends on the platform's window class
        return None
    m = re.search(r"OpenGL renderer string:\s*(.*)", caps)
    if not m:
        return None
    return bool(re.search(r"llvmpipe|softpipe|swrast|software", m.group(1), re.IGNORECASE))


class VolumeView:
    """Volume rendering with presets ``CT bone``, ``CT soft tissue`` and ``MIP``."""

    def __init__(self, renderer: vtkRenderer | None = None, max_dim: int | None = None) -> None:
        self.renderer = renderer or vtkRenderer()
        self.renderer.SetBackground(0.0, 0.0, 0.0)
        self.max_dim = max_dim  #: voxels per axis at most; None: by mapper (see MAX_DIM)
        self.volume: Volume | None = None
        self.preset = "CT bone"
        self.mapper_kind = ""  # "cpu" or "gpu" once chosen
        self.prop = vtkVolume()
        self.prop.PickableOff()
        self.property = vtkVolumeProperty()
        self.property.SetInterpolationTypeToLinear()
        self.prop.SetProperty(self.property)
        self._image = None
        self._hu_shift = (1.0, 0.0)  # scale, offset taking HU anchors to this volume's values
        self._mr_anchors: tuple[float, float, float] | None = None  # MR presets' scale, per volume
        #: the frames since set_volume(..., draft=True) are unshaded until refine()
        self.draft = False
        #: the user is turning the view: coarser frames (see :meth:`set_interactive`)
        self.interactive = False
        from meddiag_desktop.render.segment_surfaces import SegmentSurfaces

        self.surfaces = SegmentSurfaces(self.renderer)  #: segments as meshes beside the volume rendering

    # ------------------------------------------------------------------ data
    def set_volume(self, volume: Volume | None, render_window: vtkRenderWindow | None = None,
                   draft: bool = False) -> None:
        """Render ``volume`` (RGB volumes are not volume-rendered); pick the mapper for ``render_window``.

        ``draft``: with the CPU mapper, render unshaded and at half resolution (a ray
        every :data:`DRAFT_IMAGE_SAMPLE_DISTANCE` pixels) until :meth:`refine`. Shading
        needs gradients that the CPU mapper computes on its first shaded frame, which
        more than doubles that frame (about 0.4 s instead of 0.17 s for the demo
        study on two cores), so a study appears sooner and gains its shading and
        full resolution a moment later.
        """
        self.renderer.RemoveVolume(self.prop)
        self.volume = volume
        self._mr_anchors = None
        self.draft = False
        self.surfaces.set_volume(volume)
        if volume is None or volume.is_rgb:
            return
        mapper = self._make_mapper(render_window)
        self.draft = draft and self.mapper_kind == "cpu"
        if self.draft:
            self._apply_level_of_detail(mapper)
        arr, spacing = downsample_for_3d(volume, self.max_dim or MAX_DIM[self.mapper_kind])
        self._image = image_from_array(arr, spacing)
        self.prop.SetMapper(mapper)
        self.prop.GetMapper().SetInputData(self._image)
        m = vtkMatrix4x4()
        affine = np.eye(4)
        affine[:3, :3] = volume.direction
        affine[:3, 3] = volume.origin
        for r in range(4):
            for c in range(4):
                m.SetElement(r, c, float(affine[r, c]))
        self.prop.SetUserMatrix(m)
        hu = volume.metadata.get("units") == "HU" or volume.modality == "CT"
        if hu:
            self._hu_shift = (1.0, 0.0)
        else:  # map the HU anchors -1024..3071 onto this volume's value range
            lo, hi = volume.value_range()
            scale = (hi - lo) / 4095.0 if hi > lo else 1.0
            self._hu_shift = (scale, lo + 1024.0 * scale)
        self.set_preset(self.preset)
        self.renderer.AddVolume(self.prop)
        self.reset_camera()

    def _make_mapper(self, render_window: vtkRenderWindow | None):
        choice = os.environ.get("MEDDIAG_VOLUME_MAPPER", "").lower()
        if choice not in ("cpu", "gpu"):
            software = is_software_renderer(render_window) if render_window is not None else None
            choice = "gpu" if software is False else "cpu"
        self.mapper_kind = choice
        if choice == "gpu":
            mapper = vtkGPUVolumeRayCastMapper()
            mapper.SetAutoAdjustSampleDistances(True)
        else:
            mapper = vtkFixedPointVolumeRayCastMapper()
            mapper.SetAutoAdjustSampleDistances(True)
            mapper.SetNumberOfThreads(os.cpu_count() or 2)
            mapper.SetInteractiveSampleDistance(INTERACTIVE_SAMPLE_DISTANCE)
            self._apply_level_of_detail(mapper)
        return mapper

    def set_interactive(self, on: bool) -> None:
        """Coarser, faster frames while the user turns the view (``True``), full quality again after.

        With the CPU ray caster and the render window's interactive update rate, VTK
        chooses the image sample distance within :data:`INTERACTIVE_IMAGE_SAMPLE_DISTANCE`
        from the last frames' times and steps rays :data:`INTERACTIVE_SAMPLE_DISTANCE` mm
        apart; at the still update rate every pixel gets its ray again, so the frame after
        the release is the same as one that was never turned. The GPU ray caster keeps its
        own adaptive sampling.
        """
        self.interactive = bool(on)
        mapper = self.prop.GetMapper()
        if mapper is not None and self.mapper_kind == "cpu":
            self._apply_level_of_detail(mapper)

    def _apply_level_of_detail(self, mapper) -> None:
        if self.interactive:
            lo, hi = INTERACTIVE_IMAGE_SAMPLE_DISTANCE
        elif self.draft:
            lo = hi = DRAFT_IMAGE_SAMPLE_DISTANCE
        else:
            lo, hi = _STILL_IMAGE_SAMPLE_DISTANCE
        mapper.SetMinimumImageSampleDistance(lo)
        mapper.SetMaximumImageSampleDistance(hi)

    def refine(self) -> bool:
        """Leave draft mode (shading back on, as the preset says); True if the next frame changes."""
        if not self.draft:
            return False
        self.draft = False
        if self.volume is not None:
            self.set_preset(self.preset)
            self._apply_level_of_detail(self.prop.GetMapper())
        return True

    # --------------------------------------------------------------- presets
    def _v(self, hu: float) -> float:
        scale, offset = self._hu_shift
        return hu * scale + offset

    def set_preset(self, name: str) -> None:
        """Apply a rendering preset (one of :data:`PRESETS`)."""
        if name not in PRESETS:
            raise ValueError(f"unknown 3D preset {name!r}; choose one of {', '.join(PRESETS)}")
        self.preset = name
        opacity = vtkPiecewiseFunction()
        colour = vtkColorTransferFunction()
        prop = self.property
        mapper = self.prop.GetMapper()
        if name in MR_PRESETS:
            self._set_mr_preset(name, opacity, colour)
        elif name == "MIP":
            for hu, o in ((-1024, 0.0), (-200, 0.0), (1200, 1.0), (3071, 1.0)):
                opacity.AddPoint(self._v(hu), o)
            for hu, g in ((-1024, 0.0), (-200, 0.0), (1200, 1.0), (3071, 1.0)):
                colour.AddRGBPoint(self._v(hu), g, g, g)
            prop.ShadeOff()
            if mapper is not None:
                mapper.SetBlendModeToMaximumIntensity()
        else:
            op, col = (_BONE_OPACITY, _BONE_COLOUR) if name == "CT bone" else (_SOFT_OPACITY, _SOFT_COLOUR)
            for hu, o in op:
                opacity.AddPoint(self._v(hu), o)
            for hu, r, g, b in col:
                colour.AddRGBPoint(self._v(hu), r, g, b)
            prop.SetShade(not self.draft)
            prop.SetAmbient(0.25)
            prop.SetDiffuse(0.8)
            prop.SetSpecular(0.25)
            prop.SetSpecularPower(20.0)
            if mapper is not None:
                mapper.SetBlendModeToComposite()
        prop.SetScalarOpacity(opacity)
        prop.SetColor(colour)

    def _set_mr_preset(self, name: str, opacity: vtkPiecewiseFunction, colour: vtkColorTransferFunction) -> None:
        """MR presets, scaled to this volume's intensities (:func:`mr_anchors`, computed once per volume)."""
        prop, mapper = self.property, self.prop.GetMapper()
        if self._mr_anchors is None:
            arr = self.volume.array if self.volume is not None else np.zeros(1)
            self._mr_anchors = mr_anchors(arr)
        robust_max, p90, p999 = self._mr_anchors
        if name == "MR T1":
            for f, o in _MR_T1_OPACITY:
                opacity.AddPoint(f * robust_max, o)
            for f, r, g, b in _MR_T1_COLOUR:
                colour.AddRGBPoint(f * robust_max, r, g, b)
            prop.SetShade(not self.draft)
            prop.SetAmbient(0.3)
            prop.SetDiffuse(0.75)
            prop.SetSpecular(0.15)
            prop.SetSpecularPower(15.0)
            if mapper is not None:
                mapper.SetBlendModeToComposite()
        else:  # angiography MIP
            opacity.AddPoint(p90, 0.0)
            opacity.AddPoint(p999, 1.0)
            colour.AddRGBPoint(p90, 0.0, 0.0, 0.0)
            colour.AddRGBPoint(p999, 1.0, 1.0, 1.0)
            prop.ShadeOff()
            if mapper is not None:
                mapper.SetBlendModeToMaximumIntensity()

    # ---------------------------------------------------------------- camera
    def reset_camera(self) -> None:
        """Look at the volume from anterior (camera at -Y), Superior up, whole volume in view."""
        if self.volume is None:
            return
        centre = self.volume.center_lps()
        cam = self.renderer.GetActiveCamera()
        cam.SetFocalPoint(*centre)
        cam.SetPosition(*(centre + np.array([0.0, -1000.0, 0.0])))
        cam.SetViewUp(0.0, 0.0, 1.0)
        self.renderer.ResetCamera()
        cam.Zoom(1.15)
        self.renderer.ResetCameraClippingRange()
