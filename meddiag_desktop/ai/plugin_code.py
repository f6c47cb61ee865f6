"""Importing a native plugin's code and building its model (worker process only; torch through the weights).

The ``entry`` of ``plugin.toml`` (``package.module:attr``) is imported from the
plugin folder only when the plugin runs, with the folder on ``sys.path`` for the
import only; another plugin's package of the same name is forgotten first.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from meddiag_desktop.ai.manifest import PluginManifest
from meddiag_desktop.ai.weights import load_state_dict, verify_weights

__all__ = ["plugin_import_path", "load_entry", "build_model"]


@contextmanager
def plugin_import_path(folder: Path) -> Iterator[None]:
    """Make ``folder`` importable for the duration of the block only."""
    entry = str(folder)
    sys.path.insert(0, entry)
    importlib.invalidate_caches()
    try:
        yield
    finally:
        try:
            sys.path.remove(entry)
        except ValueError:
            pass


def load_entry(folder: Path, entry: str):
    """Import ``package.module:attr`` from the plugin folder (only when the plugin runs)."""
    module_name, _, attr = entry.partition(":")
    top = module_name.split(".")[0]
    loaded = sys.modules.get(top)
    if loaded is not None and not str(getattr(loaded, "__file__", "") or "").startswith(str(folder)):
        # another plugin's package of the same name: forget it so this folder's code is used
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[name]
    with plugin_import_path(folder):
        obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def build_model(folder: Path, manifest: PluginManifest):
    """Verify weights, build the network from the entry callable, load its state_dict (strict)."""
    paths = verify_weights(folder, manifest)
    factory = load_entry(folder, manifest.entry)
    model = factory(**manifest.model)
    state = {}
    for w, path in zip(manifest.weights, paths):
        state.update(load_state_dict(path, w.kind))
    model.load_state_dict(state, strict=True)
    return model.eval()
