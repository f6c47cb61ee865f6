"""Consent before plugin code runs: every plugin and MONAI bundle is pinned to a hash of all its files.

A plugin folder holds code (a Python package, a bundle's ``scripts/``, the ``$``
expressions of its configs) and data the code trusts (weights, manifest). Before
anything in it is imported or parsed, :func:`require_trusted` hashes the whole
folder (:func:`hash_tree`: every file, by relative path and SHA-256; only
``__pycache__`` is skipped, and the worker keeps Python's bytecode cache out of
plugin folders) and compares the result with

* the lock file shipped beside a bundled plugin (``plugin.lock``, written by
  ``scripts/lock_plugins.py``; the app's own plugins need no consent, but any
  edit to them is refused), or
* the user's consent, recorded in the trust store
  (``paths.user_config_dir()/trusted_plugins.json``) by ``meddiag plugins trust``
  or the app's consent dialog, for every other plugin or bundle.

A folder that changed since it was trusted needs consent again; the error names
the files that changed. Files that are symbolic links out of the plugin folder
are refused outright (the folder would not be self-contained). Qt-free.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "LOCK_NAME",
    "STORE_NAME",
    "PluginUntrusted",
    "UnsafePluginFile",
    "TrustStatus",
    "hash_tree",
    "tree_digest",
    "compare_files",
    "describe_changes",
    "store_path",
    "read_lock",
    "write_lock",
    "trust_status",
    "trust_plugin",
    "untrust_plugin",
    "require_trusted",
    "is_bundled",
]

#: lock file shipped beside each bundled plugin: the SHA-256 of every file
LOCK_NAME = "plugin.lock"
#: the user's consent records, in the settings folder
STORE_NAME = "trusted_plugins.json"
_SKIP_DIRS = {"__pycache__"}
_FORMAT = 1


class PluginUntrusted(PermissionError):
    """A plugin or bundle whose code may not run: never trusted, changed since, or unsafe.

    ``path`` is the plugin folder, ``changes`` maps ``changed``/``added``/``missing`` to file lists.
    A :class:`PermissionError`, so callers that already report ``OSError`` (``meddiag
    infer``, ``meddiag report``) refuse the run with this message.
    """

    def __init__(self, message: str, path: Path | None = None, changes: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.changes = changes or {}


class UnsafePluginFile(PluginUntrusted):
    """A file of the plugin is a symbolic link leading out of the plugin folder."""


# ------------------------------------------------------------------ hashing
def _sha256(path: Path) -> str:
    from meddiag_desktop.ai.weights import sha256_file

    return sha256_file(path)


def _outside(target: Path, root: Path) -> bool:
    try:
        target.relative_to(root)
    except ValueError:
        return True
    return False


def hash_tree(folder: str | Path) -> dict[str, str]:
    """``relative/posix/path -> sha256`` of every file under ``folder`` (``__pycache__`` and the lock skipped).

    Symbolic links inside the folder are hashed by what they point to (a link to a
    folder is recorded as ``link:<relative target>``, not followed); a link that
    leads out of the folder raises :class:`UnsafePluginFile`.
    """
    root = Path(folder).resolve()
    if not root.is_dir():
        raise PluginUntrusted(f"{folder} is not a folder", Path(folder))
    files: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in list(dirnames):
            p = here / name
            if p.is_symlink():
                dirnames.remove(name)
                target = p.resolve()
                rel = p.relative_to(root).as_posix()
                if _outside(target, root):
                    raise UnsafePluginFile(
                        f"{p} is a symbolic link to {target}, outside the plugin folder {root}; refusing it: "
                        "copy what it points to into the plugin folder", root)
                files[rel] = "link:" + target.relative_to(root).as_posix()
        for name in sorted(filenames):
            p = here / name
            rel = p.relative_to(root).as_posix()
            if rel == LOCK_NAME:
                continue
            if p.is_symlink():
                target = p.resolve()
                if _outside(target, root):
                    raise UnsafePluginFile(
                        f"{p} is a symbolic link to {target}, outside the plugin folder {root}; refusing it: "
                        "copy the file itself into the plugin folder", root)
                if not target.is_file():
                    raise UnsafePluginFile(f"{p} is a symbolic link to {target}, which is not a file", root)
            elif not p.is_file():
                continue  # sockets, fifos: nothing Python or MONAI loads
            files[rel] = _sha256(p)
    return dict(sorted(files.items()))


def tree_digest(files: dict[str, str]) -> str:
    """One SHA-256 over the sorted ``path\\0hash`` lines: the plugin's identity."""
    h = hashlib.sha256()
    for rel, digest in sorted(files.items()):
        h.update(rel.encode("utf-8") + b"\0" + digest.encode("ascii") + b"\n")
    return h.hexdigest()


