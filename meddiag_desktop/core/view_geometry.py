"""Patient-oriented view geometry for the 2D slice views (pure numpy).

Every 2D view shows the volume in *patient* orientation whatever the
acquisition orientation (radiological convention, LPS coordinates in mm):

========  ==========================  =====================  ===================
view      screen right                screen up              normal (to viewer)
========  ==========================  =====================  ===================
axial     patient Left (+X)           Anterior (-Y)          Inferior (-Z)
coronal   patient Left (+X)           Superior (+Z)          Anterior (-Y)
sagittal  Posterior (+Y)              Superior (+Z)          Left (+X)
========  ==========================  =====================  ===================

A view's *frame* is the 3x3 matrix whose columns are these three LPS vectors.
View coordinates ``(u, v, w)`` are ``frame.T @ lps``: ``u`` grows to the
right of the screen, ``v`` upwards, ``w`` towards the viewer.

Slices are numbered along a per-view *slice axis* (axial: Superior, coronal:
Anterior, sagittal: Left), so "next slice" is head-wards / forwards / left-wards
as in 3D Slicer.

The render layer samples the volume through :func:`reslice_matrix`, which maps
output ``(u, v, 0)`` to the volume's *scaled index* space
(``spacing * (i, j, k)``, origin 0, identity direction) so the VTK image needs
no direction matrix and any acquisition orientation, oblique included, shows
correctly.

A single image (one slice: CR/DX, one MR slice, a cine frame) whose plane is
oblique to every standard plane would show as a thin strip in any of them: the
view nearest to it shows it in the image's *own plane* instead
(:func:`single_image_frame`, :func:`image_plane_frame`). Every function taking
a ``view`` name also accepts such a frame (a 3x3 array, columns screen right,
screen up and normal, right-handed and orthonormal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

import numpy as np

from meddiag_desktop.core.volume import WindowPreset

if TYPE_CHECKING:
    from meddiag_desktop.core.volume import Volume

__all__ = [
    "AXIAL",
    "CORONAL",
    "SAGITTAL",
    "VIEWS",
    "NAMED_PRESETS",
    "ViewLike",
    "SliceInfo",
    "nearest_view",
    "image_normal",
    "image_plane_frame",
    "single_image_frame",
    "view_frame",
    "slice_axis",
    "lps_to_view",
    "view_to_lps",
    "reslice_matrix",
    "view_extent",
    "slice_step",
    "is_aligned",
    "output_spacing",
    "slice_info",
    "step_cursor",
    "clamp_to_volume",
    "direction_letters",
    "edge_letters",
    "window_range",
    "window_presets_for",
    "default_window",
    "wl_sensitivity",
    "drag_window_level",
    "NO_GEOMETRY_TITLE",
    "has_patient_geometry",
    "NO_GEOMETRY_REASON",
    "rotation_matrix",
    "ObliqueMPR",
]

AXIAL = "axial"
CORONAL = "coronal"
SAGITTAL = "sagittal"
VIEWS: tuple[str, ...] = (AXIAL, CORONAL, SAGITTAL)

_FRAMES: dict[str, np.ndarray] = {
    # columns: screen right, screen up, normal towards the viewer (right x up)
    AXIAL: np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]]).T,
    CORONAL: np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]).T,
    SAGITTAL: np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]).T,
}
_SLICE_AXES: dict[str, np.ndarray] = {
    AXIAL: np.array([0.0, 0.0, 1.0]),  # Superior
    CORONAL: np.array([0.0, -1.0, 0.0]),  # Anterior
    SAGITTAL: np.array([1.0, 0.0, 0.0]),  # Left
}


#: A view name or a frame (3x3 array, columns: screen right, screen up, normal towards the viewer).
ViewLike = Union[str, np.ndarray]


def _check_view(view: str) -> None:
    if view not in _FRAMES:
        raise ValueError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")


def _frame(view: ViewLike) -> np.ndarray:
    """The frame of a view name, or ``view`` itself when it is a valid frame (not copied)."""
    if isinstance(view, str):
        _check_view(view)
        return _FRAMES[view]
    f = np.asarray(view, float)
    if f.shape != (3, 3) or not np.allclose(f.T @ f, np.eye(3), atol=1e-6) or np.linalg.det(f) < 0:
        raise ValueError("a view frame must be a right-handed orthonormal 3x3 matrix (columns right, up, normal)")
    return f


def view_frame(view: ViewLike) -> np.ndarray:
    """3x3 matrix whose columns are the LPS directions of screen right, screen up and the normal."""
    return _frame(view).copy()


def nearest_view(normal: np.ndarray | tuple[float, float, float]) -> str:
    """The standard view whose plane is closest to the plane with normal ``normal`` (ties: axial first)."""
    n = np.asarray(normal, float)
    return max(VIEWS, key=lambda v: abs(float(_SLICE_AXES[v] @ n)))


def slice_axis(view: ViewLike) -> np.ndarray:
    """LPS unit vector along which slice numbers of ``view`` increase (S, A or L).

    For a frame: its normal, signed like the slice axis of the nearest standard
    view (so "next slice" goes the same way as there).
    """
    if isinstance(view, str):
        _check_view(view)
        return _SLICE_AXES[view].copy()
    n = _frame(view)[:, 2].copy()
    return n if float(n @ _SLICE_AXES[nearest_view(n)]) >= 0 else -n


def lps_to_view(view: ViewLike, lps: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """View coordinates ``(u, v, w)`` mm of LPS point(s) (shape 3 or N x 3)."""
    return np.asarray(lps, float) @ _frame(view)


def view_to_lps(view: ViewLike, uvw: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """LPS point(s) of view coordinates ``(u, v, w)`` (shape 3 or N x 3)."""
    return np.asarray(uvw, float) @ _frame(view).T


def _index_matrix(volume: "Volume") -> np.ndarray:
    """3x3 ``direction`` (LPS of scaled-index axes), general (not necessarily orthonormal)."""
    return np.asarray(volume.direction, float)


def reslice_matrix(view: ViewLike, volume: "Volume", cursor_lps: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """4x4 matrix mapping output ``(u, v, z)`` (view mm, slice through the cursor at z=0) to scaled index.

    Scaled index is ``spacing * (i, j, k)``: the coordinates of a VTK image with the
    volume's spacing, origin 0 and identity direction. ``u, v`` are absolute view
    coordinates, so output origin/extent come straight from :func:`view_extent`.
    """
    frame = _frame(view)
    w = float(np.asarray(cursor_lps, float) @ frame[:, 2])
    d_inv = np.linalg.inv(_index_matrix(volume))
    m = np.eye(4)
    m[:3, :3] = d_inv @ frame
    m[:3, 3] = d_inv @ (frame[:, 2] * w - np.asarray(volume.origin, float))
    return m


def _corner_box_lps(volume: "Volume") -> np.ndarray:
    """LPS of the 8 corner voxel centres."""
    return volume.corners_lps()


def view_extent(view: ViewLike, volume: "Volume") -> tuple[float, float, float, float, float, float]:
    """``(umin, umax, vmin, vmax, wmin, wmax)``: bounds of the 8 corner voxel centres in view mm."""
    uvw = lps_to_view(view, _corner_box_lps(volume))
    lo, hi = uvw.min(axis=0), uvw.max(axis=0)
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]), float(lo[2]), float(hi[2]))


def slice_step(view: ViewLike, volume: "Volume") -> float:
    """Distance (mm) between consecutive slices of ``view``.

    The spacing of the index axis most aligned with the view normal, projected
    onto the normal (``s_k * |d_k . n|``): equal to that spacing for a volume
    acquired in the view's plane, and never skipping a voxel layer for oblique
    ones.
    """
    n = slice_axis(view)
    d = _index_matrix(volume)
    d = d / np.linalg.norm(d, axis=0)
    cos = np.abs(n @ d)
    k = int(np.argmax(cos))
    return float(volume.spacing[k] * cos[k])


def is_aligned(view: ViewLike, volume: "Volume", tol: float = 1e-6) -> bool:
    """True when every index axis of ``volume`` is parallel to a screen axis or the normal of ``view``.

    Then slices sampled at :func:`output_spacing` hit voxel centres exactly and
    nearest-neighbour reslicing is exact (and much faster than interpolating).
    """
    d = _index_matrix(volume)
    d = d / np.linalg.norm(d, axis=0)
    cos = np.abs(_frame(view).T @ d)  # rows: screen axes, cols: index axes
    return bool(np.all(np.abs(cos.max(axis=0) - 1.0) < tol))


def output_spacing(view: ViewLike, volume: "Volume", max_pixels: int = 1024) -> tuple[float, float]:
    """Pixel size ``(du, dv)`` mm of the resliced image of ``view``.

    For an aligned volume the voxel spacing along each screen axis (pixels are
    voxels, possibly non-square); otherwise the smallest spacing, square. Both
    are enlarged if the slice would exceed ``max_pixels`` along an axis.
    """
    umin, umax, vmin, vmax, _, _ = view_extent(view, volume)
    if is_aligned(view, volume):
        d = _index_matrix(volume)
        d = d / np.linalg.norm(d, axis=0)
        cos = np.abs(_frame(view).T @ d)
        du = float(volume.spacing[int(np.argmax(cos[0]))])
        dv = float(volume.spacing[int(np.argmax(cos[1]))])
    else:
        du = dv = float(min(volume.spacing))
    du = max(du, (umax - umin) / (max_pixels - 1))
    dv = max(dv, (vmax - vmin) / (max_pixels - 1))
    return du, dv


@dataclass(frozen=True)
class SliceInfo:
    """Where the cursor lies along a view's slice axis."""

    index: int  #: 0-based slice number (clamped to the volume)
    count: int  #: number of slices
    position: float  #: cursor position along the slice axis (mm)
    step: float  #: slice distance (mm)
    first: float  #: position of slice 0 (mm)


