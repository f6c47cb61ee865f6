"""``meddiag plugins [--json]`` and ``meddiag infer PLUGIN INPUT --out DIR``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

__all__ = ["register", "list_plugins", "infer"]


def register(subparsers) -> None:
    p = subparsers.add_parser("plugins", help="list AI plugins (bundled, user folder, MEDDIAG_PLUGIN_PATH, entry points)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=_run_plugins)

    q = subparsers.add_parser("infer", help="run an AI plugin on a study and write its result")
    q.add_argument("plugin", help="plugin id (see 'meddiag plugins') or a plugin / MONAI bundle folder")
    q.add_argument("input", help="DICOM folder or file, NIfTI/NRRD/MHA file")
    q.add_argument("--out", required=True, help="folder for the result files")
    q.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    q.add_argument("--point", action="append", default=[], metavar="X,Y,Z",
                   help="classification: location in LPS mm (repeatable); default: the plugin's candidate finder")
    q.add_argument("--batch", type=int, default=None, help="sliding-window batch size (default: the plugin's)")
    q.add_argument("--timeout", type=float, default=300, help="seconds without progress before the run is stopped")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.add_argument("--force", action="store_true",
                   help="run even on a study outside the plugin's intended use; the result says 'outside intended use'")
    q.set_defaults(func=_run_infer)


# ------------------------------------------------------------------ plugins
def list_plugins() -> list[dict]:
    from meddiag_desktop.ai.discovery import discover_plugins

    return [info.to_json() for info in discover_plugins()]


def _run_plugins(args: argparse.Namespace) -> int:
    items = list_plugins()
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    if not items:
        print("no plugins found")
    for it in items:
        if it["error"]:
            print(f"! {it['id']}  [{it['source']}] {it['path']}\n    error: {it['error']}")
            continue
        ver = {True: "weights verified", False: "WEIGHTS DO NOT MATCH", None: "weights not hashed"}[it["weights_verified"]]
        print(f"{it['id']}  {it['name']} {it['version']} ({it['task']}, {it['source']}, {ver})")
        print(f"    intended use: {it['intended_use']}")
    return 0


# -------------------------------------------------------------------- infer
def _parse_point(text: str) -> tuple[float, float, float]:
    parts = [p for p in text.replace(" ", "").split(",") if p]
    if len(parts) != 3:
        raise ValueError(f"--point needs X,Y,Z in LPS mm, got {text!r}")
    return tuple(float(p) for p in parts)  # type: ignore[return-value]


def infer(plugin: str, input_path: str, out_dir: str, device: str = "auto", points=None, batch=None,
          timeout: float = 300, progress=None, force: bool = False) -> dict:
    """Run ``plugin`` on the study at ``input_path``; write results into ``out_dir``; return the JSON summary."""
    import numpy as np
    import SimpleITK as sitk

    from meddiag_desktop.ai.discovery import find_plugin
    from meddiag_desktop.ai.isolation import WorkerProcess
    from meddiag_desktop.ai.resample import volume_to_sitk
    from meddiag_desktop.ai.results import SegmentationResult
    from meddiag_desktop.io import load
    from meddiag_desktop.workflow import run_ai

    t0 = time.perf_counter()
    info = find_plugin(plugin)
    if not info.ok:
        raise ValueError(f"plugin {info.id} cannot be used: {info.error}")
    worker = WorkerProcess(name=f"meddiag-plugin-{info.id}")  # imports torch while the study loads
    try:
        volume = load(input_path)
    except BaseException:
        worker.close()
        raise
    t_load = time.perf_counter() - t0
    t1 = time.perf_counter()
    try:  # the shared workflow: intended-use gate, worker process, audit, findings
        run = run_ai(info, volume, force=force, via="cli", device=device, points=points, progress=progress,
                     stall_timeout=timeout, start_timeout=max(timeout, 120), worker=worker, batch=batch)
    finally:
        worker.close()  # no-op once the run used it
    result = run.result
    t_run = time.perf_counter() - t1
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = result.summary()
    summary["outside_intended_use"] = run.outside_intended_use
    summary["findings_status"] = [{"key": f.key, "name": f.display_name, "status": f.status,
                                   "outside_intended_use": f.forced} for f in run.findings]
    outputs = []
    safe_id = info.id.replace("/", "_")
    if isinstance(result, SegmentationResult):
        path = out / f"{safe_id}_labels.nii.gz"
        sitk.WriteImage(volume_to_sitk(volume, result.labels), str(path), useCompression=True)
        outputs.append(str(path))
        summary["probabilities"] = {}
    else:
        if result.explanation is not None:
            path = out / f"{safe_id}_explanation.nii.gz"
            sitk.WriteImage(volume_to_sitk(volume, result.explanation.astype(np.float32)), str(path), useCompression=True)
            outputs.append(str(path))
        summary["labels"] = {}
        summary["volumes_ml"] = {}
    summary["timings"] = {"load_s": round(t_load, 3), "run_s": round(t_run, 3), **summary["timings"],
                          "total_s": round(time.perf_counter() - t0, 3)}
    summary["input"] = str(input_path)
    summary["plugin_path"] = str(info.path)
    json_path = out / f"{safe_id}_result.json"
    summary["outputs"] = outputs + [str(json_path)]
    json_path.write_text(json.dumps(summary, indent=2))
    return summary


def _run_infer(args: argparse.Namespace) -> int:
    from meddiag_desktop.ai.discovery import PluginNotFound
    from meddiag_desktop.ai.isolation import PluginError
    from meddiag_desktop.ai.runner import InputRefused
    from meddiag_desktop.ai.sliding_window import RunCancelled
    from meddiag_desktop.ai.weights import WeightsError
    from meddiag_desktop.io import LoadError

    def progress(done: int, total: int) -> None:
        if not args.json and total:
            print(f"\r{args.plugin}: {done}/{total} windows", end="", file=sys.stderr, flush=True)

    try:
        points = [_parse_point(p) for p in args.point]
        summary = infer(args.plugin, args.input, args.out, args.device, points, args.batch, args.timeout, progress,
                        force=args.force)
    except (PluginNotFound, LoadError, InputRefused, WeightsError, PluginError, RunCancelled, ValueError, OSError) as err:
        if not args.json:
            print(file=sys.stderr)
        reason = f"{type(err).__name__}: {err}"
        if args.json:
            check = getattr(err, "check", None)  # OutsideIntendedUse: the mismatch in one sentence
            print(json.dumps({"error": reason, "refused": "outside intended use" if check is not None else None,
                              "mismatch": check.sentence if check is not None else None}))
        print(f"meddiag infer: {reason}", file=sys.stderr)
        return 2 if isinstance(err, (PluginNotFound, LoadError, ValueError)) and not isinstance(err, InputRefused) else 1
    if args.json:
        print(json.dumps(summary))
        return 0
    print(file=sys.stderr)
    print(f"{summary['plugin']} on {summary['device']} in {summary['timings']['total_s']:.1f} s")
    print(f"intended use: {summary['intended_use']}")
    if summary.get("outside_intended_use"):
        print(f"OUTSIDE INTENDED USE (run with --force): {summary['outside_intended_use']}")
    for w in summary["warnings"] + summary["notes"]:
        print(f"note: {w}")
    for name, ml in summary.get("volumes_ml", {}).items():
        print(f"  {name}: {ml:.1f} mL")
    for f in summary.get("findings", []):
        probs = ", ".join(f"{k} {v:.2f}" for k, v in f["probabilities"].items())
        print(f"  at {tuple(f['point_lps'])}: {f['top_class']} ({probs})")
    for o in summary["outputs"]:
        print(f"wrote {o}")
    return 0
