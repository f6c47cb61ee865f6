"""Load speed and memory of a 512x512xN uncompressed CT series: ours vs SimpleITK (GDCM).

    python benchmarks/bench_load.py [--slices 600] [--repeats 5]

Writes a synthetic series (once, into a temporary folder), warms the page
cache, then alternates our loader and SimpleITK's ImageSeriesReader in the same
process, printing each run, the medians and the ratio. Peak extra memory is
measured per loader in a fresh subprocess (ru_maxrss minus the baseline after
imports) and compared with the size of the int16 volume.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_series(folder: Path, slices: int) -> None:
    from meddiag_desktop.io.dicom_write import write_series

    if (folder / "done").exists():
        return
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:512, :512]
    body = ((xx - 256) ** 2 / 200**2 + (yy - 256) ** 2 / 160**2) < 1
    base = np.where(body, 1064, 24).astype(np.uint16)  # stored = HU + 1024
    chunk = 50
    for start in range(0, slices, chunk):
        n = min(chunk, slices - start)
        arr = np.repeat(base[None], n, axis=0) + rng.integers(0, 40, size=(n, 512, 512), dtype=np.uint16)
        write_series(arr.astype(np.uint16), folder, spacing=(0.7, 0.7, 1.0), origin=(0, 0, start * 1.0),
                     rescale_intercept=-1024, series_uid="1.2.826.0.1.3680043.8.498.1", study_uid="1.2.826.0.1.3680043.8.498.2",
                     frame_of_reference_uid="1.2.826.0.1.3680043.8.498.3",
                     file_names=[f"IM{start + k:05d}.dcm" for k in range(n)])
    (folder / "done").write_text("ok")


def ours(folder: Path) -> np.ndarray:
    from meddiag_desktop.io import load

    return load(folder).array


def simpleitk(folder: Path):
    """SimpleITK's image (its pixel buffer is the volume; no numpy copy is made)."""
    import SimpleITK as sitk

    r = sitk.ImageSeriesReader()
    r.SetFileNames(r.GetGDCMSeriesFileNames(str(folder)))
    return r.Execute()


_MEM_SCRIPT = r"""
import sys, json, gc
sys.path.insert(0, {root!r})
import numpy as np, SimpleITK, pydicom
from meddiag_desktop.io import load
import benchmarks.bench_load as b
from pathlib import Path
def hwm():
    # VmHWM (peak RSS of this process image): ru_maxrss would carry the parent's peak across exec
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
gc.collect()
base = hwm()
out = getattr(b, {which!r})(Path({folder!r}))
peak = hwm()
shape = out.shape if hasattr(out, "shape") else out.GetSize()
print(json.dumps({{"extra": peak - base, "nbytes": int(np.prod(shape)) * 2}}))
"""


def peak_memory(which: str, folder: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _MEM_SCRIPT.format(root=str(ROOT), which=which, folder=str(folder))],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--slices", type=int, default=600)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--folder", default=str(Path(tempfile.gettempdir()) / "meddiag_bench_ct"))
    args = ap.parse_args()
    folder = Path(args.folder) / f"s{args.slices}"
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    make_series(folder, args.slices)
    print(f"series: 512x512x{args.slices} uncompressed int16 in {folder} (ready in {time.perf_counter() - t:.1f} s)")
    import SimpleITK as sitk

    a, img = ours(folder), simpleitk(folder)  # warm the page cache, and check they agree
    assert np.array_equal(a, sitk.GetArrayViewFromImage(img)), "our volume differs from SimpleITK's"
    del a, img
    times = {"ours": [], "simpleitk": []}
    for _ in range(args.repeats):
        for name, fn in (("ours", ours), ("simpleitk", simpleitk)):
            t = time.perf_counter()
            arr = fn(folder)
            times[name].append(time.perf_counter() - t)
            del arr
    for name, ts in times.items():
        print(f"{name:>10}: " + " ".join(f"{x:.2f}" for x in ts) + f"  median {statistics.median(ts):.2f} s")
    ratio = statistics.median(times["simpleitk"]) / statistics.median(times["ours"])
    print(f"speed-up vs SimpleITK (median): {ratio:.2f}x  (target >= 2x)")
    for which in ("ours", "simpleitk"):
        m = peak_memory(which, folder)
        print(f"{which:>10}: peak extra memory {m['extra'] / 2**20:.0f} MiB = {m['extra'] / m['nbytes']:.2f}x the int16 volume "
              f"({m['nbytes'] / 2**20:.0f} MiB)" + ("  (target <= 1.5x)" if which == "ours" else ""))


if __name__ == "__main__":
    main()
