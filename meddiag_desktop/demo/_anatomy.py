"""Chest anatomy of the phantom, painted into the HU and label volumes.

Shapes are analytic functions of anatomy coordinates (see ``_grid``); small
structures are rendered on sub-boxes. Paint order gives precedence: body wall,
cavity fat, lungs, abdomen, mediastinal vessels and heart, airway, lung vessel
tree, bones.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from meddiag_desktop.demo._grid import Box, Grid, composite, polyline_segments, tubes_fraction

F32 = np.float32

# tissue values (HU)
AIR, FAT, MUSCLE, SKIN, LIVER, SPLEEN = -1000.0, -95.0, 45.0, 25.0, 60.0, 48.0
CORTICAL, TRABECULAR, MARROW, DISC, CSF, CARTILAGE = 900.0, 300.0, 280.0, 85.0, 20.0, 120.0


def _paint(hu: np.ndarray, labels: np.ndarray, box: Box, mask: np.ndarray, value, label: int | None) -> None:
    """Set ``value`` (scalar or broadcastable array) and ``label`` where ``mask`` in ``box``."""
    sub = hu[box]
    mask = np.broadcast_to(mask, sub.shape)
    np.copyto(sub, np.broadcast_to(np.asarray(value, F32), sub.shape), where=mask)
    if label is not None:
        np.copyto(labels[box], np.uint8(label), where=mask)


@dataclass
class Chest:
    """Landmarks and analytic shapes of one phantom's chest (anatomy coordinates, mm)."""

    kx: float
    ky: float
    kz: float
    a_body: float
    b_body: float
    fat: float
    a_cav: float
    b_cav: float
    y_cav: float
    y_spine: float
    z_apex: float
    z_shoulder: float
    dome_right: float
    dome_left: float
    lung_scale: float

    @classmethod
    def from_params(cls, p) -> Chest:
        kx, ky, kz = p.body_half_width_mm / 158.0, p.body_half_depth_mm / 115.0, p.lung_height_scale
        return cls(
            kx=kx, ky=ky, kz=kz, a_body=p.body_half_width_mm, b_body=p.body_half_depth_mm, fat=p.fat_mm,
            a_cav=128.0 * kx, b_cav=88.0 * ky, y_cav=2.0 * ky, y_spine=45.0 * ky,
            z_apex=118.0 * kz, z_shoulder=-30.0 * kz, dome_right=-50.0 * kz, dome_left=-65.0 * kz,
            lung_scale=p.lung_scale,
        )

    def P(self, x: float, y: float, z: float) -> np.ndarray:
        """A landmark given for the reference body, scaled to this body."""
        return np.array([x * self.kx, y * self.ky, z * self.kz])

    def taper(self, Z):
        """1 below the shoulder level, falling to 0 at the lung apex."""
        t = np.clip((Z - F32(self.z_shoulder)) / F32(self.z_apex - self.z_shoulder), 0.0, 1.0)
        return (np.sqrt(np.clip(1.0 - t * t, 0.0, 1.0)) * (F32(1.0) - F32(0.35) * t)).astype(F32)

    def dome(self, X, Y, side: int):
        """LPS z of the diaphragm under the lung on ``side`` (-1 right, +1 left)."""
        peak = self.dome_right if side < 0 else self.dome_left
        q = ((X - F32(side * 60.0 * self.kx)) / F32(80.0 * self.kx)) ** 2 + \
            ((Y - F32(-15.0 * self.ky)) / F32(95.0 * self.ky)) ** 2
        return F32(peak) - F32(55.0 * self.kz) * np.minimum(q, F32(1.6))

    def cavity(self, X, Y):
        return (X / F32(self.a_cav)) ** 2 + ((Y - F32(self.y_cav)) / F32(self.b_cav)) ** 2 <= 1.0

    def medial_ok(self, X, Y, side: int):
        """Outside the mediastinal strip (narrow anteriorly, wide beside the spine)."""
        w = F32(9.0 * self.kx) + F32(23.0 * self.kx) * np.clip((Y + F32(30.0 * self.ky)) / F32(70.0 * self.ky), 0, 1)
        return X * F32(side) > w

    def lung(self, X, Y, Z, side: int):
        """Boolean mask of the lung on ``side`` (before mediastinal organs indent it)."""
        g = self.taper(Z)
        s = F32(self.lung_scale)
        cx = F32(side) * (F32(64.0 * self.kx) - F32(20.0 * self.kx) * (1 - g))
        cy = F32(8.0 * self.ky) + F32(18.0 * self.ky) * (1 - g)
        ax = F32(76.0 * self.kx) * s * g + F32(1e-3)
        ay = F32(98.0 * self.ky) * s * g + F32(1e-3)
        inside = ((X - cx) / ax) ** 2 + ((Y - cy) / ay) ** 2 <= 1.0
        return inside & self.cavity(X, Y) & self.medial_ok(X, Y, side) & (Z > self.dome(X, Y, side))

    def lung_at(self, x: float, y: float, z: float, side: int) -> bool:
        """``lung`` for one point, in plain floats (fast for the vessel tree)."""
        t = min(max((z - self.z_shoulder) / (self.z_apex - self.z_shoulder), 0.0), 1.0)
        g = math.sqrt(max(1.0 - t * t, 0.0)) * (1.0 - 0.35 * t)
        cx = side * (64.0 * self.kx - 20.0 * self.kx * (1 - g))
        cy = 8.0 * self.ky + 18.0 * self.ky * (1 - g)
        ax = 76.0 * self.kx * self.lung_scale * g + 1e-3
        ay = 98.0 * self.ky * self.lung_scale * g + 1e-3
        if ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2 > 1.0:
            return False
        if (x / self.a_cav) ** 2 + ((y - self.y_cav) / self.b_cav) ** 2 > 1.0:
            return False
        w = 9.0 * self.kx + 23.0 * self.kx * min(max((y + 30.0 * self.ky) / (70.0 * self.ky), 0.0), 1.0)
        if x * side <= w:
            return False
        peak = self.dome_right if side < 0 else self.dome_left
        q = ((x - side * 60.0 * self.kx) / (80.0 * self.kx)) ** 2 + ((y + 15.0 * self.ky) / (95.0 * self.ky)) ** 2
        return z > peak - 55.0 * self.kz * min(q, 1.6)

    def in_heart_at(self, x: float, y: float, z: float, grow: float = 0.0) -> bool:
        c = self.heart_center
        R = self.heart_axes
        k = (self.kx + self.ky + self.kz) / 3
        d0, d1, d2 = x - c[0], y - c[1], z - c[2]
        q = 0.0
        for a in range(3):
            comp = d0 * R[0, a] + d1 * R[1, a] + d2 * R[2, a]
            q += (comp / (self.heart_semi[a] * k + grow)) ** 2
        return q <= 1.0

    # mediastinum ---------------------------------------------------------
    @functools.cached_property
    def heart_center(self) -> np.ndarray:
        return self.P(24.0, -22.0, -32.0)

    heart_semi = (60.0, 46.0, 50.0)

    @functools.cached_property
    def heart_axes(self) -> np.ndarray:
        """Rotation whose columns are the heart's long, second and third axes."""
        u = np.array([0.62, -0.45, -0.64])
        u /= np.linalg.norm(u)
        v = np.cross(u, [0.0, 0.0, 1.0])
        v /= np.linalg.norm(v)
        return np.stack([u, v, np.cross(u, v)], axis=1)

    def heart_q(self, X, Y, Z, grow: float = 0.0):
        """Normalised ellipsoid radius squared of the heart (<= 1 inside), grown by ``grow`` mm."""
        c = self.heart_center
        R = self.heart_axes
        semi = np.array(self.heart_semi) * np.array([self.kx, self.ky, self.kz]).mean() + grow
        q = 0
        for a in range(3):
            comp = (X - F32(c[0])) * F32(R[0, a]) + (Y - F32(c[1])) * F32(R[1, a]) + (Z - F32(c[2])) * F32(R[2, a])
            q = q + (comp / F32(semi[a])) ** 2
        return q



