"""``meddiag risk``: list risk models and evaluate one from JSON inputs.

Exit status: 0 on success, 2 for bad input (unknown model, missing field, wrong
type, out of range, unknown category, unreadable JSON), 1 when a model cannot
be loaded (e.g. its file fails the SHA-256 check).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["register", "run", "read_inputs"]

EXIT_BAD_INPUT = 2
EXIT_MODEL_ERROR = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``risk`` sub-command to ``subparsers``."""
    p = subparsers.add_parser(
        "risk",
        help="clinical risk models",
        description="List clinical risk models, or evaluate MODEL on --inputs. "
        "Example: meddiag risk brock --inputs '{\"age\": 67, \"sex\": \"female\", ...}'. "
        "Run 'meddiag risk MODEL' to see the inputs a model needs.",
    )
    p.add_argument("model", nargs="?", help="model name (see --list)")
    p.add_argument("--list", action="store_true", help="list the available models")
    p.add_argument("--inputs", metavar="JSON_OR_FILE", help="inputs as a JSON object, a JSON file, or - for stdin")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


def _fail(message: str, status: int = EXIT_BAD_INPUT) -> int:
    print(f"meddiag risk: error: {message}", file=sys.stderr)
    return status


def read_inputs(text: str | None) -> dict[str, Any]:
    """Risk inputs from ``--inputs``: a JSON object, a JSON file or ``-`` (stdin); ``{}`` for None.

    The one reader of ``--inputs`` (``meddiag risk``, ``meddiag report``, ``meddiag batch``).
    Raises ``ValueError`` saying what is wrong, ``OSError`` when the file cannot be read.
    """
    if text is None:
        return {}
    if text == "-":
        source, raw = "stdin", sys.stdin.read()
    elif text.lstrip().startswith(("{", "[")):  # inline JSON (a list is refused below, by name)
        source, raw = "--inputs", text
    else:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ValueError(f"--inputs {text!r} is neither a JSON object nor an existing file")
        source, raw = str(path), path.read_text(encoding="utf-8")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{source} must be a JSON object of input name -> value, got {type(data).__name__}")
    return data


def _print_list(as_json: bool) -> int:
    from meddiag_desktop.risk.registry import discover_models

    found = discover_models()
    if as_json:
        print(json.dumps({"models": [m.describe() for m in found.models.values()], "problems": found.problems}, indent=2))
    else:
        width = max((len(n) for n in found.models), default=4)
        for name, model in found.models.items():
            print(f"{name:<{width}}  {model.spec.title}  [{model.source}]")
        for problem in found.problems:
            print(f"warning: {problem}", file=sys.stderr)
    return 0


def _describe_inputs(model: Any) -> str:
    lines = [f"{model.spec.title}", f"  {model.spec.citation}", "inputs:"]
    for inp in model.spec.inputs:
        if inp.type == "category":
            kind = " | ".join(inp.allowed or [])
        elif inp.type == "bool":
            kind = "true | false"
        else:
            lo = "" if inp.min is None else f"{inp.min:g}"
            hi = "" if inp.max is None else f"{inp.max:g}"
            kind = f"{inp.type} {lo}..{hi} {inp.unit}".rstrip()
        lines.append(f"  {inp.name:<22} {kind:<34} {inp.description}")
    return "\n".join(lines)


def _print_result(result: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
        return
    print(f"{result.title}")
    from meddiag_desktop.risk.evaluate import format_probability

    print(f"probability: {format_probability(result.probability)}   category: {result.category}")
    if result.rule:
        print(f"guideline rule: {result.rule}")
    print(f"action: {result.action}")
    print(f"contributions (log-odds; baseline {result.baseline_log_odds:+.3f}):")
    for c in sorted(result.contributions, key=lambda c: -abs(c.log_odds)):
        print(f"  {c.input:<22} {c.log_odds:+.3f}   ({c.value})")
    for w in result.warnings:
        print(f"warning: {w}")
    print(f"reference: {result.reference}")
    print(f"citation: {result.citation}")
    if result.guideline_citation:
        print(f"guideline: {result.guideline_citation}")
    print(f"intended use: {result.intended_use}")


def run(args: argparse.Namespace) -> int:
    """Carry out ``meddiag risk``; returns the exit status."""
    from meddiag_desktop.risk.evaluate import RiskError, RiskInputError
    from meddiag_desktop.risk.registry import get_model

    if args.list:
        return _print_list(args.json)
    if not args.model:
        return _fail("give a MODEL name or --list (meddiag risk --help)")
    try:
        model = get_model(args.model)
    except RiskError as exc:
        return _fail(str(exc))
    if args.inputs is None:
        print(_describe_inputs(model), file=sys.stderr)
        return _fail(f"give the inputs of {args.model!r} with --inputs JSON_OR_FILE")
    try:
        inputs = read_inputs(args.inputs)
    except (ValueError, OSError) as exc:
        return _fail(str(exc))
    try:
        result = model.evaluate(inputs)
    except RiskInputError as exc:
        return _fail(str(exc))
    except RiskError as exc:
        return _fail(str(exc), EXIT_MODEL_ERROR)
    try:
        _print_result(result, args.json)
    except BrokenPipeError:  # e.g. piped into `head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
