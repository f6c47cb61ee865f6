"""Turn a set of image planes (positions + one orientation) into a regular 3D grid.

Slices are ordered by their position along the slice normal, never by file
name or instance number. Every irregularity is made visible: duplicates,
missing slices, uneven spacing and gantry tilt (slices shifted in-plane) give
a warning, and the volume is resampled onto a regular, orthogonal grid so that
the geometry we show is right rather than silently approximate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["StackPlan", "plan_stack", "apply_plan", "orientation_problem"]


@dataclass
class StackPlan:
    """How to build a regular volume from source planes.

    ``order`` lists the source planes (indices into the input) in slice order,
    one per distinct position. ``resample`` is ``None`` when the kept planes
    are already regularly spaced and aligned; otherwise ``targets`` gives, per
    output slice, ``(a, b, wb)``: blend of ordered planes ``a`` and ``b`` with
    weight ``wb`` on ``b`` (``a == -1`` means no data: a missing slice), and
    ``shifts`` the in-plane shift (columns, rows) in pixels of each ordered plane.
    """

    order: list[int]
    origin: np.ndarray
    direction: np.ndarray
    spacing: tuple[float, float, float]
    warnings: list[str] = field(default_factory=list)
    targets: list[tuple[int, int, float]] | None = None
    shifts: np.ndarray | None = None

    @property
    def n_slices(self) -> int:
        return len(self.targets) if self.targets is not None else len(self.order)

    @property
    def needs_resampling(self) -> bool:
        return self.targets is not None or self.shifts is not None


def orientation_problem(orientation) -> str | None:
    """Why six ImageOrientationPatient values are no orientation (plain words), or None when they are one.

    Pure Python (no numpy), so that header reading can call it cheaply.
    """
    r, c = [float(v) for v in orientation[:3]], [float(v) for v in orientation[3:6]]
    nr, nc = math.hypot(*r), math.hypot(*c)
    if nr < 1e-6 and nc < 1e-6:
        return "is all zeros"
    if nr < 1e-6 or nc < 1e-6:
        return f"has a zero {'row' if nr < 1e-6 else 'column'} direction"
    cos = sum(a * b for a, b in zip(r, c)) / (nr * nc)
    if abs(cos) > 1e-2:
        return f"has row and column directions that are not perpendicular (cos = {cos:.3f})"
    return None


def _orthonormal_frame(orientation) -> np.ndarray:
    r = np.asarray(orientation[:3], float)
    c = np.asarray(orientation[3:6], float)
    nr, nc = np.linalg.norm(r), np.linalg.norm(c)
    if nr < 1e-6 or nc < 1e-6:
        raise ValueError("ImageOrientationPatient has a zero vector")
    r, c = r / nr, c / nc
    if abs(float(r @ c)) > 1e-2:
        raise ValueError(f"ImageOrientationPatient row and column directions are not perpendicular (cos = {r @ c:.3f})")
    c = c - (r @ c) * r  # remove tiny rounding skew
    c /= np.linalg.norm(c)
    return np.column_stack([r, c, np.cross(r, c)])


def plan_stack(
    positions: np.ndarray,
    orientation,
    pixel_spacing_xy: tuple[float, float],
    tie_break: list[int] | None = None,
    slice_thickness: float | None = None,
) -> StackPlan:
    """Plan the regular grid for planes at ``positions`` (N x 3, LPS mm) sharing ``orientation``.

    ``pixel_spacing_xy`` is (column spacing, row spacing) in mm; ``tie_break``
    orders planes at the same position (e.g. instance numbers).
    """
    pos = np.asarray(positions, float).reshape(-1, 3)
    d3 = _orthonormal_frame(orientation)
    normal = d3[:, 2]
    sx, sy = (float(v) for v in pixel_spacing_xy)
    n = len(pos)
    dist = pos @ normal
    tb = np.asarray(tie_break if tie_break is not None else np.arange(n), float)
    order_all = list(np.lexsort((tb, dist)))
    warnings: list[str] = []

    # One plane per position: duplicates are reported and the first is kept.
    tol = 1e-3
    keep: list[int] = []
    groups: list[int] = []
    for idx in order_all:
        if keep and abs(dist[idx] - dist[keep[-1]]) < max(tol, 1e-4 * abs(dist[idx])):
            groups[-1] += 1
            continue
        keep.append(idx)
        groups.append(1)
    if any(g > 1 for g in groups):
        dup = sum(g - 1 for g in groups)
        if len(set(groups)) == 1:
            warnings.append(
                f"Every slice position occurs {groups[0]} times (several phases, echoes or acquisitions "
                f"in one series): showing the first image at each of the {len(keep)} positions."
            )
        else:
            warnings.append(
                f"{dup} duplicate slice position(s): {dup} image(s) at an already used position were left out."
            )

    origin = pos[keep[0]].copy()
    if len(keep) == 1:
        sz = float(slice_thickness) if slice_thickness and slice_thickness > 0 else 1.0
        return StackPlan(order=keep, origin=origin, direction=d3, spacing=(sx, sy, sz), warnings=warnings)

    dk = dist[keep]
    gaps = np.diff(dk)
    step = float(np.median(gaps))
    if step <= 0:
        raise ValueError("slice positions do not advance along the slice normal")

    # In-plane offsets of each plane relative to the first (gantry tilt or misaligned slices).
    rel = pos[keep] - origin
    offs = rel - np.outer(rel @ normal, normal)
    a = offs @ d3[:, 0]  # mm along the row direction (columns, x)
    b = offs @ d3[:, 1]  # mm along the column direction (rows, y)
    shifts = None
    max_off = float(np.max(np.hypot(a, b)))
    if max_off > max(0.01, 0.02 * min(sx, sy)):
        shifts = np.column_stack([a / sx, b / sy])
        span = dk[-1] - dk[0]
        tilt = float(np.degrees(np.arctan2(np.hypot(a[-1], b[-1]), span)))
        linear = np.allclose(np.column_stack([a, b]), np.outer(dk - dk[0], [a[-1], b[-1]]) / span, atol=max(0.05, 0.05 * min(sx, sy)))
        if linear:
            warnings.append(
                f"Gantry tilt of {tilt:.1f}°: slices were shifted in-plane (up to {max_off:.1f} mm) onto an "
                "orthogonal grid so that distances and 3D views are correct."
            )
        else:
            warnings.append(
                f"Slices are not aligned with each other (in-plane offsets up to {max_off:.1f} mm): they were "
                "shifted onto a common orthogonal grid. Check the series for patient motion or a mixed export."
            )

    targets = None
    rel_tol = max(0.01 * step, 1e-3)
    if np.max(np.abs(gaps - step)) > rel_tol:
        missing = [(float(dk[i]), float(dk[i + 1]), g) for i, g in enumerate(gaps) if g > 1.5 * step]
        nt = int(round((dk[-1] - dk[0]) / step)) + 1
        zt = dk[0] + step * np.arange(nt)
        targets = []
        for z in zt:
            j = int(np.searchsorted(dk, z))
            if j < len(dk) and abs(dk[j] - z) <= rel_tol:
                targets.append((j, j, 0.0))
            elif j > 0 and abs(dk[j - 1] - z) <= rel_tol:
                targets.append((j - 1, j - 1, 0.0))
            elif 0 < j < len(dk) and dk[j] - dk[j - 1] <= 1.5 * step:
                w = float((z - dk[j - 1]) / (dk[j] - dk[j - 1]))
                targets.append((j - 1, j, w))
            else:
                targets.append((-1, -1, 0.0))
        if missing:
            n_missing = sum(int(round(g / step)) - 1 for _, _, g in missing)
            where = ", ".join(f"{lo:.1f}–{hi:.1f} mm" for lo, hi, _ in missing[:3])
            warnings.append(
                f"{n_missing} missing slice(s) (gaps at {where} along the slice axis, expected {step:.2f} mm): "
                "they are shown blank; do not measure across them."
            )
        uneven = [g for g in gaps if g <= 1.5 * step and abs(g - step) > rel_tol]
        if uneven:
            warnings.append(
                f"Uneven slice spacing ({min(uneven):.2f}–{max(uneven):.2f} mm, median {step:.2f} mm): "
                f"resampled by linear interpolation onto a regular {step:.2f} mm grid."
            )
    return StackPlan(
        order=keep, origin=origin, direction=d3, spacing=(sx, sy, step), warnings=warnings, targets=targets, shifts=shifts
    )


def _shift_plane(img: np.ndarray, dx: float, dy: float, fill) -> np.ndarray:
    """Sample ``img`` at (x - dx, y - dy): bilinear, ``fill`` outside."""
    out = np.full(img.shape, fill, dtype=np.float32)
    h, w = img.shape[:2]
    ix, fx = int(np.floor(dx)), dx - np.floor(dx)
    iy, fy = int(np.floor(dy)), dy - np.floor(dy)
    src = img.astype(np.float32)
    acc = np.zeros(img.shape, np.float32)
    wsum = np.zeros(img.shape[:2], np.float32)
    for ox, wx in ((ix, 1 - fx), (ix + 1, fx)):
        for oy, wy in ((iy, 1 - fy), (iy + 1, fy)):
            wgt = wx * wy
            if wgt == 0:
                continue
            # out[y, x] += wgt * src[y - oy, x - ox]
            y0, y1 = max(0, oy), min(h, h + oy)
            x0, x1 = max(0, ox), min(w, w + ox)
            if y0 >= y1 or x0 >= x1:
                continue
            acc[y0:y1, x0:x1] += wgt * src[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
            wsum[y0:y1, x0:x1] += wgt
    inside = wsum > 0.999
    out[inside] = acc[inside]
    return out


def apply_plan(plan: StackPlan, planes: np.ndarray, fill: float) -> np.ndarray:
    """Resample ``planes`` (the kept planes in ``plan.order`` order, (n, rows, cols)) to the regular grid."""
    src = planes
    dtype = planes.dtype
    if plan.shifts is not None:
        src = np.empty(planes.shape, np.float32)
        for k in range(len(planes)):
            # The plane's content sits (a, b) mm from the grid: out(x) = plane(x - shift)... inverted here.
            src[k] = _shift_plane(planes[k], plan.shifts[k, 0], plan.shifts[k, 1], fill)
    if plan.targets is None:
        out = src
    else:
        out = np.empty((len(plan.targets),) + planes.shape[1:], np.float32)
        for t, (a, b, wb) in enumerate(plan.targets):
            if a < 0:
                out[t] = fill
            elif wb == 0.0:
                out[t] = src[a]
            else:
                out[t] = (1 - wb) * src[a].astype(np.float32) + wb * src[b].astype(np.float32)
    if np.issubdtype(dtype, np.integer) and out.dtype != dtype:
        info = np.iinfo(dtype)
        out = np.clip(np.rint(out), info.min, info.max).astype(dtype)
    return out
