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


def test_series_arrive_largest_first_and_each_opens_before_the_rest(orthanc, db, tmp_path):
    """on_series: the largest series is complete (and loads) while the smaller one has not been asked for yet."""
    import pydicom
    from pydicom.uid import generate_uid

    from meddiag_desktop.io import load
    from meddiag_desktop.pacs import retrieve
    from tests.pacs.conftest import make_ct

    study = generate_uid()
    small, f_small = make_ct(tmp_path / "small", patient_id="TWOSER", slices=3, seed=21, study_uid=study, series_number=1)
    big, f_big = make_ct(tmp_path / "big", patient_id="TWOSER", slices=7, seed=22, study_uid=study, series_number=2)
    orthanc.upload(f_small + f_big)
    uid_big = pydicom.dcmread(f_big[0]).SeriesInstanceUID
    seen = []

    def on_series(series_uid):
        folder = db.managed_path(study, series_uid, "x").parent
        seen.append((series_uid, len(db.series(study)), load(folder).array.copy()))

    out = retrieve(resolve_node(orthanc.node_text), study, db, on_series=on_series)
    assert out["complete"] and out["instances"] == 10
    assert [s[0] for s in seen][0] == uid_big and len(seen) == 2
    assert seen[0][1] == 1  # only the big series was there when it was offered
    np.testing.assert_array_equal(seen[0][2], big)
    np.testing.assert_array_equal(seen[1][2], small)
