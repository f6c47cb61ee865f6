"""Measurements in patient space (LPS mm): geometry and the statistics of what they enclose.

A measurement stores its points in LPS millimetres, never in pixels, so it is
right on anisotropic pixels and oblique reslices and can be drawn in every
view where it lies. Region statistics sample the voxels whose centres lie in
the drawn plane (within half a voxel along its normal) and inside the shape.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from meddiag_desktop.core.volume import Volume

__all__ = [
    "Kind",
    "KINDS",
    "Measurement",
    "RegionStats",
    "distance_mm",
    "angle_deg",
    "polygon_area_mm2",
    "ellipse_polygon",
    "region_stats",
    "nodule_axes",
    "summarize",
    "measurement_text",
    "longest_diameter_mm",
]

Kind = Literal["distance", "angle", "ellipse", "freehand", "point", "nodule_axes"]
#: kind -> (number of points, or None for any number >= 3; human name)
KINDS: dict[str, tuple[int | None, str]] = {
    "distance": (2, "Distance"),
    "angle": (3, "Angle"),
    "ellipse": (3, "Ellipse ROI"),  # centre, end of first semi-axis, a point fixing the second
    "freehand": (None, "Freehand ROI"),
    "point": (1, "Point"),
    "nodule_axes": (4, "Nodule long/short axis"),  # long axis a-b, short axis c-d
}


@dataclass
class Measurement:
    """One measurement: its kind, its points (LPS mm) and the plane it was drawn in."""

    kind: Kind
    points: list[tuple[float, float, float]]
    #: unit normal (LPS) of the plane the measurement was drawn in
    normal: tuple[float, float, float] = (0.0, 0.0, 1.0)
    label: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown measurement kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        n, name = KINDS[self.kind]
        self.points = [tuple(float(c) for c in p) for p in self.points]  # type: ignore[misc]
        if n is not None and len(self.points) != n:
            raise ValueError(f"a {name} needs {n} point(s), got {len(self.points)}")
        if n is None and len(self.points) < 3:
            raise ValueError(f"a {name} needs at least 3 points, got {len(self.points)}")
        nrm = np.asarray(self.normal, float)
        length = float(np.linalg.norm(nrm))
        if not math.isfinite(length) or length < 1e-9:
            raise ValueError("measurement plane normal must be a non-zero vector")
        self.normal = tuple(float(c) for c in nrm / length)  # type: ignore[assignment]

    @property
    def name(self) -> str:
        return self.label or KINDS[self.kind][1]

    def to_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "label": self.label, "normal": list(self.normal),
                "points": [list(p) for p in self.points]}

    @classmethod
    def from_dict(cls, d: dict) -> "Measurement":
        return cls(kind=d["kind"], points=[tuple(p) for p in d["points"]], normal=tuple(d.get("normal", (0, 0, 1))),
                   label=str(d.get("label", "")), id=str(d.get("id") or uuid.uuid4().hex[:12]))

    def moved(self, index: int, point: tuple[float, float, float]) -> "Measurement":
        """A copy with point ``index`` moved to ``point`` (dragging a handle)."""
        pts = list(self.points)
        pts[index] = tuple(float(c) for c in point)  # type: ignore[assignment]
        return Measurement(self.kind, pts, self.normal, self.label, self.id)


# ------------------------------------------------------------------ geometry
def distance_mm(a, b) -> float:
    """Euclidean distance between two LPS points (mm)."""
    return float(np.linalg.norm(np.asarray(b, float) - np.asarray(a, float)))


def angle_deg(a, vertex, c) -> float:
    """Angle a-vertex-c in degrees (0..180)."""
    u = np.asarray(a, float) - np.asarray(vertex, float)
    v = np.asarray(c, float) - np.asarray(vertex, float)
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu < 1e-12 or nv < 1e-12:
        return 0.0
    return float(np.degrees(np.arccos(np.clip(u @ v / (nu * nv), -1.0, 1.0))))


def _plane_basis(normal) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = np.asarray(normal, float)
    n = n / np.linalg.norm(n)
    helper = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(n, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    return e1, e2, n


def polygon_area_mm2(points, normal) -> float:
    """Area (mm²) of a planar polygon given by LPS points, projected on the plane of ``normal``."""
    p = np.asarray(points, float)
    e1, e2, _ = _plane_basis(normal)
    x, y = p @ e1, p @ e2
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def _ellipse_axes(points, normal) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre and the two semi-axis vectors (in plane) of an ellipse measurement."""
    c, a_end, b_pt = (np.asarray(p, float) for p in points)
    _, _, n = _plane_basis(normal)
    a = a_end - c
    a -= (a @ n) * n
    a_len = np.linalg.norm(a)
    if a_len < 1e-9:
        return c, np.zeros(3), np.zeros(3)
    b_dir = np.cross(n, a / a_len)
    b_len = abs((b_pt - c) @ b_dir)
    return c, a, b_dir * b_len


