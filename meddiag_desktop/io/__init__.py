"""Reading studies: ``scan`` finds series (headers only), ``load`` makes a Volume.

Public API used by the GUI, the CLI, the AI runner and the tests::

    from meddiag_desktop.io import scan, load, LoadError
    series = scan("/media/cdrom")          # ScanResult: list of SeriesInfo + .skipped
    volume = load(series[0])               # or load(folder), load(file), load("x.nii.gz")
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from meddiag_desktop.core.corner_text import format_dicom_date
from meddiag_desktop.core.progress import Cancel, Progress
from meddiag_desktop.core.volume import Volume
from meddiag_desktop.io.errors import LoadCancelled, LoadError
from meddiag_desktop.io.series import InstanceHeader, ScanResult, SeriesInfo, SkippedFile

__all__ = ["scan", "load", "scan_and_load", "pick_series", "LoadError", "LoadCancelled", "ScanResult", "SeriesInfo", "SkippedFile", "InstanceHeader"]


def scan(path: str | os.PathLike, progress: Progress | None = None, cancel: Cancel | None = None) -> ScanResult:
    """Series found under a file, a folder (recursively) or a DICOMDIR; header-only.

    Non-image and broken files are skipped and listed in ``result.skipped`` with the reason.
    """
    from meddiag_desktop.io.io_threads import gc_paused

    with gc_paused():
        return _scan(path, progress, cancel)


def _scan(path: str | os.PathLike, progress: Progress, cancel: Cancel) -> ScanResult:
    from meddiag_desktop.io.dicom_scan import list_files, scan_dicom
    from meddiag_desktop.io.itk_files import DATA_SUFFIXES, is_itk_file, itk_series_info

    p = Path(path)
    if not p.exists():
        raise LoadError(f"{p}: no such file or folder")
    links: list[SkippedFile] = []
    files = list_files(p, skipped=links)  # symbolic links inside a folder are listed, not followed
    itk = [f for f in files if is_itk_file(f)]
    data = [f for f in files if f.name.lower().endswith(DATA_SUFFIXES)]
    not_dicom = set(itk) | set(data)
    rest = [f for f in files if f not in not_dicom]
    result = scan_dicom(rest, progress=progress, cancel=cancel)
    for f in itk:
        try:
            result.append(itk_series_info(f))
        except LoadError as exc:
            result.skipped.append(SkippedFile(f, str(exc)))
        except Exception as exc:  # a scan never aborts on one bad file
            from meddiag_desktop.io.errors import unreadable_reason

            result.skipped.append(SkippedFile(f, f"not a readable image: {unreadable_reason(exc)}"))
    result.skipped.extend(SkippedFile(f, "image data of a MetaImage/NRRD header (read through the header)") for f in data)
    result.skipped.extend(links)
    return result


def pick_series(series: ScanResult, where: Path) -> tuple[SeriesInfo, list[str]]:
    """The series to open: the largest series of the newest study (StudyDate, StudyTime); notes list the priors."""
    if not series:
        reasons = {}
        for s in series.skipped:
            reasons.setdefault(s.reason, 0)
            reasons[s.reason] += 1
        detail = "; ".join(f"{n} file(s): {r}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:4])
        raise LoadError(
            f"No image found in {where}" + (f" ({detail})" if detail else " (it holds no files)")
            + ". Choose a folder or file with DICOM, NIfTI, NRRD or MetaImage images."
        )
    # the current study first: a folder often holds the current study and a prior of the same size
    studies: dict[str, list[SeriesInfo]] = {}
    for s in series:
        studies.setdefault(s.study_uid, []).append(s)

    def study_time(s: SeriesInfo) -> str:
        """StudyTime of a series' first instance ("" when absent or unreadable); read only to order studies."""
        try:
            import pydicom

            ds = pydicom.dcmread(s.instances[0].path, stop_before_pixels=True, specific_tags=["StudyTime"])
            return str(ds.get("StudyTime", "") or "")
        except Exception:
            return ""

    def when(items: list[SeriesInfo]) -> tuple[str, str]:
        return max((s.study_date or "", study_time(s) if s.instances else "") for s in items)

    # studies of the same date and time (or undated) are taken together, as before
    keys = {uid: when(items) for uid, items in studies.items()} if len(studies) > 1 else {}
    newest = max(keys.values()) if keys else None
    current = [s for s in series if keys.get(s.study_uid) == newest] if keys else list(series)
    priors = sorted((uid for uid in studies if keys and keys[uid] != newest), key=lambda u: keys[u], reverse=True)
    best = max(current, key=lambda s: (s.image_count, s.rows * s.columns))
    notes = []
    if priors:
        def describe(s: SeriesInfo) -> str:
            return f"{format_dicom_date(s.study_date) or 'undated'} {s.study_description or '(no description)'}"

        notes.append(
            f"{where.name or where} holds {len(studies)} studies; opened the newest, {describe(best)}. "
            f"Prior(s): {'; '.join(describe(studies[u][0]) for u in priors)} (open them from the study browser)."
        )
    if len(current) > 1:
        notes.append(
            f"{where.name or where} holds {len(current)} series"
            + (" in the newest study" if priors else "")
            + f"; opened the largest, {best.label}. Open the others from the study browser."
        )
    return best, notes


