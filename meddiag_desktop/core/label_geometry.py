"""One home for the geometry of labelled structures: components, volume, nodule diameters (Qt-free, numpy only).

The measurements table, the risk inputs, the PDF and the DICOM SR all take their
sizes from here, so a reader sees the same number under the same name everywhere:

* **connected components**: 26-connectivity, numbered 1..N in raster order (z, y,
  x) of their first voxel, like SimpleITK's ``ConnectedComponent``;
* **volume**: voxel count x ``|det(direction)|`` x the product of the spacing;
* **nodule diameters** as the Fleischner Society 2017 guideline defines them
  (MacMahon et al., Radiology 2017;284:228-243): on the axial slice where the
  nodule's cross-section is largest, the *long axis* is its greatest caliper
  (Feret) diameter and the *short axis* the caliper diameter perpendicular to it;
  the *mean diameter* is their average. The "axial" plane is the LPS x-y plane,
  whatever the acquisition direction; a caliper spans the voxel centres plus one
  voxel's extent along that direction, so a nodule ``n`` voxels across measures
  ``n x spacing``. Values are rounded to 0.1 mm once, here.

Work is done in the bounding box of the mask, so a nodule in a 512x512x300 label
map costs what its own few thousand voxels cost. Components are labelled by
SimpleITK (a dependency of the app, imported lazily) when it is there, else by
an equivalent numpy propagation; both give the same numbering.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

__all__ = [
    "SIZE_NAMES",
    "DIAMETER_DEFINITION",
    "Diameters",
    "Component",
    "voxel_volume_mm3",
    "bounding_box",
    "label_box",
    "connected_components",
    "axial_diameters",
    "axial_diameters_of_points",
    "mask_geometry",
    "label_components",
    "labelled_components",
    "format_mm",
    "LESION_WORDS",
    "is_lesion",
]

#: labels whose connected components are findings one by one (each nodule is measured on its own)
LESION_WORDS = ("nodule", "lesion", "tumour", "tumor", "mass")


def is_lesion(name: str) -> bool:
    """True for a label named like a lesion (nodule, mass...): measured and located per component."""
    return any(w in str(name).lower() for w in LESION_WORDS)


#: the names every output uses for the sizes (table headers, risk details, PDF columns, SR text)
SIZE_NAMES = {
    "long_axis_mm": "Long axis",
    "short_axis_mm": "Short axis",
    "mean_diameter_mm": "Mean diameter",
    "volume_ml": "Volume",
}
#: one sentence for footnotes and tooltips
DIAMETER_DEFINITION = ("Long and short axis on the axial slice of greatest cross-section (Fleischner 2017); "
                       "mean diameter = their average.")

_ANGLES = np.deg2rad(np.arange(0.0, 180.0, 0.5))  # caliper directions; index + 180 is perpendicular


@dataclass(frozen=True)
class Diameters:
    """Fleischner 2017 diameters of one structure (mm, rounded to 0.1) and the slice they were taken on."""

    long_axis_mm: float
    short_axis_mm: float
    mean_diameter_mm: float
    axial_slice: int  # index along the volume axis closest to superior-inferior

    def as_dict(self) -> dict[str, float]:
        return {"long_axis_mm": self.long_axis_mm, "short_axis_mm": self.short_axis_mm,
                "mean_diameter_mm": self.mean_diameter_mm}


@dataclass(frozen=True)
class Component:
    """One connected component of a label (or a whole label when ``index`` is 0)."""

    label_value: int
    index: int  # 1-based, raster order of the first voxel; 0 for a whole label
    voxels: int
    volume_mm3: float
    centroid_lps: tuple[float, float, float]
    diameters: Diameters | None

    @property
    def volume_ml(self) -> float:
        return self.volume_mm3 / 1000.0

    @property
    def voxel_count(self) -> int:  # the name risk.image_inputs.NoduleComponent used
        return self.voxels


def format_mm(value: float | None) -> str:
    """How every view prints a diameter: one decimal, '–' when unknown."""
    return "–" if value is None else f"{value:.1f}"


def voxel_volume_mm3(volume: Any) -> float:
    """Volume of one voxel in mm^3 (|det(direction)| x spacing product: right for any direction matrix)."""
    return float(abs(np.linalg.det(np.asarray(volume.direction, float))) * np.prod(volume.spacing))


def bounding_box(mask: np.ndarray) -> tuple[slice, slice, slice] | None:
    """The smallest box (slices in ``[z, y, x]``) holding every True voxel of ``mask``; None when empty.

    The slices along z come first; y and x are then looked for in those slices only.
    """
    zs = np.flatnonzero(mask.any(axis=(1, 2)))
    if zs.size == 0:
        return None
    sub = mask[zs[0] : zs[-1] + 1]
    rows = sub.any(axis=2)  # [z, y]
    ys = np.flatnonzero(rows.any(axis=0))
    sub = sub[:, ys[0] : ys[-1] + 1]
    xs = np.flatnonzero(sub.any(axis=(0, 1)))
    return (slice(int(zs[0]), int(zs[-1]) + 1), slice(int(ys[0]), int(ys[-1]) + 1), slice(int(xs[0]), int(xs[-1]) + 1))


_CHUNK_BYTES = 4 << 20  # a few MiB of label planes at a time: the comparison stays in the cache


def label_box(labels: np.ndarray, value: int) -> tuple[slice, slice, slice] | None:
    """:func:`bounding_box` of ``labels == value`` without a full-size boolean copy of the label map.

    The planes are compared a few MiB at a time (the mask of a nodule in a 512x512x300 map
    would be 78 MB written and read again); y and x are found in the planes holding the label.
    """
    arr = np.asarray(labels)
    step = max(1, _CHUNK_BYTES // max(1, arr[0].nbytes))
    zs: list[int] = []
    ys = np.zeros(arr.shape[1], bool)
    xs = np.zeros(arr.shape[2], bool)
    for z0 in range(0, arr.shape[0], step):
        m = arr[z0 : z0 + step] == value
        rows = m.any(axis=2)  # [z, y]
        hit = np.flatnonzero(rows.any(axis=1))
        if hit.size:
            zs.extend((hit + z0).tolist())
            ys |= rows.any(axis=0)
            xs |= m[hit].any(axis=(0, 1))
    if not zs:
        return None
    yi, xi = np.flatnonzero(ys), np.flatnonzero(xs)
    return (slice(zs[0], zs[-1] + 1), slice(int(yi[0]), int(yi[-1]) + 1), slice(int(xi[0]), int(xi[-1]) + 1))


#: voxel lists from this size are labelled by scipy's csgraph (0.25 s to import, so not for a few hundred
#: voxels, e.g. a worker's post-processing of small nodules); smaller ones by the numpy propagation
_GRAPH_VOXELS = 10_000


def _components_dense(mask: np.ndarray, connectivity: int = 26) -> tuple[np.ndarray, int]:
    """Connected components of a (small) boolean array, raster-ordered (label propagation on the voxel list)."""
    out = np.zeros(mask.shape, np.int32)
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return out, 0
    coords = np.stack(np.unravel_index(idx, mask.shape), axis=1)
    shape = np.asarray(mask.shape)
    src, dst = [], []
    for dz in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if (dz, dy, dx) <= (0, 0, 0):  # half of the neighbours: each edge once
                    continue
                if connectivity == 6 and abs(dz) + abs(dy) + abs(dx) != 1:
                    continue
                nb = coords + (dz, dy, dx)
                ok = np.all((nb >= 0) & (nb < shape), axis=1)
                lin = np.ravel_multi_index(tuple(nb[ok].T), mask.shape)
                pos = np.minimum(np.searchsorted(idx, lin), idx.size - 1)
                hit = idx[pos] == lin
                src.append(np.flatnonzero(ok)[hit])
                dst.append(pos[hit])
    a, b = np.concatenate(src), np.concatenate(dst)
    graph_components = None
    if idx.size >= _GRAPH_VOXELS:  # the graph's components in C (scipy, a dependency of the app), numbered below
        try:
            from scipy.sparse import coo_matrix
            from scipy.sparse.csgraph import connected_components as graph_components
        except ImportError:  # pragma: no cover - numpy-only installs
            graph_components = None
    if graph_components is not None:
        graph = coo_matrix((np.ones(a.size, np.int8), (a, b)), shape=(idx.size, idx.size))
        _, label = graph_components(graph, directed=False)
        # number components by their first voxel in raster order (the voxel list is raster-ordered)
        firsts = np.full(label.max() + 1, idx.size, np.int64)
        np.minimum.at(firsts, label, np.arange(idx.size))
        rank = np.empty_like(firsts)
        rank[np.argsort(firsts, kind="stable")] = np.arange(firsts.size)
        out.flat[idx] = (rank[label] + 1).astype(np.int32)
        return out, int(firsts.size)
    label = np.arange(idx.size)
    while True:  # min-label propagation with pointer jumping
        new = label.copy()
        m = np.minimum(label[a], label[b])
        np.minimum.at(new, a, m)
        np.minimum.at(new, b, m)
        new = new[new]
        if np.array_equal(new, label):
            break
        label = new
    _, compact = np.unique(label, return_inverse=True)  # roots are first voxels: raster order
    out.flat[idx] = compact.astype(np.int32) + 1
    return out, int(compact.max()) + 1


def connected_components(mask: np.ndarray, connectivity: int = 26) -> tuple[np.ndarray, int]:
    """Label the connected components of a boolean 3D ``mask``: (labels int32 of the mask's shape, count).

    ``connectivity`` 26 (faces, edges, corners; the default) or 6 (faces only).
    """
    if connectivity not in (6, 26):
        raise ValueError(f"connectivity must be 6 or 26, got {connectivity}")
    mask = np.asarray(mask, bool)
    box = bounding_box(mask)
    out = np.zeros(mask.shape, np.int32)
    if box is None:
        return out, 0
    # raster order inside the box is raster order in the whole array: the box keeps the axis order
    out[box], n = _components(mask[box], connectivity)
    return out, n


def _components(mask: np.ndarray, connectivity: int) -> tuple[np.ndarray, int]:
    """SimpleITK's ``ConnectedComponent`` (same numbering, ~50x faster on a lung) when it is installed
    (it is a dependency of the app, imported only here, lazily), else the numpy propagation."""
    if mask.size < 4096 or np.count_nonzero(mask) < 100_000:  # few voxels: the voxel list is cheaper
        return _components_dense(mask, connectivity)
    try:
        import SimpleITK as sitk
    except ImportError:  # pragma: no cover - numpy-only installs
        return _components_dense(mask, connectivity)
    img = sitk.GetImageFromArray(np.ascontiguousarray(mask, dtype=np.uint8))
    comp = sitk.GetArrayFromImage(sitk.ConnectedComponent(img, connectivity == 26)).astype(np.int32, copy=False)
    return comp, int(comp.max())


def _voxel_lps(volume: Any, zyx: np.ndarray) -> np.ndarray:
    return volume.to_lps(zyx[:, ::-1].astype(float))


def axial_diameters(volume: Any, mask: np.ndarray) -> Diameters:
    """Long axis, short axis and mean diameter of ``mask`` (``[z, y, x]`` on ``volume``'s grid), Fleischner 2017.

    The slice is the one with the largest cross-section along the index axis closest to
    superior-inferior (ties: the one with the longest long axis).
    """
    mask = np.asarray(mask, bool)
    box = bounding_box(mask)
    if box is None:
        raise ValueError("the mask is empty: nothing to measure")
    return _diameters_at(volume, np.argwhere(mask[box]) + np.array([s.start for s in box]))


def axial_diameters_of_points(volume: Any, zyx: np.ndarray) -> Diameters:
    """:func:`axial_diameters` of the voxels at ``zyx`` (N x 3 indices ``[z, y, x]``)."""
    if len(zyx) == 0:
        raise ValueError("the mask is empty: nothing to measure")
    return _diameters_at(volume, np.asarray(zyx))


def _diameters_of(volume: Any, mask: np.ndarray) -> Diameters:
    zyx = np.argwhere(mask)
    direction = np.asarray(volume.direction, float)
    xyz = zyx[:, ::-1]
    axis = int(np.argmax(np.abs(direction[2, :])))  # index axis closest to superior-inferior
    in_plane = [ax for ax in range(3) if ax != axis]
    steps = [direction[:2, ax] * volume.spacing[ax] for ax in in_plane]  # LPS x-y of one voxel step
    u = np.stack([np.cos(_ANGLES), np.sin(_ANGLES)])  # 2 x n directions in the LPS x-y plane
    # one voxel's extent along each direction (norm of its projected steps): added to the span of
    # voxel centres it gives an unbiased length along any direction
    footprint = np.hypot(steps[0] @ u, steps[1] @ u)
    slices, counts = np.unique(xyz[:, axis], return_counts=True)
    best: tuple[float, float, int] | None = None
    for s in slices[counts == counts.max()]:
        pts = _voxel_lps(volume, zyx[xyz[:, axis] == s])[:, :2]
        proj = pts @ u
        widths = proj.max(axis=0) - proj.min(axis=0) + footprint
        i = int(np.argmax(widths))
        long_mm, short_mm = float(widths[i]), float(widths[(i + len(_ANGLES) // 2) % len(_ANGLES)])
        if best is None or long_mm > best[0]:
            best = (long_mm, short_mm, int(s))
    assert best is not None
    long_mm, short_mm, s = best
    return Diameters(round(long_mm, 1), round(short_mm, 1), round((long_mm + short_mm) / 2, 1), s)


def _geometry(volume: Any, mask: np.ndarray, offset: np.ndarray, label_value: int, index: int,
              with_diameters: bool) -> Component:
    return _geometry_of_points(volume, np.argwhere(mask) + offset, label_value, index, with_diameters)


def _geometry_of_points(volume: Any, zyx: np.ndarray, label_value: int, index: int,
                        with_diameters: bool) -> Component:
    """Size and centroid of the voxels ``zyx`` (N x 3 ``[z, y, x]``, raster order)."""
    centroid = _voxel_lps(volume, zyx).mean(axis=0)
    diameters = _diameters_at(volume, zyx) if with_diameters else None
    return Component(label_value, index, len(zyx), len(zyx) * voxel_volume_mm3(volume),
                     (float(centroid[0]), float(centroid[1]), float(centroid[2])), diameters)


def _diameters_at(volume: Any, zyx: np.ndarray) -> Diameters:
    lo = zyx.min(axis=0)
    hi = zyx.max(axis=0) + 1
    small = np.zeros(tuple(hi - lo), bool)
    small[tuple((zyx - lo).T)] = True
    d = _diameters_of(_Shifted(volume, lo), small)
    return replace(d, axial_slice=d.axial_slice + int(lo[_si_axis(volume)]))


def _si_axis(volume: Any) -> int:
    """The ``[z, y, x]`` array axis of the index axis closest to superior-inferior."""
    return 2 - int(np.argmax(np.abs(np.asarray(volume.direction, float)[2, :])))


class _Shifted:
    """``volume``'s geometry seen from voxel ``lo`` (``[z, y, x]``): for measuring inside a crop."""

    def __init__(self, volume: Any, lo_zyx: np.ndarray) -> None:
        self.direction = np.asarray(volume.direction, float)
        self.spacing = tuple(float(s) for s in volume.spacing)
        self._volume = volume
        self._lo_xyz = np.asarray(lo_zyx[::-1], float)

    def to_lps(self, ijk: np.ndarray) -> np.ndarray:
        return self._volume.to_lps(np.asarray(ijk, float) + self._lo_xyz)


def mask_geometry(volume: Any, mask: np.ndarray, label_value: int = 0, index: int = 0,
                  diameters: bool = True) -> Component | None:
    """Voxels, volume, centroid and (optionally) Fleischner diameters of one mask; None when it is empty."""
    mask = np.asarray(mask, bool)
    box = bounding_box(mask)
    if box is None:
        return None
    offset = np.array([s.start for s in box])
    return _geometry(volume, mask[box], offset, label_value, index, diameters)


def label_components(volume: Any, labels: np.ndarray, value: int, diameters: bool = True) -> list[Component]:
    """The connected components of ``labels == value`` with their size and Fleischner diameters, raster order."""
    return labelled_components(volume, labels, value, diameters)[0]


def labelled_components(volume: Any, labels: np.ndarray, value: int, diameters: bool = True
                        ) -> tuple[list[Component], np.ndarray | None, tuple[slice, slice, slice] | None]:
    """:func:`label_components`, with the component map it was measured on and where it lies.

    Returns (components, int32 map of component numbers inside the box, box of ``labels == value``
    in ``[z, y, x]``); the map and the box are None when the label is absent. One labelling pass,
    in the label's box only, so a caller needing a component's voxels does not label again.
    """
    arr = np.asarray(labels)
    if arr.shape[:3] != tuple(volume.array.shape[:3]):
        raise ValueError(f"label map shape {arr.shape} does not match the volume {tuple(volume.array.shape[:3])}")
    box = label_box(arr, value)
    if box is None:
        return [], None, None
    comp, n = _components(arr[box] == value, 26)
    offset = np.array([s.start for s in box])
    out = []
    if n:
        # the voxels of every component at once: sort the box's voxel list by component number
        flat = comp.ravel()
        idx = np.flatnonzero(flat)
        order = np.argsort(flat[idx], kind="stable")
        idx = idx[order]
        bounds = np.searchsorted(flat[idx], np.arange(1, n + 2))
        for i in range(1, n + 1):
            zyx = np.stack(np.unravel_index(idx[bounds[i - 1] : bounds[i]], comp.shape), axis=1) + offset
            out.append(_geometry_of_points(volume, zyx, int(value), i, diameters))
    return out, comp, box
