"""Classify every nodule after a segmentation: is the segmentation reused? (issue 18 target: <= 5 s).

    PYTHONPATH=$PWD python benchmarks/bench_ai_reuse.py [--repeats 3] [--baseline DIR] [--report]

The GUI's path, in a child process per tree: load the demo study, run ``meddiag.chest-ct-seg``
through ``workflow.run_ai``, then time ``meddiag.nodule-type`` on the same study twice:
``cold`` (its worker process starts then) and ``warm`` (a spare worker started after the
segmentation has imported torch, as the AI panel keeps one). Counts the worker processes
each classification started (1 when the segmentation is reused, 2 when it runs again).
``--report`` also times ``meddiag report`` with both plugins, end to end (new process).
``--baseline DIR``: another checkout (``git archive <commit> | tar -x -C DIR``), run
alternately with this one; the ratio of the medians is printed.
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

ROOT = Path(__file__).resolve().parent.parent
SEG, CLS = "meddiag.chest-ct-seg", "meddiag.nodule-type"


def child() -> None:
    import inspect

    from meddiag_desktop.ai import isolation
    from meddiag_desktop.ai.discovery import find_plugin
    from meddiag_desktop.demo import demo_study_dir
    from meddiag_desktop.io import load
    from meddiag_desktop.workflow import run_ai

    started = []
    real = isolation.WorkerProcess

    class Counting(real):
        def __init__(self, *a, **k):
            started.append(1)
            super().__init__(*a, **k)

    isolation.WorkerProcess = Counting
    volume = load(demo_study_dir() / "dicom")
    seg_info, cls_info = find_plugin(SEG), find_plugin(CLS)
    kw = dict(via="bench", device="cpu")
    t = time.perf_counter()
    run_ai(seg_info, volume, **kw)
    seg_s = time.perf_counter() - t
    out = {"segmentation_s": seg_s, "has_cache": "cache" in inspect.signature(run_ai).parameters}
    for mode in ("cold", "warm"):
        worker = None
        if mode == "warm":  # the AI panel's spare: started after the last run, torch imported by now
            worker = Counting()
            deadline = time.monotonic() + 300
            while not worker._conn.poll(0.05) and time.monotonic() < deadline:
                pass
        before = len(started)
        t = time.perf_counter()
        run = run_ai(cls_info, volume, worker=worker, **kw)
        out[f"classify_{mode}_s"] = time.perf_counter() - t
        out[f"classify_{mode}_workers"] = len(started) - before
        out["nodules"] = len(run.result.findings)
        out["classes"] = [f.top_class for f in run.result.findings]
        if "cache" in inspect.signature(run_ai).parameters:  # the second classification would be a cache hit
            from meddiag_desktop.workflow.result_cache import SESSION_CACHE

            SESSION_CACHE._runs.pop(next(k for k in SESSION_CACHE._runs if k.plugin_id == CLS), None)
    print(json.dumps(out))


def run_tree(tree: Path, args) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child"], capture_output=True, text=True,
                         cwd=tree, env=env)
    if out.returncode != 0:
        sys.exit(f"child failed in {tree}: {out.stderr[-3000:]}")
    got = json.loads(out.stdout.strip().splitlines()[-1])
    if args.report:
        from meddiag_desktop.demo import demo_study_dir

        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            rep = subprocess.run([sys.executable, "-m", "meddiag_desktop", "report", str(demo_study_dir() / "dicom"),
                                  "--out", str(Path(tmp) / "r"), "--plugin", SEG, "--plugin", CLS, "--device", "cpu"],
                                 capture_output=True, text=True, cwd=tree, env=env)
            got["report_both_plugins_s"] = time.perf_counter() - t
            if rep.returncode != 0:
                sys.exit(f"meddiag report failed in {tree}: {rep.stderr[-3000:]}")
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline", help="another checkout to run alternately (before/after ratio)")
    ap.add_argument("--report", action="store_true", help="also time 'meddiag report' with both plugins")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child()
        return
    sys.path.insert(0, str(ROOT))
    trees = {"this": ROOT}
    if args.baseline:
        trees = {"baseline": Path(args.baseline).resolve(), "this": ROOT}
    runs: dict[str, list[dict]] = {k: [] for k in trees}
    for i in range(args.repeats):
        for name, tree in trees.items():
            runs[name].append(run_tree(tree, args))
            print(f"run {i + 1} {name}: " + json.dumps({k: round(v, 2) if isinstance(v, float) else v
                                                      for k, v in runs[name][-1].items()}), flush=True)
    keys = ["segmentation_s", "classify_cold_s", "classify_warm_s"] + (["report_both_plugins_s"] if args.report else [])
    report = {name: {k + "_median": round(statistics.median(r[k] for r in rs), 2) for k in keys}
              for name, rs in runs.items()}
    for name, rs in runs.items():
        report[name]["workers_per_classification"] = rs[-1]["classify_cold_workers"]
        report[name]["nodules"] = rs[-1]["nodules"]
    if "baseline" in trees:
        report["ratio_baseline_over_this"] = {k: round(report["baseline"][k + "_median"] / report["this"][k + "_median"], 2)
                                              for k in keys}
        report["same_classes"] = runs["baseline"][-1]["classes"] == runs["this"][-1]["classes"]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
