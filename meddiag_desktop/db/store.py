"""SQLite index of the local studies, managed storage and the quarantine.

One connection per :class:`StudyDatabase`, guarded by a lock so a C-STORE SCP's
threads and a GUI worker can share it. Imports commit in chunks inside
transactions, so a crash mid-import leaves the index consistent (re-importing
finishes the job: rows are keyed by SOPInstanceUID, so it is idempotent).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from meddiag_desktop.core.progress import Cancel, Progress

__all__ = ["StudyDatabase", "StudyRecord", "SeriesRecord", "ImportResult", "DatabaseError", "QUERY_KEYS"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS patients (
    patient_key TEXT PRIMARY KEY, patient_id TEXT, patient_name TEXT, birth_date TEXT, sex TEXT);
CREATE TABLE IF NOT EXISTS studies (
    study_uid TEXT PRIMARY KEY, patient_key TEXT REFERENCES patients(patient_key),
    study_date TEXT, study_time TEXT, description TEXT, accession TEXT,
    folder TEXT, status TEXT NOT NULL DEFAULT 'complete', expected INTEGER, source TEXT, added TEXT);
CREATE TABLE IF NOT EXISTS series (
    series_uid TEXT PRIMARY KEY, study_uid TEXT REFERENCES studies(study_uid) ON DELETE CASCADE,
    modality TEXT, description TEXT, number INTEGER, rows INTEGER, columns INTEGER, thumbnail BLOB);
CREATE TABLE IF NOT EXISTS instances (
    sop_uid TEXT PRIMARY KEY, series_uid TEXT REFERENCES series(series_uid) ON DELETE CASCADE,
    study_uid TEXT, path TEXT NOT NULL, instance_number INTEGER, sop_class TEXT, managed INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT, reason TEXT, received TEXT);
CREATE INDEX IF NOT EXISTS instances_study ON instances(study_uid);
CREATE INDEX IF NOT EXISTS instances_series ON instances(series_uid);
CREATE INDEX IF NOT EXISTS series_study ON series(study_uid);
CREATE INDEX IF NOT EXISTS studies_patient ON studies(patient_key);
"""
#: the search keys :meth:`StudyDatabase.studies` accepts
QUERY_KEYS = ("patient_id", "patient_name", "study_date", "modality", "accession", "study_uid")
_CHUNK = 2000
_SAFE = re.compile(r"[^0-9A-Za-z.\-]")


class DatabaseError(ValueError):
    """A database operation that cannot be done; the message says why and what to do."""


@dataclass
class StudyRecord:
    """One study of the index, with its patient and the local folder that opens it."""

    study_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    study_time: str
    description: str
    accession: str
    modalities: list[str]
    series_count: int
    instance_count: int
    folder: str
    status: str
    expected: int | None = None

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def as_json(self) -> dict:
        return {
            "StudyInstanceUID": self.study_uid, "PatientID": self.patient_id, "PatientName": self.patient_name,
            "StudyDate": self.study_date, "StudyTime": self.study_time, "StudyDescription": self.description,
            "AccessionNumber": self.accession, "ModalitiesInStudy": self.modalities,
            "NumberOfStudyRelatedSeries": self.series_count, "NumberOfStudyRelatedInstances": self.instance_count,
            "folder": self.folder, "status": self.status,
            **({"expected": self.expected} if self.expected is not None else {}),
        }


@dataclass
class SeriesRecord:
    series_uid: str
    study_uid: str
    modality: str
    description: str
    number: int | None
    instance_count: int


@dataclass
class ImportResult:
    """What an import did: instances indexed, the studies they belong to, files skipped (with reasons)."""

    instances: int = 0
    studies: list[str] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def _safe(uid: str) -> str:
    s = _SAFE.sub("_", uid.strip())[:64]
    return s or "unknown"


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


