"""Memory-lean sliding-window segmentation: a running argmax over a ring buffer of planes.

MONAI's ``sliding_window_inference`` keeps a full-resolution fp32 map of every
class (plus a count map) and only then takes the argmax. Here windows are
processed in z order; a plane is final once every window covering it has been
added, so only ``roi_z`` planes of class scores are held at a time (a ring
buffer), and each finished plane is reduced to its label (and optionally the
winning class's probability) straight away. The blended sum is the same as
MONAI's (argmax of a weighted sum equals argmax of the weighted mean), so labels
match MONAI's up to floating-point ties.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from meddiag_desktop.core.progress import Cancelled

if TYPE_CHECKING:
    import torch

__all__ = ["RunCancelled", "scan_starts", "importance_map", "sliding_window_argmax", "count_windows"]


class RunCancelled(Cancelled):
    """The user cancelled the run; no result is produced."""


def scan_starts(size: int, roi: int, overlap: float) -> list[int]:
    """Window start positions along one axis (MONAI's scan: equal steps, last one flush with the end)."""
    if size <= roi:
        return [0]
    step = max(int(roi * (1 - overlap)), 1)
    n = math.ceil((size - roi) / step) + 1
    return sorted({min(i * step, size - roi) for i in range(n)})


def count_windows(shape_zyx: tuple[int, int, int], roi_zyx: tuple[int, int, int], overlap: float) -> int:
    return math.prod(len(scan_starts(max(s, r), r, overlap)) for s, r in zip(shape_zyx, roi_zyx))


def importance_map(roi_zyx, mode: str, device, sigma_scale: float = 0.125):
    """Blending weights of one window: Gaussian (centre-weighted, never zero) or constant."""
    import torch

    if mode == "constant":
        return torch.ones(roi_zyx, dtype=torch.float32, device=device)
    w = None
    for i, r in enumerate(roi_zyx):  # same formula as MONAI's compute_importance_map
        t = torch.arange(-(r - 1) / 2.0, (r - 1) / 2.0 + 1, dtype=torch.float32, device=device)[:r]
        g = torch.exp(t**2 / (-2 * (r * sigma_scale) ** 2))
        w = g if i == 0 else w.unsqueeze(-1) * g[(None,) * i]
    return w.clamp_min(max(w.min().item(), 1e-3))


def _add_wrapped(ring, window, first: int, dim: int) -> None:
    """``ring`` planes ``first, first+1, ... (mod n)`` along ``dim`` += ``window``'s planes ``0, 1, ...``.

    Two in-place slice additions: the same single float addition per element as
    ``index_add_`` with the rotated slot index, without its per-plane loop over a
    strided view (about a quarter of the CPU time of a run on two cores).
    """
    n = ring.shape[dim]
    head = n - first
    ring.narrow(dim, first, head).add_(window.narrow(dim, 0, head))
    if first:
        ring.narrow(dim, 0, first).add_(window.narrow(dim, head, first))


def sliding_window_argmax(
    image: torch.Tensor,
    predictor: Callable[[torch.Tensor], torch.Tensor],
    roi_zyx: tuple[int, int, int],
    *,
    overlap: float = 0.25,
    blend: str = "gaussian",
    sw_batch_size: int = 1,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    accum_dtype: str = "auto",
    accum_budget_bytes: int = 2 << 30,
    autocast_dtype: torch.dtype | None = None,
    return_confidence: bool = False,
):
    """Label map ``[z, y, x]`` (uint8, or int16 beyond 255 classes) of ``predictor`` over ``image``.

    Parameters
    ----------
    image:
        ``(C, Z, Y, X)`` tensor on the compute device.
    predictor:
        maps ``(B, C, rz, ry, rx)`` to logits ``(B, K, rz, ry, rx)``.
    accum_dtype:
        ``"fp32"``, ``"fp16"`` or ``"auto"`` (fp32 unless the ring buffer would exceed
        ``accum_budget_bytes``).
    cancel:
        checked between batches of windows; returning True raises :class:`RunCancelled`.

    Returns the label tensor on the CPU, and with ``return_confidence`` also the
    winning class's softmax probability (float16, CPU).
    """
    import torch
    import torch.nn.functional as F

    device = image.device
    c, z, y, x = image.shape
    rz, ry, rx = (int(r) for r in roi_zyx)
    # pad (constant 0, symmetric like MONAI) where the image is smaller than the window
    pads = [max(r - s, 0) for s, r in zip((z, y, x), (rz, ry, rx))]
    if any(pads):
        pad_arg = []
        for p in reversed(pads):
            pad_arg += [p // 2, p - p // 2]
        image = F.pad(image, pad_arg)
    _, zp, yp, xp = image.shape
    zs_list = scan_starts(zp, rz, overlap)
    ys_list = scan_starts(yp, ry, overlap)
    xs_list = scan_starts(xp, rx, overlap)
    total = len(zs_list) * len(ys_list) * len(xs_list)
    weight = importance_map((rz, ry, rx), blend, device)

    labels = None  # allocated once the number of classes is known
    conf = torch.zeros((zp, yp, xp), dtype=torch.float16) if return_confidence else None
    acc = None
    wsum = torch.zeros((rz, yp, xp), dtype=torch.float32, device=device) if return_confidence else None
    done_planes = 0
    done = 0
    if progress is not None:
        progress(0, total)

    def finalize(upto: int) -> None:
        nonlocal done_planes
        while done_planes < upto:
            stop = min(upto, done_planes + (rz - done_planes % rz))  # contiguous run of slots
            s0, s1 = done_planes % rz, done_planes % rz + (stop - done_planes)
            block = acc[:, s0:s1]
            # max(0).indices: argmax's first-maximum rule and NaN handling, 4x faster over the class axis
            labels[done_planes:stop] = block.max(0).indices.to("cpu", labels.dtype)
            if conf is not None:
                p = torch.softmax(block.float() / wsum[s0:s1].clamp_min(1e-12), dim=0).amax(0)
                conf[done_planes:stop] = p.to("cpu", torch.float16)
                wsum[s0:s1] = 0
            block.zero_()
            done_planes = stop

    for zs in zs_list:
        if acc is not None:
            finalize(zs)
        first = zs % rz  # ring slot of the window's first plane; its planes wrap around after slot rz - 1
        band = [(zs, ys, xs) for ys in ys_list for xs in xs_list]
        for b0 in range(0, len(band), sw_batch_size):
            if cancel is not None and cancel():
                raise RunCancelled("cancelled")
            batch = band[b0 : b0 + sw_batch_size]
            win = torch.stack([image[:, a : a + rz, b : b + ry, d : d + rx] for a, b, d in batch])
            with torch.no_grad():
                if autocast_dtype is not None:
                    with torch.autocast(device_type=device.type, dtype=autocast_dtype):
                        out = predictor(win)
                else:
                    out = predictor(win)
            if acc is None:
                k = out.shape[1]
                want = accum_dtype
                if want == "auto":
                    want = "fp32" if k * rz * yp * xp * 4 <= accum_budget_bytes else "fp16"
                dt = torch.float32 if want == "fp32" else torch.float16
                acc = torch.zeros((k, rz, yp, xp), dtype=dt, device=device)
                labels = torch.zeros((zp, yp, xp), dtype=torch.uint8 if k <= 256 else torch.int16)
                weight_acc = weight.to(acc.dtype)
            out = out.to(acc.dtype).mul_(weight_acc)  # in place: the batch's logits are not needed again
            for i, (_, b, d) in enumerate(batch):
                _add_wrapped(acc[:, :, b : b + ry, d : d + rx], out[i], first, 1)
                if wsum is not None:
                    _add_wrapped(wsum[:, b : b + ry, d : d + rx], weight, first, 0)
            del out, win
            done += len(batch)
            if progress is not None:
                progress(done, total)
    finalize(zp)
    sl = tuple(slice(p // 2, p // 2 + s) for p, s in zip(pads, (z, y, x)))
    labels = labels[sl]
    if return_confidence:
        return labels, conf[sl]
    return labels
