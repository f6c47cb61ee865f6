"""Read a series' pixels while the folder's headers are still being scanned.

Opening a folder is a scan (every file's header, one thread at a time under the GIL) and then
a load (every file's pixels, which a reading thread copies from the page cache without the GIL).
Done one after the other, the second core idles through the scan. :class:`NativePrefetch`
overlaps them: as soon as the scan has parsed a header that the fused native path of
:mod:`dicom_volume` can read (uncompressed 16-bit greyscale, slope 1, integral intercept), a
pooled thread reads that file's pixels, rescaled, into a volume that grows in the scan's order.

This is a guess: the scan has not yet grouped the files into series, sorted them by position,
nor chosen which series to open. So only the files that match the first one taken (series,
size, stored type, bits, intercept) are read, each into the next free plane. When
the load comes, :meth:`NativePrefetch.take` checks that every image the load wants was taken,
moves the planes read so far to their sorted places (no plane is read twice) and reads the
rest straight into theirs. Anything else (another series chosen, a file that could not be read)
falls back to the ordinary load, which reads (and reports) it again; a wrong guess costs
only the work of the second core during the scan.
"""

from __future__ import annotations

import queue
import threading

import numpy as np

from meddiag_desktop.core.progress import Cancel, Progress
from meddiag_desktop.io.dicom_pixels import raw_dtype
from meddiag_desktop.io.dicom_volume import _check_size, _FusedRange, _fused_ok, _read_fused_plane, _read_native_rescaled
from meddiag_desktop.io.errors import LoadCancelled, LoadError
from meddiag_desktop.io.io_threads import _get_pool
from meddiag_desktop.io.series import InstanceHeader

__all__ = ["NativePrefetch"]


def _key(h: InstanceHeader) -> tuple | None:
    """What the prefetched files share (None: ``h`` is not for the fused native path)."""
    if h.number_of_frames != 1 or h.is_mosaic or not _fused_ok([h]):
        return None
    return (h.series_uid, h.rows, h.columns, raw_dtype(h), h.bits_stored, h.pixel_representation,
            int(h.rescale_intercept))


class NativePrefetch:
    """Pixels of the first fused-readable series of a scan, read on another thread while the scan goes on.

    ``start(files)`` once the number of files to scan is known; ``offer(header)`` from the scan
    (any thread) for each header parsed; ``take(kept, ...)`` from the load; ``discard()``
    always, last (it stops the reading thread and frees what was not taken).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._capacity = 0
        self._key: tuple | None = None
        self._planes: np.ndarray | None = None
        self._slot: dict[int, int] = {}  # id(header) -> plane
        self._headers: list[InstanceHeader] = []
        self._read: list[bool] = []
        self._lo_hi: list[tuple[int, int] | None] = []
        self._rng: _FusedRange | None = None
        self._reader = None
        self._off = False

    # ---- the scan's side
    def start(self, files: int) -> None:
        """Planes may be needed for up to ``files`` images (a plane per file scanned)."""
        self._capacity = files

    def offer(self, h: InstanceHeader) -> None:
        """A header the scan has just parsed: its pixels are read now if it belongs to the guessed series."""
        if self._off or self._stop.is_set():
            return
        key = _key(h)
        if key is None:
            return
        with self._lock:
            if self._key is None:
                if self._capacity < 2 or not self._begin(h, key):
                    self._off = True
                    return
            elif key != self._key:
                return
            slot = len(self._headers)
            if slot >= self._capacity:
                return
            self._headers.append(h)
            self._read.append(False)
            self._lo_hi.append(None)
            self._slot[id(h)] = slot
        self._queue.put(slot)

    def _begin(self, h: InstanceHeader, key: tuple) -> bool:
        """Allocate the planes (untouched memory: only planes read are paid for) and start reading."""
        try:
            _check_size((self._capacity, h.rows, h.columns), 2, "The prefetch")
            self._planes = np.empty((self._capacity, h.rows, h.columns), np.int16)
        except (LoadError, MemoryError, ValueError):
            return False  # the ordinary load decides (and says) whether the series fits
        self._key = key
        self._rng = _FusedRange([h])  # every file taken shares the key: its bits and intercept
        self._reader = _get_pool().submit(self._run)
        return True

    def _run(self) -> None:
        planes, rng, icpt = self._planes, self._rng, self._key[6]
        while not self._stop.is_set():
            slot = self._queue.get()
            if slot is None or self._stop.is_set():
                return
            try:
                self._lo_hi[slot] = _read_fused_plane(self._headers[slot], planes, slot, icpt, rng)
            except LoadError:
                continue  # not marked read: the load reads it again and reports what is wrong
            self._read[slot] = True

    def _halt(self) -> None:
        """Stop the reading thread after the plane it is on (planes queued but not begun stay unread)."""
        self._stop.set()
        self._queue.put(None)
        if self._reader is not None:
            self._reader.result()
            self._reader = None

    # ---- the load's side
    def take(self, kept: list[InstanceHeader], progress: Progress | None, cancel: Cancel | None) -> np.ndarray | None:
        """``kept`` (sorted as the volume's slices) as an int16 volume, or None when the guess was wrong.

        The result is what :func:`dicom_volume._read_native_rescaled` returns for ``kept``,
        bit for bit: the planes already read are moved to their places, the others read there.
        """
        self._halt()
        if cancel is not None and cancel():
            raise LoadCancelled()
        planes = self._planes
        if planes is None or not kept:
            return None
        slots = [self._slot.get(id(h)) for h in kept]
        if any(s is None for s in slots) or not _fused_ok(kept):
            return None  # an image the guess did not take: the ordinary load reads the series
        m = len(kept)
        moves = {s: d for d, s in enumerate(slots) if self._read[s] and s != d}
        _move_planes(planes, moves)
        lo_hi: list[tuple[int, int] | None] = [None] * m
        have = [False] * m
        for d, s in enumerate(slots):
            if self._read[s]:
                have[d] = True
                lo_hi[d] = self._lo_hi[s]
        self._planes = None  # handed over: discard() leaves it alone
        volume = planes[:m]  # the planes past m were never touched, or held another series' images
        rest = [d for d in range(m) if not have[d]]
        if progress is not None:
            progress(m - len(rest), m)
        return _read_native_rescaled(kept, progress, cancel, order=rest, planes=volume, lo_hi=lo_hi, done=m - len(rest))

    def discard(self) -> None:
        """Stop reading and drop whatever was not taken."""
        self._halt()
        self._planes = None
        self._headers.clear()
        self._slot.clear()


def _move_planes(planes: np.ndarray, moves: dict[int, int]) -> None:
    """Carry out ``planes[dst] = planes[src]`` for every ``src: dst`` at once (a partial permutation).

    Each plane is a source and a destination at most once, so the moves form chains and cycles: a
    chain is walked back from its free end, so no plane is overwritten before it has moved; a cycle
    needs one plane set aside.
    """
    by_dst = {d: s for s, d in moves.items()}
    moved: set[int] = set()
    for end in [d for d in by_dst if d not in moves]:  # destinations no move reads from: free to write
        d = end
        while d in by_dst:
            s = by_dst[d]
            planes[d] = planes[s]
            moved.add(s)
            d = s
    for start in moves:
        if start in moved:
            continue
        spare = planes[start].copy()  # a cycle: start's plane is set aside, the others move up
        d = start
        while True:
            s = by_dst[d]
            moved.add(s)
            if s == start:
                planes[d] = spare
                break
            planes[d] = planes[s]
            d = s
