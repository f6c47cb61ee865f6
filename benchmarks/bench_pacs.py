"""Retrieve speed from a local Orthanc: C-GET, C-MOVE and WADO-RS vs dcmtk getscu/movescu; database indexing.

    python benchmarks/bench_pacs.py [--instances 1000] [--size 64] [--repeats 3] [--index 10000] [--screen]
    xvfb-run -a -s "-screen 0 1920x1200x24" python benchmarks/bench_pacs.py --screen --repeats 0 --index 0

Starts a real Orthanc (``tests/pacs/orthanc.py``: free ports, temporary storage,
DICOMweb plugin), stores one CT study of ``--instances`` single-frame
``--size``x``--size`` int16 images into it with dcmtk's ``storescu``, then
alternates, ``--repeats`` times each, in one run: our C-GET, our C-MOVE (our
C-STORE SCP as destination), our WADO-RS, dcmtk ``getscu`` and dcmtk ``movescu``
(each into an empty folder / database). Prints each run, the medians, our time
over dcmtk's, and the time to our first stored image (the viewer can show a
study's first image then). Finally indexes ``--index`` instances (in place, and
copied) into an empty database.

``--screen`` also opens the viewer (under a display, e.g. Xvfb), retrieves the
one-series study with File > Query/Retrieve (C-GET and WADO-RS) and prints when
the first image was on screen (a partial volume of what had arrived), when the
retrieve ended and when the whole series was on screen.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_study(folder: Path, n: int, size: int, patient_id: str = "BENCH0001", seed: int = 0) -> list[Path]:
    from meddiag_desktop.io.dicom_write import write_series

    rng = np.random.default_rng(seed)
    arr = rng.integers(-1000, 2000, size=(n, size, size)).astype(np.int16)
    return write_series(arr, folder, patient_id=patient_id, spacing=(0.7, 0.7, 1.0), instance_uid_seed=f"bench{seed}")


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def on_screen(pacs, tmp: Path, n: int) -> None:
    """File > Query/Retrieve in a real window: first image on screen vs retrieve ended vs whole series shown."""
    import os

    for var, sub in (("MEDDIAG_CONFIG_DIR", "config"), ("MEDDIAG_SESSION_DIR", "sessions"),
                     ("MEDDIAG_AUDIT_LOG", "audit.log")):
        os.environ[var] = str(tmp / "gui" / sub)
    os.environ["MEDDIAG_AI_PREWARM"] = "0"
    from PySide6.QtWidgets import QApplication

    from meddiag_desktop.qt.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])

    def wait(cond, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise TimeoutError("the viewer did not get there in time")
            app.processEvents()
            time.sleep(0.005)  # the pump sleeps with the GIL released, as app.exec() waits (QTest.qWait holds it)

    print(f"\nfirst image on screen, {n}-instance single-series study, File > Query/Retrieve (one run each):")
    for label, node_text, db_name in (("C-GET", pacs.node_text, "gui_db_get"), ("WADO-RS", pacs.dicomweb_url, "gui_db_wado")):
        os.environ["MEDDIAG_DB_DIR"] = str(tmp / db_name)
        win = MainWindow()
        win.resize(1400, 900)
        win.show()
        dlg = win.show_pacs_dialog()
        dlg.node.setEditText(node_text)
        dlg.fields["patient_id"].setText("BENCH0001")
        dlg.search()
        wait(lambda: not dlg.busy(), 60)
        views: list[tuple[float, int, bool]] = []
        dlg.progressive.shown.connect(lambda _v, shown, _e, final: views.append((time.monotonic(), shown, final)))
        t0 = time.monotonic()
        dlg.retrieve()
        wait(lambda: dlg.progressive.final, 600)
        first_t, first_n, _ = views[0]
        print(f"  {label:8s} first image on screen {first_t - t0:6.2f} s ({first_n} slices)   "
              f"retrieve ended {dlg.retrieve_ended_at - t0:6.2f} s   whole series on screen "
              f"{dlg.progressive.final_shown_at - t0:6.2f} s   ({len(views)} views, "
              f"{len(views) - 1} partial updates)")
        dlg.close()
        win.close()
        wait(lambda: not win.is_busy(), 60)
        win.deleteLater()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--index", type=int, default=10000, help="instances to index into the database (0: skip)")
    ap.add_argument("--screen", action="store_true", help="time the first image on screen in the viewer (needs a display)")
    args = ap.parse_args()
    for tool in ("storescu", "getscu", "movescu"):
        if shutil.which(tool) is None:
            sys.exit(f"dcmtk's {tool} is not installed (apt-get install dcmtk)")

    import pydicom

    from meddiag_desktop.db import StudyDatabase
    from meddiag_desktop.pacs import LocalAE, resolve_node, retrieve
    from tests.pacs.orthanc import Orthanc, available, free_port

    if available():
        sys.exit(available())
    tmp = Path(tempfile.mkdtemp(prefix="bench_pacs_"))
    files = make_study(tmp / "study", args.instances, args.size)
    study_uid = pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID
    dcmtk_port = free_port()
    pacs = Orthanc(tmp / "orthanc", extra_modalities={"dcmtk": ("DCMTKMOVE", dcmtk_port)}).start()
    try:
        t = timed(lambda: subprocess.run(["storescu", "-aec", "ORTHANC", "127.0.0.1", str(pacs.dicom_port),
                                          "+sd", str(tmp / "study")], check=True, capture_output=True))
        print(f"stored {len(files)} instances of {args.size}x{args.size} int16 into Orthanc with storescu in {t:.2f} s")
        node = resolve_node(pacs.node_text, timeout=60)
        web = resolve_node(pacs.dicomweb_url, timeout=60)
        local = LocalAE(pacs.our_ae, pacs.our_port)
        first: dict[str, list[float]] = {}
        n = 0

        def ours(method: str, the_node) -> None:
            nonlocal n
            n += 1
            t0 = time.perf_counter()
            seen: list[float] = []

            def progress(done, total):
                if done >= 1 and not seen:
                    seen.append(time.perf_counter() - t0)

            with StudyDatabase(tmp / f"db{n}") as db:
                out = retrieve(the_node, study_uid, db, method=method, local=local, progress=progress)
            assert out["instances"] == len(files) and out["complete"], out
            first.setdefault(method if the_node is node else "wado", []).extend(seen)

        def dcmtk(tool: str) -> None:
            nonlocal n
            n += 1
            out = tmp / f"dcmtk{n}"
            out.mkdir()
            cmd = [tool, "-aec", "ORTHANC", "-S", "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study_uid}",
                   "-od", str(out), "127.0.0.1", str(pacs.dicom_port)]
            if tool == "movescu":
                cmd[1:1] = ["-aet", "DCMTKMOVE", "-aem", "DCMTKMOVE", "--port", str(dcmtk_port)]
            subprocess.run(cmd, check=True, capture_output=True, timeout=600)
            got = len(list(out.iterdir()))
            assert got == len(files), f"{tool} stored {got} files"

        runs = {} if not args.repeats else {
            "ours C-GET": lambda: ours("get", node),
            "ours C-MOVE": lambda: ours("move", node),
            "ours WADO-RS": lambda: ours("get", web),
            "dcmtk getscu": lambda: dcmtk("getscu"),
            "dcmtk movescu": lambda: dcmtk("movescu"),
        }
        times: dict[str, list[float]] = {k: [] for k in runs}
        for rep in range(args.repeats):
            for name, fn in runs.items():
                times[name].append(timed(fn))
                print(f"  run {rep + 1} {name:14s} {times[name][-1]:.2f} s")
        med = {k: statistics.median(v) for k, v in times.items() if v}
        if med:
            print(f"\nretrieve of {len(files)} instances ({args.size}x{args.size} CT), median of {args.repeats}:")
        for k, v in med.items():
            print(f"  {k:14s} {v:6.2f} s  ({len(files) / v:6.0f} instances/s)")
        if med:
            print(f"  ratio C-GET / getscu   {med['ours C-GET'] / med['dcmtk getscu']:.2f}")
            print(f"  ratio C-MOVE / movescu {med['ours C-MOVE'] / med['dcmtk movescu']:.2f}")
            print(f"  ratio WADO-RS / getscu {med['ours WADO-RS'] / med['dcmtk getscu']:.2f}")
        for k, v in first.items():
            print(f"  first image stored ({k}): median {statistics.median(v):.2f} s after the start")
        if args.screen:
            on_screen(pacs, tmp, len(files))
    finally:
        pacs.stop(graceful=False)

    if args.index:
        per = 1000
        src = tmp / "index_src"
        t = timed(lambda: [make_study(src / f"s{i}", min(per, args.index - i * per), 16, f"IDX{i:04d}", seed=100 + i)
                           for i in range((args.index + per - 1) // per)])
        print(f"\nwrote {args.index} 16x16 instances in {t:.1f} s (setup, not timed below)")
        with StudyDatabase(tmp / "index_db") as db:
            t_in = timed(lambda: db.import_path(src, copy=False))
            count = sum(s.instance_count for s in db.studies())
        with StudyDatabase(tmp / "index_db_copy") as db:
            t_copy = timed(lambda: db.import_path(src, copy=True))
        print(f"indexed {count} instances in place in {t_in:.2f} s ({count / t_in:.0f}/s; target < 10 s); "
              f"copied into managed storage in {t_copy:.2f} s")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
