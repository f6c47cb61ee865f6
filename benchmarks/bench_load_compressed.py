"""Compressed series (JPEG 2000 lossless, 512x512xN CT): time to the first slice, total, vs SimpleITK.

    python benchmarks/bench_load_compressed.py [--slices 100] [--repeats 5]

Writes a synthetic CT series (once, into a temporary folder) and compresses
every file with pydicom's JPEG 2000 lossless encoder (OpenJPEG, through
pylibjpeg-openjpeg). Then, in one run, alternates

* ours, progressive: ``load(folder, on_partial=...)``; the time to the first
  callback (the first slice decoded, the one at the view's position) and the
  total;
* ours, plain ``load(folder)`` (no callbacks);
* SimpleITK's ImageSeriesReader (GDCM + OpenJPEG) on the same files;

checks that all three give the same voxels, and prints every run, the medians
and the ratios. The decode pool is started before the timed runs (the app
starts it while the window opens); the cold first load is printed apart.
CPU seconds (this process plus the decode processes, from /proc) are printed
too: on a machine shared with other work the wall-time ratio says little, the
CPU ratio says how much work each reader does per slice.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_series(folder: Path, slices: int) -> None:
    """A 512x512 CT (body ellipse plus noise, stored = HU + 1024), each file JPEG 2000 lossless."""
    if (folder / "done").exists():
        return
    import pydicom
    from pydicom.uid import JPEG2000Lossless

    from meddiag_desktop.io.dicom_write import write_series

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:512, :512]
    body = ((xx - 256) ** 2 / 200**2 + (yy - 256) ** 2 / 160**2) < 1
    base = np.where(body, 1064, 24).astype(np.int16)
    arr = np.repeat(base[None], slices, axis=0) + rng.integers(0, 40, size=(slices, 512, 512), dtype=np.int16)
    paths = write_series(arr, folder, spacing=(0.7, 0.7, 1.0), rescale_intercept=-1024,
                         file_names=[f"IM{k:05d}.dcm" for k in range(slices)])
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.compress(JPEG2000Lossless)
        ds.save_as(p)
    (folder / "done").write_text("ok")


def simpleitk(folder: Path):
    import SimpleITK as sitk

    r = sitk.ImageSeriesReader()
    r.SetFileNames(r.GetGDCMSeriesFileNames(str(folder)))
    return r.Execute()


def ours_progressive(folder: Path) -> tuple[np.ndarray, float, int]:
    """(volume, seconds to the first partial callback, number of callbacks)."""
    from meddiag_desktop.io import load

    t0 = time.perf_counter()
    first: list[float] = []
    calls = [0]

    def on_partial(vol, filled) -> None:
        calls[0] += 1
        if not first:
            first.append(time.perf_counter() - t0)

    vol = load(folder, on_partial=on_partial)
    return vol.array, (first[0] if first else float("nan")), calls[0]


def workers_cpu() -> float:
    """CPU seconds used so far by the decode pool's processes (user + system, from /proc)."""
    from meddiag_desktop.io import decode_pool

    pool = getattr(decode_pool, "_pool", None)
    total = 0.0
    for pid in list(getattr(pool, "_processes", None) or {}):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def cpu_now() -> float:
    """CPU seconds of this process (all threads) plus the decode processes."""
    return time.process_time() + workers_cpu()


def ours_plain(folder: Path) -> np.ndarray:
    from meddiag_desktop.io import load

    return load(folder).array


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--slices", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--folder", default=str(Path(tempfile.gettempdir()) / "meddiag_bench_j2k"))
    args = ap.parse_args()
    folder = Path(args.folder) / f"s{args.slices}"
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    make_series(folder, args.slices)
    size = sum(p.stat().st_size for p in folder.glob("*.dcm"))
    print(f"series: 512x512x{args.slices} CT, JPEG 2000 lossless, {size / 2**20:.1f} MiB in {folder} "
          f"(ready in {time.perf_counter() - t:.1f} s)")
    import inspect

    from meddiag_desktop.io import load
    from meddiag_desktop.io import decode_pool

    progressive = "on_partial" in inspect.signature(load).parameters  # False on the code before issue 18
    workers = decode_pool.pool_size() if hasattr(decode_pool, "pool_size") else decode_pool._workers()
    t = time.perf_counter()
    cold, cold_first, _ = ours_progressive(folder) if progressive else (ours_plain(folder), float("nan"), 0)
    print(f"cold first load (decode pool started inside): total {time.perf_counter() - t:.2f} s, first slice {cold_first:.2f} s; "
          f"{workers} decode processes on {os.cpu_count()} CPU(s)")
    import SimpleITK as sitk

    ref = sitk.GetArrayFromImage(simpleitk(folder))
    assert np.array_equal(cold, ref), "our volume differs from SimpleITK's"
    assert np.array_equal(ours_plain(folder), ref)
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    times: dict[str, list[float]] = {"ours total": [], "ours first": [], "ours plain": [], "simpleitk": []}
    cpu: dict[str, list[float]] = {"ours plain": [], "simpleitk": []}
    calls = []
    if not progressive:
        del times["ours total"], times["ours first"]
    for _ in range(args.repeats):
        if progressive:
            t = time.perf_counter()
            _, first, n = ours_progressive(folder)
            times["ours total"].append(time.perf_counter() - t)
            times["ours first"].append(first)
            calls.append(n)
        t, c = time.perf_counter(), cpu_now()
        ours_plain(folder)
        times["ours plain"].append(time.perf_counter() - t)
        cpu["ours plain"].append(cpu_now() - c)
        t, c = time.perf_counter(), cpu_now()
        simpleitk(folder)
        times["simpleitk"].append(time.perf_counter() - t)
        cpu["simpleitk"].append(cpu_now() - c)
    for name, ts in times.items():
        print(f"{name:>11}: " + " ".join(f"{x:.3f}" for x in ts) + f"  median {statistics.median(ts):.3f} s")
    for name, ts in cpu.items():
        print(f"{name + ' CPU':>15}: " + " ".join(f"{x:.3f}" for x in ts) + f"  median {statistics.median(ts):.3f} CPU-s "
              f"({statistics.median(ts) / args.slices * 1000:.1f} ms per slice, decode processes included)")
    med = {k: statistics.median(v) for k, v in times.items()}
    cmed = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"CPU work ours / SimpleITK (median): {cmed['ours plain'] / cmed['simpleitk']:.2f}x. SimpleITK (GDCM) decodes each "
          "image with OpenJPEG's threads (one per core), so on idle cores the wall-time speed-up is bounded by "
          f"about SimpleITK's CPU / ours: {cmed['simpleitk'] / cmed['ours plain']:.2f}x")
    if progressive:
        print(f"partial callbacks per load: {statistics.median(calls):.0f}")
        print(f"first slice (median): {med['ours first']:.3f} s  (target <= 0.5 s)")
        print(f"speed-up vs SimpleITK, progressive load (median): {med['simpleitk'] / med['ours total']:.2f}x  (target >= 1.5x)")
    else:
        print("this version has no progressive loading: nothing is shown before the end")
    print(f"speed-up vs SimpleITK, plain load (median): {med['simpleitk'] / med['ours plain']:.2f}x")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
