"""Throughput of ``meddiag batch`` on CPU (1 and 2 workers) and its overhead against a plain loop.

    python benchmarks/bench_batch.py [--studies 6] [--plugin meddiag.chest-ct-seg] [--matrix 64 --slices 32]

Generates ``--studies`` small chest CT phantoms (``--matrix`` x ``--matrix`` x
``--slices`` at 5 mm, real DICOM), then times, each as a user would run it:

* ``meddiag infer PLUGIN STUDY`` in a loop (one process per study), and
  ``meddiag report STUDY --plugin PLUGIN`` in a loop: per-study wall time, medians;
* ``meddiag batch FOLDER --plugin PLUGIN --workers 1`` and ``--workers 2`` (a fresh
  LocalCluster each): wall time including the cluster start, studies per minute,
  and the median of each study's own time as the batch records it.

The engine's overhead per study is ``batch(1 worker) wall / N - median(report loop)``
(cluster start, header scan, staging, marker, SR read back, tables, spread over the
studies) and, without the start-up, ``median(batch study time) - median(report loop)``.
The scaling ratio is ``studies/min with 2 workers / studies/min with 1 worker``.
Wall times depend on whatever else the machine runs (the load average is recorded);
CPU seconds of each command's whole process tree do not, so the overhead is also
given in CPU seconds per study (batch CPU / N - median report CPU).
Prints one JSON object (``--json FILE`` also writes it).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _make_studies(root: Path, n: int, matrix: int, slices: int) -> list[Path]:
    import numpy as np

    from meddiag_desktop.demo.phantom import PhantomParams, make_chest_phantom
    from meddiag_desktop.io.dicom_write import write_series

    out = []
    for i in range(n):
        p = make_chest_phantom(PhantomParams(matrix_size=(matrix, matrix), n_slices=slices, pixel_spacing_mm=5.0,
                                             slice_spacing_mm=5.0, seed=100 + i))
        folder = root / f"study{i:03d}"
        write_series((p.hu + 1024).astype(np.uint16), folder, spacing=p.spacing, origin=p.origin,
                     direction=p.direction, rescale_intercept=-1024.0, patient_id=f"BENCH{i:03d}")
        out.append(folder)
    return out


CPU: list[float] = []  #: CPU seconds (user + system) of the last command's whole process tree


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(cmd: list[str]) -> float:
    """Wall seconds of ``cmd``; its CPU seconds (every descendant reaped: workers, report and plugin processes)
    go to :data:`CPU`, a figure that other load on the machine does not inflate."""
    cpu = _children_cpu()
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])}... failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    wall = time.perf_counter() - t
    CPU.append(_children_cpu() - cpu)
    return wall


def _loop(kind: str, studies: list[Path], plugin: str, tmp: Path) -> tuple[list[float], list[float]]:
    times, cpu = [], []
    for i, s in enumerate(studies):
        out = tmp / f"{kind}-{i}"
        if kind == "infer":
            cmd = [sys.executable, "-m", "meddiag_desktop", "infer", plugin, str(s), "--out", str(out), "--device", "cpu"]
        else:
            cmd = [sys.executable, "-m", "meddiag_desktop", "report", str(s), "--out", str(out), "--plugin", plugin,
                   "--device", "cpu"]
        times.append(_run(cmd))
        cpu.append(CPU[-1])
    return times, cpu


def _batch(root: Path, plugin: str, workers: int, tmp: Path) -> dict:
    out = tmp / f"batch-{workers}"
    wall = _run([sys.executable, "-m", "meddiag_desktop", "batch", str(root), "--plugin", plugin, "--out", str(out),
                 "--workers", str(workers), "--device", "cpu"])
    with open(out / "studies.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    done = [float(r["seconds"]) for r in rows if r["status"] == "done"]
    return {"workers": workers, "wall_s": round(wall, 2), "studies": len(done),
            "studies_per_min": round(60 * len(done) / wall, 2),
            "median_study_s": round(statistics.median(done), 2),
            "cpu_s_per_study": round(CPU[-1] / max(len(done), 1), 2), "load_average_1min": round(os.getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--studies", type=int, default=6)
    ap.add_argument("--plugin", default="meddiag.chest-ct-seg")
    ap.add_argument("--matrix", type=int, default=64)
    ap.add_argument("--slices", type=int, default=32)
    ap.add_argument("--json", metavar="FILE", help="also write the result here")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp_s:
        tmp = Path(tmp_s)
        os.environ.setdefault("MEDDIAG_AUDIT_LOG", str(tmp / "audit.log"))
        studies = _make_studies(tmp / "studies", args.studies, args.matrix, args.slices)
        infer, infer_cpu = _loop("infer", studies, args.plugin, tmp)
        report, report_cpu = _loop("report", studies, args.plugin, tmp)
        one = _batch(tmp / "studies", args.plugin, 1, tmp)
        two = _batch(tmp / "studies", args.plugin, 2, tmp)
    med_report = statistics.median(report)
    result = {
        "studies": args.studies, "plugin": args.plugin, "study_shape_zyx": [args.slices, args.matrix, args.matrix],
        "cpu_cores": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
        "infer_loop_median_s": round(statistics.median(infer), 2),
        "infer_loop_median_cpu_s": round(statistics.median(infer_cpu), 2),
        "report_loop_median_s": round(med_report, 2),
        "report_loop_median_cpu_s": round(statistics.median(report_cpu), 2),
        "report_loop_studies_per_min": round(60 / med_report, 2),
        "batch_1_worker": one, "batch_2_workers": two,
        "scaling_ratio_2_vs_1": round(two["studies_per_min"] / one["studies_per_min"], 2),
        "overhead_per_study_s_incl_start": round(one["wall_s"] / args.studies - med_report, 2),
        "overhead_per_study_s_excl_start": round(one["median_study_s"] - med_report, 2),
        "overhead_per_study_cpu_s_1_worker": round(one["cpu_s_per_study"] - statistics.median(report_cpu), 2),
        "overhead_per_study_cpu_s_2_workers": round(two["cpu_s_per_study"] - statistics.median(report_cpu), 2),
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
