"""Lung nodules of the phantom: placement by lobe, rendering, and measurement on the mask."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from meddiag_desktop.core.lung_anatomy import LungExtent, fissure_z, in_upper_lobe, lung_extent
from meddiag_desktop.demo._grid import Grid, composite, tubes_fraction

F32 = np.float32
NODULE_LABEL = 7
LUNG_LABEL = {"right": 1, "left": 2}

#: mean HU of each nodule component
SOLID_HU, GGO_PART_SOLID_HU, GGO_NON_SOLID_HU = 35.0, -600.0, -650.0


@dataclass
class Nodule:
    """Ground truth of one nodule, measured on the label mask."""

    id: int
    type: str  # "solid" | "part_solid" | "non_solid"
    center_lps: tuple[float, float, float]  # centroid of the mask, mm
    long_axis_mm: float  # in the axial (slice) plane with the largest cross-section
    short_axis_mm: float  # perpendicular to the long axis, same plane
    mean_diameter_mm: float  # (long + short) / 2
    volume_ml: float
    lung: str  # "right" | "left"
    upper_lobe: bool
    spiculated: bool = False
    solid_core_mm: float = 0.0  # part-solid: diameter of the solid component
    nominal_diameter_mm: float = 0.0  # what was asked for in NoduleSpec
    label: int = 7  # value of the nodule in the label volume
    bbox_zyx: tuple[int, int, int, int, int, int] = (0, 0, 0, 0, 0, 0)  # k0, k1, j0, j1, i0, i1 (stop excl.)

    @property
    def center_index(self) -> tuple[int, int, int]:  # pragma: no cover - convenience
        k0, k1, j0, j1, i0, i1 = self.bbox_zyx
        return ((i0 + i1) // 2, (j0 + j1) // 2, (k0 + k1) // 2)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Nodule:
        d = dict(d)
        d["center_lps"] = tuple(d["center_lps"])
        d["bbox_zyx"] = tuple(d.get("bbox_zyx", (0,) * 6))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def measure_axial_axes(mask_zyx: np.ndarray, spacing: tuple[float, float, float]) -> tuple[float, float]:
    """Long and short axis (mm) of a mask in its slice with the largest area.

    Long axis: largest distance between voxel centres plus one pixel; short
    axis: extent perpendicular to it plus one pixel (voxels counted whole).
    """
    areas = mask_zyx.reshape(mask_zyx.shape[0], -1).sum(axis=1)
    if areas.max() == 0:
        return 0.0, 0.0
    jj, ii = np.nonzero(mask_zyx[int(np.argmax(areas))])
    pts = np.stack([ii * spacing[0], jj * spacing[1]], axis=1)
    pix = float(np.mean(spacing[:2]))
    if len(pts) == 1:
        return pix, pix
    diff = pts[:, None, :] - pts[None, :, :]
    d2 = (diff ** 2).sum(axis=2)
    a, b = np.unravel_index(int(np.argmax(d2)), d2.shape)
    long_axis = float(np.sqrt(d2[a, b]))
    u = (pts[b] - pts[a]) / long_axis
    perp = pts @ np.array([-u[1], u[0]])
    return long_axis + pix, float(perp.max() - perp.min()) + pix


@dataclass
class Placed:
    """A nodule as rendered (before measurement)."""

    spec: object  # NoduleSpec
    center: np.ndarray  # anatomy coordinates, mm
    reach: float  # mm around the centre that the mask can reach


def lung_extent_from_labels(grid: Grid, labels: np.ndarray, label: int) -> tuple[LungExtent, np.ndarray] | None:
    """Exact :func:`lung_extent` of all voxels with ``label``, using only the first and last voxel of each row.

    A linear function (LPS y or z) over the voxels of one row is extreme at its
    first or last voxel, so this equals passing every voxel of the lung.
    Also returns the anatomy-space bounding box (2 x 3) of those points.
    """
    m = labels == label
    rows = m.any(axis=2)
    if not rows.any():
        return None
    kk, jj = np.nonzero(rows)
    first = m.argmax(axis=2)[kk, jj]
    last = m.shape[2] - 1 - m[:, :, ::-1].argmax(axis=2)[kk, jj]
    ijk = np.stack([np.concatenate([first, last]), np.concatenate([jj, jj]), np.concatenate([kk, kk])], axis=1)
    anat = grid.anat_of(ijk.astype(float))
    return lung_extent(anat + grid.center), np.stack([anat.min(axis=0), anat.max(axis=0)])


def _sphere_dirs(n: int = 40) -> np.ndarray:
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5 ** 0.5) * i
    fib = np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], axis=1)
    return np.concatenate([fib, np.eye(3), -np.eye(3)])


def _reach(spec) -> float:
    r = spec.diameter_mm / 2
    return r * 1.35 + (13.0 if spec.spiculated else 0.0)


def place_nodules(grid: Grid, specs, rng, labels, extents: dict, warnings: list[str]) -> list[Placed]:
    """Pick a centre for each spec: inside its lung with margin, in the asked lobe, apart from the others."""
    dirs = _sphere_dirs()
    placed: list[Placed] = []
    shape = np.array(grid.shape[::-1])  # nx, ny, nz
    for spec in specs:
        lung = LUNG_LABEL[spec.lung]
        if lung not in extents:
            warnings.append(f"no {spec.lung} lung in the field of view; nodule skipped")
            continue
        extent, bounds = extents[lung]
        reach = _reach(spec)
        probe = np.concatenate([np.zeros((1, 3)), dirs * (reach + 4.0), dirs * (reach * 0.5)])
        found = None
        for attempt in range(4000):
            lobe_matters = attempt < 3000
            pt = rng.uniform(bounds[0], bounds[1])
            lps = pt + grid.center
            fz = float(fissure_z(extent, lps[1]))
            if lobe_matters and ((lps[2] > fz) != spec.upper_lobe or abs(lps[2] - fz) < reach + 6):
                continue
            if any(np.linalg.norm(pt - q.center) < reach + q.reach + 20 for q in placed):
                continue
            idx = np.rint(grid.index_of(pt + probe)).astype(int)
            if np.any(idx < 0) or np.any(idx >= shape):
                continue
            vals = labels[idx[:, 2], idx[:, 1], idx[:, 0]]
            if np.all((vals == lung) | (vals == 6)) and vals[0] == lung:
                found = pt
                break
        if found is None:
            warnings.append(f"could not place a {spec.diameter_mm} mm {spec.type} nodule in the {spec.lung} lung")
            continue
        if not lobe_matters:
            warnings.append(f"{spec.type} nodule placed outside the asked lobe")
        placed.append(Placed(spec, found, reach))
    return placed


def _render(grid: Grid, pl: Placed, rng, hu, labels, frac) -> None:
    spec = pl.spec
    R = spec.diameter_mm / 2
    box = grid.box_for(pl.center - pl.reach - 2, pl.center + pl.reach + 2)
    X, Y, Z = grid.coords(box)
    q = [X - F32(pl.center[0]), Y - F32(pl.center[1]), Z - F32(pl.center[2])]
    # random orientation and mild elongation
    rot, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    stretch = np.array([1.0, rng.uniform(0.82, 0.95), rng.uniform(0.8, 0.95)])
    stretch /= np.cbrt(stretch.prod())
    u = [sum(q[r] * F32(rot[r, a]) for r in range(3)) / F32(stretch[a]) for a in range(3)]
    d = np.sqrt(u[0] ** 2 + u[1] ** 2 + u[2] ** 2) + F32(1e-6)
    # lobulation: smooth bumps on the sphere of directions (strong for spiculated nodules)
    n_bumps, amp, width = (16, 0.3, 0.07) if spec.spiculated else (4, 0.06, 0.18)
    radius = np.full(d.shape, F32(R * (0.92 if spec.spiculated else 1.0)), dtype=F32)
    for _ in range(n_bumps):
        v = rng.normal(size=3)
        v /= np.linalg.norm(v)
        cos = (u[0] * F32(v[0]) + u[1] * F32(v[1]) + u[2] * F32(v[2])) / d
        radius += F32(R * amp * rng.uniform(-0.5, 1.0)) * np.exp((cos - F32(1.0)) * F32(1 / width))
    soft = grid.soft_mm
    cover = np.clip((radius - d) / F32(soft) + F32(0.5), 0, 1)
    inside = d <= radius
    sub_l = labels[box]
    in_lung = (sub_l == 1) | (sub_l == 2) | (sub_l == 6)
    cover *= in_lung
    sub_h = hu[box]
    if spec.type == "solid":
        value = SOLID_HU + rng.normal(0, 6)
    elif spec.type == "non_solid":
        value = GGO_NON_SOLID_HU + rng.normal(0, 15)
    else:
        value = GGO_PART_SOLID_HU + rng.normal(0, 15)
    sub_h += cover * (F32(value) - sub_h)
    if spec.type == "part_solid" and spec.solid_core_mm > 0:
        rc = spec.solid_core_mm / 2
        off = rng.normal(0, R * 0.12, 3)
        dc = np.sqrt((q[0] - F32(off[0])) ** 2 + (q[1] - F32(off[1])) ** 2 + (q[2] - F32(off[2])) ** 2)
        core = np.clip((F32(rc) - dc) / F32(soft) + F32(0.5), 0, 1) * in_lung
        sub_h += core * (F32(SOLID_HU) - sub_h)
    np.copyto(sub_l, np.uint8(NODULE_LABEL), where=inside & in_lung)
    if spec.spiculated:
        rows = []
        for _ in range(20):
            v = rng.normal(size=3)
            v /= np.linalg.norm(v)
            start = pl.center + v * R * 0.8
            end = pl.center + v * (R * 1.1 + rng.uniform(4.0, 12.0)) + rng.normal(0, 1.0, 3)
            rows.append([*start, *end, rng.uniform(1.0, 1.5), 0.25])
        tubes_fraction(grid, frac, np.array(rows))
        composite(hu, labels, frac, 0.0, None, allowed_labels=(1, 2, 6))


def _paint_fissure(grid: Grid, hu, labels, lung: int, extent: LungExtent, bounds: np.ndarray) -> None:
    """A faint oblique fissure, on the same plane that decides ``upper_lobe`` (labels unchanged)."""
    box = grid.box_for(bounds[0] - 1, bounds[1] + 1)
    if box is None:
        return
    X, Y, Z = grid.coords(box)
    fz = fissure_z(extent, Y + F32(grid.center[1])).astype(F32)
    dz = np.abs(Z + F32(grid.center[2]) - fz)
    w = np.clip(F32(1.0) - dz / F32(max(1.2, 0.6 * grid.spacing[2])), 0, 1) * F32(0.14)
    w = w * (labels[box] == lung)
    sub = hu[box]
    sub += w * (F32(0.0) - sub)


def paint_nodules(grid: Grid, p, rng, hu, labels, frac, anatomy: dict, warnings: list[str]) -> dict:
    """Place and render the nodules of ``p``; returns what :func:`measure_nodules` needs."""
    extents = {}
    for lung in (1, 2):
        e = lung_extent_from_labels(grid, labels, lung)
        if e is not None:
            extents[lung] = e
    for lung, (extent, bounds) in extents.items():
        _paint_fissure(grid, hu, labels, lung, extent, bounds)
    placed = place_nodules(grid, p.nodules, rng, labels, extents, warnings)
    for pl in placed:
        _render(grid, pl, rng, hu, labels, frac)
    return {"placed": placed, "extents": extents}


def measure_nodules(grid: Grid, labels: np.ndarray, state: dict) -> list:
    """Measure every placed nodule on the final label mask (centroid, axes, volume, lobe)."""
    out = []
    voxel_ml = float(np.prod(grid.spacing)) / 1000.0
    for n, pl in enumerate(state["placed"], start=1):
        box = grid.box_for(pl.center - pl.reach - 3, pl.center + pl.reach + 3)
        mask = labels[box] == NODULE_LABEL
        kk, jj, ii = np.nonzero(mask)
        if kk.size == 0:
            continue
        k0, j0, i0 = box[0].start, box[1].start, box[2].start
        ijk = np.array([ii.mean() + i0, jj.mean() + j0, kk.mean() + k0])
        center = tuple(float(v) for v in np.round(grid.anat_of(ijk) + grid.center, 3))
        long_axis, short_axis = measure_axial_axes(mask, grid.spacing)
        lung = LUNG_LABEL[pl.spec.lung]
        extent = state["extents"][lung][0]
        out.append(Nodule(
            id=n,
            type=pl.spec.type,
            center_lps=center,
            long_axis_mm=round(long_axis, 2),
            short_axis_mm=round(short_axis, 2),
            mean_diameter_mm=round((long_axis + short_axis) / 2, 2),
            volume_ml=round(kk.size * voxel_ml, 4),
            lung=pl.spec.lung,
            upper_lobe=in_upper_lobe(center, extent),
            spiculated=bool(pl.spec.spiculated),
            solid_core_mm=float(pl.spec.solid_core_mm),
            nominal_diameter_mm=float(pl.spec.diameter_mm),
            bbox_zyx=(int(kk.min() + k0), int(kk.max() + k0 + 1), int(jj.min() + j0), int(jj.max() + j0 + 1),
                      int(ii.min() + i0), int(ii.max() + i0 + 1)),
        ))
    return out
