"""Show a series while it is still arriving (Qt-free): what has landed, and a volume of it.

:func:`meddiag_desktop.pacs.retrieve` calls ``on_plan({series_uid: expected})``
once the PACS has said what is coming and ``on_instance(path)`` as each instance
lands in managed storage (C-GET, C-MOVE and WADO-RS alike). :class:`Arrivals`
takes both (from any thread) and tells a viewer which series to show (the
largest), how many of its instances are there, and when a first view is worth
showing; :func:`load_arrived` builds a volume of what has arrived::

    arrivals = Arrivals(db, study_uid)
    retrieve(node, study_uid, db, on_plan=arrivals.on_plan, on_instance=arrivals.on_instance)
    # elsewhere, e.g. every second on the GUI thread's timer, loading off it:
    folder, arrived, expected = arrivals.focus()
    if arrivals.first_view_ready():
        part = load_arrived(arrived)      # part.volume, part.shown of part.arrived

The partial volume is the longest run of consecutive InstanceNumbers that has
arrived, so its geometry is exact: it is a slab of the final volume, not a volume
with blank gaps. A DIMSE retrieve followed this way (``on_plan`` given) asks for
the largest series middle-out, in blocks of consecutive instances (an image-level
C-FIND gives the InstanceNumbers), because a PACS sends a series in its own order
(Orthanc's is not the slice order), so the run grows from the middle slice. When the retrieve ends, the series is
loaded with :func:`meddiag_desktop.io.load` like any folder.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from meddiag_desktop.core.progress import Cancel

__all__ = ["Arrivals", "PartialVolume", "load_arrived", "FIRST_VIEW"]

#: instances of the shown series needed before a first view (all of them for a shorter series)
FIRST_VIEW = 8


class Arrivals:
    """What a running retrieve has stored so far, by series folder; thread-safe."""

    def __init__(self, db, study_uid: str, first_view: int = FIRST_VIEW):
        self._db = db
        self.study_uid = study_uid
        self.first_view = max(1, int(first_view))
        self._lock = threading.Lock()
        self._expected: dict[Path, int] = {}
        self._paths: dict[Path, list[Path]] = {}
        self._seen: set[Path] = set()
        self.planned = threading.Event()

    # ------------------------------------------------------------------ the two retrieve callbacks
    def on_plan(self, plan: dict[str, int]) -> None:
        """The series the PACS will send and how many instances each has (files already stored count as arrived)."""
        with self._lock:
            for series_uid, count in plan.items():
                if not series_uid:
                    continue
                folder = self._db.managed_path(self.study_uid, series_uid, "x").parent
                self._expected[folder] = int(count or 0)
                if folder.is_dir():  # a resumed retrieve: what came last time is there already
                    for p in sorted(folder.glob("*.dcm")):
                        self._add(p)
        self.planned.set()

    def on_instance(self, path: Path) -> None:
        with self._lock:
            self._add(Path(path))

    def _add(self, path: Path) -> None:
        if path not in self._seen:
            self._seen.add(path)
            self._paths.setdefault(path.parent, []).append(path)

    # ------------------------------------------------------------------ what to show
    def focus(self) -> tuple[Path | None, list[Path], int]:
        """(series folder, its arrived files in arrival order, its expected count) of the series to show.

        The largest planned series; before a plan, the series with most arrivals.
        """
        with self._lock:
            if self._expected:
                folder = max(self._expected, key=lambda f: (self._expected[f], len(self._paths.get(f, ()))))
            elif self._paths:
                folder = max(self._paths, key=lambda f: len(self._paths[f]))
            else:
                return None, [], 0
            return folder, list(self._paths.get(folder, ())), self._expected.get(folder, 0)

    def count(self) -> int:
        with self._lock:
            return len(self._seen)

    def expected(self) -> int:
        with self._lock:
            return sum(self._expected.values())

    def first_view_ready(self) -> bool:
        """Enough of the shown series is here for a first view (``first_view`` instances, or all of a short one)."""
        _, arrived, expected = self.focus()
        need = min(self.first_view, expected) if expected else self.first_view
        return len(arrived) >= max(1, need)


@dataclass
class PartialVolume:
    volume: object  #: meddiag_desktop.core.volume.Volume
    shown: int  #: instances in the volume
    arrived: int  #: instances that had arrived (read) when it was built


def _longest_run(instances: list) -> list:
    """The longest run of consecutive InstanceNumbers (all of them when numbers are missing or repeated)."""
    numbers = [i.instance_number for i in instances]
    if any(n is None for n in numbers) or len(set(numbers)) != len(numbers):
        return instances
    best, start = (0, 1), 0
    for k in range(1, len(instances) + 1):
        if k == len(instances) or numbers[k] != numbers[k - 1] + 1:
            if k - start > best[1] - best[0]:
                best = (start, k)
            start = k
    return instances[best[0]:best[1]]


def load_arrived(paths: Iterable[str | Path], cancel: Cancel | None = None,
                 headers: dict | None = None) -> PartialVolume:
    """A volume of the arrived instances of one series: their longest run of consecutive InstanceNumbers.

    Files that cannot be read yet are left out; raises :class:`meddiag_desktop.io.LoadError`
    when nothing can be shown. ``headers`` (path -> header) is a cache kept between calls,
    so each rebuild reads only the new files' headers.
    """
    from meddiag_desktop.io import LoadError
    from meddiag_desktop.io.dicom_header import HeaderError, read_header
    from meddiag_desktop.io.dicom_scan import group_instances
    from meddiag_desktop.io.dicom_volume import load_series

    cache = headers if headers is not None else {}
    headers = []
    for p in paths:
        h = cache.get(p)
        if h is None:
            try:
                h = cache[p] = read_header(p)
            except (HeaderError, OSError):
                continue
        headers.append(h)
    if not headers:
        raise LoadError("none of the instances that arrived can be read yet")
    series = group_instances(headers)[0]  # the largest part (one size and orientation)
    run = _longest_run(series.instances)
    if len(run) != len(series.instances):
        series = replace(series, instances=run, image_count=len(run))
    return PartialVolume(load_series(series, cancel=cancel), len(run), len(headers))
