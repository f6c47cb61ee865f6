"""End-to-end CPU time of the bundled segmentation plugin on the demo study (target: < 30 s on 2 cores).

    python benchmarks/bench_ai_cpu.py [--repeats 3] [--cores 2]

Runs ``meddiag infer meddiag.chest-ct-seg <demo study> --device cpu --json`` as a
user would (new process each time: load the DICOM series, start the isolated
worker, resample to the model grid, sliding-window inference, resample back,
write the NIfTI), pinned to ``--cores`` CPU cores, and prints the wall time, the
runner's own breakdown and the Dice of each label against the demo ground truth.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--plugin", default="meddiag.chest-ct-seg")
    args = ap.parse_args()

    from meddiag_desktop.demo import demo_ground_truth, demo_study_dir

    study = demo_study_dir() / "dicom"
    truth, _ = demo_ground_truth()
    cores = sorted(os.sched_getaffinity(0))[: args.cores]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.cores), "MKL_NUM_THREADS": str(args.cores)}
    walls, last = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            cmd = [sys.executable, "-m", "meddiag_desktop", "infer", args.plugin, str(study), "--out", tmp,
                   "--device", "cpu", "--json"]
            t = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                                 preexec_fn=lambda: os.sched_setaffinity(0, cores))
            walls.append(time.perf_counter() - t)
            if out.returncode != 0:
                sys.exit(f"infer failed: {out.stderr[-2000:]}")
            last = json.loads(out.stdout)
            print(f"run {i + 1}: {walls[-1]:.1f} s wall  {last['timings']}", flush=True)
        import SimpleITK as sitk

        labels = sitk.GetArrayFromImage(sitk.ReadImage(last["outputs"][0]))
    dice = {}
    for value, name in last["labels"].items():
        a, b = labels == int(value), truth == int(value)
        if b.any():
            dice[name] = round(float(2 * (a & b).sum() / (a.sum() + b.sum())), 3)
    print(json.dumps({
        "cores": len(cores),
        "wall_s_median": round(statistics.median(walls), 2),
        "wall_s_all": [round(w, 2) for w in walls],
        "breakdown_last": last["timings"],
        "dice_demo_study": dice,
        "volumes_ml": last["volumes_ml"],
    }, indent=1))


if __name__ == "__main__":
    main()
