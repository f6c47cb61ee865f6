"""The local study database: import (copy / in place / CD), search, delete, crash safety, quarantine, CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from meddiag_desktop.cli import main
from meddiag_desktop.db import DatabaseError, StudyDatabase, find_study_paths
from meddiag_desktop.io.dicom_write import write_series

REPO = Path(__file__).resolve().parents[2]


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def sources(tmp_path):
    """Two patients: a CT (current 2026 + prior 2024) and an MR; returns (folder, {name: array})."""
    src = tmp_path / "src"
    arrays = {}
    for name, pid, pname, mod, date, acc, val in [
        ("ct_now", "P1", "Doe^Jane", "CT", "20260115", "ACC-NOW", 100),
        ("ct_prior", "P1", "Doe^Jane", "CT", "20240310", "ACC-OLD", 50),
        ("mr", "P2", "Roe^Rick", "MR", "20250601", "ACC-MR", 7),
    ]:
        arrays[name] = np.full((4, 12, 12), val, np.int16)
        write_series(arrays[name], src / name, patient_id=pid, patient_name=pname, modality=mod,
                     extra={"StudyDate": date, "AccessionNumber": acc})
    (src / "notes.txt").write_text("not dicom")
    return src, arrays


@pytest.fixture()
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDDIAG_DB_DIR", str(tmp_path / "db"))
    d = StudyDatabase(tmp_path / "db")
    yield d
    d.close()


def test_import_copy_search_and_sources_untouched(db, sources):
    from meddiag_desktop.io import load

    src, arrays = sources
    before = _hashes(src)
    res = db.import_path(src, copy=True)
    assert res.instances == 12 and len(res.studies) == 3
    assert [(Path(p).name, r) for p, r in res.skipped] == [("notes.txt", "not a DICOM file")]
    assert _hashes(src) == before
    studies = db.studies()
    assert [(s.patient_id, s.study_date, s.modalities, s.instance_count) for s in studies] == [
        ("P1", "20260115", ["CT"], 4), ("P2", "20250601", ["MR"], 4), ("P1", "20240310", ["CT"], 4)]
    assert all(Path(s.folder).is_relative_to(db.storage_dir) for s in studies)
    assert [s.accession for s in db.studies({"patient_name": "doe*"})] == ["ACC-NOW", "ACC-OLD"]
    assert [s.study_date for s in db.studies({"modality": "mr"})] == ["20250601"]
    assert [s.study_date for s in db.studies({"study_date": "20240101-20251231", "patient_id": "P1"})] == ["20240310"]
    assert [s.patient_id for s in db.studies({"accession": "ACC-MR"})] == ["P2"]
    with pytest.raises(ValueError, match="unknown search key"):
        db.studies({"colour": "red"})
    # the managed copy opens with the loader, voxel for voxel
    np.testing.assert_array_equal(load(db.studies({"accession": "ACC-NOW"})[0].folder).array, arrays["ct_now"])
    # opening a patient: the newest study, and the priors
    current, priors = db.patient_studies("P1")
    assert current.study_date == "20260115" and [p.study_date for p in priors] == ["20240310"]
    thumb = db.thumbnail(db.series(current.study_uid)[0].series_uid)
    assert thumb.shape == (64, 64) and thumb.dtype == np.uint8


def test_reimport_is_idempotent_and_in_place_keeps_managed_copies(db, sources):
    src, _ = sources
    db.import_path(src, copy=True)
    db.import_path(src, copy=True)
    db.import_path(src, copy=False)  # the same instances again, in place: the managed copies stay
    assert sum(s.instance_count for s in db.studies()) == 12
    assert all(Path(s.folder).is_relative_to(db.storage_dir) for s in db.studies())
    assert len(list(db.storage_dir.rglob("*.dcm"))) == 12


def test_in_place_index_and_remove_leaves_sources(db, sources):
    src, _ = sources
    before = _hashes(src)
    db.import_path(src, copy=False)
    assert not db.storage_dir.exists() or not any(db.storage_dir.rglob("*.dcm"))
    mr = db.studies({"modality": "MR"})[0]
    assert mr.folder == str(src / "mr")
    assert db.remove_study(mr.study_uid) == 4
    assert _hashes(src) == before and db.studies({"modality": "MR"}) == []
    with pytest.raises(DatabaseError, match="not in the database"):
        db.remove_study(mr.study_uid)


def test_remove_deletes_managed_copies(db, sources):
    src, _ = sources
    db.import_path(src)
    s = db.studies({"accession": "ACC-OLD"})[0]
    assert Path(s.folder).is_dir()
    db.remove_study(s.study_uid)
    assert not Path(s.folder).exists() and len(db.studies()) == 2
    assert [p for p in db.storage_dir.rglob("*.dcm")] and len(list(db.storage_dir.rglob("*.dcm"))) == 8


def test_cd_with_dicomdir_from_pydicom(db):
    """pydicom's DICOMDIR test CD (2 patients, CT/MR/CR), indexed in place."""
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.fileset import FileSet

    dicomdir = Path(get_testdata_file("DICOMDIR"))
    fs = FileSet(pydicom.dcmread(dicomdir))
    res = db.import_path(dicomdir, copy=False)
    assert res.instances == len(fs)
    assert {s.study_uid for s in db.studies()} == {i.StudyInstanceUID for i in fs}
    assert {s.patient_id for s in db.studies()} == {"77654033", "98890234"}
    assert {m for s in db.studies() for m in s.modalities} == {"CT", "MR", "CR"}


