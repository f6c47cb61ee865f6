"""DIMSE with pynetdicom: C-ECHO, C-FIND (study/series), C-GET, C-MOVE and C-STORE SCU.

Every network wait is bounded by the node's timeout; a failure raises
:class:`~meddiag_desktop.pacs.errors.PacsError` whose message is one line naming
the peer and what to check.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from meddiag_desktop.core.progress import Cancel, Progress
from meddiag_desktop.pacs.errors import PacsCancelled, PacsError, RetrieveIncomplete
from meddiag_desktop.pacs.nodes import LocalAE, Node

__all__ = ["echo", "find", "retrieve", "send_datasets", "STUDY_KEYS", "SERIES_KEYS"]

#: return keys asked for at study level (with the issue's JSON fields)
STUDY_KEYS = ("StudyInstanceUID", "PatientID", "PatientName", "StudyDate", "StudyTime", "StudyDescription",
              "AccessionNumber", "ModalitiesInStudy", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances")
SERIES_KEYS = ("StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription",
               "NumberOfSeriesRelatedInstances")
_FIND_FILTERS = {"patient_id": "PatientID", "patient_name": "PatientName", "study_date": "StudyDate",
                 "modality": "ModalitiesInStudy", "accession": "AccessionNumber", "study_uid": "StudyInstanceUID"}


def _new_ae(title: str, node: Node):
    from pynetdicom import AE

    ae = AE(title)
    t = float(node.timeout)
    ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = t
    # the association wait leaves a tenth of the budget to find out why it failed
    ae.acse_timeout = 0.9 * t
    return ae


def _why_not(node: Node, assoc, our_ae: str, started: float) -> str:
    """One line saying why an association was not established."""
    where = f"{node.host}:{node.port}"
    if assoc.is_rejected:
        return (f"{node.label} rejected the association: the PACS does not know the called AE title "
                f"{node.ae_title!r} or does not accept our AE title {our_ae!r} (check both in the PACS configuration)")
    left = max(0.1, min(1.0, node.timeout - (time.monotonic() - started)))
    try:
        with socket.create_connection((node.host, node.port), timeout=left):
            pass
    except socket.gaierror:
        return f"unknown host {node.host!r}: check the node's host name"
    except ConnectionRefusedError:
        return f"connection refused by {where}: no DICOM service listens there (check host and port)"
    except OSError:
        return f"no answer from {where} within {node.timeout:g} s: the host is unreachable or a firewall drops the connection"
    if time.monotonic() - started >= 0.85 * node.timeout:
        return (f"{where} accepted the connection but did not answer the DICOM association within {node.timeout:g} s "
                "(is it a DICOM port?)")
    return f"{node.label} aborted the association request (our AE title {our_ae!r} may not be allowed there)"


def _associate(ae, node: Node, **kw):
    if node.is_web:
        raise PacsError(f"{node.label} is a DICOMweb node; use the DICOMweb client")
    started = time.monotonic()
    try:
        assoc = ae.associate(node.host, int(node.port), ae_title=node.ae_title, **kw)
    except (OSError, ValueError) as exc:
        raise PacsError(f"cannot connect to {node.label}: {exc}") from None
    if not assoc.is_established:
        raise PacsError(_why_not(node, assoc, ae.ae_title, started))
    return assoc


def _status_text(status) -> str:
    code = getattr(status, "Status", None)
    if code is None:
        return "no response (the connection was lost or timed out)"
    comment = str(status.get("ErrorComment", "") or "")
    return f"status 0x{int(code):04X}" + (f" ({comment})" if comment else "")


def echo(node: Node, local: LocalAE | None = None) -> float:
    """C-ECHO; returns the round trip in seconds."""
    from pynetdicom.sop_class import Verification

    local = local or LocalAE()
    ae = _new_ae(local.ae_title, node)
    ae.add_requested_context(Verification)
    t0 = time.monotonic()
    assoc = _associate(ae, node)
    try:
        status = assoc.send_c_echo()
    finally:
        assoc.release()
    if getattr(status, "Status", None) != 0x0000:
        raise PacsError(f"C-ECHO to {node.label} failed: {_status_text(status)}")
    return time.monotonic() - t0


def _to_json_value(elem):
    v = elem.value
    if v is None or v == "":
        return ""
    if elem.VM > 1 or isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
        return [str(x) for x in v]
    if elem.keyword == "ModalitiesInStudy":
        return [str(v)]
    if elem.VR in ("IS", "US", "UL"):
        try:
            return int(v)
        except (TypeError, ValueError):
            return str(v)
    return str(v)


def find(node: Node, query: dict[str, str] | None = None, level: str = "STUDY", local: LocalAE | None = None,
         study_uid: str | None = None) -> list[dict]:
    """C-FIND (Study Root) at ``STUDY`` or ``SERIES`` level; returns one dict per match (DICOM keywords).

    ``query`` keys: patient_id, patient_name (``*`` wildcards), study_date
    (``YYYYMMDD`` or a ``YYYYMMDD-YYYYMMDD`` range), modality, accession.
    ``study_uid`` is required at series level.
    """
    from pydicom.dataset import Dataset
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind

    level = level.upper()
    if level not in ("STUDY", "SERIES", "IMAGE"):
        raise ValueError(f"query level must be STUDY, SERIES or IMAGE, not {level!r}")
    local = local or LocalAE()
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    keys = STUDY_KEYS if level == "STUDY" else SERIES_KEYS if level == "SERIES" else (
        "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "InstanceNumber")
    for k in keys:
        setattr(ds, k, "")
    for k, v in (query or {}).items():
        if v in (None, ""):
            continue
        if k not in _FIND_FILTERS:
            raise ValueError(f"unknown query key {k!r}; use {', '.join(_FIND_FILTERS)}")
        kw = _FIND_FILTERS[k]
        if kw == "ModalitiesInStudy" and level != "STUDY":
            kw = "Modality"
        setattr(ds, kw, v)
    if level != "STUDY":
        if not study_uid:
            raise ValueError(f"a {level.lower()}-level query needs the study UID")
        ds.StudyInstanceUID = study_uid
    ae = _new_ae(local.ae_title, node)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = _associate(ae, node)
    out: list[dict] = []
    try:
        for status, ident in assoc.send_c_find(ds, StudyRootQueryRetrieveInformationModelFind):
            code = getattr(status, "Status", None)
            if code in (0xFF00, 0xFF01) and ident is not None:
                out.append({e.keyword: _to_json_value(e) for e in ident if e.keyword in keys or e.keyword == "SOPInstanceUID"})
            elif code == 0x0000:
                break
            else:
                raise PacsError(f"C-FIND on {node.label} failed: {_status_text(status)}")
    finally:
        if assoc.is_established:
            assoc.release()
    return out


def _retrieve_identifiers(study_uid: str, series_uid: str | None, missing: dict[str, list[str]] | None):
    from pydicom.dataset import Dataset

    if missing is None:
        ds = Dataset()
        ds.QueryRetrieveLevel = "SERIES" if series_uid else "STUDY"
        ds.StudyInstanceUID = study_uid
        if series_uid:
            ds.SeriesInstanceUID = series_uid
        return [ds]
    out = []
    for ser, sops in missing.items():
        for i in range(0, len(sops), 200):
            ds = Dataset()
            ds.QueryRetrieveLevel = "IMAGE"
            ds.StudyInstanceUID = study_uid
            ds.SeriesInstanceUID = ser
            ds.SOPInstanceUID = sops[i : i + 200]
            out.append(ds)
    return out


def _missing(node: Node, local: LocalAE, study_uid: str, series_uid: str | None,
             have: set[str]) -> tuple[dict[str, list[str]], int, dict[str, int]]:
    """The instances of the study (or series) the PACS has and we lack, by series; the PACS's total; its count per series."""
    rows = find(node, {}, "IMAGE", local, study_uid=study_uid) if not series_uid else [
        r for r in find(node, {}, "IMAGE", local, study_uid=study_uid) if r.get("SeriesInstanceUID") == series_uid]
    missing: dict[str, list[str]] = {}
    per_series: dict[str, int] = {}
    for r in rows:
        per_series[r.get("SeriesInstanceUID", "")] = per_series.get(r.get("SeriesInstanceUID", ""), 0) + 1
        if r.get("SOPInstanceUID") and r["SOPInstanceUID"] not in have:
            missing.setdefault(r["SeriesInstanceUID"], []).append(r["SOPInstanceUID"])
    return missing, len(rows), per_series


