"""Load speed and memory of a 512x512xN uncompressed CT series: ours vs SimpleITK (GDCM).

    python benchmarks/bench_load.py [--slices 300] [--repeats 7] [--breakdown] [--skip-memory] [--rounds 8]

Writes a synthetic series (once, into a temporary folder), warms the page
cache, then alternates our loader, SimpleITK's ImageSeriesReader and the raw
read of the same files' bytes (open + read of every file in Python, once in
this process and once in a fresh one; kept; and into one new buffer, as a
loader must) in the same run, printing each run, the medians and the ratios
(issue 18's target: ours <= 2x the raw read).
``--rounds N`` repeats ours against the raw reads in N fresh processes and prints the median
of their ratios (one process's loads can run steadily 10 % faster or slower than another's).
``--breakdown`` times each stage of a load alone, on one thread, in CPU time of
that thread (where the time goes: listing, open, header read and parse,
allocation, pixel copies, rescale). CPU seconds of each reader (all threads)
are printed beside the wall times: on a machine shared with other work they stay
steady where wall times do not. Peak extra memory is
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


def dicom_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix == ".dcm")


def raw_read(files: list[Path]) -> int:
    """Open and read every file's bytes, dropping each (the reference of issue 18)."""
    n = 0
    for f in files:
        with open(f, "rb") as fh:
            n += len(fh.read())
    return n


def raw_read_kept(files: list[Path]) -> list[bytes]:
    """The same, keeping every file's bytes (fresh memory, as any loader needs)."""
    out = []
    for f in files:
        with open(f, "rb") as fh:
            out.append(fh.read())
    return out


def raw_read_into_new(files_sizes: tuple[list[Path], list[int]]) -> np.ndarray:
    """The same bytes read into one new buffer the size of all files (np.empty, as a loader's volume).

    The raw read above reuses one freed buffer, still in the CPU cache, for every file; a
    loader writes 150 MB of memory the kernel hands out fresh (each page zeroed first, then
    filled). This is the least any loader of these files does, on one thread.
    """
    files, sizes = files_sizes
    buf = np.empty(sum(sizes), np.uint8)
    view = memoryview(buf)
    offset = 0
    for f, size in zip(files, sizes):
        with open(f, "rb", buffering=0) as fh:
            offset += fh.readinto(view[offset : offset + size])
    return buf


_RAW_FRESH = r"""
import sys, time
from pathlib import Path
files = sorted(p for p in Path({folder!r}).iterdir() if p.suffix == ".dcm")
t = time.perf_counter()
for f in files:
    with open(f, "rb") as fh:
        fh.read()
print(time.perf_counter() - t)
"""


