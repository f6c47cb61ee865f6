"""Generic label-map post-processing declared in a plugin's manifest (``[[postprocess]]``), Qt-free.

Two steps, in the spirit of MONAI's ``RemoveSmallObjects`` and
``KeepLargestConnectedComponent`` transforms; neither looks at image intensities,
so they clean a network's output but cannot find anything the network did not:

* ``remove_small_components``: connected components of the given labels smaller
  than ``min_volume_mm3`` are removed;
* ``keep_touching``: components of the given labels are kept only where they lie
  inside or touch other given labels (e.g. nodules inside the lungs): at least
  ``min_fraction`` of the component's outer border (its face neighbours of other
  labels) must carry one of the ``touching`` labels, and with ``min_fraction = 0``
  one contact is enough.

Removed voxels take the commonest label on the component's outer border
(``fill = "surrounding"``: a speck inside the lung becomes lung again, not a hole),
or background (``fill = "background"``).

The runner applies the steps in order on the model's grid, before the labels are
resampled back to the study: the grid is isotropic with the spacing the model was
trained at, so a volume in mm^3 means the same for every study, and it is smaller
than most source grids, so the step is cheap. Connected components come from
:mod:`meddiag_desktop.core.label_geometry`; border counts use numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["components", "border_label_counts", "remove_small_components", "keep_touching", "apply_postprocess"]

_FACES = ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))


def components(mask: np.ndarray, connectivity: int = 6) -> tuple[np.ndarray, int]:
    """Connected components of a boolean ``[z, y, x]`` mask (6: faces, 26: faces, edges, corners).

    The one implementation is :func:`meddiag_desktop.core.label_geometry.connected_components`.
    """
    from meddiag_desktop.core.label_geometry import connected_components

    return connected_components(mask, connectivity)


def border_label_counts(comp: np.ndarray, n: int, labels: np.ndarray, values: Iterable[int]) -> np.ndarray:
    """``counts[i, v]``: face contacts between component ``i`` (1..n) and voxels of label ``v``.

    Neighbours that carry one of ``values`` (the labels being processed) are not
    counted, nor is anything outside the array. Row 0 is unused.
    """
    k = int(labels.max()) + 1
    counts = np.zeros((n + 1, k), np.int64)
    if n == 0:
        return counts
    skip = np.zeros(k, bool)
    skip[[v for v in values if v < k]] = True
    # work in the components' bounding box plus one voxel
    nz = np.nonzero(comp)
    lo = [max(int(a.min()) - 1, 0) for a in nz]
    hi = [min(int(a.max()) + 2, s) for a, s in zip(nz, comp.shape)]
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    c, lab = comp[box], labels[box]
    for dz, dy, dx in _FACES:
        src = tuple(slice(max(-d, 0), s - max(d, 0)) for d, s in zip((dz, dy, dx), c.shape))
        dst = tuple(slice(max(d, 0), s - max(-d, 0)) for d, s in zip((dz, dy, dx), c.shape))
        ci, nl = c[src], lab[dst].astype(np.int64)
        sel = (ci > 0) & ~skip[nl]
        counts += np.bincount(ci[sel].astype(np.int64) * k + nl[sel], minlength=(n + 1) * k).reshape(n + 1, k)
    return counts


def _remove(labels: np.ndarray, comp: np.ndarray, drop: np.ndarray, counts: np.ndarray, fill: str) -> None:
    """Set the components flagged in ``drop`` (bool per component id) to their fill label, in place."""
    if not drop.any():
        return
    if fill == "background":
        labels[drop[comp]] = 0
        return
    fill_of = np.where(counts.sum(1) > 0, counts.argmax(1), 0).astype(labels.dtype)
    where = drop[comp]
    labels[where] = fill_of[comp[where]]


def _mask(labels: np.ndarray, values: Sequence[int]) -> np.ndarray:
    return np.isin(labels, np.asarray(list(values), dtype=labels.dtype))


def remove_small_components(labels: np.ndarray, values: Sequence[int], min_volume_mm3: float,
                            spacing: Sequence[float] = (1.0, 1.0, 1.0), connectivity: int = 6,
                            fill: str = "surrounding") -> int:
    """Remove components of ``values`` smaller than ``min_volume_mm3`` (in place); returns how many.

    Each label value is handled on its own (a component is one label's voxels).
    """
    voxel = float(np.prod(spacing))
    removed = 0
    for v in values:
        comp, n = components(labels == v, connectivity)
        if n == 0:
            continue
        sizes = np.bincount(comp.ravel(), minlength=n + 1) * voxel
        drop = sizes < min_volume_mm3
        drop[0] = False
        if drop.any():
            counts = border_label_counts(comp, n, labels, [v])
            _remove(labels, comp, drop, counts, fill)
            removed += int(drop.sum())
    return removed


def keep_touching(labels: np.ndarray, values: Sequence[int], touching: Sequence[int], min_fraction: float = 0.0,
                  connectivity: int = 6, fill: str = "surrounding") -> int:
    """Keep components of ``values`` only where they touch ``touching`` labels (in place); returns removed count.

    A component is kept when the share of its outer border lying in ``touching``
    is at least ``min_fraction`` and it has at least one such contact.
    """
    removed = 0
    touch = np.asarray(list(touching), dtype=np.int64)
    for v in values:
        comp, n = components(labels == v, connectivity)
        if n == 0:
            continue
        counts = border_label_counts(comp, n, labels, [v])
        t = touch[touch < counts.shape[1]]
        inside = counts[:, t].sum(1)
        total = counts.sum(1)
        keep = (inside > 0) & (inside >= min_fraction * total)
        drop = ~keep
        drop[0] = False
        _remove(labels, comp, drop, counts, fill)
        removed += int(drop.sum())
    return removed


def _get(step: Any, name: str, default: Any = None) -> Any:
    return step.get(name, default) if isinstance(step, dict) else getattr(step, name, default)


def apply_postprocess(labels: np.ndarray, steps: Sequence[Any], spacing: Sequence[float]) -> dict[str, int]:
    """Apply manifest steps (``PostprocessStep`` models or equivalent dicts) in order, in place.

    ``spacing`` is the voxel size of ``labels`` in mm. Returns the number of
    components each step removed, keyed ``"<index>:<op>"``.
    """
    report: dict[str, int] = {}
    for i, step in enumerate(steps):
        op = _get(step, "op")
        conn = int(_get(step, "connectivity", 6))
        fill = _get(step, "fill", "surrounding")
        if op == "remove_small_components":
            n = remove_small_components(labels, _get(step, "labels"), float(_get(step, "min_volume_mm3")),
                                        spacing, conn, fill)
        elif op == "keep_touching":
            n = keep_touching(labels, _get(step, "labels"), _get(step, "touching"),
                              float(_get(step, "min_fraction", 0.0)), conn, fill)
        else:
            raise ValueError(f"unknown post-processing step {op!r}")
        report[f"{i}:{op}"] = n
    return report
