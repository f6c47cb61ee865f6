"""Label colours: ``"#rrggbb"`` strings (the form plugins, bundles and report models store) to RGB."""

from __future__ import annotations

__all__ = ["hex_to_rgb"]


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    """``(r, g, b)`` 0..255 of ``"#rrggbb"``; ValueError (or IndexError) for anything else."""
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