def _axis_range(view: ViewLike, volume: "Volume") -> tuple[float, float]:
    s = _corner_box_lps(volume) @ slice_axis(view)
    return float(s.min()), float(s.max())


def slice_info(view: ViewLike, volume: "Volume", cursor_lps: np.ndarray | tuple[float, float, float]) -> SliceInfo:
    """Slice number, count and position (mm along the slice axis) of the cursor in ``view``."""
    lo, hi = _axis_range(view, volume)
    step = slice_step(view, volume)
    count = int(np.floor((hi - lo) / step + 1e-6)) + 1
    pos = float(np.asarray(cursor_lps, float) @ slice_axis(view))
    index = int(np.clip(np.rint((pos - lo) / step), 0, count - 1))
    return SliceInfo(index=index, count=count, position=pos, step=step, first=lo)


def step_cursor(
    view: ViewLike, volume: "Volume", cursor_lps: np.ndarray | tuple[float, float, float], slices: int
) -> np.ndarray:
    """Cursor moved by ``slices`` slices along the view's slice axis, snapped to a slice and clamped."""
    info = slice_info(view, volume, cursor_lps)
    current = (info.position - info.first) / info.step
    target = int(np.clip(np.rint(current) + slices, 0, info.count - 1))
    delta = info.first + target * info.step - info.position
    return np.asarray(cursor_lps, float) + slice_axis(view) * delta