def compare_files(expected: dict[str, str], actual: dict[str, str]) -> dict[str, list[str]]:
    """``{"changed": [...], "added": [...], "missing": [...]}`` (only non-empty lists)."""
    out = {
        "changed": sorted(k for k in expected.keys() & actual.keys() if expected[k] != actual[k]),
        "added": sorted(actual.keys() - expected.keys()),
        "missing": sorted(expected.keys() - actual.keys()),
    }
    return {k: v for k, v in out.items() if v}


def describe_changes(changes: dict[str, list[str]], limit: int = 6) -> str:
    """``changed: configs/inference.json; added: scripts/x.py`` (long lists shortened)."""
    parts = []
    for key in ("changed", "added", "missing"):
        names = changes.get(key) or []
        if names:
            shown = ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
            parts.append(f"{key}: {shown}")
    return "; ".join(parts)


# ------------------------------------------------------------ which rule
def _folder_of(plugin: Any) -> Path:
    return Path(getattr(plugin, "path", plugin))


def is_bundled(folder: str | Path) -> bool:
    """True for a plugin shipped inside the app (its ``plugins/`` folder)."""
    from meddiag_desktop import paths

    return not _outside(Path(folder).resolve(), paths.bundled_plugins_dir().resolve())


def _describe(plugin: Any, folder: Path) -> tuple[str, str]:
    """(``bundle``/``plugin``, display name) without importing anything from the folder."""
    manifest = getattr(plugin, "manifest", None)
    if manifest is None and not hasattr(plugin, "manifest"):
        try:
            from meddiag_desktop.ai.manifest_io import load_manifest

            manifest = load_manifest(folder)
        except Exception:
            manifest = None
    if manifest is not None:
        return ("bundle" if manifest.kind == "monai_bundle" else "plugin"), manifest.name
    from meddiag_desktop.ai.bundle import is_bundle

    return ("bundle" if is_bundle(folder) else "plugin"), folder.name


# ------------------------------------------------------------------ lock
def read_lock(folder: str | Path) -> dict[str, str] | None:
    """The per-file hashes of ``folder/plugin.lock``, or None when there is none."""
    path = Path(folder) / LOCK_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict):
            raise TypeError("files is not an object")
        return {str(k): str(v) for k, v in files.items()}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise PluginUntrusted(f"{path} cannot be read ({err}); reinstall MedDiag Desktop", Path(folder)) from None


def write_lock(folder: str | Path) -> Path:
    """Write ``folder/plugin.lock`` from the files there now (``scripts/lock_plugins.py``)."""
    from meddiag_desktop.atomic_files import write_text_atomic

    folder = Path(folder)
    files = hash_tree(folder)
    data = {"format": _FORMAT, "about": "SHA-256 of every file of this bundled plugin; "
            "regenerate with scripts/lock_plugins.py", "sha256": tree_digest(files), "files": files}
    path = folder / LOCK_NAME
    write_text_atomic(path, json.dumps(data, indent=1) + "\n", mode=0o644)
    return path


# ----------------------------------------------------------------- store
def store_path() -> Path:
    from meddiag_desktop.paths import user_config_dir

    return user_config_dir() / STORE_NAME


def _key(folder: Path) -> str:
    return str(folder.resolve())


def _read_store() -> dict[str, dict]:
    path = store_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # unreadable store: nothing is trusted; trusting again rewrites it
    plugins = data.get("plugins") if isinstance(data, dict) else None
    return {k: v for k, v in plugins.items() if isinstance(v, dict)} if isinstance(plugins, dict) else {}


