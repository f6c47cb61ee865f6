"""Weight files: SHA-256 check against the manifest, then loading without running code."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meddiag_desktop.ai.errors import import_ai

if TYPE_CHECKING:
    from meddiag_desktop.ai.manifest import PluginManifest

__all__ = ["WeightsError", "sha256_file", "md5_file", "check_inside", "verify_weights", "load_state_dict"]

_HASH_CACHE: dict[tuple, str] = {}


class WeightsError(ValueError):
    """Weight file missing, tampered with (hash mismatch) or not loadable safely."""


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file, cached by (path, size, mtime) so listings stay quick."""
    path = Path(path)
    st = path.stat()
    # ctime and inode too: a rewrite that restores size and mtime still changes them
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    digest = _HASH_CACHE.get(key)
    if digest is None:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = _HASH_CACHE[key] = h.hexdigest()
    return digest


def md5_file(path: str | Path) -> str:
    """MD5 hex digest (MONAI zoo bundles list md5 in ``large_files.yml``), cached like :func:`sha256_file`."""
    path = Path(path)
    st = path.stat()
    key = ("md5:" + str(path.resolve()), st.st_size, st.st_mtime_ns)
    digest = _HASH_CACHE.get(key)
    if digest is None:
        h = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = _HASH_CACHE[key] = h.hexdigest()
    return digest


def verify_weights(folder: str | Path, manifest: PluginManifest) -> list[Path]:
    """Check every weight file against its manifest SHA-256; return their paths.

    Raises :class:`WeightsError` naming the file, the expected and the actual hash.
    MONAI bundles' md5 (``large_files.yml``) is checked the same way. Files
    without a listed hash are returned unchecked.
    """
    folder = Path(folder)
    paths = []
    for w in manifest.weights:
        path = folder / w.file
        check_inside(path, folder)
        if not path.is_file():
            raise WeightsError(f"weight file {path} is missing; reinstall plugin {manifest.id!r}")
        if w.sha256 is not None:
            actual = sha256_file(path)
            if actual != w.sha256:
                raise WeightsError(
                    f"weight file {path} does not match its manifest: expected SHA-256 {w.sha256}, "
                    f"actual {actual}; the file was changed or damaged, refusing to load it"
                )
        md5 = getattr(w, "md5", None)
        if md5 is not None:
            actual = md5_file(path)
            if actual != md5:
                raise WeightsError(
                    f"weight file {path} does not match the bundle's large_files list: expected MD5 {md5}, "
                    f"actual {actual}; the file was changed or damaged, refusing to load it"
                )
        paths.append(path)
    return paths


def check_inside(path: str | Path, folder: str | Path) -> None:
    """Refuse ``path`` when it (or a folder on its way) is a symbolic link leading out of ``folder``."""
    path, root = Path(path), Path(folder).resolve()
    target = path.resolve()
    try:
        target.relative_to(root)
    except ValueError:
        raise WeightsError(
            f"{path} is a symbolic link to {target}, outside the plugin folder {root}; refusing to load it: "
            "copy the weight file itself into the plugin folder"
        ) from None


def _refusal(path: Path, err: Exception) -> str:
    """Our own words for a checkpoint that ``weights_only`` refused (never PyTorch's advice to disable it)."""
    import pickle
    import re

    m = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(err))
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
    except OSError:
        head = b""
    # a torch zip checkpoint ("PK") or a raw pickle (protocol marker 0x80) that weights_only refused
    if isinstance(err, pickle.UnpicklingError) and (m or head[:1] == b"\x80" or head == b"PK"):
        example = f" (for example {m.group(1)})" if m else ""
        return (f"{path} holds pickled Python objects{example}, not just tensors; loading them "
                "could run code, so the file is refused. Ask the plugin's authors for the weights as a state_dict "
                "(torch.save(model.state_dict(), path)) or as a .safetensors file")
    return (f"{path} cannot be read as PyTorch weights ({type(err).__name__}): it is damaged, not a checkpoint, "
            "or holds something other than tensors, so it is refused; reinstall the plugin, or ask its authors "
            "for a state_dict or .safetensors file")


def load_state_dict(path: str | Path, kind: str | None = None) -> dict[str, Any]:
    """Load tensors without executing code: safetensors, or ``torch.load(weights_only=True)``."""
    path = Path(path)
    kind = kind or ("safetensors" if path.suffix == ".safetensors" else "torch")
    if kind == "safetensors":
        return import_ai("safetensors.torch").load_file(os.fspath(path))
    torch = import_ai("torch")

    try:
        obj = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except Exception as err:  # pickle with code in it, or damaged file
        raise WeightsError(_refusal(path, err)) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict):
        raise WeightsError(f"{path} does not hold a state_dict (got {type(obj).__name__})")
    return obj
