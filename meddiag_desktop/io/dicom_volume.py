"""Build a :class:`~meddiag_desktop.core.Volume` from a scanned DICOM series."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from meddiag_desktop.core.progress import Cancel, Progress
from meddiag_desktop.core.volume import Volume, WindowPreset
from meddiag_desktop.io.dicom_pixels import decode_file, raw_dtype, read_native_frame
from meddiag_desktop.io.errors import LoadCancelled, LoadError, unreadable_reason
from meddiag_desktop.io.io_threads import share_work
from meddiag_desktop.io.series import InstanceHeader, SeriesInfo
from meddiag_desktop.io.stack_geometry import _orthonormal_frame, apply_plan, orientation_problem, plan_stack

__all__ = ["load_series", "decode_order"]



def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _check_size(shape: tuple[int, ...], itemsize: int, what: str) -> None:
    nbytes = int(np.prod(shape, dtype=np.int64)) * itemsize
    avail = _available_memory()
    if avail is not None and nbytes > 0.8 * avail:
        raise LoadError(
            f"{what} needs {nbytes / 2**30:.1f} GiB of memory but only {avail / 2**30:.1f} GiB is free; "
            "close other studies or programs and try again"
        )


#: SOP class UID prefix of the Secondary Capture images (single-frame and the multi-frame ones, 1.2.840.10008.5.1.4.1.1.7.x)
_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def _metadata(series: SeriesInfo, h: InstanceHeader) -> dict:
    presets = []
    for i, (c, w) in enumerate(zip(h.window_centers, h.window_widths)):
        if w > 0:
            name = h.window_explanations[i] if i < len(h.window_explanations) and h.window_explanations[i] else f"DICOM {i + 1}"
            presets.append(WindowPreset(name=name, width=float(w), level=float(c)))
    # HU only for CT greyscale images; a secondary capture (colour or not) of a CT is not in HU
    units = "HU" if h.modality == "CT" and h.samples_per_pixel == 1 and not h.sop_class_uid.startswith(_SECONDARY_CAPTURE) else ""
    lossy = [i for i in (h, *series.instances) if i.lossy == "01"]
    return {
        "source": "dicom",
        "patient_name": h.patient_name,
        "patient_id": h.patient_id,
        "patient_sex": h.patient_sex,
        "patient_birth_date": h.patient_birth_date,
        "patient_age": h.patient_age,
        "study_date": h.study_date,
        "study_description": h.study_description,
        "series_description": h.series_description,
        "series_number": h.series_number,
        "modality": h.modality,
        "study_uid": h.study_uid,
        "series_uid": series.series_uid,
        "series_key": series.key,
        "frame_of_reference_uid": h.frame_of_reference_uid,
        "sop_class_uid": h.sop_class_uid,
        "photometric": h.photometric,
        "monochrome1": h.photometric == "MONOCHROME1",
        "units": units,
        "window_presets": presets,
        # LossyImageCompression 01 in any image: PS3.3 C.7.6.1.1.5 asks viewers to show it
        "lossy": bool(lossy),
        "lossy_ratios": lossy[0].lossy_ratios if lossy else (),
        "lossy_methods": lossy[0].lossy_methods if lossy else (),
        "files": [str(i.path) for i in series.instances],
        "source_folder": str(h.path.parent),
    }


def _rescale(planes: np.ndarray, slopes: list[float], intercepts: list[float]) -> np.ndarray:
    """Apply RescaleSlope/Intercept per plane; keep int16 when that is lossless."""
    if planes.dtype.kind not in "iu" or planes.ndim == 4:
        return planes
    integral = all(s == 1.0 for s in slopes) and all(float(i).is_integer() for i in intercepts)
    if integral:
        lo, hi = int(planes.min()), int(planes.max())
        ic_lo, ic_hi = int(min(intercepts)), int(max(intercepts))
        if lo + ic_lo >= -32768 and hi + ic_hi <= 32767:
            if planes.dtype == np.uint16 and hi <= 32767:
                planes = planes.view(np.int16)  # same bit pattern for values below 2**15
            if planes.dtype == np.int16:
                for k, ic in enumerate(intercepts):
                    if ic:
                        np.add(planes[k], int(ic), out=planes[k], casting="unsafe")
                return planes
            # other integer types: convert plane by plane, in place where the item size allows
            out = planes.view(np.int16) if planes.dtype == np.uint16 else np.empty(planes.shape, np.int16)
            for k, ic in enumerate(intercepts):
                out[k] = planes[k].astype(np.int32) + int(ic)
            return out
    out = planes.astype(np.float32)
    for k, (s, ic) in enumerate(zip(slopes, intercepts)):
        if s != 1.0 or ic != 0.0:
            out[k] *= np.float32(s)
            out[k] += np.float32(ic)
    return out


def decode_order(n: int, focus: float = 0.5) -> list[int]:
    """Plane indices from the one at ``focus`` (0: first, 1: last) outwards, alternating sides."""
    if n <= 0:
        return []
    k0 = min(n - 1, max(0, int(round(focus * (n - 1)))))
    order = [k0]
    for d in range(1, n):
        if k0 + d < n:
            order.append(k0 + d)
        if k0 - d >= 0:
            order.append(k0 - d)
    return order


def _read_planes(insts: list[InstanceHeader], progress: Progress | None, cancel: Cancel | None,
                 order: list[int] | None = None, on_plane: Callable[[np.ndarray, int], None] | None = None) -> np.ndarray:
    """Pixels of single-frame ``insts`` in that order, as (n, rows, cols[, 3]).

    Compressed planes are decoded in ``order`` (default: first to last) and ``on_plane(planes, k)``
    is called on this thread as each plane ``k`` lands (the first one before any other is decoded).
    """
    h0 = insts[0]
    n = len(insts)
    native = all(
        i.pixel_offset is not None and i.samples_per_pixel == 1 and i.photometric.startswith("MONOCHROME")
        and i.bits_allocated in (8, 16, 32)  # 1-bit (SEG, overlays-as-images): pydicom unpacks them
        for i in insts
    )
    if native:
        dtypes = {raw_dtype(i) for i in insts}
        dtype = dtypes.pop() if len(dtypes) == 1 else np.dtype(np.float32)
        if dtype == np.float32:
            native = False
    if native:
        _check_size((n, h0.rows, h0.columns), dtype.itemsize, "This series")
        planes = np.empty((n, h0.rows, h0.columns), dtype)

        def read(k: int) -> None:
            read_native_frame(insts[k], planes[k])

        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(read, k) for k in range(n)]
            for done, fut in enumerate(futures, 1):
                fut.result()
                if progress is not None and (done % 8 == 0 or done == n):
                    progress(done, n)
                if cancel is not None and done % 8 == 0 and cancel():
                    for f in futures:
                        f.cancel()
                    raise LoadCancelled()
        return planes

    from concurrent.futures import FIRST_COMPLETED, wait

    from meddiag_desktop.io.decode_pool import pool_size

    order = list(order) if order is not None else list(range(n))
    k0 = order[0]
    first, _ = decode_file(insts[k0], cancel, dataset=False)
    _check_size((n,) + first.shape[1:], first.dtype.itemsize, "This series")
    planes = np.empty((n,) + first.shape[1:], first.dtype)
    planes[k0] = first[0]
    del first
    if on_plane is not None:
        on_plane(planes, k0)

    def read(k: int) -> int:
        arr, _ = decode_file(insts[k], cancel, dataset=False)
        if arr.shape[1:] != planes.shape[1:]:
            raise LoadError(f"{insts[k].path.name}: image size differs from the rest of the series")
        planes[k] = arr[0]
        return k

    # two files in flight per decode process keep every core busy; the order is the submission order
    with ThreadPoolExecutor(max_workers=max(4, 2 * pool_size())) as pool:
        pending = {pool.submit(read, k) for k in order[1:]}
        done = 1
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    k = fut.result()
                    done += 1
                    if on_plane is not None:
                        on_plane(planes, k)
                if progress is not None:
                    progress(done, n)
                if cancel is not None and cancel():
                    raise LoadCancelled()
        except BaseException:
            for f in pending:
                f.cancel()
            raise
    if progress is not None and n == 1:
        progress(1, 1)
    return planes


class _Progressive:
    """Shows a compressed stack while it decodes: a Volume over the planes decoded so far.

    ``on_partial(volume, filled)`` is called on the loading thread when the first plane is in
    and then at most every :attr:`EVERY` seconds; ``volume.array`` is the array the final volume
    will hold (filled in place; planes not decoded yet hold the first plane's minimum) and
    ``filled`` a bool per plane. Greyscale 16-bit planes get their intercept as they land (int16,
    as :func:`_rescale` would); if the series' values turn out not to fit int16, :meth:`finish`
    undoes that and the final volume is :func:`_rescale`'s float32 one instead (a new array).
    """

    EVERY = 0.2

    def __init__(self, kept: list[InstanceHeader], make_volume: Callable[[np.ndarray], Volume], on_partial) -> None:
        self.kept = kept
        self.make_volume = make_volume
        self.on_partial = on_partial
        self.intercepts = [i.rescale_intercept for i in kept]
        self.integral = all(i.rescale_slope == 1.0 and float(i.rescale_intercept).is_integer()
                            and -32768 <= i.rescale_intercept <= 32767 for i in kept)
        self.mode = ""  # "int16": intercept added in place; "raw": shown as decoded; "off": not shown early
        self.volume: Volume | None = None
        self.filled = np.zeros(len(kept), bool)
        self.lo_hi: dict[int, tuple[int, int]] = {}
        self.last = 0.0

    def __call__(self, planes: np.ndarray, k: int) -> None:
        import time

        if not self.mode:
            grey = self.kept[0].samples_per_pixel == 1 and planes.ndim == 3
            if not grey or planes.dtype.kind not in "iu":
                self.mode = "raw"  # _rescale leaves these as they are
            elif planes.dtype.itemsize == 2 and self.integral:
                self.mode = "int16"
            else:
                self.mode = "off"
                return
        if self.mode == "off":
            return
        if self.mode == "int16":
            self.lo_hi[k] = (int(planes[k].min()), int(planes[k].max()))
            ic = int(self.intercepts[k])
            if ic:
                view = planes.view(np.int16)
                np.add(view[k], ic, out=view[k], casting="unsafe")
        self.filled[k] = True
        now = time.perf_counter()
        if self.volume is None:
            shown = planes.view(np.int16) if self.mode == "int16" else planes
            shown[~self.filled] = shown[k].min()  # not decoded yet: the darkest value of the first plane
            self.volume = self.make_volume(shown)
        elif now - self.last < self.EVERY:
            return
        self.volume.metadata.pop("_value_range", None)  # cached from fewer planes
        self.last = now
        self.on_partial(self.volume, self.filled.copy())

    def finish(self, planes: np.ndarray, final: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The final array: the shown one when the in-place intercepts were right, else ``final(raw planes)``."""
        if self.volume is None:  # "off", or nothing decoded
            return final(planes)
        if self.mode == "int16":
            lo = min(v[0] for v in self.lo_hi.values())
            hi = max(v[1] for v in self.lo_hi.values())
            ic = [int(i) for i in self.intercepts]
            if lo + min(ic) >= -32768 and hi + max(ic) <= 32767:
                return self.volume.array  # what _rescale returns for these values, bit for bit
            view = planes.view(np.int16)
            for k, c in enumerate(ic):
                if c:
                    np.subtract(view[k], c, out=view[k], casting="unsafe")
            return final(planes)
        return self.volume.array  # "raw": _rescale would return the planes as they are


def _stored_range(h: InstanceHeader) -> tuple[int, int]:
    """The range of ``h``'s 16-bit stored values after :func:`dicom_pixels.fix_bits` (from BitsStored alone)."""
    bs, ba = h.bits_stored, h.bits_allocated
    if 0 < bs < ba:
        return (-(1 << (bs - 1)), (1 << (bs - 1)) - 1) if h.pixel_representation else (0, (1 << bs) - 1)
    return (0, 65535) if raw_dtype(h) == np.uint16 else (-32768, 32767)


def _fused_ok(insts: list[InstanceHeader]) -> bool:
    """Whether :func:`_read_native_rescaled` applies: native 16-bit greyscale of one stored type,
    slope 1, integral intercepts."""
    dtypes = set()
    for i in insts:
        if not (i.pixel_offset is not None and i.samples_per_pixel == 1 and i.photometric.startswith("MONOCHROME")
                and i.bits_allocated == 16 and i.rescale_slope == 1.0 and float(i.rescale_intercept).is_integer()
                and -32768 <= i.rescale_intercept <= 32767):
            return False
        dtypes.add(raw_dtype(i))
    return len(dtypes) == 1


#: bytes of volume each reading thread fills at a time (see :func:`_read_native_rescaled`)
FILL_CHUNK_BYTES = 4 << 20


def _read_native_rescaled(insts: list[InstanceHeader], progress: Progress | None, cancel: Cancel | None) -> np.ndarray:
    """``_rescale(_read_planes(insts))`` for :func:`_fused_ok` series, in one pass over the volume.

    Each file's pixels are read (one ``preadv`` from the recorded offset) straight into their
    plane of the volume; the bits are fixed and the intercept added right after, while the plane is
    still in the CPU cache, so the volume's memory is swept once (the old path read every plane,
    then scanned the whole volume for min/max, then added the intercept: three sweeps). The int16
    range check of :func:`_rescale` is decided from BitsStored when that suffices, else from
    per-plane min/max taken while the plane is cached. If the check fails (values would overflow
    int16) the intercepts are subtracted again (int16 wraps, so this restores the stored values
    exactly) and
    :func:`_rescale` takes its float32 path: the result is bit-identical to the old one.

    Each thread takes :data:`FILL_CHUNK_BYTES` of consecutive planes at a time (8 planes of
    512x512), not one plane: the volume is fresh memory that the kernel zeroes in 2 MiB huge
    pages as it is first written, and two threads writing into the same huge page at once wait
    for each other. 300 planes of 512x512 on two threads: 26.1 ms one plane at a time, 23.1 ms
    eight at a time (medians of 15).
    """
    import threading

    h0 = insts[0]
    n = len(insts)
    rows, cols = h0.rows, h0.columns
    _check_size((n, rows, cols), 2, "This series")
    planes = np.empty((n, rows, cols), np.int16)
    # the stored values: int16, or uint16 (16 bits stored) read through a view of the same memory
    stored = planes.view(raw_dtype(h0))
    intercepts = [int(i.rescale_intercept) for i in insts]
    ic_lo, ic_hi = min(intercepts), max(intercepts)
    ranges = [_stored_range(i) for i in insts]
    bound_lo, bound_hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
    need_lo = bound_lo + ic_lo < -32768  # only the side(s) BitsStored cannot settle are measured
    need_hi = bound_hi + ic_hi > 32767
    need_range = need_lo or need_hi
    lo_hi: list[tuple[int, int] | None] = [None] * n
    chunk = max(1, FILL_CHUNK_BYTES // (rows * cols * 2))
    todo = iter(range(0, n, chunk))
    lock = threading.Lock()
    stop = threading.Event()
    done = [0]
    reported = [0]

    def read(k: int) -> None:
        buf = stored[k]
        read_native_frame(insts[k], buf)  # one preadv, bits fixed
        if need_range:
            lo_hi[k] = (int(buf.min()) if need_lo else bound_lo, int(buf.max()) if need_hi else bound_hi)
        if intercepts[k]:  # in int16, wrapping: exact whenever the range check below passes
            np.add(planes[k], intercepts[k], out=planes[k], casting="unsafe")

    def work(report: bool) -> None:
        while not stop.is_set():
            with lock:
                first = next(todo, None)
            if first is None:
                return
            last = min(first + chunk, n)
            for k in range(first, last):
                read(k)
            with lock:
                done[0] += last - first
                count = done[0]
            if report:
                if progress is not None:
                    progress(count, n)
                    reported[0] = count
                if cancel is not None and cancel():
                    stop.set()
                    raise LoadCancelled()

    share_work(work, stop)
    if progress is not None and reported[0] != n:
        progress(n, n)  # the helpers read the last planes
    if need_range:
        lo = min(v[0] for v in lo_hi)  # type: ignore[index]
        hi = max(v[1] for v in lo_hi)  # type: ignore[index]
        if not (lo + ic_lo >= -32768 and hi + ic_hi <= 32767):
            for k, ic in enumerate(intercepts):  # undo: _rescale decides on the stored values
                if ic:
                    np.subtract(planes[k], ic, out=planes[k], casting="unsafe")
            return _rescale(stored, [1.0] * n, [float(ic) for ic in intercepts])
    return planes


#: LPS unit vector of each PatientOrientation letter
_LETTERS = {"L": (1, 0, 0), "R": (-1, 0, 0), "P": (0, 1, 0), "A": (0, -1, 0), "H": (0, 0, 1), "F": (0, 0, -1)}


def direction_from_patient_orientation(letters: tuple[str, ...]) -> np.ndarray | None:
    """Direction matrix of a projection image from PatientOrientation (``("L", "F")``: along a row the
    patient's left, down a column the feet), or ``None`` when the letters are missing or inconsistent.

    Oblique values (``"LF"``) combine their letters. The third axis is rows x columns, as for
    ImageOrientationPatient, so a PA chest radiograph lies in the coronal plane.
    """
    if len(letters) != 2:
        return None
    axes = []
    for value in letters:
        if not value or any(c not in _LETTERS for c in value):
            return None
        v = np.sum([_LETTERS[c] for c in value], axis=0).astype(float)
        norm = np.linalg.norm(v)
        if norm == 0:
            return None
        axes.append(v / norm)
    row, col = axes
    if abs(float(row @ col)) > 1e-3:
        return None
    return np.column_stack([row, col, np.cross(row, col)])


def _single(series: SeriesInfo, h: InstanceHeader, planes: np.ndarray, warnings: list[str], frames_as_slices: bool) -> Volume:
    if h.orientation is not None:
        problem = orientation_problem(h.orientation)
        if problem:
            raise LoadError(f"{h.path.name}: ImageOrientationPatient {problem}; the file's geometry is damaged")
        direction = _orthonormal_frame(h.orientation)
    else:
        # projection radiographs (CR/DX/MG) carry PatientOrientation instead: with it the
        # image is shown in its anatomical plane with correct orientation letters
        direction = direction_from_patient_orientation(h.patient_orientation)
        if direction is None:
            direction = np.eye(3)
    origin = h.position if h.position is not None else (0.0, 0.0, 0.0)
    if h.pixel_spacing is not None:
        sy, sx = h.pixel_spacing
        if h.spacing_source == "ImagerPixelSpacing":
            warnings.append(
                "Pixel spacing is given at the detector (ImagerPixelSpacing): distances are not corrected "
                "for magnification."
            )
    else:
        sx = sy = 1.0
        warnings.append("This image has no pixel spacing: distances and areas are in pixels, not millimetres.")
    sz = h.slice_thickness if h.slice_thickness and h.slice_thickness > 0 else 1.0
    if frames_as_slices and len(planes) > 1:
        sz = 1.0
        warnings.append(
            f"The {len(planes)} frames have no 3D positions (a cine loop or multi-frame 2D image): they are "
            "shown as slices 1 mm apart; distances across frames mean nothing."
        )
    md = _metadata(series, h)
    md["no_patient_geometry"] = h.orientation is None and direction_from_patient_orientation(h.patient_orientation) is None
    return Volume(planes, spacing=(sx, sy, sz), origin=origin, direction=direction, metadata=md, warnings=warnings)


def _load_stack(series: SeriesInfo, progress: Progress | None, cancel: Cancel | None, on_partial=None, focus: float = 0.5) -> Volume:
    insts = list(series.instances)
    h0 = insts[0]
    warnings: list[str] = []
    if len(insts) == 1:
        planes = _read_planes(insts, progress, cancel)
        planes = _rescale(planes, [h0.rescale_slope], [h0.rescale_intercept])
        return _single(series, h0, planes, warnings, frames_as_slices=False)

    located = [i for i in insts if i.position is not None and i.orientation is not None]
    if not located:
        warnings.append(
            f"None of the {len(insts)} images has ImagePositionPatient/ImageOrientationPatient: slices are "
            "ordered by InstanceNumber and spaced by SliceThickness; 3D geometry and distances across slices "
            "may be wrong."
        )
        insts.sort(key=lambda i: (i.instance_number if i.instance_number is not None else 0, str(i.path)))
        planes = _read_planes(insts, progress, cancel)
        planes = _rescale(planes, [i.rescale_slope for i in insts], [i.rescale_intercept for i in insts])
        vol = _single(series, h0, planes, warnings, frames_as_slices=False)
        vol.metadata["files"] = [str(i.path) for i in insts]
        return vol
    if len(located) < len(insts):
        warnings.append(
            f"{len(insts) - len(located)} image(s) without ImagePositionPatient were left out "
            f"(e.g. {next(i for i in insts if i not in located).path.name}); the other {len(located)} are shown."
        )
        insts = located
        h0 = insts[0]
    if h0.pixel_spacing is None:
        warnings.append("This series has no pixel spacing: 1 mm is assumed; distances may be wrong.")
        sy, sx = 1.0, 1.0
    else:
        sy, sx = h0.pixel_spacing
    if any(i.pixel_spacing != h0.pixel_spacing for i in insts):
        warnings.append("Pixel spacing differs between slices: the first slice's spacing is used.")
    try:
        plan = plan_stack(
            np.array([i.position for i in insts]),
            h0.orientation,
            (sx, sy),
            tie_break=[i.instance_number or 0 for i in insts],
            slice_thickness=h0.slice_thickness,
        )
    except ValueError as exc:
        raise LoadError(f"Series {series.series_uid}: {exc}; the geometry cannot be trusted") from None
    warnings.extend(plan.warnings)
    kept = [insts[k] for k in plan.order]

    def make_volume(planes: np.ndarray) -> Volume:
        md = _metadata(series, h0)
        md["files"] = [str(i.path) for i in kept]
        return Volume(planes, spacing=plan.spacing, origin=plan.origin, direction=plan.direction, metadata=md,
                      warnings=list(warnings))

    def rescale(planes: np.ndarray) -> np.ndarray:
        if h0.samples_per_pixel != 1:
            return planes
        return _rescale(planes, [i.rescale_slope for i in kept], [i.rescale_intercept for i in kept])

    shown = None
    if _fused_ok(kept):
        planes = _read_native_rescaled(kept, progress, cancel)  # fast enough to show whole
    elif on_partial is not None and not plan.needs_resampling:
        shown = _Progressive(kept, make_volume, on_partial)
        planes = _read_planes(kept, progress, cancel, order=decode_order(len(kept), focus), on_plane=shown)
        planes = shown.finish(planes, rescale)
    else:
        planes = rescale(_read_planes(kept, progress, cancel, order=decode_order(len(kept), focus)))
    if plan.needs_resampling:
        fill = float(planes.min()) if planes.size else 0.0
        planes = apply_plan(plan, planes, fill)
    vol = make_volume(planes)
    if shown is not None and shown.volume is not None and shown.volume.array is planes:
        # the volume shown while decoding becomes the result (same object, every field as loaded)
        import dataclasses

        for f in dataclasses.fields(vol):
            setattr(shown.volume, f.name, getattr(vol, f.name))
        return shown.volume
    return vol


def _fg(ds, i: int, seq: str, attr: str):
    """Attribute ``attr`` of functional group ``seq`` for frame ``i`` (per-frame, else shared)."""
    per = ds.get("PerFrameFunctionalGroupsSequence")
    for groups in (per, ds.get("SharedFunctionalGroupsSequence")):
        if not groups:
            continue
        g = groups[i] if groups is per else groups[0]
        item = g.get(seq)
        if item:
            try:
                v = item[0].get(attr)
            except (ValueError, TypeError, OverflowError):  # pydicom converts DS/IS text on access
                v = _raw_text(item[0], attr)
            if v is not None:
                return v
    return None


def _raw_text(ds, keyword: str) -> str:
    """The stored text of an element whose value pydicom could not convert (for error messages)."""
    from pydicom.datadict import tag_for_keyword

    tag = tag_for_keyword(keyword)
    raw = ds._dict.get(tag) if tag is not None else None  # noqa: SLF001 - the raw, unconverted element
    value = getattr(raw, "value", None)
    if isinstance(value, bytes):
        return value.decode("latin-1", "replace").strip("\x00 ")
    return "" if value is None else str(value)


def _numbers(value, n: int | None, what: str, name: str, consequence: str = "its geometry cannot be trusted") -> tuple[float, ...]:
    """``value`` as ``n`` finite numbers (any count if ``n`` is None), else a LoadError naming ``what``."""
    import math

    from meddiag_desktop.io.dicom_header import _is_sequence

    vals = list(value) if _is_sequence(value) else [value]
    try:
        out = tuple(float(v) for v in vals)
    except (TypeError, ValueError, OverflowError):
        out = None
    if out is None or (n is not None and len(out) != n) or not all(math.isfinite(v) for v in out):
        shown = "\\".join(str(v) for v in vals)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        want = "a number" if n == 1 else f"{n} numbers" if n else "numbers"
        raise LoadError(f"{name}: {what} is '{shown}', not {want}; the file is damaged and {consequence}")
    return out


def _get(ds, keyword: str):
    """``ds.get(keyword)``, or the stored text when pydicom cannot convert the value."""
    try:
        return ds.get(keyword)
    except (ValueError, TypeError, OverflowError):
        return _raw_text(ds, keyword)


def _load_multiframe(series: SeriesInfo, progress: Progress | None, cancel: Cancel | None) -> Volume:
    h = series.instances[0]
    if progress is not None:
        progress(0, 1)
    frames, ds = decode_file(h, cancel)
    if cancel is not None and cancel():
        raise LoadCancelled()
    nf = len(frames)
    name = h.path.name
    warnings: list[str] = []
    per = ds.get("PerFrameFunctionalGroupsSequence")
    if per and len(per) < nf:
        raise LoadError(
            f"{name}: the per-frame functional groups describe {len(per)} frame(s) but the file holds {nf}; "
            "the file is damaged and its frames cannot be placed"
        )
    positions, orients, slopes, intercepts = [], [], [], []
    spacing = None
    thickness = None
    for i in range(nf):
        pos = _fg(ds, i, "PlanePositionSequence", "ImagePositionPatient")
        ori = _fg(ds, i, "PlaneOrientationSequence", "ImageOrientationPatient")
        where = f"frame {i + 1}'s"
        positions.append(_numbers(pos, 3, f"{where} ImagePositionPatient", name) if pos not in (None, "") else None)
        orients.append(_numbers(ori, 6, f"{where} ImageOrientationPatient", name) if ori not in (None, "") else None)
        s = _fg(ds, i, "PixelValueTransformationSequence", "RescaleSlope")
        c = _fg(ds, i, "PixelValueTransformationSequence", "RescaleIntercept")
        slopes.append(_numbers(s, 1, f"{where} RescaleSlope", name, "its pixel values cannot be scaled")[0] if s not in (None, "") else h.rescale_slope)
        intercepts.append(_numbers(c, 1, f"{where} RescaleIntercept", name, "its pixel values cannot be scaled")[0] if c not in (None, "") else h.rescale_intercept)
        if spacing is None:
            ps = _fg(ds, i, "PixelMeasuresSequence", "PixelSpacing")
            if ps not in (None, ""):
                spacing = _numbers(ps, 2, "PixelSpacing (pixel measures)", name)
                if spacing[0] <= 0 or spacing[1] <= 0:
                    raise LoadError(f"{name}: PixelSpacing {spacing[0]:g}\\{spacing[1]:g} is not positive; the file is damaged")
            st = _fg(ds, i, "PixelMeasuresSequence", "SliceThickness")
            thickness = _numbers(st, 1, "SliceThickness (pixel measures)", name)[0] if st not in (None, "") else None
    for i, o in enumerate(orients):
        if o is not None:
            problem = orientation_problem(o)
            if problem:
                raise LoadError(f"{name}: frame {i + 1}'s ImageOrientationPatient {problem}; the file's geometry is damaged")
    dose_scale = _get(ds, "DoseGridScaling") if h.modality == "RTDOSE" else None
    if dose_scale in ("",):
        dose_scale = None
    if dose_scale is not None:
        dose_scale = _numbers(dose_scale, 1, "DoseGridScaling", name, "its dose values cannot be scaled")[0]
    if dose_scale is not None and dose_scale > 0:  # RT Dose: stored value x scaling = dose
        slopes = [sl * dose_scale for sl in slopes]
    if frames.ndim == 3 and frames.dtype.kind in "iu":
        frames = _rescale(frames, slopes, intercepts)
    if spacing is not None:
        h.pixel_spacing, h.spacing_source = spacing, "PixelSpacing"
    if thickness:
        h.slice_thickness = thickness

    located = [i for i in range(nf) if positions[i] is not None and orients[i] is not None]
    if not located and h.position is not None and h.orientation is not None:
        # Old-style multi-frame (NM, some MR): frames stacked along the normal from one position.
        gap = _get(ds, "SpacingBetweenSlices")
        gap = _numbers(gap, 1, "SpacingBetweenSlices", name)[0] if gap not in (None, "") else None
        offsets = _get(ds, "GridFrameOffsetVector")
        if gap is not None and gap > 0:
            n = _orthonormal_frame(h.orientation)[:, 2]
            positions = [tuple(np.asarray(h.position) + n * gap * i) for i in range(nf)]
            orients = [h.orientation] * nf
            located = list(range(nf))
        elif offsets not in (None, "") and nf > 1:
            # RT Dose: frames at GridFrameOffsetVector along the normal (first 0: relative to the
            # position; else absolute, the first being the position's own offset).
            off = np.asarray(_numbers(offsets, None, "GridFrameOffsetVector", name))
            if len(off) != nf:
                raise LoadError(
                    f"{name}: GridFrameOffsetVector gives {len(off)} offset(s) for {nf} frames; "
                    "the frames cannot be placed (the file is damaged)"
                )
            n = _orthonormal_frame(h.orientation)[:, 2]
            positions = [tuple(np.asarray(h.position) + n * (o - off[0])) for o in off]
            orients = [h.orientation] * nf
            located = list(range(nf))
    if len(located) < 2 or (h.pixel_spacing is None):
        if nf > 1 and located and len(located) < nf:
            warnings.append(f"Only {len(located)} of {nf} frames have a position: frames are shown as slices.")
        return _with_dose_units(_single(series, h, frames, warnings, frames_as_slices=nf > 1), ds, dose_scale)

    if len(located) < nf:
        warnings.append(f"{nf - len(located)} frame(s) without a position were left out.")
    # The frames of one orientation form a stack; other orientations (localisers) are left out.
    keys: dict[tuple, list[int]] = {}
    for i in located:
        keys.setdefault(tuple(round(v, 3) for v in orients[i]), []).append(i)
    groups = sorted(keys.values(), key=len, reverse=True)
    chosen = groups[0]
    if len(groups) > 1:
        warnings.append(
            f"This multi-frame image has frames in {len(groups)} orientations: showing the {len(chosen)} "
            f"frames of the largest stack, {nf - len(chosen)} other frame(s) left out."
        )
    sy, sx = h.pixel_spacing
    try:
        plan = plan_stack(np.array([positions[i] for i in chosen]), orients[chosen[0]], (sx, sy), tie_break=chosen, slice_thickness=thickness)
    except ValueError as exc:
        raise LoadError(f"{h.path.name}: {exc}; the geometry cannot be trusted") from None
    warnings.extend(plan.warnings)
    planes = frames[[chosen[k] for k in plan.order]]
    if plan.needs_resampling:
        planes = apply_plan(plan, planes, float(planes.min()))
    md = _metadata(series, h)
    if progress is not None:
        progress(1, 1)
    vol = Volume(planes, spacing=plan.spacing, origin=plan.origin, direction=plan.direction, metadata=md, warnings=warnings)
    return _with_dose_units(vol, ds, dose_scale)


def _with_dose_units(vol: Volume, ds, dose_scale) -> Volume:
    """RT Dose scaled by DoseGridScaling is in DoseUnits (GY: grays; RELATIVE: no unit).

    Every multi-frame result passes here: the frames' own windows are added too (:func:`_frame_windows`).
    """
    _frame_windows(vol, ds)
    if dose_scale is not None and str(ds.get("DoseUnits", "")).upper() == "GY":
        vol.metadata["units"] = "Gy"
    return vol


def _frame_windows(vol: Volume, ds) -> None:
    """Window presets of an enhanced multi-frame image from its FrameVOILUTSequence (per-frame, else
    shared functional groups), first frame first, before any top-level WindowCenter/Width.

    Enhanced IODs carry their windows only there (e.g. eCT_Supplemental: width 102, centre 49).
    """
    from meddiag_desktop.io.dicom_header import _is_sequence

    def as_list(v) -> list:
        return list(v) if _is_sequence(v) else [v]

    per = ds.get("PerFrameFunctionalGroupsSequence") or []
    found: list[WindowPreset] = []
    for i in range(max(len(per), 1)):
        centres, widths = _fg(ds, i, "FrameVOILUTSequence", "WindowCenter"), _fg(ds, i, "FrameVOILUTSequence", "WindowWidth")
        if centres is None or widths is None:
            continue
        names = _fg(ds, i, "FrameVOILUTSequence", "WindowCenterWidthExplanation")
        names = as_list(names) if names is not None else []
        for k, (c, w) in enumerate(zip(as_list(centres), as_list(widths))):
            try:
                c, w = float(c), float(w)
            except (TypeError, ValueError):
                continue
            if w > 0 and not any(p.width == w and p.level == c for p in found):
                name = str(names[k]).strip() if k < len(names) and str(names[k]).strip() else f"Frame VOI {len(found) + 1}"
                found.append(WindowPreset(name=name, width=w, level=c))
    if found:
        vol.metadata["window_presets"] = found + [p for p in vol.window_presets if p not in found]


def load_series(series: SeriesInfo, progress: Progress | None = None, cancel: Cancel | None = None, on_partial=None,
                focus: float = 0.5) -> Volume:
    """Load a scanned DICOM series as a Volume (see :func:`meddiag_desktop.io.load`)."""
    if not series.instances:
        raise LoadError(f"Series {series.series_uid} has no images to load")
    try:
        vol = _load_series(series, progress, cancel, on_partial, focus)
    except (LoadError, LoadCancelled):
        raise
    except MemoryError:
        raise LoadError(f"Series {series.series_uid}: its images do not fit in memory; close other studies and try again") from None
    except Exception as exc:  # a safety net: a bug or an unforeseen damage must not reach the user as a traceback
        import traceback

        name = series.instances[0].path.name
        raise LoadError(
            f"{name}: this image cannot be shown: {unreadable_reason(exc)} (an unexpected problem; details are in the log)",
            detail=traceback.format_exc(),
        ) from None
    vol.warnings.extend(n for n in series.notes if n not in vol.warnings)
    return vol


def _load_series(series: SeriesInfo, progress: Progress | None, cancel: Cancel | None, on_partial=None, focus: float = 0.5) -> Volume:
    if all(i.is_mosaic for i in series.instances):
        from meddiag_desktop.io.mosaic import load_mosaic

        return load_mosaic(series, progress, cancel)
    if len(series.instances) == 1 and series.instances[0].number_of_frames > 1:
        return _load_multiframe(series, progress, cancel)
    return _load_stack(series, progress, cancel, on_partial, focus)
