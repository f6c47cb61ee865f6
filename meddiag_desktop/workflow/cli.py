"""``meddiag report STUDY --out DIR``: run plugins and a risk model, write report.pdf, seg.dcm, sr.dcm.

The reading workflow from the command line: plugins and the risk model run through
:mod:`meddiag_desktop.workflow.session` (gate, worker process, audit); the report
package only receives their results and writes the files.

Exit status: 0 written; 2 bad input (study unreadable, unknown plugin or model, invalid
risk inputs, output folder refused); 1 a plugin or the export failed.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run"]

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` sub-command."""
    p = subparsers.add_parser(
        "report",
        help="write a PDF report, DICOM SEG and SR for a study",
        description="Load STUDY, run the AI plugins given with --plugin and the risk model given with --risk, "
        "and write report.pdf, seg.dcm (when there is a segmentation) and sr.dcm into --out. "
        "Example: meddiag report /data/ct1 --out ~/reports/ct1 --plugin meddiag.chest-ct-seg "
        "--risk brock --inputs '{\"family_history\": false, \"emphysema\": false, \"spiculation\": false}'",
    )
    p.add_argument("study", help="DICOM folder or file (NIfTI/NRRD/MHA give the PDF only)")
    p.add_argument("--out", required=True, help="output folder (created; must not be inside the study's folder)")
    p.add_argument("--plugin", action="append", default=[], metavar="ID",
                   help="AI plugin to run (repeatable; see 'meddiag plugins')")
    p.add_argument("--risk", metavar="MODEL", help="risk model (see 'meddiag risk --list')")
    p.add_argument("--inputs", metavar="JSON_OR_FILE",
                   help="risk inputs not found in the image, as JSON, a JSON file, or - for stdin")
    p.add_argument("--anonymize", "--anonymise", action="store_true",
                   help="de-identify the DICOM outputs (PS3.15 Basic Profile) and show a pseudonym in the PDF")
    p.add_argument("--allow-burned-in", action="store_true",
                   help="with --anonymize: keep key images although the source may have names burned into its pixels")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where plugins run")
    p.add_argument("--impression", default="", help="the reader's impression text")
    p.add_argument("--reader", default="", help="the reader's name, printed above the signature line")
    p.add_argument("--pdf-only", action="store_true", help="write the PDF only")
    p.add_argument("--seg-type", default="BINARY", choices=["BINARY", "LABELMAP"],
                   help="DICOM SEG type: BINARY (read by every SEG viewer; default) or LABELMAP (one segment "
                        "per voxel, DICOM 2024; overlapping segments fall back to BINARY with a warning)")
    p.add_argument("--overwrite", action="store_true", help="replace report files already in --out")
    p.add_argument("--timeout", type=float, default=300, help="seconds without plugin progress before it is stopped")
    p.add_argument("--accept-ai", action="store_true",
                   help="accept every AI finding as the reader (--reader) without review; recorded in the audit log. "
                        "Without it AI findings are marked unconfirmed and do not feed the risk model")
    p.add_argument("--force", action="store_true",
                   help="run plugins even on a study outside their intended use; every output says so")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: outputs, findings with status and sizes, risks, warnings (or the error)")
    p.set_defaults(func=run)


_JSON: dict | None = None  # the --json summary being filled by the current run


def _fail(message: str, status: int) -> int:
    print(f"meddiag report: error: {message}", file=sys.stderr)
    if _JSON is not None:
        _JSON.update(ok=False, exit_status=status, error=message)
    return status


def run(args: argparse.Namespace) -> int:
    """Carry out ``meddiag report``; returns the exit status (``--json``: one JSON object on stdout, always)."""
    global _JSON
    import json

    _JSON = {"ok": True, "exit_status": 0, "study": str(args.study), "outputs": {}, "findings": [], "risks": [],
             "warnings": [], "not_run": [], "outside_intended_use": [], "error": None} if getattr(args, "json", False) else None
    try:
        status = _run(args)
    finally:
        summary, _JSON = _JSON, None
    if summary is not None:
        summary["exit_status"] = status
        summary["ok"] = status == 0
        print(json.dumps(summary))
    return status


def _json_findings(session, report) -> list[dict]:
    """Every AI finding with its status, and its sizes where the report lists it (label_geometry's numbers)."""
    from meddiag_desktop.core.findings import segment_key

    sizes = {}
    for s in report.segments:
        if s.provenance is not None:
            sizes[segment_key(s.provenance.plugin_id, s.label_value, s.component)] = s
    out = []
    for f in session.findings:
        item = {"key": f.key, "kind": f.kind, "name": f.display_name, "status": f.status, "confirmed": f.confirmed,
                "decided_by": f.decided_by, "plugin": f.plugin_id, "plugin_version": f.plugin_version,
                "outside_intended_use": f.forced}
        s = sizes.get(f.key)
        if s is None and f.component == 1 and f.kind == "component":
            s = sizes.get(segment_key(f.plugin_id, f.label_value))  # a label with one component is listed whole
        if s is not None:
            item.update(volume_ml=round(s.volume_ml, 3), long_axis_mm=s.longest_diameter_mm,
                        short_axis_mm=s.short_axis_mm, mean_diameter_mm=s.mean_diameter_mm)
        if f.point_lps is not None:
            item["point_lps"] = [round(c, 2) for c in f.point_lps]
        if f.size_mm is not None:  # a detected box
            item.update(size_mm=[round(v, 2) for v in f.size_mm], score=f.score)
        out.append(item)
    return out


