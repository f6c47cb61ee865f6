"""PACS connectivity: DIMSE (pynetdicom) and DICOMweb (dicomweb-client), Qt-free.

One entry point per operation works for both kinds of node (``AE@host:port`` or a
``http(s)://…/dicom-web`` URL, see :mod:`meddiag_desktop.pacs.nodes`)::

    from meddiag_desktop.pacs import resolve_node, echo, find, retrieve, send_paths
    node = resolve_node("ORTHANC@pacs.local:4242")
    find(node, {"patient_id": "P1"})                 # list of study dicts (DICOM keywords)
    retrieve(node, study_uid, db, method="get")      # into the local database
    send_paths(node, ["report_out/"])                # SEG, SR, report.pdf as Encapsulated PDF

pynetdicom and dicomweb-client are imported on first use. Errors are
:class:`PacsError` with a one-line message.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from meddiag_desktop.core.progress import Cancel, Progress
from meddiag_desktop.pacs.errors import PacsCancelled, PacsError, RetrieveIncomplete
from meddiag_desktop.pacs.nodes import LocalAE, Node, PacsSettings, load_settings, resolve_node, save_settings

__all__ = [
    "Node", "LocalAE", "PacsSettings", "PacsError", "RetrieveIncomplete", "PacsCancelled",
    "resolve_node", "load_settings", "save_settings", "echo", "find", "retrieve", "send_paths", "collect_datasets",
]


def echo(node: Node, local: LocalAE | None = None) -> float:
    """Check the connection (C-ECHO, or a one-result QIDO-RS for DICOMweb); seconds taken."""
    if node.is_web:
        from meddiag_desktop.pacs import dicomweb

        return dicomweb.echo(node)
    from meddiag_desktop.pacs import dimse

    return dimse.echo(node, local)


def find(node: Node, query: dict[str, str] | None = None, level: str = "STUDY", local: LocalAE | None = None,
         study_uid: str | None = None) -> list[dict]:
    """Studies (or the series of ``study_uid``) matching ``query`` on ``node``, as dicts of DICOM keywords."""
    if node.is_web:
        from meddiag_desktop.pacs import dicomweb

        return dicomweb.find(node, query, level, study_uid=study_uid)
    from meddiag_desktop.pacs import dimse

    return dimse.find(node, query, level, local, study_uid=study_uid)


def retrieve(node: Node, study_uid: str, db, *, series_uid: str | None = None, method: str = "get",
             local: LocalAE | None = None, progress: Progress | None = None,
             cancel: Cancel | None = None, on_series: Callable[[str], None] | None = None,
             on_instance: Callable[[Path], None] | None = None,
             on_plan: Callable[[dict[str, int]], None] | None = None) -> dict:
    """Retrieve a study or series into ``db`` (C-GET, C-MOVE or WADO-RS for DICOMweb nodes); see :func:`dimse.retrieve`.

    ``on_series(series_uid)`` (DIMSE only) is called as each series is complete, the largest first.
    ``on_plan({series_uid: expected count})`` once what is coming is known and
    ``on_instance(path)`` as each instance lands (from a network thread), for every
    method: :class:`meddiag_desktop.pacs.progressive.Arrivals` takes both and says
    what a viewer can show while the rest arrives.
    """
    if node.is_web:
        from meddiag_desktop.pacs import dicomweb

        if method == "move":
            raise PacsError(f"{node.label} is a DICOMweb node: it retrieves with WADO-RS, not C-MOVE (drop --method move)")
        return dicomweb.retrieve(node, study_uid, db, series_uid=series_uid, progress=progress, cancel=cancel,
                                 on_instance=on_instance, on_plan=on_plan)
    from meddiag_desktop.pacs import dimse

    return dimse.retrieve(node, study_uid, db, series_uid=series_uid, method=method, local=local,
                          progress=progress, cancel=cancel, on_series=on_series, on_instance=on_instance,
                          on_plan=on_plan)


def collect_datasets(paths: Iterable[str | os.PathLike]) -> list:
    """The DICOM datasets to send from files and folders; a ``.pdf`` becomes an Encapsulated PDF instance.

    A PDF takes its patient and study from a DICOM file given with it (the report
    folder's ``sr.dcm``/``seg.dcm``); without one it is a :class:`PacsError`.
    Non-DICOM files in folders are passed over; a non-DICOM file named explicitly is an error.
    """
    import pydicom

    from meddiag_desktop.io.dicom_scan import list_files
    from meddiag_desktop.pacs.pdf import pdf_to_dicom

    datasets, pdfs = [], []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise PacsError(f"{p}: no such file or folder")
        for f in list_files(p):
            if f.suffix.lower() == ".pdf":
                pdfs.append(f)
                continue
            try:
                ds = pydicom.dcmread(f)
            except Exception:
                if p.is_file():
                    raise PacsError(f"{f}: not a DICOM file or a PDF, it cannot be sent") from None
                continue
            if f.name.upper() == "DICOMDIR" or "SOPInstanceUID" not in ds or not ds.get("file_meta"):
                continue
            datasets.append(ds)
    for pdf in pdfs:
        ref = next((d for d in datasets if Path(d.filename).parent == pdf.parent), datasets[0] if datasets else None)
        if ref is None:
            raise PacsError(f"{pdf}: no DICOM file of the study was given with it (e.g. the report folder's sr.dcm), "
                            "so its patient and study are unknown")
        datasets.append(pdf_to_dicom(pdf, ref))
    if not datasets:
        raise PacsError("nothing to send: no DICOM file or PDF found in " + ", ".join(str(p) for p in paths))
    return datasets


def send_paths(node: Node, paths: Iterable[str | os.PathLike], local: LocalAE | None = None,
               progress: Progress | None = None, cancel: Cancel | None = None) -> dict:
    """Send files/folders (C-STORE, or STOW-RS for DICOMweb); returns {"sent", "failed", "instances"}."""
    datasets = collect_datasets(paths)
    if node.is_web:
        from meddiag_desktop.pacs import dicomweb

        out = dicomweb.send(node, datasets)
    else:
        from meddiag_desktop.pacs import dimse

        out = dimse.send_datasets(node, datasets, local, progress=progress, cancel=cancel)
    out["instances"] = [{"SOPInstanceUID": str(d.SOPInstanceUID), "SOPClassUID": str(d.SOPClassUID),
                         "Modality": str(d.get("Modality", ""))} for d in datasets]
    return out
