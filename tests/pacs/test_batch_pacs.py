"""meddiag batch pacs:NODE?query: C-FIND on a real Orthanc, retrieve into the local database, then the batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


from tests.batch.batch_helpers import tiny_plugin, write_study  # noqa: E402

from meddiag_desktop.batch.discover import BatchInputError, candidates, parse_pacs_input  # noqa: E402
from meddiag_desktop.cli import main  # noqa: E402

pytest.importorskip("distributed")


def test_pacs_input_syntax():
    assert parse_pacs_input("ORTHANC@pacs:4242?modality=CT&study_date=20240101-20241231") == (
        "ORTHANC@pacs:4242", {"modality": "CT", "study_date": "20240101-20241231"}, "get")
    assert parse_pacs_input("http://h:8042/dicom-web?patient_id=P1&method=move") == (
        "http://h:8042/dicom-web", {"patient_id": "P1"}, "move")
    with pytest.raises(BatchInputError, match="at least one filter"):
        parse_pacs_input("ORTHANC@pacs:4242")
    with pytest.raises(BatchInputError, match="method must be get or move"):
        parse_pacs_input("clinic?modality=CT&method=ftp")
    with pytest.raises(BatchInputError, match="name the PACS node"):
        parse_pacs_input("?modality=CT")


def test_pacs_query_errors_are_one_line(db, monkeypatch):
    from tests.pacs.orthanc import free_port

    with pytest.raises(BatchInputError, match="connection refused"):
        candidates(f"pacs:PACS@127.0.0.1:{free_port()}?modality=CT")
    with pytest.raises(BatchInputError, match="unknown query key"):
        candidates(f"pacs:PACS@127.0.0.1:{free_port()}?colour=red")


def test_batch_over_a_pacs_query(orthanc, db, tmp_path, tmp_path_factory, monkeypatch, capsys):
    from tests.ai.plugin_factory import trust_for_tests

    monkeypatch.setenv("MEDDIAG_AUDIT_LOG", str(tmp_path / "audit.log"))
    monkeypatch.delenv("MEDDIAG_PLUGIN_PATH", raising=False)
    plugin = trust_for_tests(tiny_plugin(tmp_path_factory.mktemp("plugins"), trust=False))
    src = tmp_path / "src"
    wanted = {write_study(src / f"s{i}", seed=40 + i, patient_id="PBATCHPACS") for i in range(2)}
    other = write_study(src / "other", seed=50, patient_id="POTHER")
    for folder in src.iterdir():
        orthanc.upload(sorted(folder.iterdir()))

    out = tmp_path / "reports"
    status = main(["batch", f"pacs:{orthanc.node_text}?patient_id=PBATCHPACS&modality=CT", "--plugin", str(plugin),
                   "--out", str(out), "--workers", "2", "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    outcome = json.loads(captured.out)
    assert (outcome["done"], outcome["failed"], outcome["total"]) == (2, 0, 2)
    assert captured.err.count("retrieved ") == 2 and "32 instances, 32 new" in captured.err
    # each study: retrieved complete into the database, reported from its managed folder
    for uid in wanted:
        rec = db.study(uid)
        assert rec.complete and rec.instance_count == 32
        marker = json.loads((out / uid / "batch-done.json").read_text())
        assert marker["study_uid"] == uid and marker["source"] == str(rec.folder)
        assert Path(rec.folder).is_relative_to(db.storage_dir)
    assert not (out / other).exists() and other not in {s.study_uid for s in db.studies()}

    # the same query over DICOMweb, resumed: nothing new to retrieve, nothing to redo
    status = main(["batch", f"pacs:{orthanc.dicomweb_url}?patient_id=PBATCHPACS", "--plugin", str(plugin),
                   "--out", str(out), "--workers", "1", "--resume", "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    outcome = json.loads(captured.out)
    assert (outcome["skipped"], outcome["total"]) == (2, 2) and "32 instances, 0 new" in captured.err
