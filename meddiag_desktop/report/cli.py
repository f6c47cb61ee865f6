"""``meddiag report STUDY --out DIR``: run plugins and a risk model, write report.pdf, seg.dcm, sr.dcm.

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
    p.add_argument("--overwrite", action="store_true", help="replace report files already in --out")
    p.add_argument("--timeout", type=float, default=300, help="seconds without plugin progress before it is stopped")
    p.set_defaults(func=run)


def _fail(message: str, status: int) -> int:
    print(f"meddiag report: error: {message}", file=sys.stderr)
    return status


def run(args: argparse.Namespace) -> int:
    """Carry out ``meddiag report``; returns the exit status."""
    from meddiag_desktop.io import LoadError, load
    from meddiag_desktop.report.audit import audit
    from meddiag_desktop.report.build import build_report
    from meddiag_desktop.report.export import ExportError, check_destination, export_report
    from meddiag_desktop.report.session import evaluate_risk, read_inputs, run_plugins

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

    from meddiag_desktop.ai.discovery import PluginNotFound
    from meddiag_desktop.ai.isolation import PluginError
    from meddiag_desktop.ai.runner import InputRefused
    from meddiag_desktop.ai.sliding_window import RunCancelled

    try:
        session = run_plugins(volume, args.plugin, args.device, progress, args.timeout)
    except (PluginNotFound, ValueError) as exc:
        return _fail(f"{type(exc).__name__}: {exc}", EXIT_FAILED if isinstance(exc, InputRefused) else EXIT_BAD_INPUT)
    except (PluginError, RunCancelled, OSError) as exc:
        return _fail(f"{type(exc).__name__}: {exc}", EXIT_FAILED)
    for n in session.notes:
        print(f"note: {n}", file=sys.stderr)
    for n in session.not_run:
        print(f"warning: {n}", file=sys.stderr)

    risks = []
    if args.risk:
        from meddiag_desktop.risk.evaluate import RiskError, RiskInputError

        try:
            risks.append(evaluate_risk(volume, args.risk, entered, session.label_maps, session.raw_classifications))
        except RiskInputError as exc:
            return _fail(f"{exc} (inputs found in the image are filled in; give the others with --inputs)",
                         EXIT_BAD_INPUT)
        except RiskError as exc:
            return _fail(str(exc), EXIT_BAD_INPUT)

    report = build_report(volume, label_maps=session.label_maps, classifications=session.classifications,
                          risks=risks, impression=args.impression, reader_name=args.reader, notes=session.not_run)
    try:
        result = export_report(report, volume, args.out, anonymize=args.anonymize, dicom=not args.pdf_only,
                               overwrite=args.overwrite, allow_burned_in=args.allow_burned_in)
    except ExportError as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback; the audit log has the event
        return _fail(f"export failed; no partial file was left in {args.out}: {type(exc).__name__}: {exc}",
                     EXIT_FAILED)
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    for r in risks:
        print(f"{r.title}: {r.probability * 100:.1f} % ({r.category})")
    for kind, path in result.paths.items():
        print(f"wrote {path}")
    if result.anonymized:
        print(f"pseudonym: {result.pseudonym}")
    return 0
