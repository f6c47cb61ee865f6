"""What a batch runs on: the studies behind INPUT (a folder, a list file, ``db:key=value`` or ``pacs:NODE?key=value``).

Finding studies happens in two steps so that workers, not the client, read the
data where it lies:

1. :func:`candidates` turns INPUT into folders or files to look at (a directory
   listing, the lines of a list file, or a local-database query); nothing is read.
   A PACS query is the exception: its studies are retrieved into the local
   database first (on the client), then batched from there.
2. :func:`scan_candidate` reads the DICOM headers under one candidate (a Dask task)
   and returns its studies grouped by StudyInstanceUID, with the folder that
   ``meddiag report`` must open for each; :func:`merge_scans` joins them.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["StudyJob", "InputProblem", "BatchInputError", "Candidates", "candidates", "scan_candidate", "merge_scans",
           "study_key", "parse_pacs_input"]

_UID = re.compile(r"[0-9]+(\.[0-9]+)*")


class BatchInputError(ValueError):
    """INPUT cannot be turned into studies; the message says why and what to do."""


@dataclass(frozen=True)
class StudyJob:
    """One study to process: where it is read from and the folder name of its outputs."""

    key: str  #: output folder name: the StudyInstanceUID, or ``file-<hash>`` for an image without one
    study_uid: str
    path: str  #: folder (or image file) given to ``meddiag report``
    images: int = 0
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class InputProblem:
    """A candidate that yields no study, or a study that cannot be given to the report on its own."""

    source: str
    reason: str
    key: str = ""


@dataclass
class ScanOutcome:
    """What one candidate holds."""

    jobs: list[StudyJob] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)


def study_key(study_uid: str, path: str | os.PathLike = "") -> str:
    """Output folder name: the UID itself when it is a valid UID, else a hash (never patient text)."""
    uid = (study_uid or "").strip()
    if uid and len(uid) <= 64 and _UID.fullmatch(uid):
        return uid
    if uid:
        return "uid-" + hashlib.sha256(uid.encode("utf-8", "replace")).hexdigest()[:16]
    return "file-" + hashlib.sha256(os.fsencode(os.path.abspath(path))).hexdigest()[:16]


def _is_list_file(p: Path) -> bool:
    """A text file (the study list) rather than an image: no DICOM preamble, decodes as UTF-8."""
    try:
        head = p.read_bytes()[:4096]
    except OSError as exc:
        raise BatchInputError(f"cannot read {p}: {exc}") from None
    if len(head) >= 132 and head[128:132] == b"DICM":
        return False
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse_db_query(text: str) -> dict[str, str]:
    """``modality=CT,study_date=20250101`` -> ``{"modality": "CT", "study_date": "20250101"}``."""
    query: dict[str, str] = {}
    for part in filter(None, (s.strip() for s in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise BatchInputError(f"db query {text!r}: write it as db:key=value[,key=value...], e.g. db:modality=CT")
        query[key.strip()] = value.strip()
    if not query:
        raise BatchInputError("db query is empty: write it as db:key=value, e.g. db:modality=CT")
    return query


def _db_paths(text: str) -> list[str]:
    query = parse_db_query(text)
    try:
        from meddiag_desktop.db import find_study_paths  # lazily imported
    except ImportError:
        raise BatchInputError(
            "db: queries need the local study database (meddiag_desktop.db.find_study_paths), which this "
            "installation does not have; give a folder of studies or a text file of study paths instead"
        ) from None
    try:
        return [os.fspath(p) for p in find_study_paths(query)]
    except ValueError as exc:  # an unknown key
        raise BatchInputError(f"db query {text!r}: {exc}") from None


class Candidates(list):
    """The candidate paths, and the studies INPUT named that cannot be run (e.g. a PACS retrieve that failed)."""

    def __init__(self, paths=(), problems=()):
        super().__init__(paths)
        self.problems: list[InputProblem] = list(problems)


#: keys of a pacs: INPUT besides the C-FIND/QIDO filters
_PACS_OPTIONS = ("method",)


def parse_pacs_input(text: str) -> tuple[str, dict[str, str], str]:
    """``NODE?modality=CT&study_date=20240101-20241231[&method=move]`` -> (node, filters, method).

    NODE is a configured node name, ``AE@host:port`` or a DICOMweb URL (the last ``?`` starts the query).
    """
    from urllib.parse import parse_qsl

    node, sep, query = text.rpartition("?")
    if not sep:
        node, query = text, ""
    if not node.strip():
        raise BatchInputError(f"pacs:{text}: name the PACS node: pacs:NODE?key=value[&key=value], "
                              "e.g. pacs:ORTHANC@pacs.local:4242?modality=CT&study_date=20240101-20241231")
    try:
        pairs = parse_qsl(query, keep_blank_values=False, strict_parsing=bool(query))
    except ValueError:
        raise BatchInputError(f"pacs:{text}: write the query as key=value pairs joined by &, "
                              "e.g. ?modality=CT&study_date=20240101-20241231") from None
    filters = {k.strip(): v.strip() for k, v in pairs if k.strip() not in _PACS_OPTIONS}
    method = dict(pairs).get("method", "get").strip().lower()
    if method not in ("get", "move"):
        raise BatchInputError(f"pacs:{text}: method must be get or move, not {method!r}")
    if not filters:
        raise BatchInputError(f"pacs:{text}: give at least one filter (patient_id, patient_name, study_date, modality, "
                              "accession, study_uid) so that the batch does not retrieve the whole archive")
    return node.strip(), filters, method


def _pacs_paths(text: str) -> Candidates:
    """C-FIND (QIDO-RS) on the node, retrieve each study into the local database, the folders of those complete."""
    import sys

    from meddiag_desktop.db import StudyDatabase
    from meddiag_desktop.pacs import PacsError, find, load_settings, resolve_node, retrieve

    node_text, filters, method = parse_pacs_input(text)
    try:
        node = resolve_node(node_text)
        local = load_settings().local
        studies = find(node, filters, local=local)
    except (PacsError, ValueError) as exc:
        raise BatchInputError(f"pacs:{text}: {exc}") from None
    if not studies:
        raise BatchInputError(f"the PACS query pacs:{text} matched no study")
    out = Candidates()
    with StudyDatabase() as db:
        for n, row in enumerate(studies, start=1):
            uid = str(row.get("StudyInstanceUID", ""))
            if not uid:
                continue
            try:
                got = retrieve(node, uid, db, method=method, local=local)
            except PacsError as exc:  # one study that cannot be retrieved is one failure row, not the end
                out.problems.append(InputProblem(f"pacs:{node.label}", f"retrieve failed: {exc}", study_key(uid)))
                continue
            print(f"retrieved {n}/{len(studies)} studies from {node.label}: {uid} ({got['instances']} instances, "
                  f"{got['received']} new)", file=sys.stderr, flush=True)
            out.append(os.fspath(got["folder"]))
    return out


def candidates(spec: str | os.PathLike) -> list[str]:
    """Folders or files to scan for INPUT; only directory listings and the list file are read here.

    A ``pacs:`` INPUT is retrieved into the local study database here (on the client), and
    its studies' local folders are the candidates; studies that could not be retrieved
    are in the result's ``problems`` (a :class:`Candidates`).
    """
    text = os.fspath(spec)
    if text.startswith("pacs:"):
        return _pacs_paths(text[5:])


    if text.startswith("db:"):
        paths = _db_paths(text[3:])
        if not paths:
            raise BatchInputError(f"the database query {text!r} matched no study")
        return paths
    p = Path(text).expanduser()
    if not p.exists():
        raise BatchInputError(f"{p}: no such folder or file; give a folder of studies, a text file of study "
                              "paths (one a line) or db:key=value")
    if p.is_file():
        if not _is_list_file(p):
            return [str(p.resolve())]
        out = []
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            q = Path(line).expanduser()
            out.append(str((q if q.is_absolute() else p.parent / q).resolve()))
        if not out:
            raise BatchInputError(f"{p} lists no study path (one folder or file a line; # starts a comment)")
        return out
    subdirs = sorted(c for c in p.iterdir() if c.is_dir() and not c.name.startswith("."))
    if not subdirs:
        return [str(p.resolve())]  # a folder of files: one study (or several, told apart by their UIDs)
    return [str(c.resolve()) for c in subdirs]


def _common_folder(paths: Iterable[Path]) -> Path:
    return Path(os.path.commonpath([str(Path(x).parent) for x in paths]))


def scan_candidate(path: str) -> ScanOutcome:
    """The studies under one candidate (reads DICOM headers only); runs on a worker, where the data is."""
    from meddiag_desktop.io import LoadError, scan

    out = ScanOutcome()
    try:
        found = scan(path)
    except (LoadError, OSError) as exc:
        out.problems.append(InputProblem(path, str(exc)))
        return out
    if not found:
        reasons: dict[str, int] = {}
        for s in found.skipped:
            reasons[s.reason] = reasons.get(s.reason, 0) + 1
        detail = "; ".join(f"{n} file(s): {r}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:3])
        out.problems.append(InputProblem(path, "no readable image: " + (detail or "the folder holds no files")))
        return out
    by_study: dict[str, list] = {}
    for s in found:
        by_study.setdefault(s.study_uid if s.path is None else f"\0{s.path}", []).append(s)
    for uid, series in by_study.items():
        if uid.startswith("\0"):  # NIfTI/NRRD/MHA: one study per file, no UID
            f = series[0].path
            out.jobs.append(StudyJob(study_key("", f), "", str(f), 1))
            continue
        images = sum(s.image_count for s in series)
        key = study_key(uid)
        if len(by_study) == 1:
            target = Path(path)
        else:  # several studies under one candidate: the study's own folder, if it has one
            files = [i.path for s in series for i in s.instances]
            target = _common_folder(files)
            others = [i.path for u, ss in by_study.items() if u != uid for s in ss for i in s.instances]
            if any(target == Path(o).parent or target in Path(o).parents for o in others):
                out.problems.append(InputProblem(
                    path, f"study {key} shares its folder {target} with {len(by_study) - 1} other studies; "
                    "meddiag report opens one folder per study: move each study into its own folder", key))
                continue
        notes = (f"{len(series)} series; the report uses the largest",) if len(series) > 1 else ()
        out.jobs.append(StudyJob(key, uid, str(target), images, notes))
    return out


def merge_scans(outcomes: Sequence[ScanOutcome]) -> tuple[list[StudyJob], list[InputProblem]]:
    """Jobs by key (a study found in two places is run once, from the place with more images) and problems."""
    jobs: dict[str, StudyJob] = {}
    problems: list[InputProblem] = []
    for o in outcomes:
        problems.extend(o.problems)
        for j in o.jobs:
            old = jobs.get(j.key)
            if old is None:
                jobs[j.key] = j
                continue
            keep, drop = (j, old) if j.images > old.images else (old, j)
            jobs[j.key] = StudyJob(keep.key, keep.study_uid, keep.path, keep.images,
                                   keep.notes + (f"also found in {drop.path}; run once, from {keep.path}",))
    return sorted(jobs.values(), key=lambda j: j.path), problems
