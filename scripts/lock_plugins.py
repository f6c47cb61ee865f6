"""Write ``plugin.lock`` (the SHA-256 of every file) beside each bundled plugin in ``plugins/``.

Run after changing a bundled plugin's code, manifest or weights, and commit the
lock with the change: the app refuses to run a bundled plugin whose files differ
from its lock (:mod:`meddiag_desktop.ai.trust`), and ``tests/ai/test_trust_lock.py``
fails. ``--check`` only compares, exiting 1 when a lock is missing or stale.

    python scripts/lock_plugins.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from meddiag_desktop.ai.trust import compare_files, describe_changes, hash_tree, read_lock, write_lock  # noqa: E402


def plugin_folders(root: Path) -> list[Path]:
    """Plugin folders (``plugin.toml`` or a MONAI bundle) directly under ``root``."""
    return [p for p in sorted(root.iterdir())
            if p.is_dir() and ((p / "plugin.toml").is_file() or (p / "configs" / "metadata.json").is_file())]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare only; exit 1 if a lock is missing or stale")
    ap.add_argument("--plugins", type=Path, default=ROOT / "plugins", help="folder of bundled plugins")
    args = ap.parse_args(argv)
    stale = 0
    for folder in plugin_folders(args.plugins):
        lock = read_lock(folder)
        changes = compare_files(lock, hash_tree(folder)) if lock is not None else {"missing": ["plugin.lock"]}
        if args.check:
            if changes:
                stale += 1
                print(f"{folder.name}: lock is stale ({describe_changes(changes)})")
            else:
                print(f"{folder.name}: ok")
            continue
        path = write_lock(folder)
        print(f"{folder.name}: wrote {path.relative_to(args.plugins.parent)}"
              + (f" ({describe_changes(changes)})" if changes else " (unchanged)"))
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