def clamp_to_volume(volume: "Volume", lps: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """``lps`` moved to the nearest point inside the volume's voxel-centre box (index space)."""
    ijk = volume.to_index(lps)
    hi = np.asarray(volume.shape_xyz, float) - 1
    return volume.to_lps(np.clip(ijk, 0, hi))


# ------------------------------------------------------------ single image in its own plane
def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    if n == 0:
        raise ValueError("degenerate image orientation (zero direction vector)")
    return v / n


def image_normal(volume: "Volume") -> np.ndarray:
    """Unit normal of the image plane: row direction x column direction (DICOM's slice normal)."""
    d = _index_matrix(volume)
    return _unit(np.cross(d[:, 0], d[:, 1]))


def image_plane_frame(volume: "Volume") -> np.ndarray:
    """A frame showing the image plane of ``volume`` (its index axes 0 and 1) as acquired.

    Screen right is the image's row direction (increasing column index, DICOM's
    first ImageOrientationPatient vector) and screen up is minus its column
    direction (increasing row index runs down the screen), so row 0 is at the top
    and column 0 at the left, as the image was stored. The normal is ``right x up``
    (right-handed, towards the viewer, like the standard frames).

    Radiological convention: the normal must point to the same side as the
    normal of the nearest standard view (axial: Inferior, the viewer looks from
    the feet; coronal: Anterior; sagittal: Left). When the image was stored the
    other way round (a mirrored acquisition), the frame is flipped left-right
    (screen right negated, up kept) so, e.g., a stored-mirrored near-axial image
    still shows the patient's left on the screen's right.
    """
    d = _index_matrix(volume)
    right = _unit(d[:, 0])
    down = d[:, 1] - (d[:, 1] @ right) * right  # Gram-Schmidt: tolerate a slightly non-orthogonal IOP
    up = -_unit(down)
    normal = np.cross(right, up)
    if float(normal @ _FRAMES[nearest_view(normal)][:, 2]) < 0:
        right, normal = -right, -normal
    return np.column_stack([right, up, normal])


def single_image_frame(volume: "Volume", view: str | None = None, tol: float = 1e-6) -> np.ndarray | None:
    """Frame to show a single oblique image in its own plane, or ``None`` to use the standard view.

    Not ``None`` only when ``volume`` has one slice, its plane is not parallel
    (within ``tol`` on the cosine) to the plane of its nearest standard view
    (:func:`nearest_view` of :func:`image_normal`), and ``view`` (if given) is that
    nearest view: the standard view would cut the image along a line and show a
    thin strip. An image parallel to a standard plane (ordinary axial, coronal,
    sagittal images, CR/DX) keeps its standard view, also when rotated in-plane.
    """
    if volume.shape_xyz[2] != 1:
        return None
    n = image_normal(volume)
    near = nearest_view(n)
    if view is not None and view != near:
        return None
    if abs(float(n @ _FRAMES[near][:, 2])) >= 1.0 - tol:
        return None
    return image_plane_frame(volume)


# ------------------------------------------------------------ orientation
_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))  # (negative, positive) per LPS axis


