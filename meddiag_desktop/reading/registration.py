"""Rigid registration of a prior study to the current one, and the transform that links them.

A :class:`RigidTransform` maps a point of the *current* study (LPS mm) to the same
anatomy in the *prior* (LPS mm of the prior's frame of reference):
``prior = R @ current + t``. Studies sharing a FrameOfReferenceUID are linked by
the identity; others by :func:`register_rigid` (SimpleITK ``Euler3DTransform``,
Mattes mutual information, three resolutions on copies resampled to a few mm) or
by one reader-set point pair (:func:`point_pair_transform`, a translation).

SimpleITK is imported inside :func:`register_rigid` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from meddiag_desktop.core import Volume
from meddiag_desktop.core.progress import Cancel, Cancelled, Progress

__all__ = [
    "RigidTransform",
    "RegistrationCancelled",
    "RegistrationError",
    "same_frame_of_reference",
    "point_pair_transform",
    "register_rigid",
]


class RegistrationCancelled(Cancelled):
    """The reader cancelled the registration."""


class RegistrationError(ValueError):
    """The two studies cannot be registered (say why and what to do)."""


@dataclass(frozen=True)
class RigidTransform:
    """``prior_lps = matrix @ current_lps + offset`` (a rotation and a translation, mm)."""

    matrix: np.ndarray = field(default_factory=lambda: np.eye(3))
    offset: np.ndarray = field(default_factory=lambda: np.zeros(3))
    method: str = "identity"  #: "same frame of reference", "registration", "point pair" or "identity"
    metric: float | None = None  #: final metric value of a registration

    def __post_init__(self) -> None:
        m = np.asarray(self.matrix, float).reshape(3, 3)
        if not np.allclose(m @ m.T, np.eye(3), atol=1e-4) or np.linalg.det(m) < 0:
            raise ValueError("a rigid transform needs a proper rotation matrix (orthonormal, det +1)")
        object.__setattr__(self, "matrix", m)
        object.__setattr__(self, "offset", np.asarray(self.offset, float).reshape(3))

    def apply(self, lps) -> np.ndarray:
        """The prior point of current point(s) ``lps`` (shape (3,) or (n, 3))."""
        p = np.asarray(lps, float)
        return p @ self.matrix.T + self.offset

    def inverse_apply(self, lps) -> np.ndarray:
        """The current point of prior point(s) ``lps``."""
        p = np.asarray(lps, float)
        return (p - self.offset) @ self.matrix

    @property
    def rotation_deg(self) -> float:
        """Angle of the rotation (degrees, about its own axis)."""
        c = (np.trace(self.matrix) - 1.0) / 2.0
        return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))

    def translation_at(self, lps) -> np.ndarray:
        """Displacement (prior - current) of the point ``lps``, mm."""
        return self.apply(lps) - np.asarray(lps, float)

    def describe(self, at=None) -> str:
        """One line for the status bar: method, rotation and the shift at ``at`` (default: origin)."""
        shift = self.translation_at(np.zeros(3) if at is None else at)
        return (f"{self.method}: rotation {self.rotation_deg:.1f}\u00b0, shift "
                f"{np.linalg.norm(shift):.1f} mm ({shift[0]:+.1f}, {shift[1]:+.1f}, {shift[2]:+.1f} LPS)")


def _for(volume: Volume) -> str:
    return str(volume.metadata.get("frame_of_reference_uid", "") or "")


def same_frame_of_reference(current: Volume, prior: Volume) -> bool:
    """True when both volumes carry one (non-empty) FrameOfReferenceUID: their LPS coordinates agree."""
    return bool(_for(current)) and _for(current) == _for(prior)


def point_pair_transform(current_point, prior_point) -> RigidTransform:
    """The translation taking ``current_point`` (current LPS) onto ``prior_point`` (prior LPS)."""
    a, b = np.asarray(current_point, float), np.asarray(prior_point, float)
    if a.shape != (3,) or b.shape != (3,) or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("a point pair needs one finite LPS point (x, y, z) in each study")
    return RigidTransform(np.eye(3), b - a, method="point pair")


def _prepared(volume: Volume, spacing_mm: float):
    """``volume`` as float32 SimpleITK image on an isotropic ``spacing_mm`` grid, CT clamped to [-1000, 1500]."""
    import SimpleITK as sitk

    if volume.is_rgb:
        raise RegistrationError("colour images cannot be registered; open a greyscale series")
    if min(volume.shape_xyz) < 4:
        raise RegistrationError(f"a volume of {volume.shape_xyz} voxels is too thin to register; open a 3D series")
    img = sitk.GetImageFromArray(np.ascontiguousarray(volume.array, dtype=np.float32))
    img.SetSpacing(tuple(float(s) for s in volume.spacing))
    img.SetOrigin(tuple(float(o) for o in volume.origin))
    img.SetDirection(tuple(float(v) for v in np.asarray(volume.direction).ravel()))
    if str(volume.metadata.get("units", "")) == "HU" or volume.modality == "CT":
        img = sitk.Clamp(img, sitk.sitkFloat32, -1000.0, 1500.0) + 1000.0  # air 0: moments are body moments
    size = np.asarray(img.GetSize()) * np.asarray(img.GetSpacing())
    new_size = [max(4, int(round(s / spacing_mm))) for s in size]
    sigma = [max(0.0, (spacing_mm - s) / 2.0) for s in img.GetSpacing()]
    if any(s > 0 for s in sigma):
        img = sitk.SmoothingRecursiveGaussian(img, [max(s, 1e-3) for s in sigma])
    return sitk.Resample(img, new_size, sitk.Transform(), sitk.sitkLinear, img.GetOrigin(),
                         [spacing_mm] * 3, img.GetDirection(), 0.0, sitk.sitkFloat32)


def register_rigid(
    current: Volume,
    prior: Volume,
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    spacing_mm: float = 3.0,
    iterations: int = 100,
    sampling: float = 0.1,
    seed: int = 20260115,
) -> RigidTransform:
    """Rigidly register ``prior`` onto ``current`` and return the current -> prior transform.

    Parameters
    ----------
    spacing_mm
        Both volumes are resampled (after a matching Gaussian blur) to this
        isotropic spacing first; the pyramid then runs at 4x, 2x and 1x of it.
    iterations, sampling
        Optimiser iterations per level; fraction of voxels sampled by the metric.
    progress, cancel
        ``progress(done, total)`` counts optimiser iterations; ``cancel()``
        returning True stops the optimiser and raises :class:`RegistrationCancelled`.
    """
    import SimpleITK as sitk

    cancel = cancel or (lambda: False)
    progress = progress or (lambda d, t: None)
    levels = 3
    total = levels * iterations
    fixed = _prepared(current, spacing_mm)
    if cancel():
        raise RegistrationCancelled("registration cancelled")
    moving = _prepared(prior, spacing_mm)
    init = sitk.CenteredTransformInitializer(fixed, moving, sitk.Euler3DTransform(),
                                             sitk.CenteredTransformInitializerFilter.MOMENTS)
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=48)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(sampling, seed)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(learningRate=2.0, minStep=0.01, numberOfIterations=iterations,
                                                 relaxationFactor=0.6, gradientMagnitudeTolerance=1e-6)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([4, 2, 1])
    reg.SetSmoothingSigmasPerLevel([2.0, 1.0, 0.0])
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    reg.SetInitialTransform(init, inPlace=False)
    state = {"level": 0, "done": 0}

    def on_level() -> None:
        state["level"] = reg.GetCurrentLevel()

    def on_iteration() -> None:
        done = state["level"] * iterations + reg.GetOptimizerIteration()
        if done > state["done"]:
            state["done"] = done
            progress(min(done, total - 1), total)
        if cancel():
            reg.StopRegistration()

    reg.AddCommand(sitk.sitkMultiResolutionIterationEvent, on_level)
    reg.AddCommand(sitk.sitkIterationEvent, on_iteration)
    try:
        result = reg.Execute(fixed, moving)
    except RuntimeError as exc:  # e.g. "All samples map outside moving image buffer"
        if cancel():
            raise RegistrationCancelled("registration cancelled") from exc
        raise RegistrationError(f"the registration failed ({str(exc).strip().splitlines()[-1]}); "
                                "link the studies by a point pair instead") from exc
    if cancel():
        raise RegistrationCancelled("registration cancelled")
    progress(total, total)
    tx = result
    if isinstance(tx, sitk.CompositeTransform):
        tx = tx.GetNthTransform(tx.GetNumberOfTransforms() - 1)
    euler = sitk.Euler3DTransform(tx)
    m = np.asarray(euler.GetMatrix()).reshape(3, 3)
    c = np.asarray(euler.GetCenter())
    offset = np.asarray(euler.GetTranslation()) + c - m @ c
    return RigidTransform(m, offset, method="registration", metric=float(reg.GetMetricValue()))
