"""Read a plugin folder's manifest: ``plugin.toml`` (TOML), or a MONAI bundle's ``configs/metadata.json``.

Reading never imports plugin code; the schema is :mod:`meddiag_desktop.ai.manifest`,
the bundle's metadata is turned into it by :mod:`meddiag_desktop.ai.bundle`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from meddiag_desktop.ai.bundle import is_bundle, load_bundle_manifest
from meddiag_desktop.ai.manifest import MANIFEST_NAME, ManifestError, PluginManifest, parse_manifest

__all__ = ["load_manifest", "read_plugin_toml"]


def read_plugin_toml(path: str | Path) -> PluginManifest:
    """Read and validate one ``plugin.toml``; :class:`ManifestError` names what is wrong."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ManifestError(f"{path}: cannot read TOML ({err})") from None
    return parse_manifest(data, str(path))


def load_manifest(folder: str | Path) -> PluginManifest:
    """Read and validate ``folder/plugin.toml`` (or a MONAI bundle's metadata) without importing code."""
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    if path.is_file():
        return read_plugin_toml(path)
    if is_bundle(folder):
        return load_bundle_manifest(folder)
    raise ManifestError(f"{folder}: no {MANIFEST_NAME} and not a MONAI bundle (configs/metadata.json)")