def direction_letters(direction: np.ndarray | tuple[float, float, float], *, min_fraction: float = 0.25) -> str:
    """Orientation letters of an LPS direction, dominant axis first (e.g. ``"L"``, ``"LA"``).

    An axis contributes its letter when its component is at least ``min_fraction``
    of the vector's length.
    """
    d = np.asarray(direction, float)
    norm = np.linalg.norm(d)
    if norm == 0:
        return ""
    d = d / norm
    order = np.argsort(-np.abs(d), kind="stable")
    return "".join(_LETTERS[a][1 if d[a] > 0 else 0] for a in order if abs(d[a]) >= min_fraction)


def edge_letters(view: ViewLike) -> dict[str, str]:
    """Letters for the ``left``, ``right``, ``top`` and ``bottom`` screen edges of ``view`` (oblique: ``"LA"``)."""
    f = _frame(view)
    return {
        "left": direction_letters(-f[:, 0]),
        "right": direction_letters(f[:, 0]),
        "top": direction_letters(f[:, 1]),
        "bottom": direction_letters(-f[:, 1]),
    }


# ------------------------------------------------------------ window/level
#: Standard CT windows (width, level in HU).
NAMED_PRESETS: tuple[WindowPreset, ...] = (
    WindowPreset("Brain", 80.0, 40.0),
    WindowPreset("Lung", 1500.0, -600.0),
    WindowPreset("Mediastinum", 350.0, 50.0),
    WindowPreset("Abdomen", 400.0, 50.0),
    WindowPreset("Liver", 150.0, 30.0),
    WindowPreset("Bone", 1800.0, 400.0),
)