def _run(args: argparse.Namespace) -> int:
    from meddiag_desktop.io import LoadError, load
    from meddiag_desktop.report.audit import audit
    from meddiag_desktop.report.build import build_report
    from meddiag_desktop.report.export import ExportError, check_destination, export_report
    from meddiag_desktop.risk.cli import read_inputs
    from meddiag_desktop.workflow.session import evaluate_risk, run_plugins

    if args.inputs and not args.risk:
        return _fail("--inputs needs --risk MODEL", EXIT_BAD_INPUT)
    try:
        entered = read_inputs(args.inputs)
    except (ValueError, OSError) as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)
    try:
        volume = load(args.study)
    except (LoadError, OSError) as exc:
        audit("open", None, "failed", error=type(exc).__name__)
        return _fail(str(exc), EXIT_BAD_INPUT)
    audit("open", volume.metadata.get("study_uid"), "ok", via="cli")
    try:
        check_destination(args.out, volume)  # refuse early, before minutes of inference
    except ExportError as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)
    for w in volume.warnings:
        print(f"note: {w}", file=sys.stderr)

    if args.plugin and args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            return _fail("--device cuda was asked for but no CUDA GPU is available; use --device cpu or auto",
                         EXIT_BAD_INPUT)

    def progress(pid: str, done: int, total: int) -> None:
        if total:
            end = "\n" if done >= total else ""
            print(f"\r{pid}: {done}/{total}", end=end, file=sys.stderr, flush=True)

    from meddiag_desktop.ai import InputRefused, PluginError, PluginNotFound, RunCancelled

    try:
        session = run_plugins(volume, args.plugin, args.device, progress, args.timeout, force=args.force)
    except (PluginNotFound, ValueError) as exc:
        return _fail(f"{type(exc).__name__}: {exc}", EXIT_FAILED if isinstance(exc, InputRefused) else EXIT_BAD_INPUT)
    except (PluginError, RunCancelled, OSError) as exc:
        return _fail(f"{type(exc).__name__}: {exc}", EXIT_FAILED)
    for n in session.notes:
        print(f"note: {n}", file=sys.stderr)
    for n in session.not_run:
        print(f"warning: {n}", file=sys.stderr)
    if _JSON is not None:
        _JSON["not_run"] = list(session.not_run)
        _JSON["warnings"] = list(session.warnings)
        _JSON["outside_intended_use"] = [{"plugin": r.info.id, "mismatch": r.outside_intended_use}
                                         for r in session.runs if r.outside_intended_use]
    if args.accept_ai and len(session.findings):
        from getpass import getuser

        from meddiag_desktop.workflow.session import accept_all

        who = args.reader or f"{getuser()} (meddiag report --accept-ai)"
        n = accept_all(session, who, volume.metadata.get("study_uid"))
        print(f"note: {n} AI finding(s) accepted without review by {who} (--accept-ai, recorded in the audit log)",
              file=sys.stderr)
    elif len(session.findings):
        print(f"note: {len(session.findings)} AI finding(s) are unconfirmed proposals: marked so in the report and "
              "left out of the risk inputs (review them in the viewer, or pass --accept-ai)", file=sys.stderr)

    risks = []
    if args.risk:
        from meddiag_desktop.risk.evaluate import RiskError, RiskInputError

        try:
            risks.append(evaluate_risk(volume, args.risk, entered, session.label_maps, session.raw_classifications,
                                       findings=session.findings))
        except RiskInputError as exc:
            hint = " (inputs found in the image are filled in; give the others with --inputs"
            hint += "; unconfirmed AI findings are not used: review them or pass --accept-ai)" \
                if len(session.findings) and not args.accept_ai else ")"
            return _fail(f"{exc}{hint}", EXIT_BAD_INPUT)
        except RiskError as exc:
            return _fail(str(exc), EXIT_BAD_INPUT)

    report = build_report(volume, label_maps=session.label_maps, classifications=session.classifications,
                          risks=risks, impression=args.impression, reader_name=args.reader, notes=session.not_run,
                          findings=session.findings, detections=session.detections)
    if _JSON is not None:
        _JSON["findings"] = _json_findings(session, report)
        _JSON["risks"] = [{"model": r.model_id, "title": r.title, "probability": round(r.probability, 4),
                           "category": r.category,
                           "inputs": {i.name: {"value": i.value, "origin": i.origin} for i in r.inputs}} for r in risks]
    try:
        result = export_report(report, volume, args.out, anonymize=args.anonymize, dicom=not args.pdf_only,
                               overwrite=args.overwrite, allow_burned_in=args.allow_burned_in,
                               seg_type=args.seg_type)
    except ExportError as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback; the audit log has the event
        return _fail(f"export failed; no partial file was left in {args.out}: {type(exc).__name__}: {exc}",
                     EXIT_FAILED)
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if _JSON is not None:
        _JSON["outputs"] = {k: str(v) for k, v in result.paths.items()}
        _JSON["warnings"] += list(result.warnings)
        if result.anonymized:
            _JSON["pseudonym"] = result.pseudonym
    human = sys.stderr if _JSON is not None else sys.stdout  # --json: stdout holds the one JSON object only
    for r in risks:
        print(f"{r.title}: {r.probability * 100:.1f} % ({r.category})", file=human)
    for kind, path in result.paths.items():
        print(f"wrote {path}", file=human)
    if result.anonymized:
        print(f"pseudonym: {result.pseudonym}", file=human)
    return 0
