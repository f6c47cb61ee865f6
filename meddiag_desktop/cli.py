"""Command line: ``meddiag [PATH | --demo] [--screenshot FILE]`` and sub-commands.

Sub-commands live beside the feature they drive and register themselves here
through :data:`SUBCOMMANDS` (module path of a ``register(subparsers)``
function), so this module stays small and imports nothing heavy.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

#: sub-command name -> module with ``register(subparsers)``; imported only when used.
SUBCOMMANDS: dict[str, str] = {
    "info": "meddiag_desktop.io.cli_info",
    "plugins": "meddiag_desktop.ai.cli",
    "infer": "meddiag_desktop.workflow.infer_cli",
    "risk": "meddiag_desktop.risk.cli",
    "report": "meddiag_desktop.workflow.cli",
    "db": "meddiag_desktop.db.cli",
    "pacs": "meddiag_desktop.pacs.cli",
    "listen": "meddiag_desktop.pacs.cli",
    "batch": "meddiag_desktop.batch.cli",
}


class _VersionAction(argparse.Action):
    """``--version``: the version is looked up only when asked (package metadata is slow to import)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help="show the version and exit"):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from meddiag_desktop import __version__

        print(f"meddiag {__version__}")
        parser.exit()


def _gui_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="meddiag",
        description="MedDiag Desktop: offline medical image viewer. "
        f"Sub-commands: {', '.join(SUBCOMMANDS)} (meddiag COMMAND --help).",
    )
    p.add_argument("path", nargs="?", help="DICOM folder or file, DICOMDIR, NIfTI/NRRD/MHA file to open")
    p.add_argument("--demo", action="store_true", help="open the bundled synthetic demo chest CT")
    p.add_argument("--screenshot", metavar="FILE.png", help="render all views, save a PNG of the window and exit")
    p.add_argument("--size", default="1400x900", help="window size for --screenshot, WIDTHxHEIGHT")
    p.add_argument("--version", action=_VersionAction)
    return p


def _subcommand_parser(name: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="meddiag")
    sub = p.add_subparsers(dest="command", required=True)
    importlib.import_module(SUBCOMMANDS[name]).register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``meddiag`` console script; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in SUBCOMMANDS:
        args = _subcommand_parser(args_list[0]).parse_args(args_list)
        return int(args.func(args) or 0)

    args = _gui_parser().parse_args(args_list)
    if args.demo and args.path:
        print("meddiag: give either a PATH or --demo, not both", file=sys.stderr)
        return 2
    from meddiag_desktop.qt.app import run_gui  # Qt is imported only for the GUI

    return run_gui(path=args.path, demo=args.demo, screenshot=args.screenshot, size=args.size)
