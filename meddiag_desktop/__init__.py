"""MedDiag Desktop: an offline medical image viewer with AI plugins.

The package is layered: :mod:`meddiag_desktop.core` (data model) and
:mod:`meddiag_desktop.io` (readers) are pure Python and never import Qt or VTK;
:mod:`meddiag_desktop.render` adapts the core to VTK; :mod:`meddiag_desktop.qt`
is the only place that imports PySide6.
"""

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed package's metadata on first use.

    Lazily: ``importlib.metadata`` costs about 50 ms, and start-up does not need it.
    """
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("meddiag-desktop")
    except PackageNotFoundError:  # running from a source tree that was not installed
        value = "0.0.0+unknown"
    globals()["__version__"] = value
    return value