def _write_store(plugins: dict[str, dict]) -> None:
    from meddiag_desktop.atomic_files import write_text_atomic

    write_text_atomic(store_path(), json.dumps({"format": _FORMAT, "plugins": plugins}, indent=1) + "\n")


# ---------------------------------------------------------------- status
@dataclass
class TrustStatus:
    """Where a plugin stands: may its code run, on whose word, and which files differ."""

    path: Path
    kind: str  # bundle | plugin
    name: str
    basis: str  # lock (shipped with the app) | user (consent record)
    state: str  # trusted | not_trusted | changed | unsafe
    digest: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    changes: dict[str, list[str]] = field(default_factory=dict)
    record: dict | None = None
    message: str | None = None

    @property
    def trusted(self) -> bool:
        return self.state == "trusted"

    def file_rows(self) -> list[dict]:
        """One row per file (now present or expected): path, sha256, status ok/changed/added/missing."""
        status = {f: k for k, names in self.changes.items() for f in names}
        rows = [{"path": p, "sha256": h, "status": status.get(p, "ok" if self.trusted or self.record
                                                              or self.basis == "lock" else "not_trusted")}
                for p, h in self.files.items()]
        rows += [{"path": p, "sha256": None, "status": "missing"} for p in self.changes.get("missing", [])]
        return rows

    def to_json(self) -> dict:
        rec = self.record or {}
        return {"state": self.state, "trusted": self.trusted, "basis": self.basis, "sha256": self.digest,
                "trusted_by": rec.get("trusted_by"), "trusted_at": rec.get("trusted_at"),
                "message": self.message, "files": self.file_rows()}


def _untrusted_message(kind: str, name: str, folder: Path, why: str = "") -> str:
    return (f"{kind} {name} at {folder} is not trusted{why}: run `meddiag plugins trust {folder}` "
            "or confirm in the app")


def trust_status(plugin: Any) -> TrustStatus:
    """Hash ``plugin`` (a :class:`PluginInfo` or a folder) and compare it with its lock or consent record."""
    folder = _folder_of(plugin)
    kind, name = _describe(plugin, folder)
    bundled = is_bundled(folder)
    basis = "lock" if bundled else "user"
    try:
        files = hash_tree(folder)
    except PluginUntrusted as err:
        return TrustStatus(folder, kind, name, basis, "unsafe", message=f"{kind} {name}: {err}")
    except OSError as err:
        return TrustStatus(folder, kind, name, basis, "unsafe", message=f"{kind} {name} at {folder} cannot be read: {err}")
    digest = tree_digest(files)
    if bundled:
        try:
            lock = read_lock(folder)
        except PluginUntrusted as err:
            return TrustStatus(folder, kind, name, basis, "changed", digest, files, message=str(err))
        if lock is None:
            return TrustStatus(folder, kind, name, basis, "not_trusted", digest, files, message=(
                f"bundled {kind} {name} at {folder} has no {LOCK_NAME}; the installation is incomplete: "
                "reinstall MedDiag Desktop (developers: run scripts/lock_plugins.py)"))
        changes = compare_files(lock, files)
        if changes:
            return TrustStatus(folder, kind, name, basis, "changed", digest, files, changes, message=(
                f"bundled {kind} {name} at {folder} does not match its {LOCK_NAME} ({describe_changes(changes)}): "
                "its files were modified; reinstall MedDiag Desktop (developers: run scripts/lock_plugins.py)"))
        return TrustStatus(folder, kind, name, basis, "trusted", digest, files)
    record = _read_store().get(_key(folder))
    if record is None:
        return TrustStatus(folder, kind, name, basis, "not_trusted", digest, files,
                           message=_untrusted_message(kind, name, folder))
    if record.get("sha256") == digest:
        return TrustStatus(folder, kind, name, basis, "trusted", digest, files, record=record)
    changes = compare_files(record.get("files") or {}, files) or {"changed": ["(unknown files)"]}
    when = record.get("trusted_at", "")[:10]
    why = f": it changed since it was trusted{' on ' + when if when else ''} ({describe_changes(changes)})"
    return TrustStatus(folder, kind, name, basis, "changed", digest, files, changes, record,
                       _untrusted_message(kind, name, folder, why))


