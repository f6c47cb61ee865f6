"""Voxel grid helpers for the phantom: anatomy coordinates, sub-boxes, tubes, blur.

Anatomy is described in *anatomy coordinates*: LPS millimetres relative to the
volume centre (x patient left, y posterior, z superior). The image grid may be
oblique, so every shape is written as a function of broadcastable ``X, Y, Z``
arrays; with the identity direction they stay 1-D per axis and the work is
cheap, with an oblique grid they become full 3-D arrays and it still works.
"""

from __future__ import annotations

import functools

import numpy as np

from meddiag_desktop.core import Volume

Box = tuple[slice, slice, slice]
F32 = np.float32


class Grid:
    """The (z, y, x) voxel grid of the phantom and its patient geometry."""

    def __init__(self, shape_zyx: tuple[int, int, int], spacing: tuple[float, float, float],
                 direction: np.ndarray, center_lps: tuple[float, float, float]) -> None:
        self.shape = tuple(int(n) for n in shape_zyx)
        nz, ny, nx = self.shape
        self.spacing = tuple(float(s) for s in spacing)
        self.direction = np.asarray(direction, float).reshape(3, 3)
        self.center = np.asarray(center_lps, float)
        self.matrix = self.direction @ np.diag(self.spacing)  # index (i, j, k) -> LPS offset
        half = np.array([(nx - 1) / 2, (ny - 1) / 2, (nz - 1) / 2])
        self.origin = self.center - self.matrix @ half
        self._inverse = np.linalg.inv(self.matrix)
        # voxel-centre position of index 0 in anatomy coordinates
        self._offset = self.origin - self.center
        self.full: Box = (slice(0, nz), slice(0, ny), slice(0, nx))
        # per row of the matrix, the non-zero terms coefficient * index as broadcastable float32 arrays
        counts = (nx, ny, nz)
        self._terms: list[list[tuple[int, np.ndarray]]] = []
        for row in range(3):
            terms = []
            for col in range(3):
                coef = self.matrix[row, col]
                if abs(coef) > 1e-9:
                    shape = [1, 1, 1]
                    shape[2 - col] = counts[col]
                    terms.append((col, (coef * np.arange(counts[col])).astype(np.float32).reshape(shape)))
            self._terms.append(terms)
        # half-extent in index units of a ball of radius 1 mm
        self._unit_reach = np.linalg.norm(self._inverse, axis=1)
        self._limits = np.array([nx, ny, nz])

    def volume(self, array: np.ndarray) -> Volume:
        """A :class:`Volume` with this grid's geometry (for ``to_lps``/``to_index``)."""
        return Volume(array, spacing=self.spacing, origin=tuple(self.origin), direction=self.direction)

    # ------------------------------------------------------------ coordinates
    def coords(self, box: Box | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Anatomy coordinates (float32, broadcastable to the box shape) of the voxels of ``box``."""
        bz, by, bx = box or self.full
        per_col = (bx, by, bz)
        out = []
        for row in range(3):
            acc: np.ndarray = np.full((1, 1, 1), self._offset[row], dtype=np.float32)
            for col, arr in self._terms[row]:
                index = [slice(None)] * 3
                index[2 - col] = per_col[col]
                acc = acc + arr[tuple(index)]
            out.append(acc)
        return out[0], out[1], out[2]

    def index_of(self, anat: np.ndarray) -> np.ndarray:
        """Continuous (i, j, k) index of anatomy point(s)."""
        return (np.asarray(anat, float) - self._offset) @ self._inverse.T

    def anat_of(self, ijk: np.ndarray) -> np.ndarray:
        """Anatomy coordinates of continuous index/indices (i, j, k)."""
        return np.asarray(ijk, float) @ self.matrix.T + self._offset

    def box_for(self, lo: np.ndarray, hi: np.ndarray) -> Box | None:
        """Index sub-box covering the anatomy-space axis-aligned box [lo, hi], or None if outside."""
        lo = np.asarray(lo, float)
        hi = np.asarray(hi, float)
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        idx = self.index_of(corners)
        a = np.floor(idx.min(axis=0)).astype(int)
        b = np.ceil(idx.max(axis=0)).astype(int) + 1
        nz, ny, nx = self.shape
        limits = (nx, ny, nz)
        a = np.maximum(a, 0)
        b = np.minimum(b, limits)
        if np.any(b <= a):
            return None
        return (slice(a[2], b[2]), slice(a[1], b[1]), slice(a[0], b[0]))

    def box_around(self, p0: np.ndarray, p1: np.ndarray, margin: float) -> Box | None:
        """Index sub-box covering the segment p0-p1 (anatomy mm) grown by ``margin`` mm."""
        i0 = self.index_of(p0)
        i1 = self.index_of(p1)
        m = self._unit_reach * margin
        a = np.maximum(np.floor(np.minimum(i0, i1) - m).astype(int), 0)
        b = np.minimum(np.ceil(np.maximum(i0, i1) + m).astype(int) + 1, self._limits)
        if (b <= a).any():
            return None
        return (slice(a[2], b[2]), slice(a[1], b[1]), slice(a[0], b[0]))

    @functools.cached_property
    def soft_mm(self) -> float:
        """Width (mm) over which a shape edge goes from outside to inside (partial volume)."""
        return float(np.mean(self.spacing[:2]))


class Coverage:
    """A float32 partial-volume buffer (grid shape) that remembers the box it was drawn into."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        self.array = np.zeros(shape, dtype=np.float32)
        self._lo = np.array(shape)
        self._hi = np.zeros(3, int)

    def mark(self, box: Box) -> None:
        self._lo = np.minimum(self._lo, [b.start for b in box])
        self._hi = np.maximum(self._hi, [b.stop for b in box])

    def take_box(self) -> Box | None:
        """The box drawn into since the last call (and forget it)."""
        if (self._hi <= self._lo).any():
            return None
        box = tuple(slice(int(a), int(b)) for a, b in zip(self._lo, self._hi))
        self._lo = np.array(self.array.shape)
        self._hi = np.zeros(3, int)
        return box  # type: ignore[return-value]


def tubes_fraction(grid: Grid, cov: Coverage, segs: np.ndarray, piece_mm: float = 4.0,
                        chunk_voxels: int = 2_000_000) -> None:
    """Render tapered tubes (capsules) into ``cov``; ``segs`` is N x 8: p0 (3), p1 (3), r0, r1 (mm).

    The buffer receives ``max(buffer, coverage)`` where coverage is the
    partial-volume fraction of each voxel inside a tube.

    Segments are cut into pieces of at most ``piece_mm``; every piece is
    evaluated on a stencil of the same size, then the buffer takes the maximum.
    """
    segs = np.asarray(segs, float).reshape(-1, 8)
    if len(segs) == 0:
        return
    length = np.linalg.norm(segs[:, 3:6] - segs[:, 0:3], axis=1)
    # thick tubes: longer pieces (the box is dominated by the radius anyway)
    piece = np.maximum(piece_mm, 0.8 * np.maximum(segs[:, 6], segs[:, 7]))
    n_pieces = np.maximum(np.ceil(length / piece).astype(int), 1)
    owner = np.repeat(np.arange(len(segs)), n_pieces)
    first = np.repeat(np.cumsum(n_pieces) - n_pieces, n_pieces)
    part = np.arange(len(owner)) - first
    t0 = (part / n_pieces[owner])[:, None]
    t1 = ((part + 1) / n_pieces[owner])[:, None]
    s = segs[owner]
    a = s[:, 0:3] + (s[:, 3:6] - s[:, 0:3]) * t0
    b = s[:, 0:3] + (s[:, 3:6] - s[:, 0:3]) * t1
    ra = s[:, 6] + (s[:, 7] - s[:, 6]) * t0[:, 0]
    rb = s[:, 6] + (s[:, 7] - s[:, 6]) * t1[:, 0]
    soft = grid.soft_mm
    reach = np.maximum(ra, rb) + soft
    ia, ib = grid.index_of(a), grid.index_of(b)
    lo = np.floor(np.minimum(ia, ib) - reach[:, None] * grid._unit_reach).astype(int)
    hi = np.ceil(np.maximum(ia, ib) + reach[:, None] * grid._unit_reach).astype(int) + 1
    sizes = hi - lo
    flat_buf = cov.array.reshape(-1)
    groups = np.unique(sizes, axis=0, return_inverse=True)[1].ravel()
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.diff(groups[order])) + 1
    for members in np.split(order, bounds):
        size = sizes[members[0]]
        step = max(1, int(chunk_voxels // int(np.prod(size))))
        for c0 in range(0, len(members), step):
            sel = members[c0:c0 + step]
            _stencil(grid, cov, flat_buf, a[sel], b[sel], ra[sel], rb[sel], lo[sel], size, soft)


def _stencil(grid: Grid, cov: Coverage, flat_buf, a, b, ra, rb, lo, size, soft) -> None:
    """Coverage of n tube pieces on n boxes of the same ``size`` (i, j, k) starting at ``lo``."""
    n = len(a)
    per_axis = []  # voxel index along i, j, k as (n, S) arrays
    for axis in range(3):
        per_axis.append(lo[:, axis:axis + 1] + np.arange(size[axis])[None, :])
    ii, jj, kk = per_axis
    shapes = ((n, 1, 1, size[0]), (n, 1, size[1], 1), (n, size[2], 1, 1))
    # anatomy coordinates: a sum of broadcast terms (cheap when the grid is axis-aligned)
    pos = []
    for row in range(3):
        acc = np.float32(grid._offset[row])
        for col in range(3):
            coef = grid.matrix[row, col]
            if abs(coef) > 1e-9:
                acc = acc + (per_axis[col] * coef).astype(np.float32).reshape(shapes[col])
        pos.append(acc - a[:, row].astype(np.float32).reshape(n, 1, 1, 1))
    d = (b - a).astype(np.float32)
    l2 = np.maximum((d * d).sum(axis=1), 1e-9)
    u = d / l2[:, None]
    t = pos[0] * u[:, 0].reshape(n, 1, 1, 1) + pos[1] * u[:, 1].reshape(n, 1, 1, 1)
    t = t + pos[2] * u[:, 2].reshape(n, 1, 1, 1)
    np.clip(t, 0.0, 1.0, out=t)
    dist2 = None
    for row in range(3):
        e = pos[row] - t * d[:, row].reshape(n, 1, 1, 1)
        e *= e
        dist2 = e if dist2 is None else dist2 + e
    frac = (ra.astype(np.float32).reshape(n, 1, 1, 1) + F32(0.5 * soft)
            + t * (rb - ra).astype(np.float32).reshape(n, 1, 1, 1) - np.sqrt(dist2)) * F32(1.0 / soft)
    nz, ny, nx = grid.shape
    valid = ((ii >= 0) & (ii < nx)).reshape(shapes[0]) & ((jj >= 0) & (jj < ny)).reshape(shapes[1]) \
        & ((kk >= 0) & (kk < nz)).reshape(shapes[2])
    keep = valid & (frac > 0)
    if not keep.any():
        return
    flat = (kk.reshape(shapes[2]) * ny + jj.reshape(shapes[1])) * nx + ii.reshape(shapes[0])
    flat = np.broadcast_to(flat, keep.shape)[keep]
    np.maximum.at(flat_buf, flat, np.minimum(frac[keep], F32(1.0)))
    k_ = flat // (ny * nx)
    j_ = (flat // nx) % ny
    i_ = flat % nx
    cov.mark((slice(int(k_.min()), int(k_.max()) + 1), slice(int(j_.min()), int(j_.max()) + 1),
              slice(int(i_.min()), int(i_.max()) + 1)))


def polyline_segments(points, radii) -> list[list[float]]:
    """Tube segments (rows for :func:`tubes_fraction`) through ``points`` with per-point ``radii``."""
    return [[*a, *b, ra, rb] for a, b, ra, rb in zip(points[:-1], points[1:], radii[:-1], radii[1:])]


def polyline_fraction(grid: Grid, cov: Coverage, points, radii) -> None:
    """Render a tube through ``points`` with per-point ``radii`` into ``cov``."""
    tubes_fraction(grid, cov, np.array(polyline_segments(points, radii)))


def composite(hu: np.ndarray, labels: np.ndarray, cov: Coverage, value: float, label: int | None,
              allowed_labels: tuple[int, ...] | None = None) -> None:
    """Blend ``value`` into ``hu`` by the coverage; set ``label`` where coverage >= 0.5; clear the buffer.

    ``allowed_labels`` restricts painting to voxels whose current label is in the list.
    """
    box = cov.take_box()
    if box is None:
        return
    sub = cov.array[box]
    m = sub > 0
    f = sub[m]
    sub[...] = 0.0
    lab = labels[box]
    lv = lab[m]
    if allowed_labels is not None:
        f *= np.isin(lv, allowed_labels)
    h = hu[box]
    hv = h[m]
    h[m] = hv + f * (F32(value) - hv)
    if label is not None:
        lv[f >= 0.5] = label
        lab[m] = lv


def blur_xy(a: np.ndarray) -> np.ndarray:
    """Separable [1, 2, 1] / 4 smoothing along x and y; edges replicated. Consumes ``a``."""
    for axis in (2, 1):
        a *= F32(0.25)
        n = a.shape[axis]

        def sl(start, stop):
            index = [slice(None)] * 3
            index[axis] = slice(start, stop)
            return tuple(index)

        pair = a[sl(0, n - 1)] + a[sl(1, n)]  # pair[i] = a[i] + a[i + 1]
        out = np.empty_like(a)
        np.add(pair[sl(0, n - 2)], pair[sl(1, n - 1)], out=out[sl(1, n - 1)])
        np.add(a[sl(0, 1)] * F32(2.0), pair[sl(0, 1)], out=out[sl(0, 1)])
        np.add(a[sl(n - 1, n)] * F32(2.0), pair[sl(n - 2, n - 1)], out=out[sl(n - 1, n)])
        del pair
        a = out
    return a


def rotation_matrix(degrees_xyz: tuple[float, float, float]) -> np.ndarray:
    """Rotation about the LPS x, then y, then z axis (degrees)."""
    ax, ay, az = np.deg2rad(np.asarray(degrees_xyz, float))
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx
