"""Where a finding is, in a reader's words: "right upper lobe", not LPS millimetres (Qt-free).

The lungs come from a segmentation when one names them ("right lung", "left lung"),
else from the CT itself: air (below -500 HU) that is not connected to the air around
the body, on a coarse grid, split at the body's midline. The lobe follows the one
rule of :mod:`meddiag_desktop.core.lung_anatomy` (above the modelled oblique fissure:
upper lobe; below: lower lobe; the horizontal fissure is not modelled, so the right
middle lobe is reported as lower lobe). Points away from both lungs get their side only.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from meddiag_desktop.core.lung_anatomy import in_upper_lobe, lung_extent
from meddiag_desktop.core.volume import Volume

__all__ = ["Location", "LungModel", "lung_model", "locate", "slice_caption", "image_text", "MIN_LUNG_ML"]

#: a point farther than this (mm) outside a lung's bounding box is not "in" that lung
_NEAR_MM = 8.0
#: air spaces inside the body smaller than this (mL, per side) are not taken for a lung
MIN_LUNG_ML = 150.0


@dataclass(frozen=True)
class Location:
    side: str  # "right" / "left" (the patient's) or "" when unknown
    lobe: str = ""  # "upper" / "lower" / ""

    @property
    def text(self) -> str:
        if self.side and self.lobe:
            return f"{self.side} {self.lobe} lobe"
        return f"{self.side} side" if self.side else ""


@dataclass(frozen=True)
class LungModel:
    """Each lung's extent (LPS mm) and bounding box, and the body's midline x (LPS)."""

    midline_x: float
    extents: dict  # "right"/"left" -> LungExtent
    boxes: dict  # "right"/"left" -> (min xyz, max xyz) LPS

    def locate(self, point_lps) -> Location:
        p = np.asarray(point_lps, float)
        side = "left" if p[0] > self.midline_x else "right"  # LPS +x is the patient's left
        box = self.boxes.get(side)
        if box is None or np.any(p < box[0] - _NEAR_MM) or np.any(p > box[1] + _NEAR_MM):
            return Location(side)
        return Location(side, "upper" if in_upper_lobe(p, self.extents[side]) else "lower")


def _points(volume: Volume, zyx: np.ndarray) -> np.ndarray:
    return volume.to_lps(np.asarray(zyx, float)[:, ::-1])


def _row_ends(mask: np.ndarray) -> np.ndarray:
    """``[z, y, x]`` of the first and last voxel of every row of ``mask``: enough for an extent."""
    rows = mask.any(axis=2)
    z, y = np.nonzero(rows)
    first = np.argmax(mask[z, y, :], axis=1)
    last = mask.shape[2] - 1 - np.argmax(mask[z, y, ::-1], axis=1)
    return np.concatenate([np.stack([z, y, first], 1), np.stack([z, y, last], 1)])


def _from_masks(volume: Volume, masks: dict, step: np.ndarray, midline_x: float) -> LungModel | None:
    extents, boxes = {}, {}
    for side, m in masks.items():
        if not m.any():
            continue
        pts = _points(volume, _row_ends(m) * step)
        extents[side] = lung_extent(pts)
        boxes[side] = (pts.min(axis=0), pts.max(axis=0))
    return LungModel(midline_x, extents, boxes) if extents else None


def _labelled_lungs(volume: Volume, label_maps: Sequence) -> LungModel | None:
    for lm in label_maps:
        arr = np.asarray(lm.array)
        if arr.shape[:3] != volume.array.shape[:3]:
            continue
        sides = {}
        for value, name in lm.names.items():
            n = str(name).lower()
            if "lung" in n and ("right" in n or "left" in n):
                sides["left" if "left" in n else "right"] = int(value)
        if len(sides) < 2:
            continue
        masks = {side: arr == v for side, v in sides.items()}
        if not all(m.any() for m in masks.values()):
            continue
        centre = [_points(volume, np.argwhere(m)[:: max(1, int(m.sum()) // 20000)]).mean(axis=0)[0]
                  for m in masks.values()]
        return _from_masks(volume, masks, np.ones(3, int), float(np.mean(centre)))
    return None


def _threshold_lungs(volume: Volume) -> LungModel | None:
    """Lungs as the large air spaces inside the body of a CT (coarse grid, ~0.3 s for 512 x 512 x 300)."""
    from scipy import ndimage

    if volume.is_rgb or volume.modality.upper() != "CT" or volume.array.ndim != 3:
        return None
    nz, ny, nx = volume.array.shape
    s = max(1, int(np.ceil(max(ny, nx) / 160)))
    step = np.array([1, s, s])
    a = np.asarray(volume.array[:, ::s, ::s])
    air = a < -500
    lab, n = ndimage.label(air)
    if n == 0:
        return None
    edge = np.unique(np.concatenate([lab[:, 0, :].ravel(), lab[:, -1, :].ravel(), lab[:, :, 0].ravel(),
                                     lab[:, :, -1].ravel()]))
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    sizes[0] = 0
    sizes[edge] = 0  # the air around the body (and what touches the field-of-view edge)
    if sizes.max() == 0:
        return None
    keep = np.flatnonzero(sizes >= 0.05 * sizes.max())
    lungs = np.isin(lab, keep)
    body = ~np.isin(lab, edge[edge > 0])
    by = np.nonzero(body.any(axis=(0, 1)))[0]
    if by.size == 0:
        return None
    # body midline: the middle of the body's x extent on the middle slice row, in LPS
    mid_col = (by.min() + by.max()) / 2 * s
    midline_x = float(volume.to_lps(np.array([mid_col, ny / 2, nz / 2]))[0])
    cols_lps_x = volume.to_lps(np.stack([np.arange(0, nx, s), np.full(len(range(0, nx, s)), ny / 2),
                                         np.full(len(range(0, nx, s)), nz / 2)], 1).astype(float))[:, 0]
    left_cols = cols_lps_x > midline_x
    masks = {"left": lungs & left_cols[None, None, :], "right": lungs & ~left_cols[None, None, :]}
    for side, m in masks.items():  # drop the airway: slices where that side holds under 3 % of its largest area
        area = m.sum(axis=(1, 2))
        if area.max() > 0:
            m[area < 0.03 * area.max()] = False
    voxel_ml = float(np.prod(volume.spacing)) * s * s / 1000.0
    if any(m.sum() * voxel_ml < MIN_LUNG_ML for m in masks.values()):
        return None  # not a chest (sinuses, bowel gas, a partial scan): no lobes, the side only
    return _from_masks(volume, masks, step, midline_x)


_CACHE: dict[int, tuple[weakref.ref, LungModel | None]] = {}


def lung_model(volume: Volume, label_maps: Sequence = ()) -> LungModel | None:
    """The lungs of ``volume`` (a segmentation naming them first, else thresholded; cached per volume)."""
    model = _labelled_lungs(volume, label_maps)
    if model is not None:
        return model
    hit = _CACHE.get(id(volume))
    if hit is not None and hit[0]() is volume:
        return hit[1]
    model = _threshold_lungs(volume)
    try:
        _CACHE[id(volume)] = (weakref.ref(volume), model)
    except TypeError:  # not weak-referenceable: no cache
        pass
    return model


def locate(volume: Volume, point_lps, label_maps: Sequence = (), model: LungModel | None = None) -> Location:
    """The lung lobe (or side) of ``point_lps``; an empty location for studies without patient geometry."""
    if volume.metadata.get("no_patient_geometry"):
        return Location("")
    model = model if model is not None else lung_model(volume, label_maps)
    if model is None:
        side = "left" if float(np.asarray(point_lps, float)[0]) > float(volume.center_lps()[0]) else "right"
        return Location(side)
    return model.locate(point_lps)


def slice_caption(view: str, index: int, count: int, where: str = "") -> str:
    """"Axial image 75/150, right upper lobe"."""
    text = f"{view.capitalize()} image {index + 1}/{count}"
    return f"{text}, {where}" if where else text


def image_text(volume: Volume, points_lps, normal=(0.0, 0.0, 1.0)) -> str:
    """"axial image 75/150": the plane a measurement was drawn in and its slice number, when that plane
    is one of the volume's own (else '')."""
    n = np.asarray(normal, float)
    pts = np.asarray(points_lps, float)
    if volume.metadata.get("no_patient_geometry") or pts.size == 0 or not np.any(n):
        return ""
    axis = int(np.argmax(np.abs(n)))
    if abs(n[axis]) < 0.999 * np.linalg.norm(n):
        return ""
    from meddiag_desktop.core import view_geometry as vg

    view = {0: vg.SAGITTAL, 1: vg.CORONAL, 2: vg.AXIAL}[axis]
    info = vg.slice_info(view, volume, pts.mean(axis=0))  # numbered as the view's corner text numbers it
    return f"{view} image {info.index + 1}/{info.count}"
