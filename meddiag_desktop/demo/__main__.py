"""``python -m meddiag_desktop.demo [--out DIR] [--preview FILE.png]``: (re)generate the demo study."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from meddiag_desktop.demo import DEMO_VERSION, _root

    p = argparse.ArgumentParser(prog="python -m meddiag_desktop.demo",
                                description="Regenerate the synthetic demo chest CT and print its folder.")
    p.add_argument("--out", metavar="DIR", help="cache folder to write demo-%s/ into (default: user cache)"
                   % DEMO_VERSION)
    p.add_argument("--preview", metavar="FILE.png", help="also save a montage of the phantom (lung window)")
    args = p.parse_args(argv)

    from meddiag_desktop.demo._study import generate_study

    start = time.perf_counter()
    root = generate_study(_root(args.out), force=True)
    print(f"demo study written in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    if args.preview:
        from meddiag_desktop.demo._preview import save_montage
        from meddiag_desktop.demo.phantom import make_chest_phantom

        save_montage(make_chest_phantom(), args.preview)
    print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
