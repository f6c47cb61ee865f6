"""What "open this" means, without Qt: scan a folder/file, pick the largest series, load it.

Runs on a worker thread (see :class:`~meddiag_desktop.qt.background.BackgroundTask`);
``progress``/``cancel`` are passed through to ``scan`` and ``load``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["OpenedStudy", "open_study", "DEMO", "VOLUME_SUFFIXES"]

#: target meaning "the bundled demo study"
DEMO = ":demo:"
#: files opened directly with ``load`` (no DICOM scan first)
VOLUME_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")


@dataclass
class OpenedStudy:
    volume: Any  #: the loaded Volume
    source: str  #: folder or file the user opened
    series: Any = None  #: SeriesInfo that was loaded (for NIfTI & co: the file's own entry)
    found: list = field(default_factory=list)  #: ScanResult (all series) or []
    skipped: list = field(default_factory=list)  #: SkippedFile items from the scan


def demo_folder() -> Path:
    """The demo study's DICOM folder (generated on first use)."""
    from meddiag_desktop.demo import demo_study_dir

    root = Path(demo_study_dir())
    return root / "dicom" if (root / "dicom").is_dir() else root


def open_study(target: str, progress=None, cancel=None, on_partial=None) -> OpenedStudy:
    """Scan ``target`` (a path, or :data:`DEMO`) and load the largest series of its newest study.

    ``on_partial(volume, filled)`` is passed to ``io.load``: a compressed series shows while it decodes.
    """
    from meddiag_desktop import io

    p = demo_folder() if target == DEMO else Path(target)
    if p.is_file() and p.name.lower().endswith(VOLUME_SUFFIXES):
        volume = io.load(p, progress=progress, cancel=cancel)
        try:  # the file's entry for the study browser (header only; the image is already loaded)
            found = list(io.scan(p))
        except Exception:  # noqa: BLE001 - the browser entry is a convenience; the image is what counts
            found = []
        return OpenedStudy(volume, str(p), found[0] if found else None, found)
    if p.is_file() and p.name.upper() != "DICOMDIR":
        # one file of a series: open the whole series it belongs to, as viewers do
        found = io.scan(p.parent, progress=progress, cancel=cancel)
        mine = [s for s in found if any(Path(i.path) == p for i in getattr(s, "instances", []))]
        if mine:
            volume = io.load(mine[0], progress=progress, cancel=cancel, on_partial=on_partial)
            return OpenedStudy(volume, str(p), mine[0], list(found), list(found.skipped))
    # the largest series of the newest study, as io.load picks it; nothing displayable: LoadError saying why
    found, best, volume = io.scan_and_load(p, progress=progress, cancel=cancel, on_partial=on_partial)
    return OpenedStudy(volume, str(p), best, list(found), list(found.skipped))


def warm_decoders_when_idle(state, parent) -> None:
    """Start the processes that decode compressed images (``io.decode_pool``) once the reader pauses.

    A scan starts them when it finds compressed images, but spawning them and importing the
    decoders takes 0.5-1 s, which the first compressed study opened would wait for before its
    first slice; started ahead (:func:`~meddiag_desktop.qt.reader_idle.call_when_idle`), they are
    ready. They cost about 100 MB each, one per core; ``MEDDIAG_DECODE_PREWARM=0`` turns this off.
    """
    if os.environ.get("MEDDIAG_DECODE_PREWARM", "1") == "0":
        return
    from meddiag_desktop.qt.reader_idle import call_when_idle

    call_when_idle(state, parent, _start_decoders)


def _start_decoders() -> None:
    import threading

    from meddiag_desktop.io import decode_pool

    threading.Thread(target=decode_pool.warm, name="meddiag-decode-warm", daemon=True).start()
