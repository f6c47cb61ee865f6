"""Publish an export as a set: staged beside the destination, then one rename.

The files are written into a hidden staging folder in the destination's parent
(``.NAME.meddiag-staging-PID-XXXX``), fsync'ed and checked; the staging folder then
becomes the destination in one step: ``rename`` when the destination does not exist,
an atomic exchange of the two folders (Linux ``renameat2(RENAME_EXCHANGE)``) when it
does. Where the exchange is not available, the old folder is renamed aside first
(``.NAME.meddiag-old-PID-XXXX``) and restored by the next run if a kill came between
the two renames. Either way, a reader of the destination sees the previous set or the
new one, never a mix, and never a ``.part`` file. Stale staging folders of dead
processes are removed at the start of the next export to the same destination.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from meddiag_desktop.atomic_files import fsync_dir, write_fd

__all__ = ["ExportError", "publish_set", "clean_stale", "STAGING_MARK", "OWN_NAMES"]

STAGING_MARK = ".meddiag-staging-"
OLD_MARK = ".meddiag-old-"
#: names an export folder may hold (an earlier export, which overwrite=True replaces as a whole)
OWN_NAMES = frozenset({"report.pdf", "seg.dcm", "sr.dcm"})


class ExportError(ValueError):
    """The export cannot be done; the message says why and what to do."""


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _pid_of(name: str, mark: str) -> int | None:
    rest = name.split(mark, 1)[1]
    head = rest.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def clean_stale(out: Path) -> list[str]:
    """Remove what killed exports to ``out`` left beside it; put back a set a kill left renamed aside.
    Returns the names handled. Folders of exports still running (live process) are left alone."""
    out = Path(out)
    handled: list[str] = []
    if not out.parent.is_dir():
        return handled
    for mark in (OLD_MARK, STAGING_MARK):  # restore first, then drop stagings
        prefix = f".{out.name}{mark}"
        for entry in sorted(out.parent.iterdir()):
            if not entry.name.startswith(prefix) or not entry.is_dir() or entry.is_symlink():
                continue
            pid = _pid_of(entry.name, mark)
            if pid is not None and _alive(pid) and pid != os.getpid():
                continue
            if mark == OLD_MARK and not out.exists():
                os.rename(entry, out)
            else:
                shutil.rmtree(entry, ignore_errors=True)
            handled.append(entry.name)
    if out.is_dir():  # .part files of exports made before sets were staged
        for entry in out.iterdir():
            if entry.name.startswith(".meddiag-") and entry.name.endswith(".part") and entry.is_file():
                entry.unlink()
                handled.append(entry.name)
    if handled:
        fsync_dir(out.parent)
    return handled


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap folders ``a`` and ``b`` (Linux); False where the system cannot."""
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if rc != 0:
        err = ctypes.get_errno()
        if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system cannot exchange
            return False
        raise OSError(err, os.strerror(err), str(b))
    return True


def _write(path: Path, data: bytes, mode: int) -> None:
    """A new file in the staging folder (never over an existing one), on disk before the set is published."""
    write_fd(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), data, mode)


def _stall(step: str) -> None:
    """Test hook: with ``MEDDIAG_TEST_EXPORT_STALL=<step>`` the export stops here until killed, after
    printing ``STALLED <step>`` to stderr (lets a test kill a real ``meddiag report`` at that point)."""
    if os.environ.get("MEDDIAG_TEST_EXPORT_STALL") == step:
        import sys
        import threading

        print(f"STALLED {step}", file=sys.stderr, flush=True)
        threading.Event().wait()


def publish_set(out: Path, files: Mapping[str, bytes], *, overwrite: bool = False,
                say: Callable[[str], None] | None = None,
                verify: Callable[[list[Path]], None] | None = None, mode: int = 0o600) -> dict[str, Path]:
    """Write ``files`` (name -> bytes) as the folder ``out``, all or nothing; returns name -> final path.

    ``verify`` is called with the staged paths before anything is published; an exception from it
    (e.g. an identifying value found) leaves ``out`` as it was.
    """
    say = say or (lambda text: None)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    clean_stale(out)
    if out.exists():
        if not out.is_dir():
            raise ExportError(f"{out} is a file; choose a folder for the report")
        entries = sorted(p.name for p in out.iterdir())
        foreign = [n for n in entries if n not in OWN_NAMES]
        if foreign:
            shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
            raise ExportError(f"{out} holds other files ({shown}); a report is published as a whole folder, so "
                              "choose a new or empty folder, or one that holds only an earlier report")
        if entries and not overwrite:
            raise ExportError(f"{out} already holds {', '.join(entries)}; choose another folder or allow "
                              "overwriting (the earlier report is then replaced as a whole)")
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}{STAGING_MARK}{os.getpid()}-", dir=out.parent))
    try:
        os.chmod(stage, 0o700)
        for name, data in files.items():
            say(f"writing {name}")
            _write(stage / name, data, mode)
            _stall(name)
        fsync_dir(stage)
        if verify is not None:
            verify([stage / name for name in files])
        _stall("publish")
        if not out.exists():
            os.rename(stage, out)
        elif _exchange(stage, out):
            shutil.rmtree(stage, ignore_errors=True)  # now the earlier set
        else:
            aside = Path(tempfile.mkdtemp(prefix=f".{out.name}{OLD_MARK}{os.getpid()}-", dir=out.parent))
            os.rmdir(aside)
            os.rename(out, aside)
            _stall("swap")
            os.rename(stage, out)
            shutil.rmtree(aside, ignore_errors=True)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    fsync_dir(out.parent)
    return {name: out / name for name in files}
