"""C-ECHO, C-FIND, C-GET, C-MOVE and C-STORE against a real Orthanc, through the CLI and the API."""

from __future__ import annotations

import json

import numpy as np
import pytest

from meddiag_desktop.cli import main
from meddiag_desktop.pacs import resolve_node


def _json(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(out)


def test_echo(orthanc, capsys, db):
    out = _json(capsys, ["pacs", "echo", orthanc.node_text, "--json"])
    assert out["ok"] is True and out["node"] == orthanc.node_text


def test_find_study_and_series(orthanc, ct_on_orthanc, capsys, db):
    study_uid, series_uid, arr, _ = ct_on_orthanc
    rows = _json(capsys, ["pacs", "find", orthanc.node_text, "--patient-id", "PACS0001", "--json"])
    assert [r["StudyInstanceUID"] for r in rows] == [study_uid]
    r = rows[0]
    assert r["PatientID"] == "PACS0001" and r["PatientName"] == "Test^Pacs" and r["StudyDate"] == "20260115"
    assert r["ModalitiesInStudy"] == ["CT"] and r["NumberOfStudyRelatedInstances"] == arr.shape[0]
    assert _json(capsys, ["pacs", "find", orthanc.node_text, "--patient-name", "Test*", "--modality", "CT",
                          "--study-date", "20260101-20260131", "--json"])[0]["StudyInstanceUID"] == study_uid
    assert _json(capsys, ["pacs", "find", orthanc.node_text, "--patient-id", "NOBODY", "--json"]) == []
    series = _json(capsys, ["pacs", "find", orthanc.node_text, "--study", study_uid, "--json"])
    assert [(s["SeriesInstanceUID"], s["Modality"], s["NumberOfSeriesRelatedInstances"]) for s in series] == [
        (series_uid, "CT", arr.shape[0])]


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieve_opens_with_exact_voxels(orthanc, ct_on_orthanc, capsys, db, method):
    from meddiag_desktop.db import find_study_paths
    from meddiag_desktop.io import load

    study_uid, _, arr, _ = ct_on_orthanc
    argv = ["pacs", "get", orthanc.node_text, "--study", study_uid, "--method", method, "--json"]
    if method == "move":
        argv += ["--ae", orthanc.our_ae, "--port", str(orthanc.our_port)]
    out = _json(capsys, argv)
    assert out["instances"] == arr.shape[0] and out["received"] == arr.shape[0] and out["complete"] is True
    vol = load(out["folder"])
    np.testing.assert_array_equal(vol.array, arr)
    np.testing.assert_allclose(vol.spacing, (0.8, 0.8, 2.5))
    np.testing.assert_allclose(vol.origin, (-10.0, -20.0, 30.0))
    assert [str(p) for p in find_study_paths({"modality": "CT"})] == [out["folder"]]
    listed = _json(capsys, ["db", "list", "--json"])
    assert [(s["StudyInstanceUID"], s["status"], s["NumberOfStudyRelatedInstances"]) for s in listed] == [
        (study_uid, "complete", arr.shape[0])]
    # a second retrieve of a complete study asks for nothing more
    again = _json(capsys, argv)
    assert again["received"] == 0 and again["instances"] == arr.shape[0]


def test_move_to_unknown_destination_is_one_line(orthanc, ct_on_orthanc, capsys, db):
    study_uid = ct_on_orthanc[0]
    rc = main(["pacs", "get", orthanc.node_text, "--study", study_uid, "--method", "move", "--ae", "STRANGER",
               "--port", str(orthanc.our_port)])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "\n" not in err and "STRANGER" in err and "partial" in err
    assert db.study(study_uid).status == "partial"


def test_series_level_get(orthanc, ct_on_orthanc, db):
    from meddiag_desktop.pacs import retrieve

    study_uid, series_uid, arr, _ = ct_on_orthanc
    out = retrieve(resolve_node(orthanc.node_text), study_uid, db, series_uid=series_uid)
    assert out["received"] == arr.shape[0]
    assert [s.series_uid for s in db.series(study_uid)] == [series_uid]
