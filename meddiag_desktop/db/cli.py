"""``meddiag db import|list|remove``: the local study database from the command line."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="the local study database: import, list, remove",
                       description="The local study database (meddiag_desktop.db.default_db_dir(); "
                       "MEDDIAG_DB_DIR overrides it).")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    imp = dbsub.add_parser("import", help="index a folder, file or CD (DICOMDIR)")
    imp.add_argument("path")
    mode = imp.add_mutually_exclusive_group()
    mode.add_argument("--copy", dest="copy", action="store_true", default=True,
                      help="copy the files into managed storage (default)")
    mode.add_argument("--in-place", dest="copy", action="store_false", help="index the files where they are")
    imp.add_argument("--json", action="store_true", help="print the result as JSON")
    imp.set_defaults(func=_import)
    ls = dbsub.add_parser("list", help="list the studies (newest first)")
    for key in ("patient-id", "patient-name", "study-date", "modality", "accession"):
        ls.add_argument(f"--{key}")
    ls.add_argument("--json", action="store_true", help="print a JSON list of studies")
    ls.set_defaults(func=_list)
    rm = dbsub.add_parser("remove", help="remove a study (managed copies are deleted, in-place sources kept)")
    rm.add_argument("uid", help="StudyInstanceUID")
    rm.set_defaults(func=_remove)


def _fail(msg: str) -> int:
    print(f"meddiag db: {msg}", file=sys.stderr)
    return 1


def _import(args) -> int:
    from meddiag_desktop.db import DatabaseError, StudyDatabase

    try:
        with StudyDatabase() as db:
            res = db.import_path(args.path, copy=args.copy)
    except DatabaseError as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps({"instances": res.instances, "studies": res.studies,
                          "skipped": [{"path": str(p), "reason": r} for p, r in res.skipped]}, indent=2))
    else:
        print(f"indexed {res.instances} instance(s) of {len(res.studies)} study(ies)"
              f" ({'copied' if args.copy else 'in place'}); {len(res.skipped)} file(s) skipped")
        for p, r in res.skipped[:10]:
            print(f"  skipped {p}: {r}")
    return 0 if res.instances or not res.skipped else 1


def _list(args) -> int:
    from meddiag_desktop.db import DatabaseError, StudyDatabase

    query = {k: getattr(args, k) for k in ("patient_id", "patient_name", "study_date", "modality", "accession")}
    try:
        with StudyDatabase() as db:
            studies = db.studies(query)
    except DatabaseError as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps([s.as_json() for s in studies], indent=2))
        return 0
    if not studies:
        print("no studies in the database (meddiag db import PATH, or meddiag pacs get)")
    for s in studies:
        state = "" if s.complete else f"  [PARTIAL {s.instance_count}/{s.expected or '?'}: run the retrieve again]"
        print(f"{s.study_date or '--------'}  {s.patient_id:<12} {s.patient_name:<24} {','.join(s.modalities):<8}"
              f" {s.instance_count:>5} img  {s.study_uid}  {s.folder}{state}")
    return 0


def _remove(args) -> int:
    from meddiag_desktop.db import DatabaseError, StudyDatabase

    try:
        with StudyDatabase() as db:
            n = db.remove_study(args.uid)
    except DatabaseError as exc:
        return _fail(str(exc))
    print(f"removed study {args.uid} ({n} instance(s))")
    return 0
