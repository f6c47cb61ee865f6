"""Pure-Python data model: no Qt, no VTK."""

from meddiag_desktop.core.volume import Volume, WindowPreset

__all__ = ["Volume", "WindowPreset"]
