"""End-to-end CPU time of the bundled segmentation plugin on the demo study (issue 18 target: <= 10 s on 2 cores).

    python benchmarks/bench_ai_cpu.py [--repeats 3] [--cores 2] [--baseline DIR] [--phantom SEED]

Runs ``meddiag infer meddiag.chest-ct-seg <demo study> --device cpu --json`` as a
user would (new process each time: load the DICOM series, start the isolated
worker, resample to the model grid, sliding-window inference, resample back,
write the NIfTI), pinned to ``--cores`` CPU cores, and prints the wall time, the
runner's own breakdown and the Dice of each label against the demo ground truth.

``--baseline DIR``: another checkout (e.g. ``git archive <commit> | tar -x -C DIR``) run
the same way, alternating with this one, so both see the same load; prints both
medians, the ratio, the CPU seconds (user + system of the processes, which a
shared machine inflates less than the wall time) and whether the label maps are
identical voxel for voxel.

``--phantom SEED``: run on a random chest phantom (``PhantomParams.random(SEED)``, written
as a DICOM series into a temporary folder) instead of the demo study; the Dice is
against that phantom's labels.

The breakdown (medians over the runs): ``load_s`` the study read by the CLI,
``resample_in_s`` the model grid and normalisation, ``infer_s`` the sliding window,
``postprocess_s`` and ``resample_out_s`` (with the label statistics) in the worker, and
``rest_s``: the wall time not in those stages (interpreter start, imports, the worker's
start and torch import as far as they do not overlap the load, the hand-over of the
arrays, findings, the NIfTI written, exit).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
    ap.add_argument("--baseline", help="another checkout to run alternately (before/after ratio)")
    ap.add_argument("--phantom", type=int, metavar="SEED", help="a random chest phantom instead of the demo study")
    args = ap.parse_args()

    from meddiag_desktop.demo import demo_ground_truth, demo_study_dir

    phantom_dir = None
    if args.phantom is not None:
        from meddiag_desktop.demo._study import generate_study, read_ground_truth
        from meddiag_desktop.demo.phantom import PhantomParams

        phantom_dir = tempfile.TemporaryDirectory(prefix="bench-phantom-")
        root = generate_study(Path(phantom_dir.name) / "study", PhantomParams.random(args.phantom))
        study = root / "dicom"
        truth, _ = read_ground_truth(root)
    else:
        study = demo_study_dir() / "dicom"
        truth, _ = demo_ground_truth()
    cores = sorted(os.sched_getaffinity(0))[: args.cores]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.cores), "MKL_NUM_THREADS": str(args.cores)}
    trees = {"this": ROOT}
    if args.baseline:
        trees = {"baseline": Path(args.baseline).resolve(), "this": ROOT}
    walls: dict[str, list[float]] = {k: [] for k in trees}
    cpus: dict[str, list[float]] = {k: [] for k in trees}
    last: dict[str, dict] = {}
    stages: dict[str, list[dict]] = {k: [] for k in trees}
    labels: dict[str, np.ndarray] = {}
    import SimpleITK as sitk

    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for name, tree in trees.items():
                out_dir = Path(tmp) / name
                cmd = [sys.executable, "-m", "meddiag_desktop", "infer", args.plugin, str(study), "--out",
                       str(out_dir), "--device", "cpu", "--json"]
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                out = subprocess.run(cmd, capture_output=True, text=True, cwd=tree,
                                     env={**env, "PYTHONPATH": str(tree)},
                                     preexec_fn=lambda: os.sched_setaffinity(0, cores))
                walls[name].append(time.perf_counter() - t)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
                if out.returncode != 0:
                    sys.exit(f"infer failed ({name}): {out.stderr[-2000:]}")
                last[name] = json.loads(out.stdout)
                stages[name].append(_stages(last[name]["timings"], walls[name][-1]))
                print(f"run {i + 1} {name}: {walls[name][-1]:.1f} s wall, {cpus[name][-1]:.1f} s CPU  "
                      f"{last[name]['timings']}", flush=True)
            for name in trees:
                labels[name] = sitk.GetArrayFromImage(sitk.ReadImage(last[name]["outputs"][0]))
    mine = last["this"]
    dice = {}
    for value, name in mine["labels"].items():
        a, b = labels["this"] == int(value), truth == int(value)
        if b.any():
            dice[name] = round(float(2 * (a & b).sum() / (a.sum() + b.sum())), 3)
    report = {
        "study": str(study) if args.phantom is None else f"phantom seed {args.phantom}",
        "cores": len(cores),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "wall_s_median": round(statistics.median(walls["this"]), 2),
        "wall_s_all": [round(w, 2) for w in walls["this"]],
        "cpu_s_median": round(statistics.median(cpus["this"]), 2),
        "breakdown_median": _median_stages(stages["this"]),
        "breakdown_last": mine["timings"],
        "dice": dice,
        "volumes_ml": mine["volumes_ml"],
    }
    if "baseline" in trees:
        report["baseline"] = {
            "tree": str(trees["baseline"]),
            "wall_s_median": round(statistics.median(walls["baseline"]), 2),
            "wall_s_all": [round(w, 2) for w in walls["baseline"]],
            "cpu_s_median": round(statistics.median(cpus["baseline"]), 2),
            "breakdown_median": _median_stages(stages["baseline"]),
            "breakdown_last": last["baseline"]["timings"],
        }
        report["ratio_wall_baseline_over_this"] = round(statistics.median(walls["baseline"]) / statistics.median(walls["this"]), 2)
        report["ratio_cpu_baseline_over_this"] = round(statistics.median(cpus["baseline"]) / statistics.median(cpus["this"]), 2)
        same = bool(np.array_equal(labels["baseline"], labels["this"]))
        report["labels_identical_to_baseline"] = same
        report["labels_differing_voxels"] = int((labels["baseline"] != labels["this"]).sum())
        report["max_stat_difference"] = _max_stat_difference(last["baseline"]["stats"], mine["stats"])
        report["warnings_identical"] = last["baseline"]["warnings"] == mine["warnings"]
    print(json.dumps(report, indent=1))
    if "baseline" in trees:
        print("labels identical" if same else f"labels DIFFER in {report['labels_differing_voxels']} voxels")
    if phantom_dir is not None:
        phantom_dir.cleanup()


_STAGES = ("load_s", "load_model_s", "resample_in_s", "infer_s", "postprocess_s", "resample_out_s")


def _stages(timings: dict, wall: float) -> dict:
    """The run's stages (seconds) and ``rest_s``: wall time outside them."""
    out = {k: float(timings.get(k, 0.0)) for k in _STAGES}
    out["rest_s"] = wall - sum(out.values())
    out["wall_s"] = wall
    return out


def _max_stat_difference(old: list[dict], new: list[dict]) -> float:
    """Largest absolute difference of the label statistics (voxels, mL, mean, SD, min, max) of two runs."""
    worst = 0.0
    for a, b in zip(old, new, strict=True):
        for k, v in a.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                worst = max(worst, abs(float(v) - float(b[k])))
            elif v != b[k]:
                return float("inf")
    return worst


def _median_stages(runs: list[dict]) -> dict:
    return {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}


if __name__ == "__main__":
    main()
