"""Does this volume fit the plugin? Refusals (:class:`InputRefused`) and warnings, before any model code runs.

:func:`check_input` is for native plugins (intended-use gate first, then the
model's own limits); :func:`check_bundle_input` for MONAI bundles (2D bundles
take 2D images). A forced run ("Run anyway", ``--force``) is marked with
:func:`forced_run`, which checks that are not handed ``force`` read.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from meddiag_desktop.ai.bundle import is_2d_bundle
from meddiag_desktop.ai.errors import InputRefused
from meddiag_desktop.ai.intended_use import domain_of, gate
from meddiag_desktop.ai.manifest import PluginManifest
from meddiag_desktop.core.volume import Volume

__all__ = ["InputRefused", "check_input", "check_bundle_input", "forced_run"]

#: set while a forced run is under way in this context (reaches checks that are not given ``force``)
_FORCED: contextvars.ContextVar[bool] = contextvars.ContextVar("meddiag_forced_run", default=False)


@contextmanager
def forced_run(force: bool) -> Iterator[None]:
    """Within the block, :func:`check_input` called without ``force`` uses this one."""
    token = _FORCED.set(bool(force))
    try:
        yield
    finally:
        _FORCED.reset(token)


def check_input(manifest: PluginManifest, volume: Volume, force: bool | None = None,
                folder: str | Path | None = None) -> list[str]:
    """Refuse volumes the model cannot handle; return warnings for doubtful ones.

    First the intended-use gate (:mod:`meddiag_desktop.ai.intended_use`): a study outside
    the declared domain raises :class:`~meddiag_desktop.ai.intended_use.OutsideIntendedUse`
    naming the mismatch, unless ``force`` (then the first warning starts with
    "Outside intended use").
    """
    force = _FORCED.get() if force is None else force
    warnings: list[str] = gate(manifest, volume, folder, force)
    if volume.is_rgb:
        raise InputRefused(f"{manifest.name} needs a greyscale {manifest.input.modality} volume, not an RGB image")
    if any(not (0.01 <= s <= 50) for s in volume.spacing):
        raise InputRefused(f"voxel spacing {volume.spacing} mm is implausible; check the file's geometry")
    extent = [n * s for n, s in zip(volume.shape_xyz, volume.spacing)]
    if min(volume.shape_xyz) < 4 or min(extent) < manifest.input.min_size_mm:
        raise InputRefused(
            f"{manifest.name} is a 3D model; this image is {volume.shape_xyz[0]}x{volume.shape_xyz[1]}x"
            f"{volume.shape_xyz[2]} voxels ({' x '.join(f'{e:.0f}' for e in extent)} mm), too thin to be a 3D study"
        )
    want = manifest.input.modality.upper()
    domain = domain_of(manifest, folder)
    if want == "CT" and not (domain.values_reach or domain.value_range):
        lo, hi = volume.value_range()
        if lo > -200 or hi < 50:
            warnings.append(
                f"values {lo:.0f}..{hi:.0f} do not look like CT Hounsfield units; results may be meaningless"
            )
    if manifest.input.spacing_mm:
        ratio = max(s / m for s, m in zip(volume.spacing, manifest.input.spacing_mm))
        if ratio > 3:
            warnings.append(f"study spacing {volume.spacing} mm is much coarser than the model's {manifest.input.spacing_mm}")
    return warnings


def check_bundle_input(manifest: PluginManifest, volume, folder: str | Path | None = None) -> list[str]:
    """Refuse inputs the bundle cannot take (a 2D image for a 3D model...); return warnings.

    2D bundles (``spatial_shape`` of two numbers) take 2D images and 3D studies,
    which their inferer runs slice by slice.
    """
    warnings: list[str] = []
    two_d = is_2d_bundle(folder) if folder is not None else manifest.input.min_size_mm == 0
    if volume.is_rgb and manifest.input.channels != 3:
        raise InputRefused(f"{manifest.name} needs a greyscale {manifest.input.modality} image, not an RGB image")
    if any(not (0.001 <= s <= 50) for s in volume.spacing):
        raise InputRefused(f"voxel spacing {volume.spacing} mm is implausible; check the file's geometry")
    nx, ny, nz = volume.shape_xyz
    if not two_d and min(nx, ny, nz) < 4:
        raise InputRefused(
            f"{manifest.name} is a 3D model; this image is {nx}x{ny}x{nz} voxels, a 2D image or too thin a study"
        )
    want = manifest.input.modality.upper()
    have = volume.modality.upper()
    if have and want and have != want and not (want == "MAMMOGRAM" and have == "MG"):
        warnings.append(f"model expects {want} but the study is {have}; results may be meaningless")
    return warnings
