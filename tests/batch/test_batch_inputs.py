"""Finding the studies of a batch (folder, list file, db: query), reading findings back, refusing bad input."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from meddiag_desktop.batch.discover import (BatchInputError, candidates, merge_scans, parse_db_query, scan_candidate,
                                            study_key)
from meddiag_desktop.cli import main
from meddiag_desktop.io.dicom_write import write_series

PKG = Path(__file__).resolve().parents[2] / "meddiag_desktop" / "batch"


def _series(folder: Path, study_uid: str, n: int = 4, series_uid: str | None = None, **kw) -> None:
    write_series(np.zeros((n, 8, 8), np.int16), folder, study_uid=study_uid, series_uid=series_uid, **kw)


def test_a_folder_of_study_folders_and_a_list_file(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    assert candidates(tmp_path) == [str((tmp_path / "a").resolve()), str((tmp_path / "b").resolve())]
    assert candidates(tmp_path / "a") == [str((tmp_path / "a").resolve())]  # a folder of files: itself
    listing = tmp_path / "list.txt"
    listing.write_text("# comment\n\na\n  /data/elsewhere/ct1  \n")
    assert candidates(listing) == [str((tmp_path / "a").resolve()), "/data/elsewhere/ct1"]
    listing.write_text("# only a comment\n")
    with pytest.raises(BatchInputError, match="lists no study path"):
        candidates(listing)
    with pytest.raises(BatchInputError, match="no such folder or file"):
        candidates(tmp_path / "missing")


def test_db_queries_go_to_the_local_database(monkeypatch, tmp_path):
    """The real meddiag_desktop.db: complete studies matching the query, newest first; partial ones left out."""
    from meddiag_desktop.db import StudyDatabase

    assert parse_db_query("modality=CT, study_date=20250101") == {"modality": "CT", "study_date": "20250101"}
    with pytest.raises(BatchInputError, match="db:key=value"):
        parse_db_query("modality")
    monkeypatch.setenv("MEDDIAG_DB_DIR", str(tmp_path / "db"))
    _series(tmp_path / "src" / "ct-old", "1.2.3.71", patient_id="DB1", extra={"StudyDate": "20240105"})
    _series(tmp_path / "src" / "ct-new", "1.2.3.72", patient_id="DB1", extra={"StudyDate": "20250105"})
    _series(tmp_path / "src" / "mr", "1.2.3.73", patient_id="DB2", modality="MR", extra={"StudyDate": "20250106"})
    _series(tmp_path / "src" / "ct-partial", "1.2.3.74", patient_id="DB3", extra={"StudyDate": "20250107"})
    with StudyDatabase() as db:
        db.import_path(tmp_path / "src", copy=False)
        db.mark_partial("1.2.3.74", 10)  # a retrieve that has not finished
        folders = {uid: db.study(uid).folder for uid in ("1.2.3.71", "1.2.3.72", "1.2.3.73")}
    assert candidates("db:modality=CT") == [str(folders["1.2.3.72"]), str(folders["1.2.3.71"])]
    assert candidates("db:modality=CT,study_date=20250101-20251231") == [str(folders["1.2.3.72"])]
    assert candidates("db:patient_id=DB2") == [str(folders["1.2.3.73"])]
    assert Path(folders["1.2.3.72"]) == tmp_path / "src" / "ct-new"  # indexed in place: the study's own folder
    with pytest.raises(BatchInputError, match="matched no study"):
        candidates("db:patient_id=DB3")  # only its partial study
    with pytest.raises(BatchInputError, match="unknown"):
        candidates("db:colour=red")


def test_db_query_without_the_database_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "meddiag_desktop.db", None)  # as if the module did not exist
    with pytest.raises(BatchInputError, match="need the local study database"):
        candidates("db:modality=CT")


def test_studies_are_told_apart_by_study_instance_uid(tmp_path):
    root = tmp_path / "box"
    _series(root / "p1" / "ct", "1.2.3.1", n=5)
    _series(root / "p1" / "scout", "1.2.3.1", n=2, series_number=2)  # second series of the same study
    _series(root / "p2", "1.2.3.2", n=3)
    _series(root / "mixed", "1.2.3.3", n=2, file_names=["x1.dcm", "x2.dcm"])
    _series(root / "mixed", "1.2.3.4", n=2, file_names=["y1.dcm", "y2.dcm"])
    outcome = scan_candidate(str(root))
    jobs = {j.study_uid: j for j in outcome.jobs}
    assert set(jobs) == {"1.2.3.1", "1.2.3.2"}
    assert jobs["1.2.3.1"].path == str(root / "p1") and jobs["1.2.3.1"].images == 7
    assert jobs["1.2.3.1"].notes == ("2 series; the report uses the largest",)
    assert jobs["1.2.3.2"].path == str(root / "p2")
    assert sorted(p.key for p in outcome.problems) == ["1.2.3.3", "1.2.3.4"]
    assert all("move each study into its own folder" in p.reason for p in outcome.problems)
    # the same study found twice is run once, from where it has more images
    again = scan_candidate(str(root / "p1" / "scout"))
    merged, _ = merge_scans([again, outcome])
    assert [j.path for j in merged if j.study_uid == "1.2.3.1"] == [str(root / "p1")]


def test_a_folder_without_images_is_a_problem_with_its_reason(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    outcome = scan_candidate(str(tmp_path))
    assert not outcome.jobs and "no readable image" in outcome.problems[0].reason


def test_study_keys_are_safe_folder_names():
    assert study_key("1.2.840.10008.1") == "1.2.840.10008.1"
    assert study_key("../../etc").startswith("uid-") and "/" not in study_key("../../etc")
    assert study_key("", "/x/ct.nii.gz").startswith("file-")


@pytest.mark.parametrize("args, message", [
    (["--inputs", "{}"], "--inputs needs --risk"),
    ([], "give at least one --plugin"),
    (["--plugin", "no.such.plugin"], "see 'meddiag plugins'"),
    (["--risk", "brock", "--inputs", "[1, 2]"], "must be a JSON object"),
])
def test_bad_arguments_exit_2_before_any_cluster_starts(tmp_path, capsys, args, message):
    (tmp_path / "in" / "s").mkdir(parents=True)
    assert main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), *args]) == 2
    assert message in capsys.readouterr().err


def test_output_inside_the_input_is_refused(tmp_path, capsys):
    (tmp_path / "in" / "s").mkdir(parents=True)
    assert main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "in" / "s" / "out"), "--risk", "brock"]) == 2
    assert "source folders are never written to" in capsys.readouterr().err


def test_findings_read_back_from_a_report_sr_include_the_risk(tmp_path, capsys):
    from meddiag_desktop.batch.sr_findings import read_sr_findings

    _series(tmp_path / "ct", "1.2.3.9", n=4)
    inputs = {"family_history": False, "emphysema": False, "spiculation": False, "nodule_size_mm": 6,
              "nodule_type": "solid", "upper_lobe": False, "nodule_count": 1}
    assert main(["report", str(tmp_path / "ct"), "--out", str(tmp_path / "out"), "--risk", "brock",
                 "--inputs", json.dumps(inputs)]) == 0
    printed = capsys.readouterr().out
    rows = read_sr_findings(tmp_path / "out" / "sr.dcm")
    assert [(r.measurement, r.value_text) for r in rows if r.value is None] == [("Finding", "Nodule")]
    (row,) = [r for r in rows if r.value is not None]
    assert (row.study_uid, row.finding, row.measurement, row.unit) == ("1.2.3.9", "risk brock",
                                                                       "Probability of cancer", "%")
    assert f"{row.value:.1f} %" in printed and row.code == "DCM:111047" and row.finding_type == "Nodule"


def test_the_batch_package_imports_no_qt_and_no_dask_until_a_batch_runs():
    bad = {p.name for p in PKG.glob("*.py")
           if {n.split(".")[0] for node in ast.walk(ast.parse(p.read_text())) if isinstance(node, ast.Import)
               for n in (a.name for a in node.names)} & {"PySide6", "vtk", "vtkmodules"}}
    assert not bad
    code = ("import sys, meddiag_desktop.batch.cli, meddiag_desktop.batch.engine, meddiag_desktop.batch.study;"
            "print(' '.join(m for m in ('distributed', 'dask', 'torch', 'PySide6') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_without_dask_the_error_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    (tmp_path / "in" / "s").mkdir(parents=True)
    assert main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--risk", "brock"]) == 2
    assert "pip install 'meddiag-desktop[batch]'" in capsys.readouterr().err