def load(path_or_series: str | os.PathLike | SeriesInfo, progress: Progress | None = None, cancel: Cancel | None = None,
         on_partial: Callable | None = None, focus: float = 0.5) -> Volume:
    """Load a folder, a file (DICOM, DICOMDIR, NIfTI, NRRD, MHA/MHD) or a scanned series as a Volume.

    ``progress(done, total)`` is called as slices are read and ``cancel()`` is
    polled; a cancelled load raises :class:`LoadCancelled`. Anything that cannot
    be shown raises :class:`LoadError` whose message says what is wrong.

    ``on_partial(volume, filled)``, for a compressed stack, is called on the loading thread
    as soon as the slice at ``focus`` (0: first slice, 0.5: the middle one, where a viewer
    opens, 1: last) is decoded, and then as more slices arrive (every 0.2 s at most): its
    ``volume`` has the final geometry and fills in place, ``filled`` flags the slices in.
    Decoding runs outwards from ``focus``. The Volume returned is usually that same object,
    complete; it is a new one when the values needed another type (see ``dicom_volume``).
    """
    from meddiag_desktop.io.io_threads import gc_paused

    with gc_paused():
        return _load(path_or_series, progress, cancel, on_partial, focus)


def _load(path_or_series: str | os.PathLike | SeriesInfo, progress: Progress, cancel: Cancel,
          on_partial: Callable | None, focus: float) -> Volume:
    from meddiag_desktop.io.dicom_header import HeaderError, read_header
    from meddiag_desktop.io.dicom_scan import group_instances
    from meddiag_desktop.io.dicom_volume import load_series
    from meddiag_desktop.io.itk_files import is_itk_file, load_itk

    if isinstance(path_or_series, SeriesInfo):
        s = path_or_series
        vol = load_itk(s.path) if s.path is not None else load_series(s, progress, cancel, on_partial, focus)
        return vol
    p = Path(path_or_series)
    if not p.exists():
        raise LoadError(f"{p}: no such file or folder")
    if p.is_file() and is_itk_file(p):
        return load_itk(p)
    if p.is_file() and p.name.upper() != "DICOMDIR":
        try:
            header = read_header(p)
        except HeaderError as exc:
            raise LoadError(f"{p.name}: {exc}; it cannot be shown") from None
        series = group_instances([header])[0]
        return load_series(series, progress, cancel, on_partial, focus) if series.path is None else load_itk(series.path)
    _found, _series, vol, notes = _scan_and_load(p, progress, cancel, on_partial, focus)
    vol.warnings.extend(notes)
    return vol


def scan_and_load(path: str | os.PathLike, progress: Progress | None = None, cancel: Cancel | None = None,
                  on_partial: Callable | None = None, focus: float = 0.5) -> tuple[ScanResult, SeriesInfo, Volume]:
    """Scan a folder (or DICOMDIR) and load the series :func:`pick_series` chooses: what ``scan``
    then ``load(pick_series(...)[0])`` give (``load(folder)`` adds pick_series' notes to the volume's warnings).
    """
    from meddiag_desktop.io.io_threads import gc_paused

    with gc_paused():
        return _scan_and_load(Path(path), progress, cancel, on_partial, focus)[:3]


def _scan_and_load(p: Path, progress: Progress, cancel: Cancel, on_partial: Callable | None,
                   focus: float) -> tuple[ScanResult, SeriesInfo, Volume, list[str]]:
    from meddiag_desktop.io.dicom_volume import load_series
    from meddiag_desktop.io.itk_files import load_itk

    found = _scan(p, progress, cancel)
    series, notes = pick_series(found, p)
    if found.skipped:
        notes.append(
            f"{len(found.skipped)} file(s) were skipped (not images, damaged, duplicates or symbolic links): "
            "see the study browser."
        )
    vol = load_series(series, progress, cancel, on_partial, focus) if series.path is None else load_itk(series.path)
    return found, series, vol, notes
