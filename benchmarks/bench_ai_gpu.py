"""Our memory-lean sliding window vs MONAI's ``sliding_window_inference`` on a big CT.

    python benchmarks/bench_ai_gpu.py [--shape 320 512 512] [--classes 105] [--roi 96] [--batch 4]
    # without a GPU, the same comparison at a smaller size, peak host memory per method:
    python benchmarks/bench_ai_gpu.py --device cpu --shape 96 192 192 --roi 64 --batch 1

A randomly initialised MONAI SegResNet with 105 output classes runs over a
512x512x320 volume (z, y, x). For each method: wall time (after one warm-up),
peak GPU memory (``torch.cuda.max_memory_allocated``) and, for ours, the share of
voxels whose label equals MONAI's argmax. MONAI's plain call keeps every class at
full resolution in fp32 on the GPU; ours keeps a ring buffer of ``roi_z`` planes
and reduces each finished plane to its label.

With ``--device cpu`` each method runs once in its own process (``--only``), and
its peak memory is the process's peak resident set (``VmHWM``) above what it held
once the network and the input existed; the labels of both are compared.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", type=int, nargs=3, default=[320, 512, 512], help="z y x")
    ap.add_argument("--classes", type=int, default=105)
    ap.add_argument("--roi", type=int, default=96)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--overlap", type=float, default=0.25)
    ap.add_argument("--skip-monai", action="store_true")
    ap.add_argument("--device", default="cuda", help="cuda (the benchmark), or cpu: peak host memory per method")
    ap.add_argument("--only", choices=["ours", "monai"], help=argparse.SUPPRESS)  # one CPU method, in this process
    ap.add_argument("--labels-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.device == "cpu" and args.only is None:
        cpu_memory_comparison(args)
        return
    if args.only is not None:
        cpu_one_method(args)
        return

    import torch

    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        print(json.dumps({"skipped": "no CUDA device"}))
        return
    from monai.inferers import sliding_window_inference
    from monai.networks.nets import SegResNet

    from meddiag_desktop.ai.sliding_window import sliding_window_argmax

    dev = torch.device(args.device)
    torch.manual_seed(0)
    net = SegResNet(spatial_dims=3, in_channels=1, out_channels=args.classes, init_filters=16).to(dev).eval()
    image = torch.randn(1, *args.shape, device=dev)
    roi = (args.roi,) * 3
    report = {"device": torch.cuda.get_device_name() if cuda else args.device, "shape_zyx": args.shape, "classes": args.classes,
              "roi": roi, "sw_batch_size": args.batch, "overlap": args.overlap}

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def measure(name, fn, repeats=2):
        sync()
        if cuda:
            torch.cuda.empty_cache()
        fn()  # warm-up (cuDNN autotune, allocator)
        sync()
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() if cuda else 0
        times = []
        out = None
        for _ in range(repeats):
            t = time.perf_counter()
            out = fn()
            sync()
            times.append(time.perf_counter() - t)
        peak = (torch.cuda.max_memory_allocated() - base) / 2**30 if cuda else float("nan")
        report[name] = {"seconds": round(min(times), 3), "peak_gib_above_inputs": round(peak, 2)}
        print(name, report[name], flush=True)
        return out

    def ours_bf16():
        return sliding_window_argmax(image, net, roi, overlap=args.overlap, blend="gaussian",
                                     sw_batch_size=args.batch, autocast_dtype=torch.bfloat16)

    def ours_fp32():
        return sliding_window_argmax(image, net, roi, overlap=args.overlap, blend="gaussian",
                                     sw_batch_size=args.batch, accum_dtype="fp16")

    with torch.no_grad():
        lab_bf16 = measure("ours_bf16_autocast", ours_bf16)
        lab_fp32 = measure("ours_fp32_model_fp16_accumulator", ours_fp32)
        if not args.skip_monai:
            def monai_plain():
                return sliding_window_inference(image[None], roi, args.batch, net, overlap=args.overlap,
                                                mode="gaussian").argmax(1)[0]

            try:
                ref = measure("monai_sliding_window_inference_fp32", monai_plain, repeats=1).to("cpu")
                report["label_agreement_ours_fp32_vs_monai"] = round(float((lab_fp32.to(torch.int64) == ref).float().mean()), 6)
                report["label_agreement_ours_bf16_vs_monai"] = round(float((lab_bf16.to(torch.int64) == ref).float().mean()), 6)
            except (torch.cuda.OutOfMemoryError, MemoryError) as err:
                report["monai_sliding_window_inference_fp32"] = {"error": f"out of memory: {err}"[:300]}
    print(json.dumps(report, indent=1))


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_one_method(args) -> None:
    """One method on the CPU in this (fresh) process; prints a JSON line with time and peak memory."""
    import numpy as np
    import torch
    from monai.networks.nets import SegResNet

    torch.manual_seed(0)
    net = SegResNet(spatial_dims=3, in_channels=1, out_channels=args.classes, init_filters=16).eval()
    image = torch.randn(1, *args.shape)
    roi = (args.roi,) * 3
    base = _status_kib("VmRSS")
    t = time.perf_counter()
    with torch.no_grad():
        if args.only == "ours":
            from meddiag_desktop.ai.sliding_window import sliding_window_argmax

            labels = sliding_window_argmax(image, net, roi, overlap=args.overlap, blend="gaussian",
                                           sw_batch_size=args.batch)
        else:
            from monai.inferers import sliding_window_inference

            labels = sliding_window_inference(image[None], roi, args.batch, net, overlap=args.overlap,
                                              mode="gaussian").argmax(1)[0]
    seconds = time.perf_counter() - t
    peak = (_status_kib("VmHWM") - base) / 2**20
    np.save(args.labels_out, labels.to(torch.int16).numpy())
    print(json.dumps({"method": args.only, "seconds": round(seconds, 2), "peak_gib_above_inputs": round(peak, 3)}))


def cpu_memory_comparison(args) -> None:
    import subprocess
    import tempfile

    import numpy as np

    report = {"device": "cpu", "shape_zyx": args.shape, "classes": args.classes, "roi": args.roi,
              "sw_batch_size": args.batch, "overlap": args.overlap,
              "full_fp32_class_map_gib": round(args.classes * int(np.prod(args.shape)) * 4 / 2**30, 3)}
    with tempfile.TemporaryDirectory() as tmp:
        labels = {}
        for method in ("ours", "monai"):
            out = Path(tmp) / f"{method}.npy"
            cmd = [sys.executable, __file__, "--only", method, "--labels-out", str(out), "--shape", *map(str, args.shape),
                   "--classes", str(args.classes), "--roi", str(args.roi), "--batch", str(args.batch),
                   "--overlap", str(args.overlap)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                report[method] = {"error": proc.stderr[-500:]}
                continue
            report[method] = json.loads(proc.stdout.strip().splitlines()[-1])
            labels[method] = np.load(out)
            print(method, report[method], flush=True)
        if len(labels) == 2:
            report["label_agreement"] = round(float((labels["ours"] == labels["monai"]).mean()), 6)
            m, o = report["monai"]["peak_gib_above_inputs"], report["ours"]["peak_gib_above_inputs"]
            report["memory_ratio_monai_over_ours"] = round(m / o, 1) if o > 0 else None
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
