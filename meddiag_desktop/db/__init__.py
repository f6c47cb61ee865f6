"""The local study database: an SQLite index of patients, studies, series and instances.

Qt-free. The database lives in the user data folder (``$MEDDIAG_DB_DIR`` or
``<user data folder>/database``, :mod:`meddiag_desktop.paths`): ``index.sqlite`` plus ``storage/``
(managed copies, one folder per study) and ``quarantine/`` (received files that
could not be read, each with a ``.reason.txt``). Sources are never modified::

    from meddiag_desktop.db import StudyDatabase, find_study_paths
    db = StudyDatabase()                         # the user's database
    db.import_path("/media/cdrom", copy=True)    # a folder, file or DICOMDIR
    db.studies({"modality": "CT"})               # list[StudyRecord]
    find_study_paths({"modality": "CT"})         # local folders of matching studies
"""

from __future__ import annotations

import os
from pathlib import Path

from meddiag_desktop.db.store import (
    ImportResult,
    SeriesRecord,
    StudyDatabase,
    StudyRecord,
    DatabaseError,
)

__all__ = [
    "StudyDatabase",
    "StudyRecord",
    "SeriesRecord",
    "ImportResult",
    "DatabaseError",
    "default_db_dir",
    "find_study_paths",
]


def default_db_dir() -> Path:
    """The database folder: ``$MEDDIAG_DB_DIR``, else ``<user data folder>/database``."""
    env = os.environ.get("MEDDIAG_DB_DIR")
    if env:
        return Path(env)
    from meddiag_desktop.paths import user_data_dir

    return user_data_dir() / "database"


def find_study_paths(query: dict[str, str], db_dir: str | os.PathLike | None = None) -> list[Path]:
    """The local folders of the complete studies matching ``query``, newest first.

    ``query`` keys (all optional, combined with AND): ``patient_id``, ``patient_name``
    (``*`` wildcards, case-insensitive), ``study_date`` (``YYYYMMDD`` or
    ``YYYYMMDD-YYYYMMDD``), ``modality`` (``CT``), ``accession``, ``study_uid``.
    Each folder opens with :func:`meddiag_desktop.io.load`. Partially retrieved
    studies are left out. Unknown keys raise ``ValueError``.
    """
    db = StudyDatabase(db_dir)
    try:
        return [Path(s.folder) for s in db.studies(query) if s.complete]
    finally:
        db.close()
