"""``meddiag infer PLUGIN INPUT --out DIR``: one plugin run through the workflow (gate, worker, audit), its result
written to files."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

__all__ = ["register", "infer"]


def register(subparsers) -> None:
    q = subparsers.add_parser("infer", help="run an AI plugin on a study and write its result")
    q.add_argument("plugin", help="plugin id (see 'meddiag plugins') or a plugin / MONAI bundle folder")
    q.add_argument("input", nargs="?", default=None, help="DICOM folder or file, NIfTI/NRRD/MHA file (a 4D NIfTI "
                   "gives a multi-channel bundle all its channels), PNG/JPEG for 2D bundles")
    q.add_argument("--out", required=True, help="folder for the result files")
    q.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    q.add_argument("--point", action="append", default=[], metavar="X,Y,Z",
                   help="classification: location in LPS mm (repeatable); default: the plugin's candidate finder")
    q.add_argument("--batch", type=int, default=None, help="sliding-window batch size (default: the plugin's)")
    q.add_argument("--timeout", type=float, default=300, help="seconds without progress before the run is stopped")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.add_argument("--input", dest="inputs", action="append", default=[], metavar="KEY=PATH",
                   help="MONAI bundles: input for the bundle's key KEY (e.g. image=T1c.nii.gz), repeated once per "
                        "channel in the order of the bundle's network_data_format (BraTS: T1c, T1, T2, FLAIR)")
    q.add_argument("--force", action="store_true",
                   help="run even on a study outside the plugin's intended use; the result says 'outside intended use'")
    q.set_defaults(func=_run_infer)


def _parse_point(text: str) -> tuple[float, float, float]:
    parts = [p for p in text.replace(" ", "").split(",") if p]
    if len(parts) != 3:
        raise ValueError(f"--point needs X,Y,Z in LPS mm, got {text!r}")
    return tuple(float(p) for p in parts)  # type: ignore[return-value]


def infer(plugin: str, input_path: str | None, out_dir: str, device: str = "auto", points=None, batch=None,
          timeout: float = 300, progress=None, inputs: list[str] | None = None, force: bool = False) -> dict:
    """Run ``plugin`` on the study at ``input_path``; write results into ``out_dir``; return the JSON summary.

    ``inputs``: ``KEY=PATH`` strings for MONAI bundles with several inputs or channels.
    ``force``: run even outside the plugin's intended use (every output says so).
    The summary's ``log`` names the file holding the plugin's own output.
    """
    from meddiag_desktop.ai.discovery import find_plugin
    from meddiag_desktop.ai.isolation import WorkerProcess

    t0 = time.perf_counter()
    info = find_plugin(plugin)
    if not info.ok:
        raise ValueError(f"plugin {info.id} cannot be used: {info.error}")
    specs = ([input_path] if input_path else []) + list(inputs or [])
    if not specs:
        raise ValueError("give the study to run on (INPUT or --input KEY=PATH)")
    from meddiag_desktop.ai.trust import require_trusted

    require_trusted(info)  # refuse before a worker starts (run_isolated checks again)
    # the worker's start and torch import are the longest wait of a run: start it before anything else
    worker = WorkerProcess(name=f"meddiag-plugin-{info.id}")  # imports torch while the study loads
    import numpy as np
    import SimpleITK as sitk

    from meddiag_desktop.ai.resample import volume_to_sitk
    from meddiag_desktop.ai.results import SegmentationResult
    from meddiag_desktop.io import load
    from meddiag_desktop.workflow import run_ai

    bundle_inputs = None
    try:
        if info.manifest.kind == "monai_bundle":
            from meddiag_desktop.ai.bundle import inference_config
            from meddiag_desktop.ai.bundle import bundle_inputs as bundle_keys
            from meddiag_desktop.ai.bundle_requirements import check_requirements

            check_requirements(info.path, inference_config(info.path), info.manifest.name)  # before reading inputs
            from meddiag_desktop.ai.bundle_inputs import load_channels, map_inputs, parse_input_specs

            pairs = [(key, load_channels(path)) for key, path in parse_input_specs(specs)]
            bundle_inputs = map_inputs(pairs, bundle_keys(info.path))
            volume = next(iter(bundle_inputs.values()))[0]
        else:
            if len(specs) > 1 or "=" in specs[0] and not Path(specs[0]).exists():
                raise ValueError("--input KEY=PATH is for MONAI bundles; give a native plugin one INPUT")
            volume = load(specs[0])
    except BaseException:
        worker.close()
        raise
    t_load = time.perf_counter() - t0
    t1 = time.perf_counter()
    try:  # the shared workflow: intended-use gate, worker process, audit, findings
        run = run_ai(info, volume, force=force, via="cli", device=device, points=points, progress=progress,
                     stall_timeout=timeout, start_timeout=max(timeout, 120), worker=worker, batch=batch,
                     inputs=bundle_inputs)
    except Exception as err:
        err.log_path = str(worker.log_path)  # type: ignore[attr-defined]
        raise
    finally:
        worker.close()  # no-op once the run used it
    result = run.result
    t_run = time.perf_counter() - t1
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = result.to_summary()
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
    elif summary.get("task") == "detection":
        summary["labels"] = {}
        summary["volumes_ml"] = {}
    else:
        if result.explanation is not None:
            path = out / f"{safe_id}_explanation.nii.gz"
            sitk.WriteImage(volume_to_sitk(volume, result.explanation.astype(np.float32)), str(path), useCompression=True)
            outputs.append(str(path))
        summary["labels"] = {}
        summary["volumes_ml"] = {}
    summary["timings"] = {"load_s": round(t_load, 3), "run_s": round(t_run, 3), **summary["timings"],
                          "total_s": round(time.perf_counter() - t0, 3)}
    summary["input"] = str(input_path) if input_path else None
    if inputs:
        summary["inputs"] = list(inputs)
    summary["plugin_path"] = str(info.path)
    summary["log"] = str(worker.log_path)  # the plugin's own output (MONAI logging, prints) and tracebacks
    json_path = out / f"{safe_id}_result.json"
    summary["outputs"] = outputs + [str(json_path)]
    json_path.write_text(json.dumps(summary, indent=2))
    return summary


def _run_infer(args: argparse.Namespace) -> int:
    from meddiag_desktop.ai.discovery import PluginNotFound
    from meddiag_desktop.ai.errors import InputRefused
    from meddiag_desktop.ai.isolation import PluginError
    from meddiag_desktop.ai.sliding_window import RunCancelled
    from meddiag_desktop.ai.weights import WeightsError
    from meddiag_desktop.io import LoadError

    def progress(done: int, total: int) -> None:
        if not args.json and total:
            print(f"\r{args.plugin}: {done}/{total} windows", end="", file=sys.stderr, flush=True)

    try:
        points = [_parse_point(p) for p in args.point]
        summary = infer(args.plugin, args.input, args.out, args.device, points, args.batch, args.timeout, progress,
                        inputs=args.inputs, force=args.force)
    except (PluginNotFound, LoadError, InputRefused, WeightsError, PluginError, RunCancelled, ValueError, OSError) as err:
        if not args.json:
            print(file=sys.stderr)
        reason = f"{type(err).__name__}: {err}"
        if args.json:
            check = getattr(err, "check", None)  # OutsideIntendedUse: the mismatch in one sentence
            print(json.dumps({"error": reason, "refused": "outside intended use" if check is not None else None,
                              "mismatch": check.sentence if check is not None else None,
                              "log": getattr(err, "log_path", None)}))
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
    for d in summary.get("detections", []):
        c, z = d["center_lps"], d["size_mm"]
        print(f"  box at ({c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f}) mm, size {z[0]:.1f} x {z[1]:.1f} x {z[2]:.1f} mm: "
              f"label {d['label']}, score {d['score']:.3f}")
    for o in summary["outputs"]:
        print(f"wrote {o}")
    print(f"plugin log: {summary['log']}")
    return 0