def window_range(width: float, level: float) -> tuple[float, float]:
    """Lowest and highest value shown (black and white) for a window."""
    return (level - width / 2.0, level + width / 2.0)


def _is_hu(volume: "Volume") -> bool:
    """HU when the loader says so; a volume without a ``units`` entry is HU when it is a greyscale CT."""
    md = volume.metadata
    if "units" in md:
        return md["units"] == "HU"
    return volume.modality == "CT" and not volume.is_rgb


def window_presets_for(volume: "Volume") -> list[WindowPreset]:
    """Presets to offer: the file's own (DICOM tags) first, then the named CT presets for CT."""
    own = [p for p in volume.window_presets if p.width > 0]
    return own + (list(NAMED_PRESETS) if _is_hu(volume) else [])


def default_window(volume: "Volume") -> WindowPreset:
    """Initial window: the first DICOM preset, else soft tissue for CT, else the 1-99 percentile range."""
    own = [p for p in volume.window_presets if p.width > 0]
    if own:
        return own[0]
    if _is_hu(volume):
        return WindowPreset("Soft tissue", 400.0, 40.0)
    arr = volume.array
    sample = arr[:: max(1, arr.shape[0] // 32)].reshape(-1)[::7]
    if sample.size == 0:
        return WindowPreset("Auto", 1.0, 0.0)
    lo, hi = (float(x) for x in np.percentile(sample, [1.0, 99.0]))
    if hi <= lo:
        lo, hi = volume.value_range()
    return WindowPreset("Auto", max(hi - lo, 1e-3), (hi + lo) / 2.0)


def wl_sensitivity(volume: "Volume") -> float:
    """Window/level change per screen pixel of right-drag: 1/1000 of the value range (at least 1e-3)."""
    lo, hi = volume.value_range()
    return max((hi - lo) / 1000.0, 1e-3)


def drag_window_level(width: float, level: float, dx: float, dy: float, sensitivity: float) -> tuple[float, float]:
    """Window after a right-drag of ``(dx, dy)`` screen pixels (``dy`` > 0 is downwards).

    Dragging right widens the window (less contrast), dragging down raises the
    level (darker image). The width never drops below ``sensitivity``.
    """
    return (max(width + dx * sensitivity, sensitivity), level + dy * sensitivity)


# ------------------------------------------------------------ images without patient geometry
#: Title of the one view showing an image whose file gives no patient orientation.
NO_GEOMETRY_TITLE = "Image (no patient orientation)"
#: The one-line reason shown in the warnings for such an image.
NO_GEOMETRY_REASON = (
    "No patient orientation in the file (no ImageOrientationPatient/ImagePositionPatient or PatientOrientation): "
    "shown as stored in one view, without orientation letters, coronal, sagittal or 3D views."
)


def has_patient_geometry(volume: "Volume") -> bool:
    """False when the loader found no patient orientation for ``volume`` (metadata ``no_patient_geometry``).

    Its direction is then made up (identity), so orientation letters, reformats and a 3D
    view would be inventions: such an image is shown as stored, in one view.
    """
    return not bool(volume.metadata.get("no_patient_geometry", False))


# ------------------------------------------------------------ oblique MPR
def rotation_matrix(axis: np.ndarray | tuple[float, float, float], angle_deg: float) -> np.ndarray:
    """3x3 rotation by ``angle_deg`` about the unit vector ``axis`` (right-hand rule, Rodrigues)."""
    k = _unit(np.asarray(axis, float))
    a = np.deg2rad(float(angle_deg))
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(a) * kx + (1.0 - np.cos(a)) * (kx @ kx)


class ObliqueMPR:
    """The three slice planes of an oblique (double-oblique) MPR, as rotations about the crosshair point.

    Each standard view ``v`` shows the plane through the cursor with frame
    ``rotations[v] @ view_frame(v)``. Rotating the crosshair in view ``v`` by
    ``angle`` degrees (counter-clockwise on that view's screen: about its normal,
    which points towards the viewer) rotates the *other two* planes about ``v``'s
    normal; ``v``'s own plane and screen stay put, as in 3D Slicer, RadiAnt and
    Horos. The three planes stay mutually perpendicular, and rotating in a second
    (now oblique) view composes: double-oblique. :meth:`reset` restores the exact
    standard frames (identity rotations). Listeners (``subscribe``) are called
    after every change with no arguments.
    """

    def __init__(self) -> None:
        self.rotations: dict[str, np.ndarray] = {v: np.eye(3) for v in VIEWS}
        self._listeners: list = []

    def subscribe(self, fn) -> None:
        """Call ``fn()`` after every rotation or reset."""
        self._listeners.append(fn)

    def _emit(self) -> None:
        for fn in list(self._listeners):
            fn()

    @property
    def is_oblique(self) -> bool:
        """True when any plane differs from its standard orientation."""
        return any(not np.array_equal(r, np.eye(3)) for r in self.rotations.values())

    def frame(self, view: str) -> np.ndarray:
        """Current frame of ``view`` (columns screen right, screen up, normal towards the viewer)."""
        _check_view(view)
        return self.rotations[view] @ _FRAMES[view]

    def frames(self) -> dict[str, np.ndarray]:
        """Current frame of every view."""
        return {v: self.frame(v) for v in VIEWS}

    def geom(self, view: str) -> ViewLike:
        """What geometry functions should get for ``view``: its name while standard, else its frame."""
        _check_view(view)
        return view if np.array_equal(self.rotations[view], np.eye(3)) else self.frame(view)

    def tilt_deg(self, view: str) -> float:
        """Angle (degrees) between ``view``'s current normal and its standard normal."""
        c = float(self.frame(view)[:, 2] @ _FRAMES[view][:, 2])
        return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))

    def rotate(self, view: str, angle_deg: float) -> None:
        """Rotate the crosshair shown in ``view`` by ``angle_deg`` (counter-clockwise on its screen)."""
        if not np.isfinite(angle_deg):
            raise ValueError(f"rotation angle must be a finite number of degrees, not {angle_deg!r}")
        if angle_deg == 0:
            return
        r = rotation_matrix(self.frame(view)[:, 2], angle_deg)
        for other in VIEWS:
            if other != view:
                m = r @ self.rotations[other]
                u, _, vt = np.linalg.svd(m)  # re-orthonormalise: many small drags must not drift
                self.rotations[other] = u @ vt
        self._emit()

    def reset(self) -> None:
        """Back to the standard axial, coronal and sagittal planes (exactly)."""
        if not self.is_oblique:
            return
        self.rotations = {v: np.eye(3) for v in VIEWS}
        self._emit()

    def show_plane(self, normal: np.ndarray | tuple[float, float, float], tol: float = 1e-3) -> str:
        """Turn the planes so one view shows the plane with ``normal`` (e.g. a measurement's); returns that view.

        Nothing turns when a view already shows it. A standard plane resets the
        MPR (exactly); otherwise the three planes turn together, by the smallest
        rotation taking the nearest view's normal onto ``normal``, so they stay
        perpendicular.
        """
        n = _unit(np.asarray(normal, float))
        for v in VIEWS:
            if abs(float(self.frame(v)[:, 2] @ n)) >= 1.0 - tol:
                return v
        for v in VIEWS:
            if abs(float(_FRAMES[v][:, 2] @ n)) >= 1.0 - tol:
                self.reset()
                return v
        view = max(VIEWS, key=lambda v: abs(float(self.frame(v)[:, 2] @ n)))
        a = self.frame(view)[:, 2]
        b = n if float(a @ n) >= 0 else -n
        axis = np.cross(a, b)
        angle = float(np.degrees(np.arctan2(np.linalg.norm(axis), float(a @ b))))
        r = rotation_matrix(axis, angle)
        self.rotations = {v: r @ self.rotations[v] for v in VIEWS}
        self._emit()
        return view

    def line_direction(self, view: str, other: str) -> np.ndarray:
        """Unit LPS direction of the line where ``other``'s plane cuts ``view``'s plane (a crosshair line)."""
        return _unit(np.cross(self.frame(view)[:, 2], self.frame(other)[:, 2]))
