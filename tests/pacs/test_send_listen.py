"""Sending a report (SEG, SR, PDF) to Orthanc, and receiving with ``meddiag listen`` from dcmtk's storescu."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from meddiag_desktop.cli import main
from meddiag_desktop.pacs import PacsError, resolve_node
from tests.pacs.conftest import make_ct
from tests.pacs.orthanc import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _report_folder(files, out):
    """report.pdf, seg.dcm and sr.dcm of a small report on the study of ``files`` (the real exporter)."""
    from meddiag_desktop.io import load
    from meddiag_desktop.report import LabelMap, build_report, export_report

    volume = load(files[0].parent)
    labels = np.zeros(volume.array.shape, np.uint8)
    labels[1:4, 5:15, 5:15] = 1
    lm = LabelMap(labels, {1: "nodule"}, {1: "#ff0054"})
    export_report(build_report(volume, label_maps=[lm], impression="Test report."), volume, out)
    return out


def test_send_report_seg_sr_pdf_arrive_in_orthanc(orthanc, tmp_path, capsys, db):
    import pydicom

    # a study of its own: the session's ct_on_orthanc stays a CT-only study for the other tests
    _, files = make_ct(tmp_path / "ct", patient_id="REPORT0001", patient_name="Report^Send", seed=5)
    orthanc.upload(files)
    study_uid = pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID
    out = _report_folder(files, tmp_path / "report")
    assert sorted(p.name for p in out.iterdir()) == ["report.pdf", "seg.dcm", "sr.dcm"]
    rc = main(["pacs", "send", orthanc.node_text, str(out), "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and res["sent"] == 3 and res["failed"] == []
    by_sop = {i["SOPInstanceUID"]: i["Modality"] for i in res["instances"]}
    assert sorted(by_sop.values()) == ["DOC", "SEG", "SR"]
    # what Orthanc holds now, through its REST API
    got = {i["MainDicomTags"]["SOPInstanceUID"]: i["ID"] for i in orthanc.instances_of_study(study_uid)}
    assert set(by_sop) <= set(got)
    pdf_id = got[next(u for u, m in by_sop.items() if m == "DOC")]
    tags = orthanc.rest(f"/instances/{pdf_id}/simplified-tags")
    assert tags["SOPClassUID"] == "1.2.840.10008.5.1.4.1.1.104.1" and tags["MIMETypeOfEncapsulatedDocument"] == "application/pdf"
    assert tags["PatientID"] == "REPORT0001" and tags["StudyInstanceUID"] == study_uid
    pdf = orthanc.rest(f"/instances/{pdf_id}/content/0042-0011")
    assert pdf.rstrip(b"\0") == (out / "report.pdf").read_bytes()
    seg_id = got[next(u for u, m in by_sop.items() if m == "SEG")]
    assert orthanc.rest(f"/instances/{seg_id}/simplified-tags")["SOPClassUID"] == "1.2.840.10008.5.1.4.1.1.66.4"


def test_pdf_alone_is_refused_with_the_reason(orthanc, tmp_path, capsys, db):
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    assert main(["pacs", "send", orthanc.node_text, str(pdf)]) == 1
    err = capsys.readouterr().err.strip()
    assert "no DICOM file of the study" in err and "\n" not in err


def _wait_echo(port: int, proc, deadline: float) -> None:
    from meddiag_desktop.pacs import echo

    node = resolve_node(f"MEDDIAG@127.0.0.1:{port}", timeout=2)
    while True:
        assert proc.poll() is None, proc.stdout.read()
        try:
            echo(node)
            return
        except PacsError:
            if time.monotonic() > deadline:
                raise


@pytest.mark.skipif(shutil.which("storescu") is None, reason="dcmtk's storescu is not installed")
def test_storescu_push_to_listen_appears_in_db_list_and_opens(tmp_path, db):
    from meddiag_desktop.io import load

    arr, files = make_ct(tmp_path / "pushed", patient_id="PUSH0001", seed=7)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": REPO}
    proc = subprocess.Popen([sys.executable, "-m", "meddiag_desktop", "listen", "--ae", "MEDDIAG", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_echo(port, proc, time.monotonic() + 30)
        push = subprocess.run(["storescu", "-aec", "MEDDIAG", "-aet", "MODALITY", "127.0.0.1", str(port),
                               *map(str, files)], capture_output=True, text=True, timeout=60)
        assert push.returncode == 0, push.stderr
        listed = subprocess.run([sys.executable, "-m", "meddiag_desktop", "db", "list", "--json"], env=env,
                                capture_output=True, text=True, timeout=60)
        studies = json.loads(listed.stdout)
        assert [(s["PatientID"], s["NumberOfStudyRelatedInstances"], s["status"]) for s in studies] == [
            ("PUSH0001", arr.shape[0], "complete")]
        np.testing.assert_array_equal(load(studies[0]["folder"]).array, arr)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and f"{arr.shape[0]} instance(s) received" in out


def test_unparseable_received_file_is_quarantined_with_reason(tmp_path, db):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian
    from pynetdicom import AE
    from pynetdicom.sop_class import CTImageStorage

    from meddiag_desktop.pacs.scp import StoreServer

    port = free_port()
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = "1.2.3.4.5"
    ds.PatientID = "NOSTUDY"  # no Study/Series Instance UID: it cannot be placed
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    with StoreServer(db, "MEDDIAG", port) as server:
        ae = AE("SENDER")
        ae.add_requested_context(CTImageStorage)
        assoc = ae.associate("127.0.0.1", port, ae_title="MEDDIAG")
        assert assoc.is_established
        status = assoc.send_c_store(ds)
        assoc.release()
    assert status.Status == 0xC210 and server.quarantined == 1 and server.received == 0
    (path, reason), = db.quarantined()
    assert "StudyInstanceUID" in reason and "SENDER" in reason
    assert open(path + ".reason.txt").read().strip() == reason
    assert db.studies() == []
