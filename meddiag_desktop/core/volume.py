"""The image volume every part of the app works on.

Geometry follows the ITK/SimpleITK convention so that results can be compared
with SimpleITK directly:

* ``array`` is indexed ``[z, y, x]`` (slice, row, column);
* ``spacing`` is ``(x, y, z)`` in mm;
* ``origin`` is the LPS position in mm of voxel ``(0, 0, 0)``;
* ``direction`` is a 3x3 matrix whose *columns* are the LPS unit vectors of the
  x, y and z index axes.

So the LPS position of index ``(i, j, k)`` (x, y, z) is
``origin + direction @ (spacing * (i, j, k))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Volume", "WindowPreset"]


@dataclass(frozen=True)
class WindowPreset:
    """A named window (width) / level (centre) pair in the volume's units."""

    name: str
    width: float
    level: float


@dataclass
class Volume:
    """A 3D scalar (or RGB) image with its patient-space geometry.

    Parameters
    ----------
    array:
        Voxel values, axes ``(z, y, x)``; RGB images have a trailing axis of 3.
    spacing:
        Voxel size ``(x, y, z)`` in mm.
    origin:
        LPS position (mm) of the centre of voxel ``(0, 0, 0)``.
    direction:
        3x3 matrix, columns are the LPS directions of the x, y and z axes.
    metadata:
        Free-form description: patient, study, series, modality, window presets...
    warnings:
        Human-readable problems found while loading (shown in the UI).
    """

    array: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.array.ndim not in (3, 4) or (self.array.ndim == 4 and self.array.shape[3] != 3):
            raise ValueError(f"Volume array must be (z, y, x) or (z, y, x, 3), got shape {self.array.shape}")
        self.spacing = tuple(float(s) for s in self.spacing)  # type: ignore[assignment]
        self.origin = tuple(float(o) for o in self.origin)  # type: ignore[assignment]
        self.direction = np.asarray(self.direction, dtype=float).reshape(3, 3)
        if any(not np.isfinite(s) or s <= 0 for s in self.spacing):
            raise ValueError(f"Volume spacing must be positive, got {self.spacing}")

    # ----------------------------------------------------------------- shape
    @property
    def shape_xyz(self) -> tuple[int, int, int]:
        """Number of voxels along x, y and z (the reverse of ``array.shape``)."""
        z, y, x = self.array.shape[:3]
        return (x, y, z)

    @property
    def is_rgb(self) -> bool:
        return self.array.ndim == 4

    @property
    def modality(self) -> str:
        return str(self.metadata.get("modality", ""))

    # -------------------------------------------------------------- geometry
    @property
    def index_to_lps(self) -> np.ndarray:
        """4x4 affine mapping homogeneous ``(i, j, k, 1)`` (x, y, z index) to LPS mm."""
        m = np.eye(4)
        m[:3, :3] = self.direction @ np.diag(self.spacing)
        m[:3, 3] = self.origin
        return m

    @property
    def lps_to_index(self) -> np.ndarray:
        """4x4 affine mapping LPS mm to continuous ``(i, j, k)`` index."""
        return np.linalg.inv(self.index_to_lps)

    def to_lps(self, ijk: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """LPS position (mm) of continuous index (or N x 3 indices) ``(i, j, k)``."""
        p = np.asarray(ijk, dtype=float)
        return p @ (self.direction @ np.diag(self.spacing)).T + np.asarray(self.origin)

    def to_index(self, lps: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Continuous index ``(i, j, k)`` of LPS position(s) ``lps`` (mm)."""
        p = np.asarray(lps, dtype=float) - np.asarray(self.origin)
        return p @ np.linalg.inv(self.direction @ np.diag(self.spacing)).T

    def value_at(self, lps: np.ndarray | tuple[float, float, float]) -> float | tuple | None:
        """Value of the voxel nearest to ``lps``, or ``None`` outside the volume."""
        i, j, k = np.rint(self.to_index(lps)).astype(int)
        nx, ny, nz = self.shape_xyz
        if not (0 <= i < nx and 0 <= j < ny and 0 <= k < nz):
            return None
        v = self.array[k, j, i]
        return tuple(int(c) for c in v) if self.is_rgb else float(v)

    def corners_lps(self) -> np.ndarray:
        """LPS positions of the 8 corner voxel centres (8 x 3)."""
        nx, ny, nz = self.shape_xyz
        idx = np.array([[i, j, k] for i in (0, nx - 1) for j in (0, ny - 1) for k in (0, nz - 1)], float)
        return self.to_lps(idx)

    def center_lps(self) -> np.ndarray:
        """LPS position of the volume's centre."""
        nx, ny, nz = self.shape_xyz
        return self.to_lps(((nx - 1) / 2, (ny - 1) / 2, (nz - 1) / 2))

    # --------------------------------------------------------------- display
    @property
    def window_presets(self) -> list[WindowPreset]:
        """Window presets read from the file (e.g. DICOM WindowCenter/Width)."""
        return list(self.metadata.get("window_presets", []))

    def value_range(self) -> tuple[float, float]:
        """Minimum and maximum voxel value (cached)."""
        rng = self.metadata.get("_value_range")
        if rng is None:
            rng = (float(self.array.min()), float(self.array.max())) if self.array.size else (0.0, 0.0)
            self.metadata["_value_range"] = rng
        return rng

    def __repr__(self) -> str:  # keep repr short: arrays are big
        return (
            f"Volume(shape_xyz={self.shape_xyz}, dtype={self.array.dtype}, spacing={self.spacing}, "
            f"origin={self.origin}, modality={self.modality!r}, warnings={len(self.warnings)})"
        )
