"""``meddiag pacs echo|find|get|send`` and ``meddiag listen``.

``NODE`` is a configured node's name (``pacs.json`` in the settings folder),
``AE@host:port`` or an ``http(s)://…/dicom-web`` URL. Failures print one line
on stderr and exit with status 1.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pacs", help="query, retrieve and send to a PACS (DIMSE or DICOMweb)")
    psub = p.add_subparsers(dest="pacs_command", required=True)

    def node_arg(q):
        q.add_argument("node", help="configured node name, AE@host:port or http(s)://…/dicom-web")
        q.add_argument("--timeout", type=float, help="seconds to wait for the PACS (default: the node's, 10)")
        q.add_argument("--ae", help="our AE title (default: the settings', MEDDIAG)")

    e = psub.add_parser("echo", help="test the connection (C-ECHO / QIDO-RS)")
    node_arg(e)
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_echo)
    f = psub.add_parser("find", help="search studies (C-FIND / QIDO-RS)")
    node_arg(f)
    f.add_argument("--patient-id")
    f.add_argument("--patient-name", help="pattern, * wildcards")
    f.add_argument("--study-date", help="YYYYMMDD or YYYYMMDD-YYYYMMDD")
    f.add_argument("--modality")
    f.add_argument("--accession")
    f.add_argument("--study", help="list the series of this StudyInstanceUID instead")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=_find)
    g = psub.add_parser("get", help="retrieve a study or series into the local database")
    node_arg(g)
    g.add_argument("--study", required=True, help="StudyInstanceUID")
    g.add_argument("--series", help="SeriesInstanceUID (default: the whole study)")
    g.add_argument("--method", choices=("get", "move"), default="get", help="C-GET (default) or C-MOVE (DIMSE only)")
    g.add_argument("--port", type=int, help="for C-MOVE: the port our C-STORE SCP listens on (default: settings, 11112)")
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=_get)
    s = psub.add_parser("send", help="send files or folders (C-STORE / STOW-RS); a .pdf goes as Encapsulated PDF")
    node_arg(s)
    s.add_argument("paths", nargs="+", metavar="PATH")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_send)

    lp = sub.add_parser("listen", help="C-STORE SCP: receive pushed studies into the local database until stopped")
    lp.add_argument("--ae", help="our AE title (default: settings, MEDDIAG)")
    lp.add_argument("--port", type=int, help="port to listen on (default: settings, 11112)")
    lp.set_defaults(func=_listen)


def _fail(msg: str) -> int:
    print(f"meddiag pacs: {msg}", file=sys.stderr)
    return 1


def _setup(args):
    from meddiag_desktop.pacs import LocalAE, load_settings, resolve_node

    settings = load_settings()
    node = resolve_node(args.node, timeout=args.timeout, settings=settings)
    local = LocalAE(args.ae or settings.local.ae_title, getattr(args, "port", None) or settings.local.port)
    return node, local


def _run(args, body) -> int:
    from meddiag_desktop.db import DatabaseError
    from meddiag_desktop.pacs import PacsError

    try:
        return body(*_setup(args))
    except (PacsError, DatabaseError, ValueError) as exc:
        return _fail(" ".join(str(exc).split()))
    except KeyboardInterrupt:
        return _fail("interrupted")


def _echo(args) -> int:
    from meddiag_desktop.pacs import echo

    def body(node, local):
        secs = echo(node, local)
        print(json.dumps({"node": node.label, "ok": True, "seconds": round(secs, 3)}) if args.json
              else f"{node.label}: OK ({secs * 1000:.0f} ms)")
        return 0

    return _run(args, body)


def _find(args) -> int:
    from meddiag_desktop.pacs import find

    query = {k: getattr(args, k) for k in ("patient_id", "patient_name", "study_date", "modality", "accession")}

    def body(node, local):
        level = "SERIES" if args.study else "STUDY"
        rows = find(node, query, level, local, study_uid=args.study)
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                if level == "STUDY":
                    print(f"{r.get('StudyDate', ''):8}  {r.get('PatientID', ''):<12} {r.get('PatientName', ''):<24} "
                          f"{','.join(r.get('ModalitiesInStudy') or []):<8} {r.get('NumberOfStudyRelatedInstances', '?'):>5} img  "
                          f"{r.get('StudyInstanceUID', '')}")
                else:
                    print(f"#{r.get('SeriesNumber', '')} {r.get('Modality', '')} {r.get('SeriesDescription', '')} "
                          f"{r.get('NumberOfSeriesRelatedInstances', '?')} img  {r.get('SeriesInstanceUID', '')}")
            print(f"{len(rows)} match(es)", file=sys.stderr)
        return 0

    return _run(args, body)


def _get(args) -> int:
    from meddiag_desktop.db import StudyDatabase
    from meddiag_desktop.pacs import RetrieveIncomplete, retrieve

    def body(node, local):
        with StudyDatabase() as db:
            try:
                out = retrieve(node, args.study, db, series_uid=args.series, method=args.method, local=local)
            except RetrieveIncomplete as exc:
                if args.json:
                    rec = db.study(args.study)
                    print(json.dumps({"StudyInstanceUID": args.study, "instances": rec.instance_count,
                                      "received": exc.received, "folder": rec.folder, "complete": False,
                                      "error": str(exc)}, indent=2))
                raise
        if args.json:
            print(json.dumps(out, indent=2))
        else:
            print(f"retrieved {out['received']} new instance(s); study has {out['instances']} in {out['folder']}")
        return 0

    return _run(args, body)


def _send(args) -> int:
    from meddiag_desktop.pacs import send_paths

    def body(node, local):
        out = send_paths(node, args.paths, local)
        if args.json:
            print(json.dumps(out, indent=2))
        else:
            print(f"sent {out['sent']} instance(s) to {node.label}" + (f", {len(out['failed'])} failed" if out["failed"] else ""))
            for f in out["failed"]:
                print(f"  failed {f['SOPInstanceUID']}: {f['reason']}")
        return 0 if not out["failed"] else 1

    return _run(args, body)


def _listen(args) -> int:
    import signal
    import threading

    from meddiag_desktop.db import StudyDatabase
    from meddiag_desktop.pacs import PacsError, load_settings
    from meddiag_desktop.pacs.scp import StoreServer

    settings = load_settings()
    ae = args.ae or settings.local.ae_title
    port = args.port or settings.local.port
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with StudyDatabase() as db:
        try:
            server = StoreServer(db, ae, port).start()
        except PacsError as exc:
            return _fail(str(exc))
        print(f"listening as {ae} on port {port}, storing into {db.root} (Ctrl-C to stop)", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        server.stop()
        print(f"stopped: {server.received} instance(s) received, {server.quarantined} quarantined", flush=True)
    return 0