def raw_read_fresh(folder: Path) -> float:
    """Seconds the raw read takes in a fresh Python process (timed inside it, start-up excluded)."""
    out = subprocess.run([sys.executable, "-c", _RAW_FRESH.format(folder=str(folder))], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


_ROUND = r"""
import sys, time, statistics
sys.path.insert(0, {root!r})
from pathlib import Path
import benchmarks.bench_load as b
folder = Path({folder!r})
files = b.dicom_files(folder)
sizes = [f.stat().st_size for f in files]
b.ours(folder)
out = {{"ours": [], "raw": [], "raw new": []}}
for _ in range({repeats}):
    for name, fn, arg in (("ours", b.ours, folder), ("raw", b.raw_read, files), ("raw new", b.raw_read_into_new, (files, sizes))):
        t = time.perf_counter()
        x = fn(arg)
        out[name].append(time.perf_counter() - t)
        del x
print(" ".join(str(statistics.median(v)) for v in out.values()))
"""


def fresh_process_rounds(folder: Path, rounds: int, repeats: int) -> None:
    """Ours vs the raw reads, alternating, in ``rounds`` fresh processes one after the other.

    One process's loads run 5-10 ms faster or slower than another's, steadily (where its
    memory lands), so one process's median can sit on either side of 2x; the median over
    processes of each process's ratio does not.
    """
    ratios, ratios_new = [], []
    for r in range(rounds):
        out = subprocess.run([sys.executable, "-c", _ROUND.format(root=str(ROOT), folder=str(folder), repeats=repeats)],
                             capture_output=True, text=True, check=True)
        ours, raw, raw_new = (float(x) for x in out.stdout.split())
        ratios.append(ours / raw)
        ratios_new.append(ours / raw_new)
        print(f"  process {r + 1}: ours {ours * 1000:.1f} ms, raw read {raw * 1000:.1f} ms ({ours / raw:.2f}x), "
              f"raw read into new memory {raw_new * 1000:.1f} ms ({ours / raw_new:.2f}x)")
    print(f"ours / raw read, median over {rounds} processes: {statistics.median(ratios):.2f}x  (target <= 2x); "
          f"ours / raw read into new memory: {statistics.median(ratios_new):.2f}x")


def breakdown(folder: Path, repeats: int = 5) -> list[tuple[str, float]]:
    """Median seconds of each stage of a load, each timed alone on one thread."""
    from meddiag_desktop.io.dicom_header import HEAD_BYTES, read_header
    from meddiag_desktop.io.dicom_pixels import read_native_frame
    from meddiag_desktop.io.dicom_scan import group_instances, list_files
    from meddiag_desktop.io.dicom_volume import _rescale
    from meddiag_desktop.io.fast_header import parse_fast

    files = dicom_files(folder)
    rows: list[tuple[str, float]] = []

    def t(name, fn, clock=time.thread_time):
        ts = []
        for _ in range(repeats):
            start = clock()  # CPU of this thread (user + kernel): steady on a shared machine
            out = fn()
            ts.append(clock() - start)
        rows.append((name, statistics.median(ts)))
        return out

    def open_close():
        for f in files:
            with open(f, "rb"):
                pass

    t("raw read: open + read every file (reference)", lambda: raw_read(files))
    t("list the folder (os.walk, Path objects)", lambda: list_files(folder))
    t("open + close only", open_close)
    heads = t(f"open + read the first {HEAD_BYTES // 1024} KiB (old scan read)", lambda: [open(f, "rb").read(HEAD_BYTES) for f in files])
    t("open + read the first 8 KiB", lambda: [open(f, "rb").read(8192) for f in files])
    t("header parse (fast_header.parse_fast)", lambda: [parse_fast(h) for h in heads])
    hs = t("read_header: read + parse + InstanceHeader", lambda: [read_header(f) for f in files])
    insts = group_instances(hs)[0].instances
    shape = (len(insts), insts[0].rows, insts[0].columns)
    t("allocate the volume (np.empty)", lambda: np.empty(shape, np.int16))
    t("allocate + first touch of every page (page faults)", lambda: np.ones(shape, np.int16))

    def pixels():
        planes = np.empty(shape, np.int16)
        for k, i in enumerate(insts):
            read_native_frame(i, planes[k])
        return planes

    planes = t("pixels: open + seek + readinto the volume (old path, before rescale)", pixels)
    try:
        from meddiag_desktop.io.dicom_volume import _read_native_rescaled
    except ImportError:  # the code before issue 18
        pass
    else:
        t("pixels: one pass, read + intercept per cached plane (new path, incl. rescale; CPU of all threads)",
          lambda: _read_native_rescaled(insts, None, None), clock=time.process_time)
    from meddiag_desktop.io import scan

    hot = np.ones(shape, np.int16)

    def pixels_hot():
        for k, i in enumerate(insts):
            read_native_frame(i, hot[k])

    t("pixels: the same into a volume already in memory (the copy alone, no page zeroing)", pixels_hot)
    t("scan: list + every header + group (as load(folder) does; CPU of all threads)", lambda: scan(folder),
      clock=time.process_time)
    t("whole load(folder) (CPU of all threads)", lambda: ours(folder), clock=time.process_time)
    t("copy of the volume (memcpy bandwidth)", lambda: planes.copy())
    t("min + max of the volume (old rescale's range check)", lambda: (planes.min(), planes.max()))
    t("rescale: copy + _rescale (range check + intercept)", lambda: _rescale(planes.copy(), [1.0] * len(insts), [-1024.0] * len(insts)))
    return rows


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
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--breakdown", action="store_true", help="time each stage of a load alone")
    ap.add_argument("--skip-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--rounds", type=int, default=0,
                    help="also time ours against the raw reads in this many fresh processes (median of their ratios)")
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
    import os

    files = dicom_files(folder)
    raw_read(files)
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.1f}' for x in os.getloadavg())}; {os.cpu_count()} CPU(s)")
    sizes = [f.stat().st_size for f in files]
    times: dict[str, list[float]] = {"ours": [], "simpleitk": [], "raw": [], "raw kept": [], "raw new": [], "raw fresh": []}
    cpu: dict[str, list[float]] = {"ours": [], "simpleitk": [], "raw": []}
    for _ in range(args.repeats):
        for name, fn in (("ours", ours), ("simpleitk", simpleitk), ("raw", raw_read), ("raw kept", raw_read_kept),
                         ("raw new", raw_read_into_new)):
            arg = (files, sizes) if name == "raw new" else files if name.startswith("raw") else folder
            t, c = time.perf_counter(), time.process_time()
            arr = fn(arg)
            times[name].append(time.perf_counter() - t)
            if name in cpu:
                cpu[name].append(time.process_time() - c)
            del arr
        times["raw fresh"].append(raw_read_fresh(folder))
    for name, ts in times.items():
        print(f"{name:>10}: " + " ".join(f"{x:.3f}" for x in ts) + f"  median {statistics.median(ts):.3f} s")
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"speed-up vs SimpleITK (median): {med['simpleitk'] / med['ours']:.2f}x  (target >= 2x)")
    print(f"ours / raw read, same process (median): {med['ours'] / med['raw']:.2f}x  (target <= 2x)")
    print(f"ours / raw read, fresh process (median): {med['ours'] / med['raw fresh']:.2f}x")
    print(f"ours / raw read keeping the bytes (median): {med['ours'] / med['raw kept']:.2f}x")
    print(f"ours / raw read into one new buffer, the least a loader does (median): {med['ours'] / med['raw new']:.2f}x")
    for name, ts in cpu.items():
        print(f"{name + ' CPU':>14}: median {statistics.median(ts) * 1000:.1f} ms (all threads, user + kernel)")
    cmed = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"CPU work ours / raw read (median): {cmed['ours'] / cmed['raw']:.2f}x; ours / SimpleITK: {cmed['ours'] / cmed['simpleitk']:.2f}x "
          "(steady when other work shares the machine; wall-time ratios are not)")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.rounds:
        print(f"ours vs the raw reads in {args.rounds} fresh processes, {args.repeats} of each per process (medians):")
        fresh_process_rounds(folder, args.rounds, args.repeats)
    if args.breakdown:
        print("breakdown (each stage alone, one thread, median CPU time of the thread):")
        for name, sec in breakdown(folder):
            print(f"  {sec * 1000:7.1f} ms  {name}")
    if args.skip_memory:
        return
    for which in ("ours", "simpleitk"):
        m = peak_memory(which, folder)
        print(f"{which:>10}: peak extra memory {m['extra'] / 2**20:.0f} MiB = {m['extra'] / m['nbytes']:.2f}x the int16 volume "
              f"({m['nbytes'] / 2**20:.0f} MiB)" + ("  (target <= 1.5x)" if which == "ours" else ""))


if __name__ == "__main__":
    main()