def _tubes(grid: Grid, frac, polylines) -> None:
    """Render several (points, radii) polylines into ``frac`` in one batch."""
    rows = [row for pts, radii in polylines for row in polyline_segments(pts, radii)]
    if rows:
        tubes_fraction(grid, frac, np.array(rows, float))


def paint_anatomy(grid: Grid, p, rng: np.random.Generator, hu, labels, frac) -> dict:
    """Paint everything except nodules; returns landmarks needed later."""
    c = Chest.from_params(p)
    full = grid.full
    # work in slabs of slices so that oblique grids (full 3-D coordinates) stay within memory
    step = max(1, int(4_000_000 // (grid.shape[1] * grid.shape[2])))
    for z0 in range(0, grid.shape[0], step):
        slab = (slice(z0, min(z0 + step, grid.shape[0])), full[1], full[2])
        _paint_trunk(grid, p, c, hu, labels, slab)

    _paint_mediastinum(grid, p, c, hu, labels, frac)
    _paint_lung_vessels(grid, p, c, rng, hu, labels, frac)
    _paint_bones(grid, p, c, rng, hu, labels, frac)
    return {"chest": c}


def _intersect(box: Box | None, other: Box) -> Box | None:
    if box is None:
        return None
    out = tuple(slice(max(a.start, b.start), min(a.stop, b.stop)) for a, b in zip(box, other))
    return None if any(s.stop <= s.start for s in out) else out  # type: ignore[return-value]


def _paint_trunk(grid: Grid, p, c: Chest, hu, labels, slab: Box) -> None:
    """Couch, body wall, cavity fat, lungs and upper abdomen within the slices of ``slab``."""
    X, Y, Z = grid.coords(slab)

    # couch: a thin curved carbon plate under the patient
    yt = F32(c.b_body + 12.0) + F32(4e-4) * X * X
    plate = (Y > yt) & (Y < yt + F32(3.0)) & (np.abs(X) < F32(170.0))
    _paint(hu, labels, slab, plate, 180.0, None)

    # body wall: skin, subcutaneous fat, muscle; pectoral and paraspinal muscles
    phi = np.arctan2(Y, X)
    wobble = F32(1.0) + F32(0.025) * np.cos(3 * phi) + F32(0.015) * np.sin(5 * phi + 0.7)
    rb = np.sqrt((X / F32(c.a_body)) ** 2 + (Y / F32(c.b_body)) ** 2) / wobble
    _paint(hu, labels, slab, rb <= 1.0, SKIN, None)
    _paint(hu, labels, slab, rb <= 1.0 - 2.0 / c.b_body, FAT, None)
    inner = (X / F32(c.a_body - c.fat)) ** 2 + (Y / F32(c.b_body - c.fat * 0.8)) ** 2 <= 1.0
    _paint(hu, labels, slab, inner, MUSCLE, None)
    for side in (-1, 1):
        pect = ((X - F32(side * 72 * c.kx)) / F32(58 * c.kx)) ** 2 + \
            ((Y + F32(c.b_body - c.fat - 12)) / F32(13 * c.ky)) ** 2 <= 1.0
        _paint(hu, labels, slab, pect & (rb <= 1.0 - 3.0 / c.b_body), MUSCLE, None)
    del phi, wobble, rb, inner
    # chest cavity fat (mediastinum); it narrows towards the thoracic inlet, so the lung
    # apices sit in soft tissue as at the root of the neck
    s = np.clip(c.taper(Z) * F32(1.3), F32(0.3), F32(1.0))
    inlet = (X / (F32(c.a_cav) * s)) ** 2 + ((Y - F32(c.y_cav)) / (F32(c.b_cav) * s)) ** 2 <= 1.0
    _paint(hu, labels, slab, inlet, FAT, None)
    del s, inlet
    for side in (-1, 1):
        para = ((X - F32(side * 32 * c.kx)) / F32(22 * c.kx)) ** 2 + \
            ((Y - F32(c.y_spine + 32 * c.ky)) / F32(24 * c.ky)) ** 2 <= 1.0
        _paint(hu, labels, slab, para, MUSCLE, None)

    # lungs (posterior, dependent lung a little denser), then abdomen under the domes
    for side, label in ((-1, 1), (1, 2)):
        xa, xb = (-c.a_cav, 0.0) if side < 0 else (0.0, c.a_cav)
        box = _intersect(grid.box_for((xa, c.y_cav - c.b_cav, c.dome(0, 0, side) - 70 * c.kz),
                                      (xb, c.y_cav + c.b_cav, c.z_apex + 2)), slab)
        if box is None:
            continue
        bx, by, bz = grid.coords(box)
        m = c.lung(bx, by, bz, side)
        grad = F32(p.lung_hu) + F32(35.0) * np.clip((by + F32(80 * c.ky)) / F32(170 * c.ky), 0, 1)
        _paint(hu, labels, box, m, grad, label)

    abd_box = _intersect(grid.box_for((-c.a_cav, c.y_cav - c.b_cav, -1e4),
                                      (c.a_cav, c.y_cav + c.b_cav, c.dome_right + 1)), slab)
    if abd_box is not None:
        ax_, ay_, az_ = grid.coords(abd_box)
        below = c.cavity(ax_, ay_) & (az_ < np.where(ax_ < 0, c.dome(ax_, ay_, -1), c.dome(ax_, ay_, 1)))
        liver = below & (ax_ < F32(25 * c.kx) - (ay_ + F32(40)) * F32(0.3))
        _paint(hu, labels, abd_box, below, SPLEEN, 0)
        _paint(hu, labels, abd_box, liver, LIVER + 0.25 * (p.blood_hu - 40), 0)
        sc = c.P(58.0, -20.0, -92.0)
        stomach = ((ax_ - F32(sc[0])) / F32(32)) ** 2 + ((ay_ - F32(sc[1])) / F32(26)) ** 2 + \
            ((az_ - F32(sc[2])) / F32(26)) ** 2 <= 1.0
        stomach &= below
        _paint(hu, labels, abd_box, stomach & (az_ > F32(sc[2] - 4)), AIR, 0)
        _paint(hu, labels, abd_box, stomach & (az_ <= F32(sc[2] - 4)), 15.0, 0)



def _paint_mediastinum(grid: Grid, p, c: Chest, hu, labels, frac) -> None:
    blood = float(p.blood_hu)
    # pericardial fat, then the heart (myocardium and blood pool)
    hc = c.heart_center
    ext = max(c.heart_semi) + 10
    hbox = grid.box_for(hc - ext, hc + ext)
    if hbox is not None:
        X, Y, Z = grid.coords(hbox)
        _paint(hu, labels, hbox, c.heart_q(X, Y, Z, grow=5.0) <= 1.0, FAT, 0)
    # great vessels (label 0) with a fat halo
    aorta = [c.P(6, -14, -8), c.P(2, -20, 40), c.P(10, -12, 62), c.P(26, 4, 68), c.P(32, 20, 56),
             c.P(28, 28, 30), c.P(22, 30, -20), c.P(14, 30, -160)]
    aorta_r = [15, 15, 14, 13, 12, 12, 11.5, 11]
    svc = [c.P(-30, -12, 150), c.P(-28, -12, 60), c.P(-24, -14, 5)]
    svc_r = [10, 10, 11]
    trunk = [c.P(10, -45, -5), c.P(8, -22, 22)]
    rpa = [c.P(8, -22, 22), c.P(-14, -6, 20), c.P(-42, 0, 15)]
    lpa = [c.P(8, -22, 22), c.P(28, -4, 28), c.P(44, 6, 26)]
    veins = [[c.P(6, 2, -22), c.P(-20, 6, -14), c.P(-40, 8, -8)], [c.P(12, 2, -20), c.P(30, 8, -12), c.P(42, 10, -4)]]
    tubes = [(aorta, aorta_r), (svc, svc_r), (trunk, [14, 13]), (rpa, [12, 11, 10]), (lpa, [12, 11, 10])]
    tubes += [(v, [9, 8, 7]) for v in veins]
    _tubes(grid, frac, [(pts, [r * c.kx + 3 for r in radii]) for pts, radii in tubes])
    composite(hu, labels, frac, FAT, 0)
    _tubes(grid, frac, [(pts, [r * c.kx for r in radii]) for pts, radii in tubes[:2]])
    composite(hu, labels, frac, blood, 0)
    _tubes(grid, frac, [(pts, [r * c.kx for r in radii]) for pts, radii in tubes[2:]])
    composite(hu, labels, frac, blood, 6)
    if hbox is not None:
        q = c.heart_q(X, Y, Z)
        _paint(hu, labels, hbox, q <= 1.0, 50.0 + 0.3 * (blood - 40.0), 4)
        _paint(hu, labels, hbox, q <= 0.62, blood, 4)
        # interventricular septum: a myocardial plate through the blood pool
        R = c.heart_axes
        comp = (X - F32(hc[0])) * F32(R[0, 1]) + (Y - F32(hc[1])) * F32(R[1, 1]) + (Z - F32(hc[2])) * F32(R[2, 1])
        _paint(hu, labels, hbox, (q <= 0.62) & (np.abs(comp + F32(6.0)) < F32(5.0)), 50.0 + 0.3 * (blood - 40.0), 4)

    # oesophagus with a little air
    eso = [c.P(4, 26, 160), c.P(6, 24, 0), c.P(14, 18, -110)]
    _tubes(grid, frac, [(eso, [8, 8, 8])])
    composite(hu, labels, frac, 35.0, 0)
    _tubes(grid, frac, [(eso, [2, 2, 2])])
    composite(hu, labels, frac, AIR, 0)

    # trachea and main/lobar bronchi: a soft-tissue wall, then the air lumen (label 3)
    carina = c.P(0, 6, 25)
    airway = [
        ([c.P(0, -8, 160), c.P(0, -2, 80), carina], [9.5, 9.5, 8.5]),
        ([carina, c.P(-26, 10, 8), c.P(-40, 12, -4), c.P(-50, 14, -20)], [7.5, 6.5, 5.0, 4.0]),
        ([c.P(-26, 10, 8), c.P(-44, 6, 22)], [4.5, 3.5]),
        ([carina, c.P(36, 14, 6), c.P(50, 18, -14)], [6.5, 5.5, 4.0]),
        ([c.P(36, 14, 6), c.P(50, 6, 20)], [4.5, 3.5]),
    ]
    _tubes(grid, frac, [(pts, [r + 1.8 for r in radii]) for pts, radii in airway])
    composite(hu, labels, frac, 40.0, 0)
    _tubes(grid, frac, airway)
    composite(hu, labels, frac, AIR, 3)


# segmental directions of the vessel trees (for the right lung; mirrored in x for the left)
_SEGMENTAL = [(0.1, 0.1, 1.0), (-0.5, 0.5, 0.8), (-0.6, -0.5, 0.7), (-0.9, -0.3, 0.3), (-0.9, 0.3, 0.0),
              (-0.6, -0.8, 0.0), (-0.5, -0.8, -0.4), (-0.5, 0.8, -0.5), (-0.5, 0.2, -1.0), (-0.1, 0.8, 0.3)]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / math.sqrt(float(v @ v))


def _grow_tree(c: Chest, rng, root, side: int, r0: float, r_min: float, segs: list, budget: int) -> None:
    """Random binary vessel tree from ``root`` (a hilum) inside the lung on ``side``.

    Each segment tapers a little; at its end it splits into a major and a minor
    child at 15-45 degrees in a random plane; growth is steered back into the
    lung (and off the heart) when a segment would leave it.
    """
    root = np.asarray(root, float)
    stack = []
    for d in _SEGMENTAL:
        v = _unit(np.array(d) * np.array([-float(side), 1.0, 1.0]) + rng.normal(0, 0.12, 3))
        stack.append((root, v, r0 * rng.uniform(0.8, 1.0), 24.0 * c.kz, 0))
    while stack and len(segs) < budget:
        start, d, r, length, gen = stack.pop()
        ok = False
        for _attempt in range(3):
            end = start + d * length
            mid = start + d * (length * 0.5)
            ok = c.lung_at(*end, side) and (gen == 0 or c.lung_at(*mid, side)) and not c.in_heart_at(*end, grow=6.0)
            if ok:
                break
            # steer towards the middle of the lung at this height, and shorten
            to = np.array([side * 70.0 * c.kx, 10.0 * c.ky, end[2]]) - start
            d = _unit(d + 0.7 * to / (math.sqrt(float(to @ to)) + 1e-6))
            length *= 0.6
        if not ok:
            continue
        r_end = r * 0.95
        segs.append((start, end, r, r_end))
        if r_end * 0.9 < r_min or length < 2.5:
            continue
        out = end - root
        d_out = _unit(d + 0.15 * out / (math.sqrt(float(out @ out)) + 1e-6))
        a = rng.normal(size=3)
        perp = np.array([d_out[1] * a[2] - d_out[2] * a[1], d_out[2] * a[0] - d_out[0] * a[2],
                         d_out[0] * a[1] - d_out[1] * a[0]])
        perp = _unit(perp)
        for sign, ratio, angle in ((1, rng.uniform(0.8, 0.9), rng.uniform(12, 28)),
                                   (-1, rng.uniform(0.6, 0.75), rng.uniform(30, 50))):
            r_child = r_end * ratio
            if r_child < r_min:
                continue
            ang = math.radians(angle)
            nd = _unit(d_out * math.cos(ang) + sign * perp * math.sin(ang))
            stack.append((end, nd, r_child, length * rng.uniform(0.72, 0.88) * (1.0 if sign > 0 else 0.85), gen + 1))


def _paint_lung_vessels(grid: Grid, p, c: Chest, rng, hu, labels, frac) -> None:
    segs: list = []
    roots = [  # pulmonary arteries and veins at the hila
        (-1, c.P(-42, 0, 15), 4.2), (-1, c.P(-40, 8, -8), 3.8), (-1, c.P(-44, -6, 2), 3.4),
        (1, c.P(44, 6, 26), 4.2), (1, c.P(42, 10, -4), 3.8), (1, c.P(46, -2, 10), 3.4),
    ]
    for side, root, r0 in roots:
        _grow_tree(c, rng, root, side, r0 * c.kx, p.vessel_min_radius_mm, segs, budget=len(segs) + 2500)
    tubes_fraction(grid, frac, np.array([[*sg[0], *sg[1], sg[2], sg[3]] for sg in segs]))
    composite(hu, labels, frac, float(p.blood_hu) * 0.8 + 8.0, 6, allowed_labels=(0, 1, 2, 6))


def _paint_bones(grid: Grid, p, c: Chest, rng, hu, labels, frac) -> None:
    # vertebral column: bodies (cortical shell, trabecular core) separated by discs
    yv = c.y_spine
    box = grid.box_for((-45 * c.kx, yv - 22 * c.ky, -1e4), (45 * c.kx, c.b_body, 1e4))
    if box is not None:
        X, Y, Z = grid.coords(box)
        period = 27.0 * c.kz
        phase = np.mod(Z - F32(c.z_apex), F32(period)) / F32(period)  # 0..1 within a level
        disc = phase > 0.82
        e = (X / F32(21 * c.kx)) ** 2 + ((Y - F32(yv)) / F32(17 * c.ky)) ** 2
        ei = (X / F32(21 * c.kx - 2.0)) ** 2 + ((Y - F32(yv)) / F32(17 * c.ky - 2.0)) ** 2
        _paint(hu, labels, box, (e <= 1.0) & disc, DISC, 0)
        _paint(hu, labels, box, (e <= 1.0) & ~disc, CORTICAL, 5)
        _paint(hu, labels, box, (ei <= 1.0) & ~disc, TRABECULAR, 5)
        yc = F32(yv + 28 * c.ky)
        rc = np.sqrt(X * X + (Y - yc) ** 2)
        arch_z = (phase > 0.05) & (phase < 0.7)
        arch = (rc <= 14.0) & (Y > F32(yv + 13 * c.ky))
        spinous = (np.abs(X) < 4.0) & (Y > yc) & (Y < yc + F32(30 * c.ky)) & (phase > 0.15) & (phase < 0.6)
        transverse = (np.abs(Y - F32(yv + 24 * c.ky)) < 5.0) & (np.abs(X) < F32(34 * c.kx)) & \
            (phase > 0.2) & (phase < 0.55)
        _paint(hu, labels, box, (arch & arch_z) | spinous | transverse, CORTICAL * 0.8, 5)
        _paint(hu, labels, box, rc <= 8.0, CSF, 0)

    # sternum
    ys = c.y_cav - c.b_cav - 8.0 * c.ky
    sbox = grid.box_for((-30, ys - 10, -70 * c.kz), (30, ys + 10, c.z_apex - 45 * c.kz))
    if sbox is not None:
        X, Y, Z = grid.coords(sbox)
        wide = F32(16 * c.kx) + F32(10 * c.kx) * np.clip((Z - F32(c.z_apex - 75 * c.kz)) / F32(30 * c.kz), 0, 1)
        e = (X / wide) ** 2 + ((Y - F32(ys)) / F32(6.5)) ** 2
        ei = (X / (wide - F32(1.6))) ** 2 + ((Y - F32(ys)) / F32(4.9)) ** 2
        _paint(hu, labels, sbox, e <= 1.0, CORTICAL * 0.85, 5)
        _paint(hu, labels, sbox, ei <= 1.0, MARROW, 5)

    # scapulae: thin curved plates behind the upper ribs, in the posterior chest wall
    top, bottom = c.z_apex + 5.0 * c.kz, c.z_apex - 110.0 * c.kz
    for side in (-1, 1):
        box = grid.box_for((side * 40 * c.kx if side > 0 else -c.a_body, 0.0, bottom),
                           (c.a_body if side > 0 else -40 * c.kx, c.b_body, top))
        if box is None:
            continue
        X, Y, Z = grid.coords(box)
        rr = np.sqrt((X / F32(c.a_cav + 14)) ** 2 + ((Y - F32(c.y_cav)) / F32(c.b_cav + 14)) ** 2)
        ang = np.arctan2(np.abs(X), Y - F32(c.y_cav))  # 0 posterior midline, pi/2 lateral
        # the blade tilts: its lateral border is lower than its medial border
        lo = F32(0.45) + (F32(top) - Z) / F32(top - bottom) * F32(0.35)
        blade = (rr >= 1.0) & (rr <= 1.0 + 3.5 / (c.b_cav + 14)) & (ang > lo) & (ang < lo + F32(0.55))
        _paint(hu, labels, box, blade, CORTICAL * 0.75, 5)

    # clavicles: from the manubrium over the lung apices towards the shoulders
    clav = [[c.P(side * 16, -100, 74), c.P(side * 60, -96, 86), c.P(side * 110, -70, 96), c.P(side * 128, -50, 94)]
            for side in (-1, 1)]
    _tubes(grid, frac, [(pts, [6.0, 6.0, 5.5, 6.5]) for pts in clav])
    composite(hu, labels, frac, CORTICAL * 0.85, 5)
    _tubes(grid, frac, [(pts, [4.0, 4.0, 3.5, 4.5]) for pts in clav])
    composite(hu, labels, frac, MARROW, 5)

    # ribs: tubes around the cage, descending anteriorly; costal cartilage to the sternum
    ribs = []
    cartilage = []
    for n in range(12):
        z_post = c.z_apex + 6.0 * c.kz - n * 22.0 * c.kz
        t_end = [2.2, 2.6, 2.75, 2.8, 2.8, 2.75, 2.7, 2.55, 2.4, 2.2, 1.9, 1.5][n]
        drop = (25.0 + 40.0 * min(n, 6) / 6.0) * c.kz
        ts = np.linspace(0.30, t_end, 18)
        for side in (-1, 1):
            pts = []
            for t in ts:
                z = z_post - drop * ((t - 0.30) / (np.pi - 0.30)) ** 1.3
                w = max(float(c.taper(np.float32(z + 12))), 0.42)
                ax = (c.a_cav + 6.0) * (0.55 + 0.45 * w) if n < 3 else (c.a_cav + 6.0)
                ay = c.b_cav + 5.0
                pts.append((side * ax * np.sin(t), c.y_cav + ay * np.cos(t), z))
            head = (side * 20.0 * c.kx, c.y_spine + 14.0 * c.ky, z_post + 4)
            ribs.append([np.array(head)] + [np.array(q) for q in pts])
            if n < 7:
                end = np.array(pts[-1])
                ster = np.array((side * 14.0 * c.kx, ys, end[2] + 6.0 - 2 * n))
                cartilage.append([end, ster])
    _tubes(grid, frac, [(pts, [3.5, 3.0]) for pts in cartilage])
    composite(hu, labels, frac, CARTILAGE, 0, allowed_labels=(0, 1, 2))
    r_rib = 4.6
    _tubes(grid, frac, [(pts, [r_rib] * len(pts)) for pts in ribs])
    composite(hu, labels, frac, CORTICAL, 5)
    _tubes(grid, frac, [(pts, [r_rib - 1.7] * len(pts)) for pts in ribs])
    composite(hu, labels, frac, MARROW, 5)