def retrieve(node: Node, study_uid: str, db, *, series_uid: str | None = None, method: str = "get",
             local: LocalAE | None = None, progress: Progress | None = None, cancel: Cancel | None = None,
             on_series: Callable[[str], None] | None = None, on_instance: Callable[[Path], None] | None = None,
             on_plan: Callable[[dict[str, int]], None] | None = None) -> dict:
    """Retrieve a study (or one series) into the database by C-GET or C-MOVE.

    ``on_plan({series_uid: expected instances})`` is called once the series-level
    C-FIND (or, on a resume, the image-level one) says what is coming, and
    ``on_instance(path)`` (from a network thread) as each instance lands in managed
    storage, so a viewer can show a series while it is still arriving
    (see :mod:`meddiag_desktop.pacs.progressive`).

    With ``on_series`` the study is fetched series by series, the largest first
    (a series-level C-FIND lists them), and ``on_series(series_uid)`` is called as
    each one is complete, so a viewer can show the first images before the rest arrive.

    The study is marked partial until the PACS reports every sub-operation done;
    a rerun of a partial study asks only for the instances still missing (found by
    an image-level C-FIND). C-MOVE starts our C-STORE SCP on ``local.port`` with
    ``local.ae_title``, which the PACS must know as a destination. Returns
    ``{"StudyInstanceUID", "instances", "received", "folder", "complete"}``;
    raises :class:`RetrieveIncomplete` (study left partial) or :class:`PacsCancelled`.
    """
    if method not in ("get", "move"):
        raise ValueError(f"retrieve method must be 'get' or 'move', not {method!r}")
    local = local or LocalAE()
    have = db.sop_uids(study_uid)
    missing = None
    expected: int | None = None
    plan: dict[str, int] = {}
    if have:
        missing, expected, plan = _missing(node, local, study_uid, series_uid, have)
        if not missing:
            if on_plan is not None:
                on_plan(plan)
            if not series_uid:
                db.mark_complete(study_uid)
            return _result(db, study_uid, 0, expected)
    idents = _retrieve_identifiers(study_uid, series_uid, missing)
    counter = {"n": 0, "total": sum(len(v) for v in missing.values()) if missing else 0}
    if (on_series is not None or on_plan is not None) and missing is None and not series_uid:
        idents, counter["total"], plan = _series_identifiers(node, local, study_uid)
        expected = counter["total"] or None
    last_chunks: set[int] = set()
    if on_plan is not None and missing is None and not series_uid and idents and "SeriesInstanceUID" in idents[0]:
        # a viewer follows: the largest series comes middle-out, in blocks of consecutive instances
        chunks = _middle_out_identifiers(node, local, study_uid, str(idents[0].SeriesInstanceUID))
        if chunks:
            last_chunks.add(id(chunks[-1]))
            idents = chunks + idents[1:]
    if on_plan is not None:
        on_plan(plan)
    if not series_uid:
        db.mark_partial(study_uid, expected)

    def done(ident) -> None:
        whole = ident.QueryRetrieveLevel == "SERIES" or id(ident) in last_chunks
        if on_series is not None and whole and "SeriesInstanceUID" in ident:
            db.flush()
            on_series(str(ident.SeriesInstanceUID))

    if method == "get":
        outcome = _run_get(node, local, db, idents, counter, progress, cancel, done, on_instance)
    else:
        outcome = _run_move(node, local, db, idents, counter, progress, cancel, done, on_instance)
    db.flush()
    ok, message = outcome
    received = counter["n"]
    if not ok:
        if message == "cancelled":
            raise PacsCancelled(f"retrieve of study {study_uid} cancelled after {received} instance(s); "
                                "the study stays marked partial, retrieve it again to finish")
        raise RetrieveIncomplete(
            f"retrieve of study {study_uid} from {node.label} stopped after {received} new instance(s): {message}; "
            "the study stays marked partial, run the same retrieve again to fetch the rest", received, expected)
    if not series_uid:
        db.mark_complete(study_uid)
    return _result(db, study_uid, received, expected)


