"""DICOMweb with dicomweb-client: QIDO-RS search, WADO-RS retrieve, STOW-RS send.

Same results and errors as :mod:`meddiag_desktop.pacs.dimse`; every request is
bounded by the node's timeout.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

from meddiag_desktop.core.progress import Cancel, Progress
from meddiag_desktop.pacs.errors import PacsCancelled, PacsError, RetrieveIncomplete
from meddiag_desktop.pacs.nodes import Node

__all__ = ["echo", "find", "retrieve", "send"]

_FILTERS = {"patient_id": "PatientID", "patient_name": "PatientName", "study_date": "StudyDate",
            "modality": "ModalitiesInStudy", "accession": "AccessionNumber", "study_uid": "StudyInstanceUID"}


def _client(node: Node):
    import requests
    from dicomweb_client.api import DICOMwebClient

    session = requests.Session()
    if node.auth:
        user, _, password = node.auth.partition(":")
        session.auth = (user, password)
    client = DICOMwebClient(node.url, session=session, timeout=float(node.timeout))
    # its default retries a refused connection five times with growing waits (30 s): one attempt, bounded
    client.set_http_retry_params(retry=False)
    return client


def _call(node: Node, what: str, fn, *args, **kw):
    """Run a dicomweb-client call, turning network and HTTP errors into one-line :class:`PacsError`."""
    import requests

    try:
        return fn(*args, **kw)
    except requests.exceptions.Timeout:
        raise PacsError(f"{what}: no answer from {node.url} within {node.timeout:g} s") from None
    except requests.exceptions.ConnectionError as exc:
        text = str(exc)
        why = "connection refused" if "refused" in text.lower() else "cannot connect (host unreachable or unknown)"
        raise PacsError(f"{what}: {why} at {node.url}") from None
    except requests.exceptions.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else "?"
        hint = {401: " (wrong or missing user name/password)", 403: " (not allowed)",
                404: " (wrong DICOMweb URL, or not found)"}.get(code, "")
        raise PacsError(f"{what}: {node.url} answered HTTP {code}{hint}") from None


def echo(node: Node) -> float:
    t0 = time.monotonic()
    c = _client(node)
    _call(node, "QIDO-RS", c.search_for_studies, limit=1)
    return time.monotonic() - t0


def _keywords(item: dict) -> dict:
    from pydicom.dataset import Dataset

    from meddiag_desktop.pacs.dimse import _to_json_value

    ds = Dataset.from_json(item)
    return {e.keyword: _to_json_value(e) for e in ds if e.keyword}


def find(node: Node, query: dict[str, str] | None = None, level: str = "STUDY", study_uid: str | None = None) -> list[dict]:
    """QIDO-RS study search (or the series of ``study_uid``)."""
    from meddiag_desktop.pacs.dimse import SERIES_KEYS, STUDY_KEYS

    filters = {}
    for k, v in (query or {}).items():
        if v in (None, ""):
            continue
        if k not in _FILTERS:
            raise ValueError(f"unknown query key {k!r}; use {', '.join(_FILTERS)}")
        filters[_FILTERS[k] if not (k == "modality" and level != "STUDY") else "Modality"] = v
    c = _client(node)
    if level.upper() == "STUDY":
        rows = _call(node, "QIDO-RS", c.search_for_studies, search_filters=filters, fields=list(STUDY_KEYS))
        keys = STUDY_KEYS
    else:
        if not study_uid:
            raise ValueError("a series-level query needs the study UID")
        rows = _call(node, "QIDO-RS", c.search_for_series, study_uid, search_filters=filters, fields=list(SERIES_KEYS))
        keys = SERIES_KEYS
    out = []
    for r in rows:
        kw = _keywords(r)
        out.append({k: v for k, v in kw.items() if k in keys})
    return out


def _to_bytes(ds) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def retrieve(node: Node, study_uid: str, db, *, series_uid: str | None = None,
             progress: Progress | None = None, cancel: Cancel | None = None,
             on_instance: Callable[[Path], None] | None = None,
             on_plan: Callable[[dict[str, int]], None] | None = None) -> dict:
    """WADO-RS retrieve of a study or series into ``db``; partial until every instance arrived (rerun resumes).

    ``on_plan``/``on_instance`` as in :func:`meddiag_desktop.pacs.dimse.retrieve` (the plan comes from QIDO-RS).
    """
    import requests

    from meddiag_desktop.db import DatabaseError
    from meddiag_desktop.pacs.dimse import _result

    c = _client(node)
    have = db.sop_uids(study_uid)
    instances = _call(node, "QIDO-RS", c.search_for_instances, study_uid, series_uid)
    wanted = []
    plan: dict[str, int] = {}
    for r in instances:
        kw = _keywords(r)
        plan[kw.get("SeriesInstanceUID", "")] = plan.get(kw.get("SeriesInstanceUID", ""), 0) + 1
        if kw.get("SOPInstanceUID") and kw["SOPInstanceUID"] not in have:
            wanted.append((kw.get("SeriesInstanceUID", ""), kw["SOPInstanceUID"]))
    total = len(wanted)
    if on_plan is not None:
        on_plan(plan)
    if not series_uid:
        db.mark_partial(study_uid, len(instances))
    received = 0

    def store(ds) -> None:
        nonlocal received
        data = _to_bytes(ds)
        try:
            path, _study = db.store_received(data, commit=False)
        except DatabaseError as exc:
            db.quarantine(data, f"retrieved from {node.url}: {exc}")
            return
        received += 1
        if on_instance is not None:
            on_instance(path)
        if progress is not None:
            progress(received, total)

    try:
        if total:
            if have:  # resume: fetch only what is missing
                for ser, sop in wanted:
                    if cancel is not None and cancel():
                        raise PacsCancelled(f"retrieve of study {study_uid} cancelled after {received} instance(s)")
                    store(_call(node, "WADO-RS", c.retrieve_instance, study_uid, ser, sop))
            else:
                it = c.iter_series(study_uid, series_uid) if series_uid else c.iter_study(study_uid)
                for ds in _call(node, "WADO-RS", lambda: it):
                    if cancel is not None and cancel():
                        raise PacsCancelled(f"retrieve of study {study_uid} cancelled after {received} instance(s); "
                                            "the study stays marked partial, retrieve it again to finish")
                    store(ds)
    except requests.exceptions.RequestException as exc:
        db.flush()
        raise RetrieveIncomplete(f"retrieve of study {study_uid} from {node.url} stopped after {received} instance(s) "
                                 f"({type(exc).__name__}); the study stays marked partial, retrieve it again to resume",
                                 received, total) from None
    finally:
        db.flush()
    if received < total:
        raise RetrieveIncomplete(f"retrieve of study {study_uid} from {node.url} got {received} of {total} instance(s); "
                                 "the study stays marked partial, retrieve it again to resume", received, total)
    if not series_uid:
        db.mark_complete(study_uid)
    return _result(db, study_uid, received, len(instances))


def send(node: Node, datasets: list) -> dict:
    """STOW-RS ``datasets``; returns {"sent", "failed"} from the response's Referenced/Failed SOP sequences."""
    c = _client(node)
    resp = _call(node, "STOW-RS", c.store_instances, datasets)
    failed = [{"SOPInstanceUID": str(i.get("ReferencedSOPInstanceUID", "")), "reason": f"failure reason {i.get('FailureReason', '?')}"}
              for i in (resp.get("FailedSOPSequence", []) if resp is not None else [])]
    sent = len(resp.get("ReferencedSOPSequence", [])) if resp is not None else len(datasets) - len(failed)
    return {"sent": sent, "failed": failed}
