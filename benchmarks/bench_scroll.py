"""Slice-scrolling speed of each 2D view in the real main window (run under Xvfb, CPU rendering).

    xvfb-run -a -s "-screen 0 1920x1200x24" .venv/bin/python benchmarks/bench_scroll.py [--slices 100]

Opens a synthetic 512x512x300 int16 CT in the viewer, then for each view
steps the slice N times; each step forces a render of the scrolled view
("view" fps: median of the per-step times), then runs the event loop so the
linked views redraw their crosshair as they do in the app (throttled, see
``slice_widget.LINKED_REDRAW_MS``); "with linked views" is N / total time.
Also prints the process CPU time per step (all threads), for the scrolled view's
frame and for the whole step with the linked views' redraws and the event loop,
and the frames drawn per step (by every view): these stay meaningful when other
jobs share the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def synthetic_ct(nx: int = 512, ny: int = 512, nz: int = 300):
    from meddiag_desktop.core import Volume

    y, x = np.mgrid[0:ny, 0:nx]
    body = ((x - nx / 2) / (0.42 * nx)) ** 2 + ((y - ny / 2) / (0.32 * ny)) ** 2 < 1
    lungs = (((x - 0.32 * nx) / (0.12 * nx)) ** 2 + ((y - 0.47 * ny) / (0.2 * ny)) ** 2 < 1) | (
        ((x - 0.68 * nx) / (0.12 * nx)) ** 2 + ((y - 0.47 * ny) / (0.2 * ny)) ** 2 < 1
    )
    plane = np.where(body, 40, -1000).astype(np.int16)
    plane[lungs] = -850
    rng = np.random.default_rng(0)
    arr = np.empty((nz, ny, nx), np.int16)
    for k in range(nz):
        arr[k] = plane + rng.integers(-20, 20, size=(ny, nx), dtype=np.int16)
    meta = {"modality": "CT", "units": "HU", "patient_name": "Bench^Scroll", "series_description": "512x512x300"}
    return Volume(arr, spacing=(0.7, 0.7, 1.0), origin=(-179.0, -179.0, -300.0), metadata=meta)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=100)
    ap.add_argument("--size", default="1400x900")
    ap.add_argument("--slab", default="", help="thick slab while scrolling: mip, minip or mean, e.g. mip:10 (MIP over 10 mm)")
    ap.add_argument("--views", default="axial,coronal,sagittal", help="views to scroll, comma-separated")
    ap.add_argument("--no-panels", action="store_true",
                    help="scroll before the AI and risk panels are built (they are built when the reader "
                         "first pauses; by default they are built first, as after any pause)")
    args = ap.parse_args()
    os.environ.setdefault("MEDDIAG_CONFIG_DIR", str(Path("/tmp/meddiag-bench-config")))
    # a run killed mid-way leaves its session "not closed normally": never wait on the restore question
    os.environ.setdefault("MEDDIAG_RESTORE_SESSION", "no")
    from PySide6.QtWidgets import QApplication

    from meddiag_desktop.qt.main_window import MainWindow
    from meddiag_desktop.qt.theme import apply_dark_theme

    app = QApplication.instance() or QApplication([])
    apply_dark_theme(app)
    win = MainWindow()
    w, h = (int(v) for v in args.size.split("x"))
    win.resize(w, h)
    win.show()
    app.processEvents()
    t = time.perf_counter()
    vol = synthetic_ct()
    print(f"volume {vol.shape_xyz} made in {time.perf_counter() - t:.2f} s")
    win.show_volume(vol)
    if args.slab:
        from meddiag_desktop.core.slab import Slab

        mode, mm = args.slab.split(":")
        win.tools.slab_control.set_slab(Slab(mode, float(mm)))
        print(f"slab {win.tools.slab_control.slab().label}")
    if not args.no_panels:
        win.panels.ensure_built()  # as after the reader's first pause on a study
    for _ in range(5):
        app.processEvents()
        time.sleep(0.02)
    results = {}
    from meddiag_desktop.qt.vtk_widget import VtkWidget

    views = [w for w in win.findChildren(VtkWidget) if w.isVisible()]
    for view, widget in win.slice_widgets.items():
        if view not in args.views.split(","):
            continue
        size = f"{widget.width()}x{widget.height()}"
        view_times, cpu_times = [], []
        direction = 1
        frames0 = sum(w.render_count for w in views)
        c_start = time.process_time()
        t_start = time.perf_counter()
        for i in range(args.slices):
            if i % 50 == 0:
                direction = -direction
            t0 = time.perf_counter()
            c0 = time.process_time()
            win.state.step_slice(view, direction)
            widget.render_now()
            t1 = time.perf_counter()
            cpu_times.append(time.process_time() - c0)
            app.processEvents()  # linked views redraw their crosshair
            view_times.append(t1 - t0)
        total = time.perf_counter() - t_start
        cpu_step = 1000 * (time.process_time() - c_start) / args.slices
        frames = (sum(w.render_count for w in views) - frames0) / args.slices
        results[view] = (1 / statistics.median(view_times), args.slices / total)
        cpu_ms = 1000 * statistics.median(cpu_times)
        print(
            f"{view:9s} {size:>9s}  view {results[view][0]:6.1f} fps   with linked views {results[view][1]:6.1f} fps"
            f"   (process CPU {cpu_ms:.1f} ms per frame, {cpu_step:.1f} ms per step with linked views;"
            f" {frames:.2f} frames drawn per step)"
        )
    win.close()
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs" + ("  (busy machine: wall-clock fps understate)" if load > 1.5 else ""))
    ok = all(v[0] >= 30 for v in results.values())
    print("PASS: every view scrolls at 30+ fps" if ok else "FAIL: a view scrolls below 30 fps")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
