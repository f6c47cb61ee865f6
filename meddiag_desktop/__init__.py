"""MedDiag Desktop: an offline medical image viewer with AI plugins.

The package is layered: :mod:`meddiag_desktop.core` (data model) and
:mod:`meddiag_desktop.io` (readers) are pure Python and never import Qt or VTK;
:mod:`meddiag_desktop.render` adapts the core to VTK; :mod:`meddiag_desktop.qt`
is the only place that imports PySide6.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("meddiag-desktop")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