def trust_plugin(plugin: Any, via: str = "cli", expect_digest: str | None = None) -> TrustStatus:
    """Record the user's consent for the folder's files as they are now; return the new status.

    ``expect_digest``: the hash the user was shown; if the folder changed in the
    meantime nothing is recorded and :class:`PluginUntrusted` is raised.
    """
    folder = _folder_of(plugin)
    if is_bundled(folder):
        status = trust_status(plugin)
        if not status.trusted:
            raise PluginUntrusted(status.message or f"{folder} does not match its lock", folder, status.changes)
        return status
    kind, name = _describe(plugin, folder)
    files = hash_tree(folder)  # raises UnsafePluginFile for links out of the folder
    digest = tree_digest(files)
    if expect_digest is not None and expect_digest != digest:
        raise PluginUntrusted(f"{kind} {name} at {folder} changed while you were reviewing it; nothing was "
                              "trusted: review it again", folder)
    manifest = getattr(plugin, "manifest", None)
    record = {
        "id": manifest.id if manifest is not None else folder.name,
        "name": name, "kind": kind, "sha256": digest, "files": files,
        "trusted_by": getpass.getuser() if _has_user() else "unknown",
        "trusted_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "via": via,
    }
    store = _read_store()
    store[_key(folder)] = record
    _write_store(store)
    return TrustStatus(folder, kind, name, "user", "trusted", digest, files, record=record)


def _has_user() -> bool:
    try:
        getpass.getuser()
    except Exception:
        return False
    return True


def untrust_plugin(plugin: Any) -> bool:
    """Forget the consent for this folder; True if there was one."""
    store = _read_store()
    if store.pop(_key(_folder_of(plugin)), None) is None:
        return False
    _write_store(store)
    return True


def require_trusted(plugin: Any, *, for_run: bool = False) -> str:
    """Raise :class:`PluginUntrusted` unless every file of ``plugin`` matches its lock or the user's consent.

    Call before any plugin module is imported or any bundle config parsed. With
    ``for_run`` (in the worker process, just before running) modules in the plugin
    folder are then imported from their source only: ``__pycache__`` is not hashed,
    so a ``.pyc`` left there must not be loaded instead of the hashed source.
    Returns the tree hash.
    """
    status = trust_status(plugin)
    if not status.trusted:
        cls = UnsafePluginFile if status.state == "unsafe" else PluginUntrusted
        raise cls(status.message or f"{status.path} is not trusted", status.path, status.changes)
    if for_run:
        _source_only_imports(status.path)
    return status.digest or ""


_SOURCE_ONLY_ROOTS: set[Path] = set()


def _source_only_imports(folder: Path) -> None:
    """Import modules under ``folder`` from their hashed source, never from ``__pycache__`` (not hashed).

    A path hook placed first in :data:`sys.path_hooks` serves the plugin's folders
    with a loader that compiles the source and neither reads nor writes ``.pyc``
    files; every other import (torch, MONAI) keeps its bytecode cache.
    """
    import importlib.machinery as m

    root = folder.resolve()
    if root in _SOURCE_ONLY_ROOTS:
        return
    _SOURCE_ONLY_ROOTS.add(root)

    class SourceOnlyLoader(m.SourceFileLoader):
        def get_code(self, fullname):
            return self.source_to_code(self.get_data(self.path), self.path)

    if not any(getattr(h, "_meddiag_source_only", False) for h in sys.path_hooks):
        finder_hook = m.FileFinder.path_hook((SourceOnlyLoader, m.SOURCE_SUFFIXES),
                                             (m.ExtensionFileLoader, m.EXTENSION_SUFFIXES))

        def hook(path: str):
            p = Path(path or ".").resolve()
            if not any(p == r or r in p.parents for r in _SOURCE_ONLY_ROOTS):
                raise ImportError("not a plugin folder")
            return finder_hook(path)

        hook._meddiag_source_only = True  # type: ignore[attr-defined]
        sys.path_hooks.insert(0, hook)
    for cached in list(sys.path_importer_cache):  # folders already seen get the new finder
        try:
            p = Path(cached).resolve()
        except (OSError, ValueError, TypeError):
            continue
        if p == root or root in p.parents:
            del sys.path_importer_cache[cached]
