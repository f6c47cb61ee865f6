"""Risk inputs derived from the demo study (DICOM + labels) agree with its nodules.json ground truth."""

import numpy as np
import pytest

from meddiag_desktop.risk import get_model
from meddiag_desktop.risk.image_inputs import derive_nodule_inputs, nodule_components

demo = pytest.importorskip("meddiag_desktop.demo")
io = pytest.importorskip("meddiag_desktop.io")
if not hasattr(demo, "demo_ground_truth"):  # pragma: no cover
    pytest.skip("the demo study has no ground truth API", allow_module_level=True)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    cache = tmp_path_factory.mktemp("demo_cache")
    root = demo.demo_study_dir(cache)
    labels, nodules = demo.demo_ground_truth(cache)
    volume = io.load(root / "dicom")
    return volume, labels, nodules


def test_nodule_sizes_match_ground_truth_within_one_voxel(study):
    volume, labels, nodules = study
    comps = nodule_components(volume, labels)
    assert len(comps) == len(nodules) >= 3
    voxel = max(volume.spacing[:2])
    for truth in nodules:
        comp = min(comps, key=lambda c: np.linalg.norm(np.subtract(c.centroid_lps, truth.center_lps)))
        assert np.linalg.norm(np.subtract(comp.centroid_lps, truth.center_lps)) < voxel
        d = derive_nodule_inputs(volume, labels, component=comp.index, nodule_type=truth.type)
        assert d["nodule_size_mm"].value == pytest.approx(truth.mean_diameter_mm, abs=voxel), truth
        assert d["diameter_mm"].value == pytest.approx(truth.long_axis_mm, abs=voxel), truth
        assert d["upper_lobe"].value == truth.upper_lobe, truth
        assert d["nodule_count"].value == len(nodules)
        assert d["nodule_type"].value == truth.type


def test_patient_fields_come_from_the_dicom_header(study):
    volume, labels, _ = study
    d = derive_nodule_inputs(volume, labels)
    assert d["sex"].value in ("male", "female") and d["sex"].source == "dicom"
    assert 18 <= d["age"].value <= 110 and d["age"].source == "dicom"


def test_demo_nodules_run_through_brock_and_mayo(study):
    volume, labels, nodules = study
    for truth in nodules:
        comp = min(nodule_components(volume, labels),
                   key=lambda c: np.linalg.norm(np.subtract(c.centroid_lps, truth.center_lps)))
        d = {k: v.value for k, v in derive_nodule_inputs(volume, labels, component=comp.index,
                                                         nodule_type=truth.type).items()}
        brock = get_model("brock").evaluate({
            **{k: d[k] for k in ("age", "sex", "nodule_size_mm", "nodule_type", "upper_lobe", "nodule_count")},
            "family_history": False, "emphysema": False, "spiculation": truth.spiculated,
        })
        assert 0 < brock.probability < 1 and brock.category
        mayo = get_model("mayo").evaluate({
            "age": d["age"], "diameter_mm": d["diameter_mm"], "upper_lobe": d["upper_lobe"],
            "smoking_history": True, "cancer_history": False, "spiculation": truth.spiculated,
        })
        assert 0 < mayo.probability < 1
