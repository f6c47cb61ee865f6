"""Time derive_nodule_inputs (the risk panel's image inputs) on a 512x512x300 label map: two lungs, three nodules.

    PYTHONPATH=$PWD python benchmarks/bench_derive_inputs.py [--repeats 7] [--baseline DIR] [--rounds 3]

Prints the median of ``--repeats`` calls (issue 11: 2.2-2.6 s before core.label_geometry;
issue 18 target: <= 0.2 s). ``--baseline DIR``: another checkout (``git archive <commit> |
tar -x -C DIR``) is timed the same way in alternating child processes, so both see the same
load on a shared machine; the ratio of the medians and whether both derived the same
values are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def label_map():
    import numpy as np

    shape = (300, 512, 512)
    z, y, x = np.ogrid[:300, :512, :512]
    labels = np.zeros(shape, np.uint8)
    sp = (0.7, 0.7, 1.0)
    labels[((x - 150) / 110.0) ** 2 + ((y - 256) / 160.0) ** 2 + ((z - 150) / 130.0) ** 2 <= 1] = 1
    labels[((x - 362) / 110.0) ** 2 + ((y - 256) / 160.0) ** 2 + ((z - 150) / 130.0) ** 2 <= 1] = 2
    for cx, cy, cz, r in ((150, 200, 100, 12), (362, 300, 200, 6), (140, 300, 180, 3)):
        labels[((x - cx) * sp[0]) ** 2 + ((y - cy) * sp[1]) ** 2 + ((z - cz) * sp[2]) ** 2 <= r * r] = 7
    return labels, sp


def child(repeats: int) -> None:
    import numpy as np

    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.risk.image_inputs import derive_nodule_inputs

    labels, sp = label_map()
    vol = Volume(np.zeros(labels.shape, np.int16), sp, (0.0, 0.0, 0.0), np.eye(3), metadata={"patient_age": "060Y"})
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = derive_nodule_inputs(vol, labels)
        times.append(time.perf_counter() - t)
    print(json.dumps({"times": times, "values": {k: [v.value, v.detail] for k, v in out.items()}}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3, help="child processes per tree (alternating)")
    ap.add_argument("--baseline", help="another checkout to time alternately (before/after ratio)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.repeats)
        return
    trees = {"this": ROOT}
    if args.baseline:
        trees = {"baseline": Path(args.baseline).resolve(), "this": ROOT}
    times: dict[str, list[float]] = {k: [] for k in trees}
    values: dict[str, dict] = {}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "--repeats", str(args.repeats)],
                                 capture_output=True, text=True, check=True, cwd=tree,
                                 env={**os.environ, "PYTHONPATH": str(tree)})
            got = json.loads(out.stdout)
            times[name] += got["times"]
            values[name] = got["values"]
    report = {name: {"median_s": round(statistics.median(t), 4), "min_s": round(min(t), 4), "calls": len(t)}
              for name, t in times.items()}
    if "baseline" in trees:
        report["ratio_baseline_over_this"] = round(statistics.median(times["baseline"]) / statistics.median(times["this"]), 2)
        report["same_values_as_baseline"] = values["baseline"] == values["this"]
    print(f"derive_nodule_inputs 512x512x300: median {report['this']['median_s']:.3f} s")
    print(json.dumps(report, indent=1))
    print(values["this"])


if __name__ == "__main__":
    main()
