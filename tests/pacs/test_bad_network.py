"""Bad networks fail with one line within the node's timeout; a PACS dying mid-retrieve leaves a resumable partial study."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from meddiag_desktop.cli import main
from tests.pacs.conftest import make_ct
from tests.pacs.orthanc import Orthanc, available, free_port

TIMEOUT = 2.0


def _one_line_failure(capsys, argv) -> tuple[str, float]:
    t0 = time.monotonic()
    rc = main(argv)
    elapsed = time.monotonic() - t0
    out, err = capsys.readouterr()
    err = err.rstrip("\n")
    assert rc == 1 and out == "" and err.startswith("meddiag pacs: ") and "\n" not in err, err
    assert elapsed < TIMEOUT + 0.5, f"took {elapsed:.2f} s with a {TIMEOUT} s timeout"
    return err, elapsed


@pytest.mark.parametrize("cmd", [["echo"], ["find", "--patient-id", "X"], ["get", "--study", "1.2.3"]])
def test_closed_port_is_refused(capsys, db, cmd):
    port = free_port()
    err, _ = _one_line_failure(capsys, ["pacs", cmd[0], f"PACS@127.0.0.1:{port}", *cmd[1:], "--timeout", str(TIMEOUT)])
    assert f"connection refused by 127.0.0.1:{port}" in err


def test_port_that_never_answers_times_out(capsys, db):
    with socket.socket() as silent:  # accepts TCP connections (kernel backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        err, elapsed = _one_line_failure(capsys, ["pacs", "echo", f"PACS@127.0.0.1:{port}", "--timeout", str(TIMEOUT)])
    assert "did not answer the DICOM association within 2 s" in err
    assert elapsed > TIMEOUT * 0.5  # it did wait, as configured


def test_unknown_host(capsys, db):
    err, _ = _one_line_failure(capsys, ["pacs", "echo", "PACS@no-such-host.invalid:104", "--timeout", str(TIMEOUT)])
    assert "no-such-host.invalid" in err


def test_wrong_called_ae_is_rejected(orthanc, capsys, db):
    err, _ = _one_line_failure(capsys, ["pacs", "echo", f"WRONGAE@127.0.0.1:{orthanc.dicom_port}",
                                        "--timeout", str(TIMEOUT)])
    assert "rejected the association" in err and "'WRONGAE'" in err


def test_dicomweb_refused_is_one_line(capsys, db):
    port = free_port()
    err, _ = _one_line_failure(capsys, ["pacs", "find", f"http://127.0.0.1:{port}/dicom-web", "--timeout", str(TIMEOUT)])
    assert "connection refused" in err


def test_pacs_dying_mid_retrieve_leaves_a_partial_study_that_resumes(tmp_path, db, capsys):
    """Orthanc is killed while it sends: the study stays partial (never complete-looking); a rerun fetches the rest."""
    if available():
        pytest.skip(available())
    from meddiag_desktop.db import find_study_paths
    from meddiag_desktop.io import load
    from meddiag_desktop.pacs import RetrieveIncomplete, resolve_node, retrieve

    arr, files = make_ct(tmp_path / "big", patient_id="DROP0001", slices=40, size=16, seed=5)
    import pydicom

    study_uid = pydicom.dcmread(files[0]).StudyInstanceUID
    pacs = Orthanc(tmp_path / "orthanc").start()
    ports = dict(dicom_port=pacs.dicom_port, http_port=pacs.http_port)
    try:
        pacs.upload(files)
        node = resolve_node(pacs.node_text, timeout=5)

        def kill_after_five(done, total):
            if done == 5 and pacs.proc is not None:
                pacs.proc.kill()  # the PACS dies mid-transfer
                pacs.proc.wait()

        t0 = time.monotonic()
        with pytest.raises(RetrieveIncomplete) as info:
            retrieve(node, study_uid, db, progress=kill_after_five)
        assert time.monotonic() - t0 < 5 + 1
        msg = str(info.value)
        assert "\n" not in msg and "partial" in msg and "again" in msg
        rec = db.study(study_uid)
        assert rec.status == "partial" and 5 <= rec.instance_count < 40
        assert find_study_paths({"patient_id": "DROP0001"}) == []  # a half study never looks complete
        assert main(["db", "list"]) == 0 and "PARTIAL" in capsys.readouterr().out
        have = rec.instance_count
        pacs.stop()
        pacs = Orthanc(tmp_path / "orthanc", **ports).start()  # back up, same storage
        out = retrieve(node, study_uid, db)
        assert out["complete"] and out["instances"] == 40 and out["received"] == 40 - have
        np.testing.assert_array_equal(load(out["folder"]).array, arr)
        assert [str(p) for p in find_study_paths({"patient_id": "DROP0001"})] == [out["folder"]]
    finally:
        pacs.stop(graceful=False)
