"""QIDO-RS, WADO-RS and STOW-RS against Orthanc's DICOMweb plugin."""

from __future__ import annotations

import json

import numpy as np

from meddiag_desktop.cli import main
from tests.pacs.conftest import make_ct


def test_dicomweb_find_get_send(orthanc, ct_on_orthanc, capsys, db, tmp_path):
    from meddiag_desktop.io import load

    study_uid, series_uid, arr, _ = ct_on_orthanc
    url = orthanc.dicomweb_url
    assert main(["pacs", "echo", url]) == 0
    capsys.readouterr()
    assert main(["pacs", "find", url, "--patient-id", "PACS0001", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["StudyInstanceUID"], r["PatientName"], r["ModalitiesInStudy"]) for r in rows] == [(study_uid, "Test^Pacs", ["CT"])]
    assert main(["pacs", "get", url, "--study", study_uid, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["received"] == arr.shape[0] and out["complete"]
    np.testing.assert_array_equal(load(out["folder"]).array, arr)
    # STOW-RS: a new study appears in Orthanc
    arr2, files = make_ct(tmp_path / "stow", patient_id="STOW0001", patient_name="Stow^Other", seed=3, slices=3)
    assert main(["pacs", "send", url, str(files[0].parent), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sent"] == 3
    import pydicom

    assert len(orthanc.instances_of_study(pydicom.dcmread(files[0]).StudyInstanceUID)) == 3
