"""Siemens mosaics: one DICOM image that tiles every slice of an EPI volume (fMRI, DWI).

The number of slices and the slice normal are in Siemens' private CSA image
header (0029,1010), read with nibabel's ``csareader``. ImagePositionPatient of a
mosaic is the corner of the whole tiled image, a position no real slice has; the
first slice's corner is found by moving half the unused mosaic size along the row
and column directions (the correction dcm2niix and nibabel apply). Slice ``k`` then
lies ``k`` slice spacings along the slice normal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from meddiag_desktop.core.volume import Volume
from meddiag_desktop.io.errors import LoadError, unreadable_reason
from meddiag_desktop.io.series import InstanceHeader, SeriesInfo

__all__ = ["MosaicGeometry", "mosaic_geometry", "unpack", "load_mosaic"]


@dataclass
class MosaicGeometry:
    """Where the slices of one mosaic lie: ``n`` slices of ``rows`` x ``columns`` in a ``tiles`` x ``tiles`` grid."""

    n: int
    tiles: int
    rows: int
    columns: int
    origin: np.ndarray  # LPS corner voxel of slice 0
    direction: np.ndarray  # columns: row direction, column direction, slice normal (as the CSA gives it)
    spacing: tuple[float, float, float]  # (x, y, z) mm


def _csa(ds):
    from nibabel.nicom import csareader

    try:
        return csareader.get_csa_header(ds, "image")
    except Exception:  # a damaged private header: the caller says so
        return None


def mosaic_geometry(h: InstanceHeader, ds) -> MosaicGeometry:
    """Geometry of mosaic ``h`` from its header ``ds`` (pydicom, with the CSA header); LoadError when it cannot be placed."""
    from nibabel.nicom import csareader

    name = h.path.name
    csa = _csa(ds)
    n = None
    normal = None
    if csa is not None:
        try:
            n = csareader.get_n_mosaic(csa)
            normal = csareader.get_slice_normal(csa)
        except Exception:
            n = normal = None
    if n is None:
        n = ds.get((0x0019, 0x100A))  # NumberOfImagesInMosaic, Siemens private
        try:
            n = int(n.value) if n is not None and not isinstance(n.value, bytes) else (
                int.from_bytes(n.value[:2], "little") if n is not None else None)
        except (TypeError, ValueError):
            n = None
    if not n or n < 1:
        raise LoadError(
            f"{name}: a Siemens mosaic without the number of slices it holds (its CSA header is missing or "
            "damaged); it cannot be unpacked"
        )
    tiles = math.ceil(math.sqrt(n))
    rows, cols = h.rows // tiles, h.columns // tiles  # as nibabel and dcm2niix: a partial last row/column is unused
    if n > 1024 or rows < 1 or cols < 1:
        raise LoadError(f"{name}: a mosaic of {h.columns}x{h.rows} pixels cannot hold {n} slices in a {tiles}x{tiles} grid")
    if h.orientation is None or h.position is None or h.pixel_spacing is None:
        raise LoadError(f"{name}: a Siemens mosaic without position, orientation or pixel spacing cannot be placed")
    r = np.asarray(h.orientation[:3], float)
    c = np.asarray(h.orientation[3:], float)
    r /= np.linalg.norm(r)
    c /= np.linalg.norm(c)
    cross = np.cross(r, c)
    if normal is not None:
        nv = np.asarray([float(v) for v in normal], float)
        if not np.all(np.isfinite(nv)) or np.linalg.norm(nv) < 1e-6:
            nv = cross
        nv = nv / np.linalg.norm(nv)
    else:
        nv = cross
    if abs(abs(float(nv @ cross)) - 1) > 1e-2:
        raise LoadError(f"{name}: the mosaic's slice normal is not perpendicular to its slices; it cannot be placed")
    row_sp, col_sp = h.pixel_spacing  # PixelSpacing: between rows, between columns
    gap = _float(ds.get("SpacingBetweenSlices")) or h.slice_thickness or 1.0
    # ImagePositionPatient is the corner of the whole mosaic: move to the corner of one slice. As
    # dcm2niix and nibabel, with the tile size unrounded (they differ only in a cropped mosaic).
    origin = (np.asarray(h.position, float)
              + r * col_sp * (h.columns - h.columns / tiles) / 2.0
              + c * row_sp * (h.rows - h.rows / tiles) / 2.0)
    return MosaicGeometry(n=int(n), tiles=tiles, rows=rows, columns=cols, origin=origin,
                          direction=np.column_stack([r, c, nv]), spacing=(col_sp, row_sp, float(gap)))


def _float(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


def unpack(plane: np.ndarray, g: MosaicGeometry) -> np.ndarray:
    """The ``g.n`` slices tiled in ``plane`` (rows x columns), as (n, rows, columns), in slice order."""
    t, r, c = g.tiles, g.rows, g.columns
    tiled = plane[: t * r, : t * c].reshape(t, r, t, c).transpose(0, 2, 1, 3).reshape(t * t, r, c)
    return np.ascontiguousarray(tiled[: g.n])


def load_mosaic(series: SeriesInfo, progress=None, cancel=None) -> Volume:
    """A Siemens mosaic unpacked into its slices; a series of several mosaics shows the first (with a warning)."""
    import pydicom

    from meddiag_desktop.io.pixel_decode import safe_bytes
    from meddiag_desktop.io.dicom_volume import _metadata, _read_planes, _rescale

    insts = sorted(series.instances, key=lambda i: (i.acquisition_number or 0, i.instance_number or 0, str(i.path)))
    h = insts[0]
    warnings: list[str] = []
    if len(insts) > 1:
        warnings.append(
            f"This series holds {len(insts)} Siemens mosaics, each a whole volume (time points of an fMRI run or "
            f"diffusion directions): showing the first, {h.path.name}; they are not stacked into one volume. "
            "Open another file on its own to see it."
        )
    try:
        ds = pydicom.dcmread(safe_bytes(h.path), stop_before_pixels=True, force=True)
    except LoadError:
        raise
    except Exception as exc:
        raise LoadError(f"{h.path.name}: the header cannot be read: {unreadable_reason(exc)}") from None
    g = mosaic_geometry(h, ds)
    planes = _read_planes([h], progress, cancel)
    if planes.ndim != 3:
        raise LoadError(f"{h.path.name}: a colour mosaic cannot be unpacked")
    slices = unpack(planes[0], g)
    slices = _rescale(slices, [h.rescale_slope] * g.n, [h.rescale_intercept] * g.n)
    r, c, normal = g.direction[:, 0], g.direction[:, 1], g.direction[:, 2]
    origin = g.origin
    if float(normal @ np.cross(r, c)) < 0:  # slices stored against row x column: reverse them (right-handed grid)
        slices = slices[::-1].copy()
        origin = origin + normal * g.spacing[2] * (g.n - 1)
    direction = np.column_stack([r, c, np.cross(r, c)])
    md = _metadata(series, h)
    md["files"] = [str(h.path)]
    md["mosaic"] = {"slices": g.n, "tiles": g.tiles, "mosaic_count": len(insts)}
    return Volume(slices, spacing=g.spacing, origin=tuple(origin), direction=direction, metadata=md, warnings=warnings)
