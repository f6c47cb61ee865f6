"""Simple lung anatomy rules shared by the demo phantom and the risk inputs.

Upper lobe: the oblique fissure is modelled, per lung, as a plane that runs
from 35 % of the lung's height below its apex at the posterior edge to 60 %
below the apex at the anterior edge (it falls anteriorly, as the real oblique
fissure does from about T4 posteriorly to the sixth costochondral junction).
A point above that plane is in the upper lobe. The phantom places its fissure
with the same rule, so what the risk panel derives agrees with ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LungExtent", "lung_extent", "in_upper_lobe", "FISSURE_POSTERIOR", "FISSURE_ANTERIOR"]

#: fraction of the lung height below the apex where the fissure meets the posterior edge
FISSURE_POSTERIOR = 0.35
#: fraction of the lung height below the apex where the fissure meets the anterior edge
FISSURE_ANTERIOR = 0.60


@dataclass(frozen=True)
class LungExtent:
    """Extent of one lung in LPS mm: S (z) top/bottom, A-P (y) anterior/posterior edges."""

    z_top: float
    z_bottom: float
    y_anterior: float  # smallest LPS y (anterior is -y)
    y_posterior: float  # largest LPS y


def lung_extent(points_lps: np.ndarray) -> LungExtent:
    """Extent of a lung given the LPS positions (N x 3) of its voxels."""
    p = np.asarray(points_lps, float)
    if p.ndim != 2 or p.shape[1] != 3 or len(p) == 0:
        raise ValueError("lung_extent needs a non-empty N x 3 array of LPS points")
    return LungExtent(
        z_top=float(p[:, 2].max()),
        z_bottom=float(p[:, 2].min()),
        y_anterior=float(p[:, 1].min()),
        y_posterior=float(p[:, 1].max()),
    )


def fissure_z(extent: LungExtent, y: np.ndarray | float) -> np.ndarray | float:
    """LPS z of the modelled oblique fissure at LPS y (mm)."""
    depth = max(extent.y_posterior - extent.y_anterior, 1e-6)
    t = np.clip((extent.y_posterior - np.asarray(y, float)) / depth, 0.0, 1.0)  # 0 posterior, 1 anterior
    frac = FISSURE_POSTERIOR + (FISSURE_ANTERIOR - FISSURE_POSTERIOR) * t
    return extent.z_top - frac * (extent.z_top - extent.z_bottom)


def in_upper_lobe(point_lps: np.ndarray | tuple[float, float, float], extent: LungExtent) -> bool:
    """True when ``point_lps`` lies above the modelled oblique fissure of that lung."""
    x, y, z = (float(v) for v in point_lps)
    return bool(z > fissure_z(extent, y))
