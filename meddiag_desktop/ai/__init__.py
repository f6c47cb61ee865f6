"""AI plugins: manifests, discovery, an isolated runner and ``meddiag plugins/infer``.

Qt-free. torch and MONAI are imported only when a plugin runs (in the worker
process), so importing this package stays cheap.

Typical use::

    from meddiag_desktop.ai import discover_plugins, run_isolated
    info = next(p for p in discover_plugins() if p.ok and p.id == "meddiag.chest-ct-seg")
    result = run_isolated(info, volume, progress=on_progress, cancel=is_cancelled)
"""

from meddiag_desktop.ai.discovery import PluginInfo, PluginNotFound, discover_plugins, find_plugin
from meddiag_desktop.ai.isolation import PluginCrashed, PluginError, PluginFailed, PluginHung, run_isolated
from meddiag_desktop.ai.errors import AIExtraMissing, InputRefused
from meddiag_desktop.ai.manifest import ManifestError, PluginManifest
from meddiag_desktop.ai.manifest_io import load_manifest
from meddiag_desktop.ai.results import ClassificationResult, Finding, LabelStats, SegmentationResult
from meddiag_desktop.ai.runner import RunOptions
from meddiag_desktop.ai.sliding_window import RunCancelled
from meddiag_desktop.ai.weights import WeightsError

__all__ = [
    "AIExtraMissing",
    "ClassificationResult",
    "Finding",
    "InputRefused",
    "LabelStats",
    "ManifestError",
    "PluginCrashed",
    "PluginError",
    "PluginFailed",
    "PluginHung",
    "PluginInfo",
    "PluginManifest",
    "PluginNotFound",
    "RunCancelled",
    "RunOptions",
    "SegmentationResult",
    "WeightsError",
    "discover_plugins",
    "find_plugin",
    "load_manifest",
    "run_isolated",
]
