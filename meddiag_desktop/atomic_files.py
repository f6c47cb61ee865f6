"""Atomic file writes: readers see the old file or the new one, never a partial one.

Every file the app writes (reports, DICOM exports, sessions, settings) goes
through here: a temporary file in the destination folder, written, fsynced,
made owner-only, then renamed over the target; the folder is fsynced so the
rename survives a power cut. On any failure the temporary file is removed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_bytes_atomic", "write_text_atomic", "write_fd", "fsync_dir"]


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (POSIX; a no-op elsewhere)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_fd(fd: int, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to the open file descriptor ``fd`` with ``mode``, flush it to disk and close it."""
    with os.fdopen(fd, "wb") as fh:
        if hasattr(os, "fchmod"):
            os.fchmod(fh.fileno(), mode)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_bytes_atomic(path: str | os.PathLike, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only (``mode``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".meddiag-{path.name}.", suffix=".part", dir=path.parent)
    try:
        write_fd(fd, data, mode)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def write_text_atomic(path: str | os.PathLike, text: str, mode: int = 0o600) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"), mode)
