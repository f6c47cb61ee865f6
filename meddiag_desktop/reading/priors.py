"""Find the prior studies of the open study: same PatientID, an earlier StudyDate.

Looked for among the series of the opened folder (what the study browser lists)
and, when the local study database exists (``meddiag_desktop.db``, optional: it is
imported lazily and its absence is not an error), among the studies it holds.
Header-only: nothing is loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from meddiag_desktop.core.corner_text import format_dicom_date

log = logging.getLogger(__name__)

__all__ = ["PriorStudy", "find_priors", "date_text"]


@dataclass(frozen=True)
class PriorStudy:
    """One earlier study of the patient and the series of it to show beside the current one."""

    study_uid: str
    study_date: str  #: DICOM ``YYYYMMDD``
    description: str
    series: object  #: the SeriesInfo to load (same modality as the current, most images)
    source: str  #: "folder" or "database"

    @property
    def label(self) -> str:
        return f"{date_text(self.study_date)} {self.description}".strip()


def date_text(dicom_date: str) -> str:
    """``"20250110"`` -> ``"2025-01-10"`` (other text is returned as is, "" stays "")."""
    return format_dicom_date(dicom_date)


def _pick_series(series: list, modality: str):
    """The series of a study to compare: same modality first, then the most images (a 3D series)."""
    return max(series, key=lambda s: (s.modality == modality, s.image_count, -(s.series_number or 0)))


def _earlier(series_list: Iterable, patient_id: str, study_uid: str, study_date: str, modality: str,
             source: str) -> list[PriorStudy]:
    by_study: dict[str, list] = {}
    for s in series_list:
        if (s.patient_id == patient_id and s.study_uid and s.study_uid != study_uid and s.study_date
                and (not study_date or s.study_date < study_date) and s.image_count >= 2):
            by_study.setdefault(s.study_uid, []).append(s)
    out = []
    for uid, group in by_study.items():
        best = _pick_series(group, modality)
        out.append(PriorStudy(uid, best.study_date, best.study_description or best.description, best, source))
    return out


def find_priors(metadata: dict, series_list: Iterable = (), *, use_database: bool = True,
                problems: list[str] | None = None) -> list[PriorStudy]:
    """Earlier studies of the patient of ``metadata`` (a Volume's metadata), newest first.

    ``series_list``: the SeriesInfo of the opened folder. The database, when
    installed and ``use_database``, adds the studies it holds (scanned header-only).
    Problems with the database go into ``problems`` (never raised: priors are optional).
    """
    pid = str(metadata.get("patient_id", "") or "")
    if not pid:
        return []
    uid = str(metadata.get("study_uid", "") or "")
    date = str(metadata.get("study_date", "") or "")
    modality = str(metadata.get("modality", "") or "")
    found = _earlier(series_list, pid, uid, date, modality, "folder")
    if use_database:
        found += [p for p in _from_database(pid, uid, date, modality, problems)
                  if p.study_uid not in {f.study_uid for f in found}]
    return sorted(found, key=lambda p: p.study_date, reverse=True)


def _from_database(pid: str, uid: str, date: str, modality: str, problems: list[str] | None) -> list[PriorStudy]:
    try:
        from meddiag_desktop.db import find_study_paths  # optional: the local study database
    except ImportError:
        return []
    from meddiag_desktop import io

    out: list[PriorStudy] = []
    try:
        paths = find_study_paths({"patient_id": pid})
        for path in paths:
            out += _earlier(io.scan(Path(path)), pid, uid, date, modality, "database")
    except (OSError, ValueError) as exc:  # a broken database must not stop the study from opening
        log.info("prior search in the database failed: %s", exc)
        if problems is not None:
            problems.append(f"priors: the local database could not be searched ({exc})")
    return out
