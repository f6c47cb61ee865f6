"""Priors are found in the opened folder (same PatientID, earlier StudyDate) and in the database when present."""

from __future__ import annotations

import shutil
import sys
import types

from meddiag_desktop import io
from meddiag_desktop.reading.priors import date_text, find_priors
from tests.reading.prior_study import PRIOR_DATE


def _both(prior_pair, tmp_path):
    root = tmp_path / "both"
    shutil.copytree(prior_pair.current_dir / "dicom", root / "current")
    shutil.copytree(prior_pair.prior_dir / "dicom", root / "prior")
    return root


def test_the_prior_in_the_opened_folder_is_found(prior_pair, tmp_path):
    found = io.scan(_both(prior_pair, tmp_path))
    cur = io.load(prior_pair.current_dir / "dicom")
    priors = find_priors(cur.metadata, found, use_database=False)
    assert len(priors) == 1
    p = priors[0]
    assert (p.study_date, p.source) == (PRIOR_DATE, "folder") and p.series.image_count == 64
    assert p.label.startswith("2025-01-10")
    # opened on the prior: the current is later, not a prior of it
    old = io.load(prior_pair.prior_dir / "dicom")
    assert find_priors(old.metadata, found, use_database=False) == []
    # another patient: none
    assert find_priors({**cur.metadata, "patient_id": "SOMEONE-ELSE"}, found, use_database=False) == []


def test_the_database_is_asked_when_it_exists(prior_pair, monkeypatch):
    asked = []
    fake = types.ModuleType("meddiag_desktop.db")
    fake.find_study_paths = lambda query: asked.append(query) or [prior_pair.prior_dir / "dicom"]
    monkeypatch.setitem(sys.modules, "meddiag_desktop.db", fake)
    cur = io.load(prior_pair.current_dir / "dicom")
    priors = find_priors(cur.metadata, io.scan(prior_pair.current_dir / "dicom"))
    assert asked == [{"patient_id": cur.metadata["patient_id"]}]
    assert [(p.study_date, p.source) for p in priors] == [(PRIOR_DATE, "database")]


def test_a_broken_database_is_reported_not_raised(prior_pair, monkeypatch):
    fake = types.ModuleType("meddiag_desktop.db")

    def broken(query):
        raise OSError("database is locked")

    fake.find_study_paths = broken
    monkeypatch.setitem(sys.modules, "meddiag_desktop.db", fake)
    problems: list[str] = []
    cur = io.load(prior_pair.current_dir / "dicom")
    assert find_priors(cur.metadata, [], problems=problems) == []
    assert problems and "database is locked" in problems[0]


def test_date_text():
    assert date_text("20250110") == "2025-01-10" and date_text("") == "" and date_text("2025") == "2025"


def test_a_prior_imported_into_the_real_local_database_is_found(prior_pair, tmp_path, monkeypatch):
    """With the study database installed (``meddiag_desktop.db``), a prior held only there is found."""
    import pytest

    db = pytest.importorskip("meddiag_desktop.db")
    monkeypatch.setenv("MEDDIAG_DB_DIR", str(tmp_path / "db"))
    store = db.StudyDatabase(tmp_path / "db")
    try:
        store.import_path(prior_pair.prior_dir / "dicom", copy=True)
    finally:
        store.close()
    cur = io.load(prior_pair.current_dir / "dicom")
    priors = find_priors(cur.metadata, io.scan(prior_pair.current_dir / "dicom"))
    assert [(p.study_date, p.source) for p in priors] == [(PRIOR_DATE, "database")]
    assert io.load(priors[0].series).metadata["study_uid"] == priors[0].study_uid
