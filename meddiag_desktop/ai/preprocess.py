"""Intensity normalisation of the model's input, as the manifest's ``[input.normalization]`` says."""

from __future__ import annotations

import numpy as np

from meddiag_desktop.ai.manifest import Normalization

__all__ = ["normalize"]


def normalize(array: np.ndarray, norm: Normalization) -> np.ndarray:
    """Intensity normalisation as the manifest says (float32)."""
    a = array.astype(np.float32, copy=False)
    if norm.kind == "window":
        lo, hi = float(norm.min), float(norm.max)
        # ((a - lo) / (hi - lo) * (out_max - out_min) + out_min) in float32, one new array (``array``
        # stays as it is), the same operations in the same order: the same values
        out = np.clip(a, lo, hi) if norm.clip else a.copy()
        out -= lo
        out /= hi - lo
        out *= norm.out_max - norm.out_min
        out += norm.out_min
        return out
    if norm.kind == "zscore":
        sel = a[a > (norm.min if norm.min is not None else 0)] if norm.nonzero else a
        mean = norm.mean if norm.mean is not None else float(sel.mean()) if sel.size else 0.0
        std = norm.std if norm.std is not None else float(sel.std()) if sel.size else 1.0
        return ((a - mean) / max(std, 1e-6)).astype(np.float32)
    return a
