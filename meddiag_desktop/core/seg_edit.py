"""Segmentation editing on a label map, Qt-free: brush, eraser, islands, fill holes, with undo.

A :class:`LabelEditor` edits a label array ``[z, y, x]`` in place, on the grid of
the :class:`~meddiag_desktop.core.volume.Volume` it belongs to (its spacing,
origin and direction give the brush its size in mm, anisotropic spacing and
oblique acquisitions included). Every edit is one command in an
:class:`~meddiag_desktop.core.history.UndoStack` that keeps only what changed:
the tight bounding box of the changed voxels, a bit mask of them inside it and
their old and new values (never a copy of the volume). A brush stroke (press,
drag, release) is one command: :meth:`LabelEditor.begin_stroke` /
:meth:`LabelEditor.end_stroke`.

Brush geometry (``Brush``):

* ``"sphere"``: the voxels whose centres lie within ``radius_mm`` of the brush
  centre (Euclidean distance in patient mm);
* ``"disc"``: in the view's plane (axial, coronal, sagittal): the voxels of the
  slice under the centre (the index layer nearest to it along the index axis most
  parallel to the view's normal) whose centres, projected onto the view's plane,
  lie within ``radius_mm`` of the centre;
* ``hu_range=(lo, hi)`` limits either to voxels whose image value is in
  ``[lo, hi]`` (threshold painting).

The editor records which labels the reader changed (:attr:`LabelEditor.edited`):
a label the AI proposed (it had voxels when the editor was made) and the reader
changed is ``"SEMIAUTOMATIC"``; one the reader drew from nothing is ``"MANUAL"``.
Undoing every edit of a label makes it unedited again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from meddiag_desktop.core import view_geometry as vg
from meddiag_desktop.core.history import Command, UndoStack
from meddiag_desktop.core.volume import Volume

__all__ = ["Brush", "LabelEdit", "LabelEditor", "PlannedChange", "SHAPES", "brush_mask"]

#: brush shapes: a 3D sphere, or a 2D disc in the plane of a view
SHAPES = ("sphere", "disc")

Box = tuple[slice, slice, slice]


@dataclass(frozen=True)
class Brush:
    """Brush/eraser settings: radius in mm, shape, the view of a disc, an optional value range."""

    radius_mm: float
    shape: str = "sphere"
    view: str = vg.AXIAL
    hu_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.radius_mm) and self.radius_mm > 0):
            raise ValueError(f"brush radius must be a positive number of mm, got {self.radius_mm}")
        if self.shape not in SHAPES:
            raise ValueError(f"unknown brush shape {self.shape!r}; use one of {', '.join(SHAPES)}")
        if self.shape == "disc" and self.view not in vg.VIEWS:
            raise ValueError(f"a disc brush needs a view ({', '.join(vg.VIEWS)}), got {self.view!r}")
        if self.hu_range is not None and not self.hu_range[0] <= self.hu_range[1]:
            raise ValueError(f"threshold range must be low <= high, got {self.hu_range}")


def _index_matrix(volume: Volume) -> np.ndarray:
    """3x3 matrix mapping an index offset (i, j, k) to an LPS offset in mm."""
    return volume.direction @ np.diag(volume.spacing)


def brush_mask(volume: Volume, center_lps, brush: Brush) -> tuple[Box, np.ndarray] | None:
    """``(box, mask)``: the voxels the brush covers (``mask`` is boolean over ``array[box]``), or ``None``.

    The value range is not applied here (see :meth:`LabelEditor.paint`).
    """
    m = _index_matrix(volume)
    m_inv = np.linalg.inv(m)
    c = np.asarray(volume.to_index(center_lps), float)  # continuous (i, j, k)
    shape_ijk = np.asarray(volume.shape_xyz)
    r = float(brush.radius_mm)
    row_norm = np.linalg.norm(m_inv, axis=1)  # |delta index_a| <= row_norm[a] * |delta lps|
    if brush.shape == "sphere":
        reach = row_norm * r
        lo = np.ceil(c - reach - 1e-9).astype(int)
        hi = np.floor(c + reach + 1e-9).astype(int)
        normal = None
    else:
        normal = vg.slice_axis(brush.view)
        d_unit = volume.direction / np.linalg.norm(volume.direction, axis=0)
        a = int(np.argmax(np.abs(normal @ d_unit)))
        layer = int(np.rint(c[a]))
        reach = row_norm * (2.0 * r + volume.spacing[a])  # generous; the exact test follows
        lo = np.ceil(c - reach - 1e-9).astype(int)
        hi = np.floor(c + reach + 1e-9).astype(int)
        lo[a] = hi[a] = layer
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, shape_ijk - 1)
    if np.any(hi < lo):
        return None
    ii, jj, kk = (np.arange(lo[n], hi[n] + 1, dtype=float) - c[n] for n in range(3))
    # LPS offset of every voxel centre in the box, laid out [z, y, x]
    off = (kk[:, None, None, None] * m[:, 2] + jj[None, :, None, None] * m[:, 1]
           + ii[None, None, :, None] * m[:, 0])
    if normal is not None:
        off = off - (off @ normal)[..., None] * normal
    mask = np.einsum("...i,...i->...", off, off) <= r * r * (1.0 + 1e-9)
    box = (slice(lo[2], hi[2] + 1), slice(lo[1], hi[1] + 1), slice(lo[0], hi[0] + 1))
    return box, mask


@dataclass
class LabelEdit:
    """One undoable change: the tight box of the changed voxels, their bit mask and old/new values."""

    text: str
    box: Box
    bits: np.ndarray  # np.packbits of the boolean mask over the box
    old: np.ndarray
    new: np.ndarray
    labels: frozenset[int]  # label values whose voxel set changed

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(s.stop - s.start for s in self.box)  # type: ignore[return-value]

    def mask(self) -> np.ndarray:
        n = int(np.prod(self.shape))
        return np.unpackbits(self.bits, count=n).astype(bool).reshape(self.shape)

    @property
    def voxel_count(self) -> int:
        return int(self.old.size)

    @property
    def nbytes(self) -> int:
        return int(self.bits.nbytes + self.old.nbytes + self.new.nbytes)


class LabelEditor:
    """Edits ``labels`` (a ``[z, y, x]`` integer array on ``volume``'s grid) in place, with undo.

    Parameters
    ----------
    volume:
        The image the labels belong to (geometry; image values for threshold painting).
    labels:
        The label map, changed in place (the overlay shown and the result exported).
    names:
        Label value -> name: the labels that may be painted.
    history:
        The undo stack to push edits onto (a new one if omitted).
    proposed:
        Labels proposed by an AI (default: those with voxels in ``labels`` now).
    """

    def __init__(self, volume: Volume, labels: np.ndarray, names: dict[int, str] | None = None,
                 history: UndoStack | None = None, proposed: Iterable[int] | None = None) -> None:
        if labels.shape[:3] != volume.array.shape[:3] or labels.ndim != 3:
            raise ValueError(f"label map shape {labels.shape} does not match the volume {volume.array.shape[:3]}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"a label map must hold integers, got {labels.dtype}")
        self.volume = volume
        self.labels = labels
        self.names = dict(names or {})
        self.history = history if history is not None else UndoStack()
        if proposed is None and self.names:  # one pass per label: no int64 copy of a large map
            proposed = [v for v in self.names if v != 0 and bool((labels == v).any())]
        elif proposed is None:
            proposed = [int(v) for v in np.unique(labels) if v != 0]
        self.proposed = frozenset(int(v) for v in proposed)
        self._edit_counts: dict[int, int] = {}
        self._stroke: list[tuple[Box, np.ndarray, np.ndarray]] | None = None
        self._stroke_text = ""
        self._listeners: list[Callable[[frozenset[int]], None]] = []

    # ---------------------------------------------------------------- events
    def subscribe(self, callback: Callable[[frozenset[int]], None]) -> None:
        """Call ``callback(labels)`` after every change of the array (edit, undo, redo, each brush dab)."""
        self._listeners.append(callback)

    def _changed(self, labels: frozenset[int]) -> None:
        for cb in list(self._listeners):
            cb(labels)

    # ----------------------------------------------------------------- state
    @property
    def edited(self) -> dict[int, str]:
        """Labels the reader changed -> ``"SEMIAUTOMATIC"`` (AI proposed, then edited) or ``"MANUAL"``."""
        return {v: ("SEMIAUTOMATIC" if v in self.proposed else "MANUAL")
                for v, n in sorted(self._edit_counts.items()) if n > 0 and v != 0}

    def _check_label(self, label: int) -> int:
        label = int(label)
        if label <= 0:
            raise ValueError("choose a segment to edit (label value 1 or more)")
        if self.names and label not in self.names:
            raise ValueError(f"label {label} is not a segment of this segmentation "
                             f"({', '.join(f'{v}: {n}' for v, n in sorted(self.names.items()))})")
        if label > np.iinfo(self.labels.dtype).max:
            raise ValueError(f"label {label} does not fit the label map's {self.labels.dtype}")
        return label

    # ---------------------------------------------------------------- strokes
    def begin_stroke(self, text: str) -> None:
        """Start collecting dabs into one undo step (a mouse press)."""
        if self._stroke is not None:
            self.end_stroke()
        self._stroke = []
        self._stroke_text = text

    def end_stroke(self) -> LabelEdit | None:
        """Finish the stroke (mouse release): push it as one command; ``None`` if nothing changed."""
        records, self._stroke = self._stroke, None
        if not records:
            return None
        lo = np.min([[s.start for s in box] for box, _, _ in records], axis=0)
        hi = np.max([[s.stop for s in box] for box, _, _ in records], axis=0)
        union = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
        current = self.labels[union]
        original = current.copy()
        for box, mask, old in reversed(records):
            rel = tuple(slice(s.start - u.start, s.stop - u.start) for s, u in zip(box, union))
            original[rel][mask] = old
        changed = original != current
        if not changed.any():
            return None
        nz = [np.flatnonzero(changed.any(axis=tuple(a for a in range(3) if a != ax))) for ax in range(3)]
        tight_rel = tuple(slice(int(n[0]), int(n[-1]) + 1) for n in nz)
        tight = tuple(slice(u.start + t.start, u.start + t.stop) for u, t in zip(union, tight_rel))
        mask = changed[tight_rel]
        old = original[tight_rel][mask]
        new = current[tight_rel][mask]
        touched = frozenset(int(v) for v in np.union1d(np.unique(old), np.unique(new)) if v != 0)
        edit = LabelEdit(self._stroke_text, tight, np.packbits(mask.ravel()), old, new, touched)
        self._count(edit, +1)
        self.history.push(Command(edit.text, lambda: self._apply(edit, redo=True),
                                  lambda: self._apply(edit, redo=False)), already_done=True)
        return edit

    def _count(self, edit: LabelEdit, step: int) -> None:
        for v in edit.labels:
            self._edit_counts[v] = self._edit_counts.get(v, 0) + step

    def _apply(self, edit: LabelEdit, redo: bool) -> None:
        block = self.labels[edit.box]
        block[edit.mask()] = edit.new if redo else edit.old
        self._count(edit, +1 if redo else -1)
        self._changed(edit.labels)

    def _write(self, box: Box, target: np.ndarray, value: int) -> int:
        """Set ``labels[box][target] = value``, recorded in the current stroke; the number changed."""
        n = int(target.sum())
        if n == 0:
            return 0
        block = self.labels[box]
        old = block[target]
        block[target] = value
        own = self._stroke is None
        if own:
            self._stroke = []
        self._stroke.append((box, target, old))
        touched = frozenset(int(v) for v in np.unique(old) if v != 0) | ({int(value)} if value else frozenset())
        self._changed(touched)
        if own:
            self.end_stroke()
        return n

    # ------------------------------------------------------------------ brush
    def _brush_target(self, center_lps, brush: Brush) -> tuple[Box, np.ndarray] | None:
        hit = brush_mask(self.volume, center_lps, brush)
        if hit is None:
            return None
        box, mask = hit
        if brush.hu_range is not None:
            if self.volume.is_rgb:
                raise ValueError("threshold painting needs a greyscale image; this one is RGB")
            img = self.volume.array[box]
            mask = mask & (img >= brush.hu_range[0]) & (img <= brush.hu_range[1])
        return box, mask

    def paint(self, center_lps, label: int, brush: Brush, *, overwrite: bool = True) -> int:
        """Paint ``label`` under the brush; other segments are overwritten unless ``overwrite`` is False.

        Returns the number of voxels changed. Outside a stroke it is its own undo step.
        """
        label = self._check_label(label)
        hit = self._brush_target(center_lps, brush)
        if hit is None:
            return 0
        box, mask = hit
        region = self.labels[box]
        target = mask & (region != label)
        if not overwrite:
            target &= region == 0
        self._name_step(f"Paint {self._name(label)}")
        return self._write(box, target, label)

    def erase(self, center_lps, label: int, brush: Brush) -> int:
        """Remove ``label`` (only that segment) under the brush; the number of voxels changed."""
        label = self._check_label(label)
        hit = self._brush_target(center_lps, brush)
        if hit is None:
            return 0
        box, mask = hit
        self._name_step(f"Erase {self._name(label)}")
        return self._write(box, mask & (self.labels[box] == label), 0)

    def _name_step(self, text: str) -> None:
        """The undo step's name, unless a stroke (named by :meth:`begin_stroke`) is under way."""
        if self._stroke is None:
            self._stroke_text = text

    def _name(self, label: int) -> str:
        return self.names.get(label, f"label {label}")

    # ---------------------------------------------------------------- islands
    def _voxel(self, lps) -> tuple[int, int, int]:
        i, j, k = (int(v) for v in np.rint(self.volume.to_index(lps)))
        nx, ny, nz = self.volume.shape_xyz
        if not (0 <= i < nx and 0 <= j < ny and 0 <= k < nz):
            raise ValueError("the point is outside the image")
        return k, j, i

    def _label_box(self, label: int, pad: int = 0) -> Box | None:
        mask = self.labels == label
        if not mask.any():
            return None
        box = []
        for ax in range(3):
            idx = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != ax)))
            box.append(slice(max(int(idx[0]) - pad, 0), min(int(idx[-1]) + 1 + pad, mask.shape[ax])))
        return tuple(box)  # type: ignore[return-value]

    def _island(self, lps, label: int | None) -> tuple[int, Box, np.ndarray, np.ndarray]:
        from scipy import ndimage

        zyx = self._voxel(lps)
        at = int(self.labels[zyx])
        label = at if label is None else self._check_label(label)
        if label == 0 or at != label:
            name = "a segment" if label == 0 else self._name(label)
            raise ValueError(f"click inside {name}: the voxel under the point is "
                             f"{'background' if at == 0 else self._name(at)}")
        box = self._label_box(label)
        mask = self.labels[box] == label
        comp, _ = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))  # 26-connected
        seed = comp[tuple(p - s.start for p, s in zip(zyx, box))]
        return label, box, mask, comp == seed

    def island_change(self, lps, label: int | None = None, keep: bool = False) -> "PlannedChange":
        """What :meth:`remove_island` (or, with ``keep``, :meth:`keep_island`) would change, without changing it.

        Reads the labels only, so it may run on a worker thread; :meth:`apply` makes it an undo step.
        """
        label, box, mask, island = self._island(lps, label)
        text = f"{'Keep' if keep else 'Remove'} island of {self._name(label)}"
        return PlannedChange(text, box, (mask & ~island) if keep else island, 0, label)

    def remove_island(self, lps, label: int | None = None) -> int:
        """Remove the connected piece (26-connected) of ``label`` under ``lps``; voxels changed."""
        return self.apply(self.island_change(lps, label))

    def keep_island(self, lps, label: int | None = None) -> int:
        """Keep only the connected piece of ``label`` under ``lps``, removing its other pieces."""
        return self.apply(self.island_change(lps, label, keep=True))

    # ------------------------------------------------------------- fill holes
    def fill_change(self, label: int, plane: str | None = None) -> "PlannedChange | None":
        """What :meth:`fill_holes` would change (``None``: the segment is empty); reads the labels only."""
        from scipy import ndimage

        label = self._check_label(label)
        box = self._label_box(label)
        if box is None:
            return None
        region = self.labels[box]
        mask = np.pad(region == label, 1)
        if plane is None:
            filled = ndimage.binary_fill_holes(mask)
        else:
            normal = vg.slice_axis(plane)
            d_unit = self.volume.direction / np.linalg.norm(self.volume.direction, axis=0)
            a = int(np.argmax(np.abs(normal @ d_unit)))  # index axis x, y or z
            axis = 2 - a  # in the [z, y, x] array
            structure = np.zeros((3, 3, 3), bool)
            sl = [slice(None)] * 3
            sl[axis] = 1
            structure[tuple(sl)] = ndimage.generate_binary_structure(2, 1)
            filled = ndimage.binary_fill_holes(mask, structure=structure)
        target = filled[1:-1, 1:-1, 1:-1] & (region == 0)
        text = f"Fill holes of {self._name(label)}" + (f" ({plane} 2D)" if plane else " (3D)")
        return PlannedChange(text, box, target, label, 0)

    def fill_holes(self, label: int, plane: str | None = None) -> int:
        """Fill the holes of ``label`` (background voxels it encloses; other segments are kept).

        ``plane=None`` fills 3D holes (cavities closed in 3D); a view name
        (``"axial"``...) fills the holes of each slice of that view in 2D.
        """
        return self.apply(self.fill_change(label, plane))

    def apply(self, change: "PlannedChange | None") -> int:
        """Make a planned change one undo step; only voxels that still hold ``change.where`` are changed."""
        if change is None:
            return 0
        target = change.target & (self.labels[change.box] == change.where)
        self._name_step(change.text)
        return self._write(change.box, target, change.value)


@dataclass(frozen=True)
class PlannedChange:
    """Voxels to set to ``value`` (``target`` over ``box``) where they still hold ``where``, named ``text``."""

    text: str
    box: Box
    target: np.ndarray
    value: int
    where: int
