"""``meddiag plugins [--json]`` and ``meddiag plugins trust|untrust`` (``meddiag infer`` is in
:mod:`meddiag_desktop.workflow.infer_cli`: it runs plugins through the workflow)."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register", "list_plugins"]


def register(subparsers) -> None:
    p = subparsers.add_parser("plugins", help="list AI plugins (bundled, user folder, MEDDIAG_PLUGIN_PATH, entry points)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=_run_plugins)
    _register_trust(p)


# ------------------------------------------------------------------ plugins
def list_plugins() -> list[dict]:
    from meddiag_desktop.ai.discovery import discover_plugins

    items = []
    for info in discover_plugins():
        item = info.to_json()
        if info.ok and info.manifest.kind == "monai_bundle":  # what stops a bundle here, named before any run
            from meddiag_desktop.ai.bundle import inference_config
            from meddiag_desktop.ai.bundle_requirements import requirement_problems

            item["cannot_run"], item["requirement_notes"] = requirement_problems(info.path, inference_config(info.path))
        items.append(item)
    return items


def _run_plugins(args: argparse.Namespace) -> int:
    items = list_plugins()
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    if not items:
        print("no plugins found")
    for it in items:
        if it["error"]:
            print(f"! {it['id']}  [{it['source']}] {it['path']}\n    error: {it['error']}")
            continue
        ver = {True: "weights verified", False: "WEIGHTS DO NOT MATCH", None: "weights not hashed"}[it["weights_verified"]]
        print(f"{it['id']}  {it['name']} {it['version']} ({it['task']}, {it['source']}, {ver})")
        print(f"    intended use: {it['intended_use']}")
        _print_trust(it.get("trust"))
        for problem in it.get("cannot_run") or []:
            print(f"    cannot run here: {problem}")
    return 0


# -------------------------------------------------------------------- infer
# ------------------------------------------------------------- trust (consent)
def _register_trust(plugins_parser) -> None:
    """``meddiag plugins trust PATH|ID`` and ``meddiag plugins untrust PATH|ID``."""
    sub = plugins_parser.add_subparsers(dest="plugins_action", metavar="{trust,untrust}")
    t = sub.add_parser("trust", help="review a plugin or MONAI bundle (hash, files) and allow its code to run")
    t.add_argument("plugin", help="plugin folder, MONAI bundle folder or plugin id")
    t.add_argument("--yes", action="store_true", help="record consent without asking (scripts)")
    t.add_argument("--json", action="store_true", help="print one JSON object")
    t.set_defaults(func=_run_trust)
    u = sub.add_parser("untrust", help="withdraw consent: the plugin's code will not run until trusted again")
    u.add_argument("plugin", help="plugin folder, MONAI bundle folder or plugin id")
    u.add_argument("--json", action="store_true", help="print one JSON object")
    u.set_defaults(func=_run_untrust)


def _print_trust(trust: dict | None) -> None:
    if not trust:
        return
    if trust["trusted"]:
        by = "its lock file (shipped with the app)" if trust["basis"] == "lock" else (
            f"{trust.get('trusted_by') or 'you'} on {(trust.get('trusted_at') or '')[:10]}")
        print(f"    trusted by {by}; sha256 {trust['sha256']}")
    else:
        print(f"    NOT TRUSTED ({trust['state']}): {trust['message']}")
    for row in trust["files"]:
        print(f"      {row['status']:<11} {row['path']}")


def _resolve_for_trust(text: str):
    """The plugin folder named by a path or an id (a folder with a broken manifest can still be reviewed)."""
    from meddiag_desktop.ai.discovery import find_plugin

    info = find_plugin(text)
    if not info.path.is_dir():
        raise ValueError(f"{text}: {info.error or 'not a folder'}")
    return info


def _trust_fail(args: argparse.Namespace, err: BaseException, code: int) -> int:
    reason = f"{type(err).__name__}: {err}"
    if getattr(args, "json", False):
        print(json.dumps({"error": reason}))
    print(f"meddiag plugins {args.plugins_action}: {reason}", file=sys.stderr)
    return code


def _run_trust(args: argparse.Namespace) -> int:
    from meddiag_desktop.ai.discovery import PluginNotFound
    from meddiag_desktop.ai.trust import PluginUntrusted, trust_plugin, trust_status

    try:
        info = _resolve_for_trust(args.plugin)
        status = trust_status(info)
    except (PluginNotFound, ValueError, OSError) as err:
        return _trust_fail(args, err, 2)
    if status.state == "unsafe" or (status.basis == "lock" and not status.trusted):
        return _trust_fail(args, PluginUntrusted(status.message or "refused"), 1)
    if not args.json:
        name = info.manifest.name if info.manifest else info.path.name
        print(f"{status.kind} {name} ({info.id}) at {info.path}")
        print(f"sha256 of all {len(status.files)} files: {status.digest}")
        if status.changes:
            from meddiag_desktop.ai.trust import describe_changes

            print(f"changed since you last trusted it: {describe_changes(status.changes)}")
        for rel, digest in status.files.items():
            print(f"  {digest[:16]}  {rel}")
    if status.trusted:
        if args.json:
            print(json.dumps({"trusted": True, "path": str(info.path), **status.to_json()}))
        else:
            print("already trusted" + (" (shipped with the app, verified by its lock file)" if status.basis == "lock" else ""))
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            return _trust_fail(args, PluginUntrusted(
                "not trusted: consent needs a terminal to answer, or --yes after you reviewed the files"), 2)
        answer = input("Its code (configs, scripts, Python package) will run with your permissions. "
                       "Trust it? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("not trusted; nothing was recorded")
            return 1
    try:
        status = trust_plugin(info, via="cli", expect_digest=status.digest)
    except (PluginUntrusted, OSError) as err:
        return _trust_fail(args, err, 1)
    if args.json:
        print(json.dumps({"trusted": True, "path": str(info.path), **status.to_json()}))
    else:
        from meddiag_desktop.ai.trust import store_path

        print(f"trusted: recorded in {store_path()}")
    return 0


def _run_untrust(args: argparse.Namespace) -> int:
    from meddiag_desktop.ai.discovery import PluginNotFound
    from meddiag_desktop.ai.trust import untrust_plugin

    try:
        info = _resolve_for_trust(args.plugin)
        removed = untrust_plugin(info)
    except (PluginNotFound, ValueError, OSError) as err:
        return _trust_fail(args, err, 2)
    if args.json:
        print(json.dumps({"path": str(info.path), "untrusted": removed}))
    else:
        print(f"{info.path}: consent withdrawn" if removed else f"{info.path} was not trusted; nothing to do")
    return 0
