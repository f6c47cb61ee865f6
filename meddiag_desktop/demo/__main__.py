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

    from meddiag_desktop.demo import _study

    start = time.perf_counter()
    phantom = _study.make_chest_phantom()
    made = time.perf_counter()
    root = _study.generate_study(_root(args.out), force=True, phantom=phantom)
    print(f"phantom made in {made - start:.1f} s, study written in {time.perf_counter() - made:.1f} s",
          file=sys.stderr)
    if args.preview:
        from meddiag_desktop.demo._preview import save_montage

        save_montage(phantom, args.preview)
    print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