class StudyDatabase:
    """The index and its storage folder; ``db_dir`` defaults to :func:`meddiag_desktop.db.default_db_dir`."""

    def __init__(self, db_dir: str | os.PathLike | None = None):
        if db_dir is None:
            from meddiag_desktop.db import default_db_dir

            db_dir = default_db_dir()
        self.root = Path(db_dir)
        self.storage_dir = self.root / "storage"
        self.quarantine_dir = self.root / "quarantine"
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._con = sqlite3.connect(self.root / "index.sqlite", timeout=30, check_same_thread=False,
                                        isolation_level=None)
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=NORMAL")
            self._con.execute("PRAGMA foreign_keys=ON")
            self._con.executescript(_SCHEMA)
            self._con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"the study database {self.root / 'index.sqlite'} cannot be opened ({exc}); "
                                "move it away to start a new one") from None
        self._pending = 0

    # ------------------------------------------------------------------ life cycle
    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> StudyDatabase:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ writing rows
    def _upsert(self, cur: sqlite3.Cursor, rows: Iterable[dict], source: str) -> set[str]:
        """Insert patient/study/series/instance rows (one dict per instance); returns the study UIDs."""
        studies: set[str] = set()
        seen_series: set[str] = set()
        seen_study: set[str] = set()
        now = _now()
        for r in rows:
            pkey = f"{r['patient_id']}|{r['patient_name']}"
            st = r["study_uid"]
            if st not in seen_study:
                seen_study.add(st)
                cur.execute("INSERT INTO patients VALUES (?,?,?,?,?) ON CONFLICT(patient_key) DO NOTHING",
                            (pkey, r["patient_id"], r["patient_name"], r.get("birth_date", ""), r.get("sex", "")))
                cur.execute(
                    "INSERT INTO studies (study_uid, patient_key, study_date, study_time, description, accession,"
                    " folder, status, source, added) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(study_uid) DO UPDATE SET"
                    " study_time=coalesce(nullif(excluded.study_time,''), study_time),"
                    " accession=coalesce(nullif(excluded.accession,''), accession),"
                    " patient_key=excluded.patient_key, study_date=excluded.study_date,"
                    " description=excluded.description,"
                    " folder=CASE WHEN excluded.folder != '' THEN excluded.folder ELSE folder END",
                    (st, pkey, r["study_date"], r.get("study_time", ""), r["study_description"],
                     r.get("accession", ""), str(self.storage_dir / _safe(st)) if r["managed"] else "",
                     "complete", source, now))
            if r["series_uid"] not in seen_series:
                seen_series.add(r["series_uid"])
                cur.execute(
                    "INSERT INTO series (series_uid, study_uid, modality, description, number, rows, columns)"
                    " VALUES (?,?,?,?,?,?,?) ON CONFLICT(series_uid) DO NOTHING",
                    (r["series_uid"], st, r["modality"], r["series_description"], r["series_number"],
                     r.get("rows", 0), r.get("columns", 0)))
            # a managed copy is kept when the same instance is indexed again in place
            cur.execute("INSERT INTO instances VALUES (?,?,?,?,?,?,?) ON CONFLICT(sop_uid) DO UPDATE SET"
                        " path=excluded.path, managed=excluded.managed, series_uid=excluded.series_uid,"
                        " study_uid=excluded.study_uid WHERE instances.managed=0 OR excluded.managed=1",
                        (r["sop_uid"], r["series_uid"], st, str(r["path"]), r["instance_number"],
                         r["sop_class"], int(r["managed"])))
            studies.add(st)
        return studies

    def _refresh_folders(self, cur: sqlite3.Cursor, study_uids: Iterable[str]) -> None:
        """A study's folder: its managed storage folder, else the common folder of its files."""
        for st in study_uids:
            paths = [p for (p,) in cur.execute("SELECT path FROM instances WHERE study_uid=? AND managed=1 LIMIT 1",
                                                (st,))]
            if paths:
                folder = str(self.storage_dir / _safe(st))
            else:
                parents = {os.path.dirname(p) for (p,) in cur.execute(
                    "SELECT path FROM instances WHERE study_uid=?", (st,))}
                folder = os.path.commonpath(sorted(parents)) if parents else ""
            cur.execute("UPDATE studies SET folder=? WHERE study_uid=?", (folder, st))

    def managed_path(self, study_uid: str, series_uid: str, sop_uid: str) -> Path:
        """Where managed storage keeps an instance: ``storage/STUDY/SERIES/SOP.dcm``."""
        return self.storage_dir / _safe(study_uid) / _safe(series_uid) / f"{_safe(sop_uid)}.dcm"

    # ------------------------------------------------------------------ import
    def import_path(
        self,
        path: str | os.PathLike,
        copy: bool = True,
        progress: Progress | None = None,
        cancel: Cancel | None = None,
    ) -> ImportResult:
        """Index the DICOM files under a folder, a file or a DICOMDIR's CD.

        ``copy=True`` copies them into managed storage (the source may be a CD that
        goes away); ``copy=False`` indexes them in place. Sources are only read.
        Re-importing is idempotent. ``progress(done, total)``; ``cancel()`` stops
        between files (what was committed stays, consistently).
        """
        from meddiag_desktop.io import LoadCancelled, LoadError
        from meddiag_desktop.io.dicom_scan import list_files, scan_dicom

        p = Path(path)
        if not p.exists():
            raise DatabaseError(f"{p}: no such file or folder")
        files = list_files(p)  # a DICOMDIR file: the scanner reads the files it references
        try:
            found = scan_dicom(files, cancel=cancel)
        except LoadCancelled:
            raise
        except LoadError as exc:
            raise DatabaseError(str(exc)) from None
        result = ImportResult()
        headers = [h for s in found for h in s.instances]
        extra = {h.study_uid: _study_extras(h.path) for h in {h.study_uid: h for h in headers}.values()}
        rows = []
        for h in headers:
            if not (h.study_uid and h.series_uid and h.sop_instance_uid):
                result.skipped.append((h.path, "no Study/Series/SOP Instance UID; it cannot be indexed"))
                continue
            rows.append(_row_from_header(h, extra.get(h.study_uid, {}), copy))
        # non-image objects (SR, SEG, PDF) the image scanner passes over are indexed too
        for sk in found.skipped:
            if sk.path.name.upper() == "DICOMDIR" or "duplicate of" in sk.reason:
                continue
            row = _row_from_pydicom(sk.path, copy)
            if row is None:
                result.skipped.append((sk.path, sk.reason))
            else:
                rows.append(row)
        total = len(rows)
        studies: set[str] = set()
        for start in range(0, total, _CHUNK):
            chunk = rows[start : start + _CHUNK]
            for r in chunk:
                if cancel is not None and cancel():
                    raise LoadCancelled()
                if copy:
                    dest = self.managed_path(r["study_uid"], r["series_uid"], r["sop_uid"])
                    if not dest.exists():
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        tmp = dest.with_name(dest.name + ".part")
                        shutil.copyfile(r["path"], tmp)
                        os.replace(tmp, dest)
                    r["path"] = dest
            with self._lock:
                cur = self._con.cursor()
                cur.execute("BEGIN")
                try:
                    st = self._upsert(cur, chunk, "import")
                    self._refresh_folders(cur, st)
                    cur.execute("COMMIT")
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
            studies |= st
            result.instances += len(chunk)
            if progress is not None:
                progress(result.instances, total)
        result.studies = sorted(studies)
        return result

    # ------------------------------------------------------------------ received files
    def store_received(self, data: bytes, *, commit: bool = True) -> tuple[Path, str]:
        """Write a received DICOM file (``data``: preamble, file meta, dataset) into managed storage and index it.

        Returns (path, StudyInstanceUID). Raises :class:`DatabaseError` with the reason
        when it cannot be parsed or placed in a study; callers quarantine it then.
        ``commit=False`` batches rows until :meth:`flush` (at most 200).
        """
        import io

        import pydicom

        try:
            ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
            row_ds = ds
            study, series, sop = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)
        except AttributeError as exc:
            raise DatabaseError(f"missing {str(exc).split()[-1]}: it cannot be placed in a study") from None
        except Exception as exc:  # pydicom raises many types on damaged data
            raise DatabaseError(f"cannot be parsed as DICOM ({type(exc).__name__}: {exc})") from None
        if not (study.strip() and series.strip() and sop.strip()):
            raise DatabaseError("empty Study/Series/SOP Instance UID: it cannot be placed in a study")
        dest = self.managed_path(study, series, sop)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f"{dest.name}.{threading.get_ident()}.part")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
        row = _row_from_dataset(row_ds, dest)
        with self._lock:
            cur = self._con.cursor()
            if self._pending == 0:
                cur.execute("BEGIN")
            self._pending += 1
            try:
                self._upsert(cur, [row], "received")
            except BaseException:
                cur.execute("ROLLBACK")
                self._pending = 0
                raise
            if commit or self._pending >= 200:
                cur.execute("COMMIT")
                self._pending = 0
        return dest, study

    def flush(self) -> None:
        """Commit rows that :meth:`store_dataset` batched."""
        with self._lock:
            if self._pending:
                self._con.execute("COMMIT")
                self._pending = 0

    def quarantine(self, data: bytes, reason: str, name: str = "received") -> Path:
        """Keep a file that could not be read in ``quarantine/`` with a ``.reason.txt`` beside it."""
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        dest = self.quarantine_dir / f"{stamp}-{_safe(name)}.dcm"
        tmp = dest.with_name(dest.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
        dest.with_name(dest.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
        with self._lock:
            self._con.execute("INSERT INTO quarantine (path, reason, received) VALUES (?,?,?)",
                              (str(dest), reason, _now()))
        return dest

    def quarantined(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._con.execute("SELECT path, reason FROM quarantine ORDER BY id"))

    # ------------------------------------------------------------------ retrieve state
    def mark_partial(self, study_uid: str, expected: int | None = None) -> None:
        """Flag a study as being retrieved: listed as partial, left out of :func:`find_study_paths`."""
        with self._lock:
            self.flush()
            cur = self._con.cursor()
            cur.execute("INSERT INTO studies (study_uid, status, expected, folder, source, added) VALUES"
                        " (?, 'partial', ?, ?, 'retrieve', ?) ON CONFLICT(study_uid) DO UPDATE SET"
                        " status='partial', expected=excluded.expected",
                        (study_uid, expected, str(self.storage_dir / _safe(study_uid)), _now()))

    def mark_complete(self, study_uid: str) -> None:
        with self._lock:
            self.flush()
            self._con.execute("UPDATE studies SET status='complete', expected=NULL WHERE study_uid=?", (study_uid,))

    def sop_uids(self, study_uid: str) -> set[str]:
        with self._lock:
            return {u for (u,) in self._con.execute("SELECT sop_uid FROM instances WHERE study_uid=?", (study_uid,))}

    # ------------------------------------------------------------------ queries
    def studies(self, query: dict[str, str] | None = None) -> list[StudyRecord]:
        """Studies matching ``query`` (keys in :data:`QUERY_KEYS`), newest first."""
        query = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        unknown = set(query) - set(QUERY_KEYS)
        if unknown:
            raise ValueError(f"unknown search key(s) {sorted(unknown)}; use {', '.join(QUERY_KEYS)}")
        where, args = [], []
        if "patient_id" in query:
            where.append("p.patient_id = ?")
            args.append(query["patient_id"])
        if "patient_name" in query:
            where.append("p.patient_name LIKE ?")
            args.append(query["patient_name"].replace("*", "%").replace("?", "_"))
        if "accession" in query:
            where.append("s.accession = ?")
            args.append(query["accession"])
        if "study_uid" in query:
            where.append("s.study_uid = ?")
            args.append(query["study_uid"])
        if "modality" in query:
            where.append("EXISTS (SELECT 1 FROM series x WHERE x.study_uid = s.study_uid AND x.modality = ?)")
            args.append(query["modality"].upper())
        if "study_date" in query:
            lo, _, hi = query["study_date"].partition("-")
            if not hi and "-" not in query["study_date"]:
                hi = lo
            if lo:
                where.append("s.study_date >= ?")
                args.append(lo)
            if hi:
                where.append("s.study_date <= ?")
                args.append(hi)
        sql = (
            "SELECT s.study_uid, coalesce(p.patient_id,''), coalesce(p.patient_name,''), coalesce(s.study_date,''),"
            " coalesce(s.study_time,''), coalesce(s.description,''), coalesce(s.accession,''),"
            " (SELECT group_concat(DISTINCT modality) FROM series x WHERE x.study_uid = s.study_uid),"
            " (SELECT count(*) FROM series x WHERE x.study_uid = s.study_uid),"
            " (SELECT count(*) FROM instances i WHERE i.study_uid = s.study_uid),"
            " s.folder, s.status, s.expected"
            " FROM studies s LEFT JOIN patients p ON p.patient_key = s.patient_key"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY s.study_date DESC, s.study_time DESC, s.study_uid"
        )
        with self._lock:
            rows = list(self._con.execute(sql, args))
        return [
            StudyRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], sorted(filter(None, (r[7] or "").split(","))),
                        r[8], r[9], r[10] or "", r[11], r[12])
            for r in rows
        ]

    def study(self, study_uid: str) -> StudyRecord:
        found = self.studies({"study_uid": study_uid})
        if not found:
            raise DatabaseError(f"study {study_uid} is not in the database (meddiag db list shows what is)")
        return found[0]

    def series(self, study_uid: str) -> list[SeriesRecord]:
        with self._lock:
            rows = list(self._con.execute(
                "SELECT x.series_uid, x.study_uid, coalesce(x.modality,''), coalesce(x.description,''), x.number,"
                " (SELECT count(*) FROM instances i WHERE i.series_uid = x.series_uid)"
                " FROM series x WHERE x.study_uid=? ORDER BY x.number, x.series_uid", (study_uid,)))
        return [SeriesRecord(*r) for r in rows]

    def instance_paths(self, study_uid: str | None = None, series_uid: str | None = None) -> list[Path]:
        col, val = ("series_uid", series_uid) if series_uid else ("study_uid", study_uid)
        with self._lock:
            return [Path(p) for (p,) in self._con.execute(
                f"SELECT path FROM instances WHERE {col}=? ORDER BY instance_number, path", (val,))]

    def patient_studies(self, patient_id: str) -> tuple[StudyRecord, list[StudyRecord]]:
        """Opening a patient: the newest complete study, and the priors (newest first)."""
        found = [s for s in self.studies({"patient_id": patient_id}) if s.complete]
        if not found:
            raise DatabaseError(f"no complete study of patient {patient_id!r} in the database")
        return found[0], found[1:]

    # ------------------------------------------------------------------ delete
    def remove_study(self, study_uid: str) -> int:
        """Remove a study from the index; managed copies are deleted, in-place sources are left alone.

        Returns the number of instances removed; an unknown UID is a :class:`DatabaseError`.
        """
        with self._lock:
            self.flush()
            n = self._con.execute("SELECT count(*) FROM studies WHERE study_uid=?", (study_uid,)).fetchone()[0]
            if not n:
                raise DatabaseError(f"study {study_uid} is not in the database (meddiag db list shows what is)")
            managed = [Path(p) for (p,) in self._con.execute(
                "SELECT path FROM instances WHERE study_uid=? AND managed=1", (study_uid,))]
            count = self._con.execute("SELECT count(*) FROM instances WHERE study_uid=?", (study_uid,)).fetchone()[0]
            cur = self._con.cursor()
            cur.execute("BEGIN")
            cur.execute("DELETE FROM instances WHERE study_uid=?", (study_uid,))
            cur.execute("DELETE FROM series WHERE study_uid=?", (study_uid,))
            cur.execute("DELETE FROM studies WHERE study_uid=?", (study_uid,))
            cur.execute("DELETE FROM patients WHERE patient_key NOT IN (SELECT patient_key FROM studies"
                        " WHERE patient_key IS NOT NULL)")
            cur.execute("COMMIT")
        for f in managed:
            f.unlink(missing_ok=True)
        folder = self.storage_dir / _safe(study_uid)
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
        return count

    # ------------------------------------------------------------------ thumbnails
    def thumbnail(self, series_uid: str, size: int = 64):
        """A ``size``x``size`` uint8 picture of the series' middle image (cached), or None for non-images."""
        import numpy as np

        with self._lock:
            row = self._con.execute("SELECT thumbnail FROM series WHERE series_uid=?", (series_uid,)).fetchone()
        if row and row[0]:
            return np.frombuffer(row[0], np.uint8).reshape(size, size)
        paths = self.instance_paths(series_uid=series_uid)
        if not paths:
            return None
        try:
            import pydicom

            ds = pydicom.dcmread(paths[len(paths) // 2])
            img = ds.pixel_array.astype(np.float32)
        except Exception:
            return None
        if img.ndim == 3:
            img = img[img.shape[0] // 2] if img.shape[-1] not in (3, 4) else img.mean(axis=-1)
        lo, hi = np.percentile(img, (1, 99))
        img = np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1)
        ys = (np.arange(size) * img.shape[0] / size).astype(int)
        xs = (np.arange(size) * img.shape[1] / size).astype(int)
        thumb = np.ascontiguousarray((img[ys][:, xs] * 255).astype(np.uint8))
        with self._lock:
            self._con.execute("UPDATE series SET thumbnail=? WHERE series_uid=?", (thumb.tobytes(), series_uid))
        return thumb


# ---------------------------------------------------------------------- header rows
def _study_extras(path: Path) -> dict:
    """StudyTime and AccessionNumber (not in the fast header), read once per study."""
    try:
        import pydicom

        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["StudyTime", "AccessionNumber"])
        return {"study_time": str(ds.get("StudyTime", "") or ""), "accession": str(ds.get("AccessionNumber", "") or "")}
    except Exception:
        return {}


def _row_from_header(h, extra: dict, copy: bool) -> dict:
    return {
        "patient_id": h.patient_id, "patient_name": h.patient_name, "birth_date": h.patient_birth_date,
        "sex": h.patient_sex, "study_uid": h.study_uid, "study_date": h.study_date,
        "study_description": h.study_description, "series_uid": h.series_uid, "modality": h.modality,
        "series_description": h.series_description, "series_number": h.series_number, "rows": h.rows,
        "columns": h.columns, "sop_uid": h.sop_instance_uid, "instance_number": h.instance_number,
        "sop_class": h.sop_class_uid, "path": h.path, "managed": copy, **extra,
    }


def _int(v) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _row_from_dataset(ds, path: Path, managed: bool = True) -> dict:
    g = ds.get
    return {
        "patient_id": str(g("PatientID", "") or ""), "patient_name": str(g("PatientName", "") or ""),
        "birth_date": str(g("PatientBirthDate", "") or ""), "sex": str(g("PatientSex", "") or ""),
        "study_uid": str(ds.StudyInstanceUID), "study_date": str(g("StudyDate", "") or ""),
        "study_time": str(g("StudyTime", "") or ""), "accession": str(g("AccessionNumber", "") or ""),
        "study_description": str(g("StudyDescription", "") or ""), "series_uid": str(ds.SeriesInstanceUID),
        "modality": str(g("Modality", "") or ""), "series_description": str(g("SeriesDescription", "") or ""),
        "series_number": _int(g("SeriesNumber")), "rows": _int(g("Rows")) or 0, "columns": _int(g("Columns")) or 0,
        "sop_uid": str(ds.SOPInstanceUID), "instance_number": _int(g("InstanceNumber")),
        "sop_class": str(g("SOPClassUID", "") or ""), "path": path, "managed": managed,
    }


def _row_from_pydicom(path: Path, copy: bool) -> dict | None:
    """A row for a DICOM object without an image (SR, SEG, encapsulated PDF), or None if it is not DICOM."""
    try:
        import pydicom

        ds = pydicom.dcmread(path, stop_before_pixels=True)
        if not all(k in ds for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")):
            return None
        if str(ds.get("SOPClassUID", "")) == "1.2.840.10008.1.3.10":  # a DICOMDIR's Media Storage Directory
            return None
        return _row_from_dataset(ds, path, copy)
    except Exception:
        return None