def ellipse_polygon(points, normal, n: int = 64) -> np.ndarray:
    """LPS outline (n x 3) of an ellipse measurement, for drawing."""
    c, a, b = _ellipse_axes(points, normal)
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return c + np.outer(np.cos(t), a) + np.outer(np.sin(t), b)


def _points_in_polygon(x: np.ndarray, y: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Even-odd rule, vectorised over the query points (x, y)."""
    inside = np.zeros(x.shape, bool)
    j = len(px) - 1
    for i in range(len(px)):
        xi, yi, xj, yj = px[i], py[i], px[j], py[j]
        crosses = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= crosses & (x < xint)
        j = i
    return inside


@dataclass(frozen=True)
class RegionStats:
    """Statistics of the voxels inside a region (values in the volume's units, HU for CT)."""

    area_mm2: float
    count: int
    mean: float
    sd: float
    min: float
    max: float


def _candidate_voxels(volume: "Volume", outline: np.ndarray, normal) -> tuple[np.ndarray, np.ndarray]:
    """Indices (N x 3, i j k) and LPS centres of voxels within half a voxel of the outline's plane."""
    _, _, n = _plane_basis(normal)
    ijk = volume.to_index(outline)
    lo = np.floor(ijk.min(axis=0)) - 1
    hi = np.ceil(ijk.max(axis=0)) + 1
    # widen along the index axis closest to the normal so the plane's slab is covered
    d = volume.direction / np.linalg.norm(volume.direction, axis=0)
    k_axis = int(np.argmax(np.abs(n @ d)))
    lo[k_axis] -= 1
    hi[k_axis] += 1
    shape = np.array(volume.shape_xyz)
    lo = np.clip(lo, 0, shape - 1).astype(int)
    hi = np.clip(hi, 0, shape - 1).astype(int)
    grids = np.meshgrid(*(np.arange(lo[a], hi[a] + 1) for a in range(3)), indexing="ij")
    idx = np.stack([g.ravel() for g in grids], axis=1)
    centres = volume.to_lps(idx)
    plane_d = float(np.asarray(outline[0]) @ n)
    # the slab of one voxel layer around the plane: half-open so no layer is counted twice
    step = float(volume.spacing[k_axis]) * max(abs(float(n @ d[:, k_axis])), 1e-6)
    s = centres @ n - plane_d
    near = (s >= -step / 2 - 1e-6) & (s < step / 2 - 1e-6)
    return idx[near], centres[near]


def region_stats(volume: "Volume", measurement: Measurement) -> RegionStats:
    """Area and voxel statistics of an ellipse or freehand ROI."""
    if measurement.kind == "ellipse":
        c, a, b = _ellipse_axes(measurement.points, measurement.normal)
        area = math.pi * float(np.linalg.norm(a)) * float(np.linalg.norm(b))
        outline = ellipse_polygon(measurement.points, measurement.normal, 16)
        idx, centres = _candidate_voxels(volume, outline, measurement.normal)
        if np.linalg.norm(a) < 1e-9 or np.linalg.norm(b) < 1e-9:
            inside = np.zeros(len(idx), bool)
        else:
            rel = centres - c
            inside = (rel @ a / (a @ a)) ** 2 + (rel @ b / (b @ b)) ** 2 <= 1.0 + 1e-9
    elif measurement.kind == "freehand":
        outline = np.asarray(measurement.points, float)
        area = polygon_area_mm2(outline, measurement.normal)
        idx, centres = _candidate_voxels(volume, outline, measurement.normal)
        e1, e2, _ = _plane_basis(measurement.normal)
        inside = _points_in_polygon(centres @ e1, centres @ e2, outline @ e1, outline @ e2)
    else:
        raise ValueError(f"{measurement.name} has no region statistics")
    sel = idx[inside]
    if volume.is_rgb or len(sel) == 0:
        return RegionStats(area, int(len(sel)), math.nan, math.nan, math.nan, math.nan)
    vals = volume.array[sel[:, 2], sel[:, 1], sel[:, 0]].astype(np.float64)
    return RegionStats(area, int(len(vals)), float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
                       float(vals.min()), float(vals.max()))


def nodule_axes(measurement: Measurement) -> tuple[float, float, float, float]:
    """(long axis, short axis, mean diameter (mm), angle between the axes in degrees)."""
    a, b, c, d = measurement.points
    long_, short = distance_mm(a, b), distance_mm(c, d)
    if short > long_:
        long_, short = short, long_
    u = np.asarray(b) - np.asarray(a)
    v = np.asarray(d) - np.asarray(c)
    ang = angle_deg(u, (0, 0, 0), v) if np.linalg.norm(u) and np.linalg.norm(v) else 0.0
    return long_, short, (long_ + short) / 2.0, ang


def summarize(volume: "Volume | None", m: Measurement) -> dict[str, float | int | str]:
    """The values shown for a measurement in lists, overlays and reports."""
    units = (volume.metadata.get("units") or "") if volume is not None else ""
    if m.kind == "distance":
        return {"length_mm": distance_mm(*m.points)}
    if m.kind == "angle":
        return {"angle_deg": angle_deg(*m.points)}
    if m.kind == "point":
        out: dict[str, float | int | str] = {"x": m.points[0][0], "y": m.points[0][1], "z": m.points[0][2]}
        if volume is not None:
            v = volume.value_at(m.points[0])
            if isinstance(v, float):
                out["value"] = v
                out["units"] = units
        return out
    if m.kind == "nodule_axes":
        long_, short, mean, ang = nodule_axes(m)
        return {"long_axis_mm": long_, "short_axis_mm": short, "mean_diameter_mm": mean, "axes_angle_deg": ang}
    if volume is None:
        e = m.points
        area = polygon_area_mm2(e, m.normal) if m.kind == "freehand" else math.nan
        return {"area_mm2": area}
    st = region_stats(volume, m)
    return {"area_mm2": st.area_mm2, "count": st.count, "mean": st.mean, "sd": st.sd, "min": st.min, "max": st.max,
            "units": units}



def _fmt(v: float, digits: int = 1) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def measurement_text(volume: "Volume | None", m: Measurement) -> str:
    """The label drawn beside a measurement: its name (if renamed) and values with units."""
    s = summarize(volume, m)
    units = str(s.get("units", "") or "")
    if m.kind == "distance":
        body = f"{s['length_mm']:.1f} mm"
    elif m.kind == "angle":
        body = f"{s['angle_deg']:.1f}\u00b0"
    elif m.kind == "nodule_axes":
        body = f"L {s['long_axis_mm']:.1f} \u00d7 S {s['short_axis_mm']:.1f} mm\nmean {s['mean_diameter_mm']:.1f} mm"
    elif m.kind == "point":
        body = f"{_fmt(s['value'], 0)} {units}".strip() if "value" in s else "(outside)"
    else:
        body = f"{s['area_mm2']:.1f} mm\u00b2"
        if "mean" in s:
            body += (f"\nmean {_fmt(s['mean'])} \u00b1 {_fmt(s['sd'])} {units}".rstrip()
                     + f"\nmin {_fmt(s['min'], 0)}  max {_fmt(s['max'], 0)}  n={s['count']}")
    return f"{m.label}\n{body}" if m.label else body


def longest_diameter_mm(volume: "Volume", mask: np.ndarray, max_points: int = 3000) -> float:
    """Largest distance (mm) between two voxel centres of ``mask`` (``[z, y, x]`` on the volume's grid).

    A 3D chord, not a nodule size: nodule long/short axis and mean diameter (Fleischner
    2017), as the table, the risk inputs, the PDF and the SR show them, come from
    :func:`meddiag_desktop.core.label_geometry.axial_diameters`.

    Only boundary voxels can be the ends of the longest chord, so those are used
    (subsampled evenly beyond ``max_points``: the error is then at most the sampling gap).
    """
    m = np.asarray(mask, bool)
    if not m.any():
        return 0.0
    inner = m.copy()
    for axis in range(3):
        inner[tuple(slice(1, None) if a == axis else slice(None) for a in range(3))] &= m[
            tuple(slice(None, -1) if a == axis else slice(None) for a in range(3))]
        inner[tuple(slice(None, -1) if a == axis else slice(None) for a in range(3))] &= m[
            tuple(slice(1, None) if a == axis else slice(None) for a in range(3))]
    edge = m & ~inner
    zyx = np.argwhere(edge)
    if len(zyx) > max_points:
        zyx = zyx[np.linspace(0, len(zyx) - 1, max_points).astype(int)]
    pts = volume.to_lps(zyx[:, ::-1].astype(float))
    if len(pts) == 1:
        return 0.0
    best = 0.0
    for i in range(0, len(pts), 512):  # blocks keep memory small
        d = np.linalg.norm(pts[i:i + 512, None, :] - pts[None, :, :], axis=2)
        best = max(best, float(d.max()))
    return best
