"""Where MedDiag Desktop's files are: bundled resources and the per-user folders.

Bundled files are found the same way from a source tree, an installed package and
a PyInstaller bundle (``sys._MEIPASS``, whose layout mirrors the source tree);
never through the working directory. In the source tree (and an editable install)
they are the top-level ``plugins/`` and ``resources/`` folders; a wheel installs
the same folders inside the package, as ``meddiag_desktop/plugins`` and
``meddiag_desktop/resources`` (``package-dir`` in pyproject.toml), which are
looked at first. Everything the app writes goes to the
platform's user folders (:func:`user_config_dir`, :func:`user_data_dir`), never next
to the program; each module owns its subfolder of them (``plugins``, ``risk_models``,
``audit.log``, ``sessions``, ``database``, ``logs``...).

This module is the bottom layer (the import-linter contract in ``pyproject.toml``):
it imports nothing else of the package, so every layer may use it.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = [
    "APP_DIR_NAME",
    "is_frozen",
    "bundle_root",
    "resources_dir",
    "resource_path",
    "bundled_plugins_dir",
    "user_config_dir",
    "user_data_dir",
    "user_cache_dir",
]

#: folder name used for platformdirs' user folders (config, data, cache)
APP_DIR_NAME = "meddiag-desktop"


def is_frozen() -> bool:
    """True inside a PyInstaller build (``meddiag`` from an installer package)."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def _package_dir() -> Path:
    import meddiag_desktop

    return Path(meddiag_desktop.__file__).resolve().parent


def bundle_root() -> Path:
    """The folder holding the package and the bundled ``plugins/`` and ``resources/``.

    ``sys._MEIPASS`` when frozen, else the parent of the ``meddiag_desktop``
    package (the repository root in a source checkout).
    """
    if is_frozen():
        return Path(sys._MEIPASS)  # type: ignore[attr-defined]
    return _package_dir().parent


def resources_dir() -> Path:
    """The icons and desktop files: package data when installed, else ``resources/`` at the root.

    The package's own folder comes first: an installed package's parent is
    ``site-packages``, where another distribution's ``resources/`` could sit.
    """
    for cand in _candidates("resources"):
        if (cand / "meddiag.svg").is_file():
            return cand
    return bundle_root() / "resources"


def _candidates(name: str) -> tuple[Path, Path]:
    """Where bundled folder ``name`` may be: inside the package (wheel), then beside it (source tree, bundle)."""
    return (_package_dir() / name, bundle_root() / name)


def resource_path(name: str) -> Path:
    """Path of a bundled resource such as ``"meddiag.svg"`` or ``"icons/meddiag-64.png"``.

    Raises ``FileNotFoundError`` naming the folders searched when it is missing
    (a broken installation: reinstall the package).
    """
    path = resources_dir() / name
    if not path.is_file():
        raise FileNotFoundError(
            f"bundled resource {name!r} is missing from {resources_dir()}; the installation is incomplete, reinstall MedDiag Desktop"
        )
    return path


def bundled_plugins_dir() -> Path:
    """The AI plugins shipped with the app: ``meddiag_desktop/plugins`` in a wheel, else ``plugins/`` at the root.

    The one rule (AI discovery and the trust check use it): the package's own
    folder first (``plugins``, then ``resources/plugins``), then beside it.
    """
    pkg = _package_dir()
    for cand in (pkg / "plugins", pkg / "resources" / "plugins", pkg.parent / "plugins"):
        if cand.is_dir():
            return cand
    return pkg.parent / "plugins"


def user_config_dir() -> Path:
    """The settings folder: ``$MEDDIAG_CONFIG_DIR`` or platformdirs' ``user_config_dir("meddiag-desktop")``."""
    import os

    env = os.environ.get("MEDDIAG_CONFIG_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_DIR_NAME))


def user_data_dir() -> Path:
    """The per-user data folder: platformdirs' ``user_data_dir("meddiag-desktop")``.

    The one place it is asked for: each module appends its own subfolder (and keeps
    its own environment override, e.g. ``MEDDIAG_DB_DIR``, ``MEDDIAG_SESSION_DIR``,
    ``MEDDIAG_AUDIT_LOG``). Not created here.
    """
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_DIR_NAME))


def user_cache_dir() -> Path:
    """The per-user cache folder: platformdirs' ``user_cache_dir("meddiag-desktop")`` (the demo study). Not created here."""
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_DIR_NAME))
