"""Intended-use gating against studies we did not make: nilearn's MNI152 brain, pydicom's MR, real zoo bundles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from meddiag_desktop.ai.intended_use import OutsideIntendedUse, check_domain, domain_of, plausibility_warnings
from meddiag_desktop.ai.manifest import ManifestError, parse_manifest
from meddiag_desktop.ai.manifest_io import load_manifest
from meddiag_desktop.cli import main
from meddiag_desktop.paths import bundled_plugins_dir

_ROOT = Path(__file__).resolve().parents[2]
# the shared folder beside the checkout (a worktree sits one level deeper)
ZOO = next((p / "shared" / "zoo_bundles" for p in (_ROOT.parent, _ROOT.parent.parent)
            if (p / "shared" / "zoo_bundles").is_dir()), _ROOT.parent / "shared" / "zoo_bundles")


@pytest.fixture(scope="module")
def chest():
    return load_manifest(bundled_plugins_dir() / "chest_ct_seg")


@pytest.fixture
def mni_nifti(mni152_nifti):
    return mni152_nifti


@pytest.fixture(scope="module")
def mr_small():
    from pydicom.data import get_testdata_file

    return get_testdata_file("MR_small.dcm")


def test_brain_mri_and_mr_sample_are_outside_the_chest_ct_domain(chest, mni_nifti, mr_small):
    from meddiag_desktop.io import load

    mni = check_domain(chest, load(mni_nifti))  # NIfTI: no modality; the values say it is not CT
    assert not mni.ok
    assert mni.sentence.startswith("Values range 0 to 1, never below -900 HU")
    assert mni.sentence.endswith("this plugin expects CT in Hounsfield units (HU).")
    mr = check_domain(chest, load(mr_small))
    assert mr.sentence == "MR study; this plugin expects CT."


def test_a_ct_passes_and_a_declared_body_part_is_checked(chest):
    from tests.ai.plugin_factory import box_volume

    ct = box_volume()
    assert check_domain(chest, ct).ok
    ct.metadata["body_part"] = "HEAD"
    assert check_domain(chest, ct).sentence == ("Body part HEAD; this plugin expects CHEST or THORAX or LUNG or "
                                                "CHESTABDOMEN or CHESTABDPELVIS or WHOLEBODY.")
    coarse = box_volume(spacing=(1.0, 1.0, 8.0))
    assert check_domain(chest, coarse).sentence == "Voxel spacing 1 x 1 x 8 mm; this plugin expects 0.3 to 5 mm."


@pytest.mark.skipif(not ZOO.is_dir(), reason="shared/zoo_bundles not present")
def test_monai_bundle_domain_comes_from_its_metadata(mni_nifti):
    from tests.ai.plugin_factory import box_volume

    from meddiag_desktop.ai.bundle import load_bundle_manifest
    from meddiag_desktop.io import load

    brats = load_bundle_manifest(ZOO / "brats_mri_segmentation")
    d = domain_of(brats, ZOO / "brats_mri_segmentation")
    assert d.modalities == ("MR",) and d.channels == 4 and d.source.endswith("metadata.json")
    assert check_domain(brats, box_volume(), ZOO / "brats_mri_segmentation").sentence == \
        "CT study; this plugin expects MR."
    spleen = load_bundle_manifest(ZOO / "spleen_ct_segmentation")  # format "hounsfield": values must look like HU
    check = check_domain(spleen, load(mni_nifti), ZOO / "spleen_ct_segmentation")
    assert check.sentence.startswith("Values range 0 to 1, never below -200 HU")


def test_plausibility_checks_warn_and_are_validated(chest):
    labels = np.zeros((20, 20, 20), np.uint8)
    labels[2:5, 2:5, 2:5] = 1
    labels[10, 10, 10] = labels[15, 15, 15] = 7
    warnings = plausibility_warnings(chest, labels, (2.0, 2.0, 2.0))
    assert warnings == ["implausible result: both lungs volume 0 mL, expected 1500 to 10000 mL",
                        "implausible result: heart volume 0 mL, expected 200 to 1500 mL"]
    data = {"id": "x", "name": "x", "version": "1", "task": "segmentation", "intended_use": "t", "entry": "a.b:c",
            "weights": [{"file": "w.safetensors", "sha256": "0" * 64}], "outputs": {"labels": [{"value": 1, "name": "a"}]},
            "plausibility": [{"labels": [2], "max_ml": 5}]}
    with pytest.raises(ManifestError, match=r"plausibility check 1 names labels \[2\]"):
        parse_manifest(data)
    with pytest.raises(ManifestError, match=r"domain.spacing_mm: .*must be \[low, high\] with low < high"):
        parse_manifest({**data, "plausibility": [], "domain": {"spacing_mm": [5, 1]}})


def test_infer_refuses_outside_intended_use_with_valid_json(mr_small, tmp_path, capsys):
    rc = main(["infer", "meddiag.chest-ct-seg", str(mr_small), "--out", str(tmp_path / "out"), "--json"])
    out = capsys.readouterr()
    assert rc != 0
    payload = json.loads(out.out)  # one valid object, even for a refusal
    assert payload["refused"] == "outside intended use" and payload["mismatch"] == "MR study; this plugin expects CT."
    assert "MR study; this plugin expects CT." in out.err
    assert not (tmp_path / "out").exists()


def test_forced_infer_on_mni152_runs_and_says_outside_intended_use(mni_nifti, tmp_path, capsys, monkeypatch,
                                                                  _isolated_plugin_places):
    pytest.importorskip("torch")
    monkeypatch.delenv("MEDDIAG_AUDIT_LOG", raising=False)
    rc = main(["infer", "meddiag.chest-ct-seg", str(mni_nifti), "--out", str(tmp_path / "out"), "--json", "--force",
               "--device", "cpu"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    payload = json.loads(out.out)
    assert payload["outside_intended_use"].startswith("Values range 0 to 1")
    assert payload["warnings"][0].startswith("Outside intended use: Values range 0 to 1")
    assert any(w.startswith("implausible result: both lungs volume") for w in payload["warnings"])
    assert payload["findings_status"] and all(f["outside_intended_use"] and f["status"] == "proposed"
                                              for f in payload["findings_status"])
    saved = json.loads(Path(payload["outputs"][-1]).read_text())
    assert saved["outside_intended_use"] == payload["outside_intended_use"]
    log = [json.loads(ln) for ln in (Path(_isolated_plugin_places) / "audit.log").read_text().splitlines()]
    assert log[-1]["action"] == "ai_run" and log[-1]["outcome"] == "ok" and log[-1]["forced"] is True
    assert log[-1]["outside_intended_use"] == payload["outside_intended_use"]
    with pytest.raises(OutsideIntendedUse):  # and the same gate refuses without force, in the workflow
        from meddiag_desktop.ai.discovery import find_plugin
        from meddiag_desktop.io import load
        from meddiag_desktop.workflow import run_ai

        run_ai(find_plugin("meddiag.chest-ct-seg"), load(mni_nifti), via="test")
    assert json.loads((Path(_isolated_plugin_places) / "audit.log").read_text().splitlines()[-1])["outcome"] == "refused"
