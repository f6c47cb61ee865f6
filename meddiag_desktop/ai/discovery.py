"""Finding plugins: bundled folder, user folder, ``MEDDIAG_PLUGIN_PATH`` and entry points.

Each place holds plugin folders (``plugin.toml`` or a MONAI bundle), or is one.
Manifests are read without importing plugin code; a broken one is listed with its
error instead of stopping discovery.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from meddiag_desktop.ai.manifest import MANIFEST_NAME, ManifestError, PluginManifest
from meddiag_desktop.ai.manifest_io import load_manifest

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_VAR",
    "PluginInfo",
    "PluginNotFound",
    "bundled_plugins_dir",
    "user_plugins_dir",
    "env_plugin_dirs",
    "entry_point_dirs",
    "blocked_entry_points",
    "discover_plugins",
    "find_plugin",
    "plugin_from_folder",
]

ENTRY_POINT_GROUP = "meddiag_desktop.plugins"
ENV_VAR = "MEDDIAG_PLUGIN_PATH"

#: places whose MONAI bundles may run their config code (the user put them there)
TRUSTED_SOURCES = ("user", "env", "entry_point", "explicit")


class PluginNotFound(LookupError):
    """No plugin with that id, and not a plugin folder."""


@dataclass
class PluginInfo:
    """A discovered plugin folder: its manifest, or why it could not be read."""

    path: Path
    source: str  # bundled | user | env | entry_point | explicit
    manifest: PluginManifest | None = None
    error: str | None = None

    @property
    def id(self) -> str:
        return self.manifest.id if self.manifest else self.path.name

    @property
    def ok(self) -> bool:
        return self.manifest is not None and self.error is None

    @property
    def allow_bundle_code(self) -> bool:
        """MONAI bundle configs run code: only for bundles the user installed."""
        return self.source in TRUSTED_SOURCES

    def weights_verified(self) -> bool | None:
        """True if every weight file matches its SHA-256 (or a zoo bundle's md5), False if not, None when no hash is given."""
        if self.manifest is None:
            return False
        from meddiag_desktop.ai.weights import WeightsError, verify_weights

        if not self.manifest.weights:
            return None
        try:
            verify_weights(self.path, self.manifest)
        except (WeightsError, OSError):
            return False
        return None if any(w.sha256 is None and w.md5 is None for w in self.manifest.weights) else True

    def trust(self):
        """Trust state and per-file verification (:func:`meddiag_desktop.ai.trust.trust_status`); hashes, imports nothing."""
        from meddiag_desktop.ai.trust import trust_status

        return trust_status(self)

    def to_json(self) -> dict:
        m = self.manifest
        trust = self.trust().to_json() if self.path.is_dir() else None
        return {
            "id": self.id,
            "name": m.name if m else self.path.name,
            "version": m.version if m else None,
            "task": m.task if m else None,
            "kind": m.kind if m else None,
            "intended_use": m.intended_use if m else None,
            "weights_verified": self.weights_verified() if m else False,
            "path": str(self.path),
            "source": self.source,
            "error": self.error,
            "trusted": bool(trust and trust["trusted"]),  # may its code run (lock or the user's consent)
            "trust": trust,  # state, hash, who/when, every file with ok/changed/added/missing
        }


# ------------------------------------------------------------------ places
def bundled_plugins_dir() -> Path:
    """The plugins shipped with the app: package data when installed, else ``plugins/`` at the repo root."""
    from meddiag_desktop.paths import bundled_plugins_dir as bundled

    return bundled()


def user_plugins_dir() -> Path:
    """``<user data folder>/plugins``: drop plugin folders or MONAI bundles here."""
    from meddiag_desktop.paths import user_data_dir

    return user_data_dir() / "plugins"


def env_plugin_dirs() -> list[Path]:
    value = os.environ.get(ENV_VAR, "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def entry_point_dirs() -> list[tuple[str, Path | None, str | None]]:
    """``(entry point name, folder, error)`` for the ``meddiag_desktop.plugins`` group.

    Nothing is imported (npe2's rule): the module named by the entry point is only
    located with :func:`importlib.util.find_spec`'s path finder. ``pkg.sub`` names a
    package whose folder is the plugin (or holds plugins); ``pkg:plugin.toml`` or
    ``pkg:folder`` names a manifest file or a folder inside that package's folder.
    Empty inside :func:`blocked_entry_points`.
    """
    if _entry_points_blocked:
        return []
    out: list[tuple[str, Path | None, str | None]] = []
    try:
        eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception as err:  # broken metadata of some installed distribution
        return [("entry points", None, f"cannot read entry points: {err}")]
    for ep in eps:
        try:
            spec = _find_spec_without_import(ep.module)
            if spec is None:
                raise ModuleNotFoundError(f"no module {ep.module}")
            if spec.submodule_search_locations is not None:
                path = Path(_search_locations(spec)[0])
            else:
                path = Path(spec.origin).parent
            if ep.attr:
                path = path / ep.attr
                if path.name == MANIFEST_NAME and path.is_file():
                    path = path.parent
                elif not path.is_dir():
                    raise FileNotFoundError(f"{path} is neither a folder nor a {MANIFEST_NAME}")
            out.append((ep.name, path, None))
        except Exception as err:
            out.append((ep.name, None, f"entry point {ep.name} = {ep.value}: {type(err).__name__}: {err}"))
    return out


_entry_points_blocked = False


@contextlib.contextmanager
def blocked_entry_points(blocked: bool = True):
    """Within the block, discovery ignores (or, with ``blocked=False``, reads) the entry-point group.

    For tests: installed distributions must not add plugins to a test's discovery
    (npe2's ``discovery_blocked``); the previous state comes back on exit.
    """
    global _entry_points_blocked
    before, _entry_points_blocked = _entry_points_blocked, blocked
    try:
        yield
    finally:
        _entry_points_blocked = before


def _find_spec_without_import(dotted: str):
    """``importlib.util.find_spec`` without importing parent packages (whose ``__init__`` is plugin code).

    Walks ``sys.path`` with :class:`importlib.machinery.PathFinder`, one name at a time.
    """
    from importlib.machinery import PathFinder

    parts = dotted.split(".")
    spec = PathFinder.find_spec(parts[0])
    for i in range(1, len(parts)):
        if spec is None or spec.submodule_search_locations is None:
            return None
        name, locations = ".".join(parts[: i + 1]), _search_locations(spec)
        try:
            spec = PathFinder.find_spec(name, locations)
        except KeyError:  # a namespace subpackage: PathFinder looks its parent up in sys.modules
            spec = _namespace_spec(name, locations)
    return spec


def _namespace_spec(name: str, locations: list[str]):
    """The spec of namespace package ``name`` (a folder without ``__init__.py``) in ``locations``, or None."""
    from importlib.machinery import ModuleSpec

    leaf = name.rpartition(".")[2]
    folders = [str(Path(loc) / leaf) for loc in locations if (Path(loc) / leaf).is_dir()]
    if not folders:
        return None
    spec = ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = folders
    return spec


def _search_locations(spec) -> list[str]:
    """A package spec's folders; a namespace package's without importing its parent (which recomputing needs)."""
    locations = spec.submodule_search_locations
    try:
        return list(locations)
    except KeyError:  # _NamespacePath of a subpackage looks its parent up in sys.modules
        return list(getattr(locations, "_path", []))


# ---------------------------------------------------------------- scanning
def _is_plugin_folder(path: Path) -> bool:
    from meddiag_desktop.ai.bundle import is_bundle

    return (path / MANIFEST_NAME).is_file() or is_bundle(path)


def plugin_from_folder(path: str | Path, source: str = "explicit") -> PluginInfo:
    """Read one plugin folder; problems are recorded in ``error``, never raised."""
    path = Path(path)
    try:
        return PluginInfo(path, source, load_manifest(path))
    except ManifestError as err:
        return PluginInfo(path, source, None, str(err))
    except Exception as err:  # anything else odd about the folder
        return PluginInfo(path, source, None, f"{path}: {type(err).__name__}: {err}")


def _scan(root: Path, source: str) -> list[PluginInfo]:
    if not root.is_dir():
        return []
    if _is_plugin_folder(root):
        return [plugin_from_folder(root, source)]
    found = []
    try:
        children = sorted(root.iterdir())
    except OSError as err:
        return [PluginInfo(root, source, None, f"cannot list {root}: {err}")]
    for child in children:
        if child.is_dir() and not child.name.startswith((".", "_")):
            if _is_plugin_folder(child):
                found.append(plugin_from_folder(child, source))
            elif any(child.glob("*.toml")) or (child / "configs").is_dir():
                found.append(PluginInfo(child, source, None, f"{child}: no {MANIFEST_NAME} and not a MONAI bundle"))
    return found


def discover_plugins() -> list[PluginInfo]:
    """All plugins, in order: bundled, user folder, ``MEDDIAG_PLUGIN_PATH``, entry points.

    A later plugin with an id already seen is listed with an error (it is shadowed).
    """
    infos: list[PluginInfo] = []
    infos += _scan(bundled_plugins_dir(), "bundled")
    infos += _scan(user_plugins_dir(), "user")
    for d in env_plugin_dirs():
        if not d.is_dir():
            infos.append(PluginInfo(d, "env", None, f"{ENV_VAR} names {d}, which is not a folder"))
        else:
            infos += _scan(d, "env")
    for name, path, error in entry_point_dirs():
        if error or path is None:
            infos.append(PluginInfo(Path(name), "entry_point", None, error))
        else:
            infos += _scan(path, "entry_point") or [
                PluginInfo(path, "entry_point", None, f"entry point {name}: {path} holds no plugin")
            ]
    seen: dict[str, Path] = {}
    for info in infos:
        if info.ok:
            if info.id in seen:
                info.error = f"duplicate id {info.id!r}: already provided by {seen[info.id]}"
            else:
                seen[info.id] = info.path
    return infos


def find_plugin(id_or_path: str | Path) -> PluginInfo:
    """A plugin by id, or a folder given directly (``explicit``: a bundle there may run)."""
    p = Path(id_or_path).expanduser()
    if p.is_dir():
        return plugin_from_folder(p.resolve(), "explicit")
    for info in discover_plugins():
        if info.ok and info.id == str(id_or_path):
            return info
    known = ", ".join(i.id for i in discover_plugins() if i.ok) or "none"
    raise PluginNotFound(f"no plugin with id {str(id_or_path)!r} and no such folder; installed plugins: {known}")