def test_crash_mid_import_leaves_a_consistent_index_and_reimport_finishes(tmp_path, sources):
    src, _ = sources
    code = (
        "import os, meddiag_desktop.db.store as st\n"
        "st._CHUNK = 5\n"
        "db = st.StudyDatabase(os.environ['DBDIR'])\n"
        "db.import_path(os.environ['SRC'], progress=lambda done, total: os._exit(3) if done >= 5 else None)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "DBDIR": str(tmp_path / "crash"), "SRC": str(src)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, timeout=60)
    assert proc.returncode == 3  # died hard after the first committed chunk
    with StudyDatabase(tmp_path / "crash") as db:
        assert db._con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert sum(s.instance_count for s in db.studies()) == 5  # one whole chunk, nothing half-written
        db.import_path(src)
        assert sum(s.instance_count for s in db.studies()) == 12
        assert not list(db.storage_dir.rglob("*.part"))


def test_received_files_that_cannot_be_parsed_are_refused(db):
    import warnings

    with pytest.raises(DatabaseError, match="cannot be parsed|missing"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid UID before failing
        db.store_received(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\xff garbage")
    path = db.quarantine(b"junk", "cannot be parsed as DICOM (test)")
    assert path.read_bytes() == b"junk"
    assert Path(str(path) + ".reason.txt").read_text().strip() == "cannot be parsed as DICOM (test)"
    assert db.quarantined() == [(str(path), "cannot be parsed as DICOM (test)")]


def test_find_study_paths_leaves_out_partial_studies(db, sources):
    src, _ = sources
    db.import_path(src)
    ct = find_study_paths({"modality": "CT"}, db.root)
    assert [p.parent for p in ct] == [db.storage_dir, db.storage_dir] and len(ct) == 2
    db.mark_partial(db.studies({"accession": "ACC-NOW"})[0].study_uid, expected=10)
    assert len(find_study_paths({"modality": "CT"}, db.root)) == 1
    with pytest.raises(ValueError, match="unknown search key"):
        find_study_paths({"bodypart": "chest"}, db.root)


def test_cli_import_list_remove(db, sources, capsys):
    src, _ = sources
    assert main(["db", "import", str(src), "--in-place"]) == 0
    assert "indexed 12 instance(s) of 3 study(ies) (in place); 1 file(s) skipped" in capsys.readouterr().out
    assert main(["db", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [s["StudyDate"] for s in listed] == ["20260115", "20250601", "20240310"]
    assert set(listed[0]) >= {"StudyInstanceUID", "PatientID", "PatientName", "StudyDate", "ModalitiesInStudy",
                              "NumberOfStudyRelatedInstances", "folder", "status"}
    assert main(["db", "remove", listed[1]["StudyInstanceUID"]]) == 0
    assert "removed study" in capsys.readouterr().out
    assert main(["db", "remove", "1.2.3.4"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "meddiag db: study 1.2.3.4 is not in the database (meddiag db list shows what is)"
    assert main(["db", "list"]) == 0
    out = capsys.readouterr().out
    assert "Doe^Jane" in out and "Roe^Rick" not in out
