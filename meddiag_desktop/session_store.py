"""Saved reading sessions: the state of a study, beside the user's data, never in the source folder.

A session file is small JSON (measurements, overlays shown, layout, window/level,
cameras) named after the study's series UID, in ``<user data folder>/sessions``.
Writes are atomic (temporary file in the same folder, fsync, rename), so a
crash can never leave a half-written session. A lock file marks a session that
is open; finding a lock whose process is gone means the app did not exit
cleanly, and the autosaved state can be offered for restore.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from meddiag_desktop.atomic_files import write_text_atomic

__all__ = ["SessionState", "SessionStore", "atomic_write_text", "default_sessions_dir", "geometry_fingerprint",
           "SESSION_VERSION"]

SESSION_VERSION = 1


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never a partial one."""
    write_text_atomic(path, text, mode)


def geometry_fingerprint(volume) -> str:
    """A short text that changes when the study is read onto a different grid (size, spacing, origin,
    axes), e.g. after a reader fix; rounded so that float noise does not count."""
    import hashlib

    import numpy as np

    parts = [tuple(int(n) for n in volume.shape_xyz), np.round(np.asarray(volume.spacing, float), 4).tolist(),
             np.round(np.asarray(volume.origin, float), 3).tolist(),
             np.round(np.asarray(volume.direction, float), 5).ravel().tolist()]
    return hashlib.sha256(json.dumps(parts).replace("-0.0", "0.0").encode()).hexdigest()[:16]


@dataclass
class SessionState:
    """What is restored when a study is reopened."""

    series_uid: str
    source: str = ""  # where the study was opened from (a folder or file path)
    measurements: list[dict] = field(default_factory=list)
    window: tuple[float, float] | None = None  # (width, level)
    layout: str = "2x2"
    cursor_lps: tuple[float, float, float] | None = None
    cameras: dict[str, dict[str, Any]] = field(default_factory=dict)
    overlays: dict[str, Any] = field(default_factory=dict)
    #: fingerprint of the volume's grid when saved (see ``geometry_fingerprint``); "" in older files
    geometry: str = ""
    saved_at: float = 0.0
    version: int = SESSION_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "SessionState":
        d = json.loads(text)
        if not isinstance(d, dict) or "series_uid" not in d:
            raise ValueError("not a MedDiag session file")
        if int(d.get("version", 0)) > SESSION_VERSION:
            raise ValueError(f"session file version {d.get('version')} is newer than this app supports")
        known = {f for f in cls.__dataclass_fields__}
        d = {k: v for k, v in d.items() if k in known}
        for key in ("window", "cursor_lps"):
            if d.get(key) is not None:
                d[key] = tuple(float(v) for v in d[key])
        return cls(**d)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def default_sessions_dir() -> Path:
    """Where sessions are kept: ``$MEDDIAG_SESSION_DIR``, else ``<user data folder>/sessions``."""
    override = os.environ.get("MEDDIAG_SESSION_DIR")
    if override:
        return Path(override)
    from meddiag_desktop.paths import user_data_dir

    return user_data_dir() / "sessions"


class SessionStore:
    """Session files for studies, in ``root`` (default: :func:`default_sessions_dir`)."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else default_sessions_dir()

    def path_for(self, series_uid: str) -> Path:
        # hashed: series UIDs are identifiers and file names should not carry them
        digest = hashlib.sha256(series_uid.encode()).hexdigest()[:24]
        return self.root / f"{digest}.json"

    def _lock_path(self, series_uid: str) -> Path:
        return self.path_for(series_uid).with_suffix(".lock")

    def save(self, state: SessionState) -> Path:
        state.saved_at = time.time()
        path = self.path_for(state.series_uid)
        atomic_write_text(path, state.to_json())
        return path

    def load(self, series_uid: str) -> SessionState | None:
        path = self.path_for(series_uid)
        try:
            return SessionState.from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            raise ValueError(f"the saved session {path.name} cannot be read ({exc}); it was left as it is") from None

    def delete(self, series_uid: str) -> None:
        for p in (self.path_for(series_uid), self._lock_path(series_uid)):
            try:
                p.unlink()
            except FileNotFoundError:
                pass

    # ------------------------------------------------------ unclean-exit detection
    def open_lock(self, series_uid: str) -> bool:
        """Mark the session open; returns True if a previous run left it open (crash or kill)."""
        lock = self._lock_path(series_uid)
        unclean = False
        try:
            pid = int(lock.read_text().strip() or 0)
            unclean = not _pid_alive(pid) or pid == os.getpid()
        except (FileNotFoundError, ValueError):
            pass
        atomic_write_text(lock, str(os.getpid()))
        return unclean and self.path_for(series_uid).exists()

    def close_lock(self, series_uid: str) -> None:
        """Mark a clean close."""
        try:
            self._lock_path(series_uid).unlink()
        except FileNotFoundError:
            pass
