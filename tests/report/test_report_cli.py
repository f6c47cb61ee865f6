"""``meddiag report``: end to end with a tiny plugin and a risk model; clear failures with exit status 2."""

from __future__ import annotations

import json

import pydicom
import pytest
from tests.report.report_helpers import PATIENT, dciodvfy, pdf_text, tree_hashes

from meddiag_desktop.cli import main

INPUTS = {"family_history": False, "emphysema": True, "spiculation": False, "nodule_size_mm": 9,
          "nodule_type": "solid", "nodule_count": 1, "upper_lobe": True}


def test_report_with_plugin_and_risk_anonymised(study, tmp_path, capsys, audit_log):
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    from tests.ai.plugin_factory import make_plugin

    folder, volume, _ = study
    plugin = make_plugin(tmp_path / "plugins", "test.bright")
    before = tree_hashes(folder)
    out = tmp_path / "reports" / "case"
    rc = main(["report", str(folder), "--out", str(out), "--plugin", str(plugin), "--device", "cpu",
               "--risk", "brock", "--inputs", json.dumps(INPUTS), "--anonymize", "--reader", "Dr R. Reader"])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert sorted(p.name for p in out.iterdir()) == ["report.pdf", "seg.dcm", "sr.dcm"]
    assert f"wrote {out / 'seg.dcm'}" in printed.out and "pseudonym: ANON-" in printed.out
    assert tree_hashes(folder) == before
    seg = pydicom.dcmread(out / "seg.dcm", stop_before_pixels=True)
    assert seg.SegmentSequence[0].SegmentLabel == "bright" and seg.PatientIdentityRemoved == "YES"
    assert dciodvfy(out / "seg.dcm") == [] and dciodvfy(out / "sr.dcm") == []
    text = " ".join(pdf_text(out / "report.pdf").split())
    assert "test.bright" in text and "Brock" in text and "bright" in text
    for ident in (PATIENT["patient_id"], "Quixote", volume.metadata["study_uid"]):
        assert all(ident.encode() not in p.read_bytes() for p in out.iterdir())
    actions = [json.loads(ln)["action"] for ln in audit_log.read_text().splitlines()]
    assert actions == ["open", "ai_run", "risk", "export"]


def test_seg_type_labelmap_from_the_command_line(study, tmp_path, capsys):
    """``--seg-type LABELMAP`` reaches the SEG export: one LABELMAP SEG holding exactly the plugin's voxels."""
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    import highdicom as hd
    import numpy as np

    from tests.ai.plugin_factory import make_plugin

    folder, volume, _ = study
    plugin = make_plugin(tmp_path / "plugins", "test.bright")
    out = tmp_path / "labelmap"
    rc = main(["report", str(folder), "--out", str(out), "--plugin", str(plugin), "--device", "cpu",
               "--seg-type", "LABELMAP", "--accept-ai"])
    assert rc == 0, capsys.readouterr().err
    raw = pydicom.dcmread(out / "seg.dcm")
    assert raw.SegmentationType == "LABELMAP"
    seg = hd.seg.segread(out / "seg.dcm")
    labels = seg.get_volume(combine_segments=True).array
    binary = main(["report", str(folder), "--out", str(tmp_path / "binary"), "--plugin", str(plugin),
                   "--device", "cpu", "--accept-ai"])
    assert binary == 0
    reference = hd.seg.segread(tmp_path / "binary" / "seg.dcm")
    assert pydicom.dcmread(tmp_path / "binary" / "seg.dcm", stop_before_pixels=True).SegmentationType == "BINARY"
    expected = reference.get_volume(combine_segments=True).array
    assert labels.shape == expected.shape and np.array_equal(labels, expected) and labels.any()


def test_pdf_only_report_without_plugins(study, tmp_path, capsys):
    folder, _, _ = study
    out = tmp_path / "out"
    rc = main(["report", str(folder), "--out", str(out), "--pdf-only", "--impression", "No nodule."])
    assert rc == 0, capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["report.pdf"]
    assert "Quixote Alonso" in pdf_text(out / "report.pdf")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--risk", "brock", "--inputs", "{\"family_history\": false}"], "emphysema"),
        (["--risk", "no-such-model"], "no-such-model"),
        (["--inputs", "{}"], "--inputs needs --risk"),
        (["--risk", "brock", "--inputs", "{not json"], "not valid JSON"),
        (["--plugin", "no.such.plugin"], "no.such.plugin"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(study, tmp_path, capsys, args, message):
    folder, _, _ = study
    out = tmp_path / "out"
    rc = main(["report", str(folder), "--out", str(out), *args])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.startswith("meddiag report: error:")
    assert not out.exists()


def test_output_inside_the_study_is_refused(study, capsys):
    folder, _, _ = study
    before = tree_hashes(folder)
    assert main(["report", str(folder), "--out", str(folder / "reports")]) == 2
    assert "source folder" in capsys.readouterr().err
    assert tree_hashes(folder) == before


def test_missing_study_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_plugin_that_refuses_the_study_is_reported_not_fatal(study, tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    from tests.ai.plugin_factory import make_plugin

    folder, _, _ = study
    plugin = make_plugin(tmp_path / "plugins", "test.needs-big", extra="[input]\nmin_size_mm = 1000.0\n")
    out = tmp_path / "out"
    rc = main(["report", str(folder), "--out", str(out), "--plugin", str(plugin), "--device", "cpu", "--pdf-only"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "warning: AI plugin test.needs-big was not run" in err
    assert "test.needs-big was not run" in " ".join(pdf_text(out / "report.pdf").split())


def test_cuda_without_a_gpu_is_a_clear_error(study, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    folder, _, _ = study
    rc = main(["report", str(folder), "--out", str(tmp_path / "out"), "--plugin", "x", "--device", "cuda"])
    assert rc == 2 and "no CUDA GPU" in capsys.readouterr().err
