"""Start-up time to the rendered demo: ``meddiag --demo --screenshot`` as a subprocess, median of N.

    xvfb-run -a -s "-screen 0 1920x1200x24" .venv/bin/python benchmarks/bench_startup.py [--runs 3]

One warm-up run first (it generates the demo study into the user cache if
needed and warms the page cache). Each timed run is a fresh process; the time
is from spawning it to its exit after the PNG is saved. Also prints the CPU
time the process used (useful when the machine is shared) and checks that
torch and monai were not imported (``MEDDIAG_REPORT_MODULES``).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(out: Path) -> tuple[float, float, str]:
    env = dict(os.environ, MEDDIAG_REPORT_MODULES="1", MEDDIAG_TRACE="1", PYTHONPATH=str(ROOT))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "meddiag_desktop", "--demo", "--screenshot", str(out)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"meddiag exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return wall, cpu, proc.stderr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not os.environ.get("DISPLAY"):
        print("needs an X display: run under xvfb-run (see the docstring)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo.png"
        run_once(out)  # warm-up: demo generation, page cache
        walls, cpus = [], []
        heavy_ok = True
        for i in range(args.runs):
            wall, cpu, err = run_once(out)
            walls.append(wall)
            cpus.append(cpu)
            m = re.search(r"MEDDIAG_MODULES heavy_imported=(\S+)", err)
            heavy = m.group(1) if m else "unknown"
            heavy_ok &= heavy == "none"
            trace = " | ".join(line.split(" ", 1)[1] for line in err.splitlines() if line.startswith("MEDDIAG_TRACE"))
            print(f"run {i + 1}: {wall:.2f} s wall, {cpu:.2f} s CPU, torch/monai imported: {heavy}")
            print(f"    {trace}")
    med = statistics.median(walls)
    print(f"median start-up to rendered demo: {med:.2f} s wall ({statistics.median(cpus):.2f} s CPU); target < 3 s")
    print("torch/monai not imported at start-up" if heavy_ok else "FAIL: torch or monai imported at start-up")
    return 0 if (med < 3.0 and heavy_ok) else 1


if __name__ == "__main__":
    sys.exit(main())
