"""``meddiag batch INPUT --plugin ID --out DIR``: the report of every study, on Dask.

Exit status: 0 every study done (or already complete); 1 some studies failed (see
``DIR/failures.csv``); 2 bad input (INPUT, plugin, risk inputs, output folder).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["register", "run"]

EXIT_SOME_FAILED = 1
EXIT_BAD_INPUT = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``batch`` sub-command."""
    p = subparsers.add_parser(
        "batch",
        help="run AI plugins and reports over many studies (Dask: this machine or a cluster)",
        description="Run 'meddiag report' on every study of INPUT on Dask workers and write DIR/<StudyInstanceUID>/ "
        "(report.pdf, seg.dcm, sr.dcm, findings.json, batch-done.json) plus DIR/summary.csv|parquet (the findings "
        "read back from each SR), DIR/failures.csv (one reason per study) and DIR/studies.csv. INPUT is a folder of "
        "studies (each sub-folder a study; studies are told apart by StudyInstanceUID), a text file of study paths "
        "(one a line), db:key=value (the local study database), or pacs:NODE?key=value&key=value (a PACS query: "
        "its studies are retrieved into the local database by C-GET, &method=move for C-MOVE, or WADO-RS for a "
        "DICOMweb node, then batched). "
        "Example: meddiag batch /archive/ct-2025 --plugin meddiag.chest-ct-seg --out /reports/ct-2025 --resume",
    )
    p.add_argument("input", metavar="INPUT", help="folder of studies, text file of study paths, db:key=value[,...] or "
                   "pacs:NODE?key=value[&...] (e.g. pacs:ORTHANC@pacs:4242?modality=CT&study_date=20240101-20241231)")
    p.add_argument("--plugin", action="append", default=[], metavar="ID", help="AI plugin to run (repeatable)")
    p.add_argument("--risk", metavar="MODEL", help="risk model (see 'meddiag risk --list')")
    p.add_argument("--inputs", metavar="JSON_OR_FILE", help="risk inputs for every study, as JSON or a JSON file")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (not inside INPUT)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="a running Dask scheduler; without it a LocalCluster sized to this machine is started")
    p.add_argument("--workers", type=int, metavar="N", help="LocalCluster workers (default: one per core, ~4 GB each)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="where plugins run; cuda gives each worker one GPU and one model at a time")
    p.add_argument("--resume", action="store_true", help="skip studies whose outputs are complete; run the rest")
    p.add_argument("--study-timeout", type=float, metavar="S", help="fail a study that takes longer than S seconds")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON on stdout")
    p.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"meddiag batch: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def run(args: argparse.Namespace) -> int:
    """Carry out ``meddiag batch``; returns the exit status."""
    from meddiag_desktop.batch.engine import BatchConfig, BatchInputError, outcome_json, run_batch
    from meddiag_desktop.batch.study import ReportOptions
    from meddiag_desktop.risk.cli import read_inputs

    if args.inputs and not args.risk:
        return _fail("--inputs needs --risk MODEL")
    if not args.plugin and not args.risk:
        return _fail("give at least one --plugin ID or --risk MODEL (see 'meddiag plugins')")
    if args.workers is not None and args.workers < 1:
        return _fail("--workers must be at least 1")
    try:
        # read here (meddiag risk's reader), so the workers need no file: they get JSON text
        inputs = None if args.inputs is None else json.dumps(read_inputs(args.inputs))
    except ValueError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"--inputs: {exc}")
    options = ReportOptions(tuple(args.plugin), args.risk, inputs, args.device, timeout=args.study_timeout)
    config = BatchConfig(args.input, Path(args.out), options, scheduler=args.scheduler, workers=args.workers,
                         resume=args.resume)
    tty = sys.stderr.isatty()
    state = {"shown": False, "last": None}

    def show(p) -> None:
        if p.dashboard and not state["shown"]:
            print(f"Dask dashboard: {p.dashboard}", file=sys.stderr, flush=True)
            state["shown"] = True
        if not p.total and not p.skipped:
            return
        r = p.last
        if r is not None and r is not state["last"]:
            state["last"] = r
            what = "done" if r.status == "done" else f"FAILED: {r.reason}"
            print(("\r\033[K" if tty else "") + f"{r.key}: {what} ({r.seconds:.1f} s)", file=sys.stderr)
        if tty:
            print("\r\033[K" + p.line(), end="", file=sys.stderr, flush=True)
        elif r is not None and state.get("printed") is not r:
            state["printed"] = r
            print(p.line(), file=sys.stderr, flush=True)

    try:
        outcome = run_batch(config, on_progress=show)
    except BatchInputError as exc:
        return _fail(str(exc))
    except OSError as exc:
        if "scheduler" in str(exc).lower() or args.scheduler:
            return _fail(f"cannot reach the Dask scheduler {args.scheduler}: {exc}")
        raise
    if tty:
        print(file=sys.stderr)
    if args.json:
        print(outcome_json(outcome))
    else:
        p = outcome.progress
        print(f"{p.done} done, {p.failed} failed, {p.skipped} already complete, of {p.total} studies")
        for name, paths in outcome.tables.items():
            print(f"{name}: {', '.join(str(x) for x in paths)}")
        for f in outcome.failures:
            print(f"failed: {f.get('key') or f.get('path')}: {f['reason']}")
    return EXIT_SOME_FAILED if outcome.failures else 0
