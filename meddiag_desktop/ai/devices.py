"""Where a plugin runs: device choice, mixed precision, and the out-of-memory fallback (torch imported lazily).

Out of memory halves the batch down to 1 on the chosen device, then retries on
the CPU with batch 1; each step is reported through ``note`` and ends up in the
result's ``notes``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from meddiag_desktop.ai.errors import InputRefused, import_ai
from meddiag_desktop.ai.sliding_window import RunCancelled

__all__ = ["PluginOutOfMemory", "choose_device", "autocast_dtype", "attempt_plan", "is_oom", "run_with_fallback"]


class PluginOutOfMemory(RuntimeError):
    """Out of memory even on the CPU with the smallest batch."""


def choose_device(preference: str = "auto") -> str:
    """CUDA, then Apple MPS, then CPU; an explicit choice that is unavailable raises ``InputRefused``."""
    torch = import_ai("torch")

    pref = (preference or "auto").lower()
    if pref == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if pref.startswith("cuda") and not torch.cuda.is_available():
        raise InputRefused("device 'cuda' requested but no CUDA GPU is available; use --device cpu or auto")
    if pref == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputRefused("device 'mps' requested but Apple MPS is not available")
    return pref


def autocast_dtype(device: str, precision: str):
    """The autocast dtype for ``precision`` on ``device`` (None: full fp32; ``auto``: bf16 where supported)."""
    torch = import_ai("torch")

    if device == "cpu" or precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def attempt_plan(device: str, batch: int) -> list[tuple[str, int]]:
    """Out-of-memory fallback: halve the batch down to 1 on ``device``, then the CPU with batch 1."""
    plan = []
    b = max(1, batch)
    while True:
        plan.append((device, b))
        if b == 1:
            break
        b = max(1, b // 2)
    if device != "cpu":
        plan.append(("cpu", 1))
    return plan


def is_oom(err: BaseException) -> bool:
    """True for torch's out-of-memory error (CUDA's, or a RuntimeError saying so)."""
    torch = import_ai("torch")

    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(err, oom):
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


def run_with_fallback(fn: Callable[[str, int], Any], device: str, batch: int,
                      note: Callable[[str], None]) -> tuple[Any, str]:
    """``(fn(device, batch), device used)``, retrying per :func:`attempt_plan` on out of memory."""
    torch = import_ai("torch")

    plan = attempt_plan(device, batch)
    last = None
    for i, (dev, b) in enumerate(plan):
        try:
            return fn(dev, b), dev
        except RunCancelled:
            raise
        except Exception as err:
            if not is_oom(err):
                raise
            last = err
            if dev.startswith("cuda"):
                torch.cuda.empty_cache()
            if i + 1 < len(plan):
                nd, nb = plan[i + 1]
                where = "on the CPU" if nd == "cpu" and dev != "cpu" else f"on {nd}"
                note(f"out of memory on {dev} with batch {b}; retrying {where} with batch {nb}")
    raise PluginOutOfMemory(f"out of memory even with batch 1 on the CPU: {last}")