def _middle_out(sops: list[str], first: int = 16, chunk: int = 50) -> list[list[str]]:
    """``sops`` (in slice order) as blocks: ``first`` from the middle, then ``chunk``-sized blocks above and below in turn.

    After each block the instances that have arrived are one run of consecutive slices.
    """
    n = len(sops)
    lo = max(0, n // 2 - first // 2)
    hi = min(n, lo + first)
    out = [sops[lo:hi]]
    while lo > 0 or hi < n:
        if hi < n:
            out.append(sops[hi:hi + chunk])
            hi = min(n, hi + chunk)
        if lo > 0:
            out.append(sops[max(0, lo - chunk):lo])
            lo = max(0, lo - chunk)
    return out


def _middle_out_identifiers(node: Node, local: LocalAE, study_uid: str, series_uid: str) -> list:
    """Image-level identifiers retrieving ``series_uid`` middle-out by InstanceNumber (an image-level C-FIND);
    [] when the PACS does not give InstanceNumbers (then the series is fetched whole)."""
    from pydicom.dataset import Dataset

    rows = [r for r in find(node, {}, "IMAGE", local, study_uid=study_uid)
            if r.get("SeriesInstanceUID") == series_uid and r.get("SOPInstanceUID")]
    if not rows or any(not isinstance(r.get("InstanceNumber"), int) for r in rows):
        return []
    rows.sort(key=lambda r: r["InstanceNumber"])
    out = []
    for block in _middle_out([r["SOPInstanceUID"] for r in rows]):
        ds = Dataset()
        ds.QueryRetrieveLevel = "IMAGE"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = block
        out.append(ds)
    return out


def _series_identifiers(node: Node, local: LocalAE, study_uid: str) -> tuple[list, int, dict[str, int]]:
    """One series-level identifier per series of the study, the largest first; the total instance count; the count per series."""
    series = find(node, {}, "SERIES", local, study_uid=study_uid)
    count = lambda r: int(r.get("NumberOfSeriesRelatedInstances") or 0)  # noqa: E731
    series.sort(key=count, reverse=True)
    idents = [_retrieve_identifiers(study_uid, r["SeriesInstanceUID"], None)[0] for r in series if r.get("SeriesInstanceUID")]
    plan = {str(r["SeriesInstanceUID"]): count(r) for r in series if r.get("SeriesInstanceUID")}
    return idents or _retrieve_identifiers(study_uid, None, None), sum(count(r) for r in series), plan


def _result(db, study_uid: str, received: int, expected: int | None) -> dict:
    rec = db.study(study_uid)
    return {"StudyInstanceUID": study_uid, "instances": rec.instance_count, "received": received,
            "folder": rec.folder, "complete": rec.complete}


def _sub_ops(status) -> tuple[int, int]:
    g = lambda k: int(status.get(k, 0) or 0)  # noqa: E731
    done = g("NumberOfCompletedSuboperations") + g("NumberOfFailedSuboperations") + g("NumberOfWarningSuboperations")
    return done, done + g("NumberOfRemainingSuboperations")


def _drain(assoc, responses, node: Node, counter, progress, cancel, what: str) -> tuple[bool, str]:
    """Follow C-GET/C-MOVE responses; (True, "") when every sub-operation succeeded."""
    for status, _ident in responses:
        if cancel is not None and cancel():
            assoc.abort()
            return False, "cancelled"
        code = getattr(status, "Status", None)
        if code is None:
            return False, f"{node.label} stopped answering ({what}: connection lost or no response within {node.timeout:g} s)"
        if code in (0xFF00, 0xFF01):
            done, total = _sub_ops(status)
            if progress is not None:
                progress(counter["n"], max(total, counter["total"]))
            continue
        failed = int(status.get("NumberOfFailedSuboperations", 0) or 0)
        if code == 0x0000 and not failed:
            return True, ""
        return False, f"{what} ended with {_status_text(status)}, {failed} failed sub-operation(s)"
    return False, f"{node.label} closed the association during the {what}"


def _run_get(node, local, db, idents, counter, progress, cancel, done=None, on_instance=None) -> tuple[bool, str]:
    from pynetdicom import build_role, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet

    from meddiag_desktop.db import DatabaseError
    from meddiag_desktop.pacs.scp import storage_contexts

    ae = _new_ae(local.ae_title, node)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    contexts = list(storage_contexts())[:127]
    for cx in contexts:
        ae.add_requested_context(cx.abstract_syntax)
    roles = [build_role(cx.abstract_syntax, scp_role=True) for cx in contexts]

    def on_store(event):
        if cancel is not None and cancel():
            return 0xA700
        data = event.encoded_dataset(include_meta=True)
        try:
            path, _study = db.store_received(data, commit=False)
        except DatabaseError as exc:
            db.quarantine(data, f"retrieved from {node.label}: {exc}")
            return 0xC210
        counter["n"] += 1
        if on_instance is not None:
            on_instance(path)
        if progress is not None:
            progress(counter["n"], counter["total"])
        return 0x0000

    assoc = _associate(ae, node, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    return _request_each(assoc, idents, done, lambda ident: _drain(
        assoc, assoc.send_c_get(ident, StudyRootQueryRetrieveInformationModelGet), node, counter, progress, cancel,
        "C-GET"))


def _run_move(node, local, db, idents, counter, progress, cancel, done=None, on_instance=None) -> tuple[bool, str]:
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove

    from meddiag_desktop.pacs.scp import StoreServer

    def on_stored(_study):
        counter["n"] += 1
        if progress is not None:
            progress(counter["n"], counter["total"])

    with StoreServer(db, local.ae_title, local.port, on_stored=on_stored, timeout=node.timeout,
                     on_instance=on_instance):
        ae = _new_ae(local.ae_title, node)
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
        assoc = _associate(ae, node)
        ok, msg = _request_each(assoc, idents, done, lambda ident: _drain(
            assoc, assoc.send_c_move(ident, local.ae_title, StudyRootQueryRetrieveInformationModelMove), node, counter,
            progress, cancel, "C-MOVE"))
    if not ok and msg != "cancelled" and counter["n"] == 0:
        msg += (f" (does the PACS know our AE title {local.ae_title!r} at this host, port {local.port},"
                " as a move destination?)")
    return ok, msg


def _request_each(assoc, idents, done, request) -> tuple[bool, str]:
    """``request(ident)`` (one C-GET or C-MOVE, drained) for each identifier until one fails; then release ``assoc``."""
    try:
        for ident in idents:
            ok, msg = request(ident)
            if not ok:
                return ok, msg
            if done is not None:
                done(ident)
        return True, ""
    finally:
        if assoc.is_established:
            assoc.release()


def send_datasets(node: Node, datasets: list, local: LocalAE | None = None, progress: Progress | None = None,
                  cancel: Cancel | None = None) -> dict:
    """C-STORE ``datasets`` (pydicom Datasets with file meta) to ``node``; returns {"sent", "failed"}."""
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    local = local or LocalAE()
    pairs: dict[str, set[str]] = {}
    for ds in datasets:
        pairs.setdefault(str(ds.SOPClassUID), set()).add(str(ds.file_meta.TransferSyntaxUID))
    if len(pairs) > 120:
        raise PacsError(f"{len(pairs)} different SOP classes in one send; send them in smaller groups")
    ae = _new_ae(local.ae_title, node)
    for sop_class, syntaxes in pairs.items():
        ae.add_requested_context(sop_class, sorted(syntaxes | {ExplicitVRLittleEndian, ImplicitVRLittleEndian}))
    assoc = _associate(ae, node)
    sent, failed = 0, []
    try:
        for n, ds in enumerate(datasets, 1):
            if cancel is not None and cancel():
                raise PacsCancelled(f"send cancelled after {sent} of {len(datasets)} instance(s)")
            try:
                status = assoc.send_c_store(ds)
            except (ValueError, RuntimeError) as exc:
                failed.append({"SOPInstanceUID": str(ds.SOPInstanceUID), "reason": str(exc)})
                continue
            code = getattr(status, "Status", None)
            if code is None:
                raise PacsError(f"{node.label} stopped answering after {sent} of {len(datasets)} instance(s) were sent")
            if code in (0x0000, 0xB000, 0xB007, 0xB006):
                sent += 1
            else:
                failed.append({"SOPInstanceUID": str(ds.SOPInstanceUID), "reason": _status_text(status)})
            if progress is not None:
                progress(n, len(datasets))
    finally:
        if assoc.is_established:
            assoc.release()
    return {"sent": sent, "failed": failed}
