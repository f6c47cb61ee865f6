"""The image files a DICOMDIR (a CD/DVD index) lists, read without trusting its links.

pydicom's ``FileSet`` follows the records' offset links, so a damaged index whose
"next record" points back to itself (or any cycle) makes it loop forever. Here the
records are read in file order, the links are only checked (each offset visited
once, so a cycle is found in linear time), and every referenced path must stay
inside the DICOMDIR's folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from meddiag_desktop.io.errors import LoadCancelled, unreadable_reason

__all__ = ["DicomdirIndex", "read_dicomdir"]

_LINKS = ("OffsetOfTheNextDirectoryRecord", "OffsetOfReferencedLowerLevelDirectoryEntity")


@dataclass
class DicomdirIndex:
    """What a DICOMDIR lists: ``files`` found on disk, ``problems`` in plain words (empty when sound)."""

    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _offset(ds, keyword: str) -> int | None:
    """An offset attribute as an int (0 when absent), None when it is damaged."""
    try:
        v = ds.get(keyword)
        return 0 if v is None or v == "" else int(v)
    except Exception:  # pydicom converts lazily: a damaged value raises on access, with many types
        return None


def _check_links(ds, records, cancel: Callable[[], bool] | None) -> str | None:
    """Walk the offset links once per record; a plain reason when they loop or point nowhere."""
    by_offset = {}
    for r in records:
        tell = getattr(r, "seq_item_tell", None)
        if tell is not None:
            by_offset[int(tell)] = r
    if not by_offset:
        return None
    root = _offset(ds, "OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity")
    if root is None:
        return "its root record offset is damaged (the index is damaged)"
    if not root:
        return None
    seen: set[int] = set()
    todo = [int(root)]
    steps = 0
    while todo:
        off = todo.pop()
        while off:
            steps += 1
            if cancel is not None and steps % 1024 == 0 and cancel():
                raise LoadCancelled()
            if off in seen:
                return "its record links form a loop (the index is damaged)"
            rec = by_offset.get(off)
            if rec is None:
                return f"a record link points to offset {off}, where no record starts (the index is damaged)"
            seen.add(off)
            lower, off = _offset(rec, _LINKS[1]), _offset(rec, _LINKS[0])
            if lower is None or off is None:
                return "a record link is not a single offset (the index is damaged)"
            if lower:
                todo.append(lower)
    return None


def read_dicomdir(dicomdir: Path, cancel: Callable[[], bool] | None = None) -> DicomdirIndex:
    """Files a DICOMDIR references (in record order) and any problem with the index.

    Never loops: each record is read once; links are checked, not followed blindly.
    Never raises on a damaged index (only LoadCancelled): the problem is in ``problems``.
    """
    try:
        return _read_dicomdir(dicomdir, cancel)
    except LoadCancelled:
        raise
    except Exception as exc:
        return DicomdirIndex(problems=[f"the index cannot be read: {unreadable_reason(exc)}"])


def _read_dicomdir(dicomdir: Path, cancel: Callable[[], bool] | None) -> DicomdirIndex:
    import pydicom

    from meddiag_desktop.io.bounded import BudgetError, open_budgeted

    index = DicomdirIndex()
    root = dicomdir.parent.resolve()
    try:
        ds = pydicom.dcmread(open_budgeted(dicomdir.read_bytes()), force=True)
        records = list(ds.get("DirectoryRecordSequence") or [])
    except BudgetError as exc:
        index.problems.append(f"the index cannot be read: {exc}")
        return index
    except Exception as exc:  # a damaged index: the caller scans the folder instead
        index.problems.append(f"the index cannot be read: {unreadable_reason(exc)}")
        return index
    problem = _check_links(ds, records, cancel)
    if problem:
        index.problems.append(problem)
    outside = missing = 0
    seen: set[Path] = set()
    for n, rec in enumerate(records, 1):
        if cancel is not None and n % 1024 == 0 and cancel():
            raise LoadCancelled()
        try:
            fid = rec.get("ReferencedFileID")
        except Exception:  # a damaged value: this record is skipped
            continue
        if not fid:
            continue
        try:
            parts = [str(p).strip() for p in (fid if not isinstance(fid, (str, bytes)) else [fid])]
        except TypeError:
            parts = []
        if not parts or any(p in ("", ".", "..") or "/" in p or "\\" in p or "\x00" in p for p in parts):
            outside += 1
            continue
        path = dicomdir.parent.joinpath(*parts)
        try:
            real = path.resolve()
        except (OSError, RuntimeError, ValueError):
            missing += 1
            continue
        if root not in real.parents:
            outside += 1
            continue
        if not real.is_file():
            missing += 1
            continue
        if real not in seen:
            seen.add(real)
            index.files.append(path)
    if outside:
        index.problems.append(f"{outside} record(s) point outside its folder (not followed)")
    if missing:
        index.problems.append(f"{missing} listed file(s) are missing")
    return index
