"""Image-derived risk inputs on the demo chest phantom agree with its nodule ground truth."""

import numpy as np
import pytest

from meddiag_desktop.risk import get_model
from meddiag_desktop.risk.image_inputs import derive_nodule_inputs, nodule_components

phantom_module = pytest.importorskip("meddiag_desktop.demo.phantom", reason="demo phantom not available")
if not hasattr(phantom_module, "make_chest_phantom"):  # pragma: no cover - while the demo is being written
    pytest.skip("demo phantom has no make_chest_phantom yet", allow_module_level=True)


@pytest.fixture(scope="module")
def phantom():
    return phantom_module.make_chest_phantom()


def test_every_nodule_matches_ground_truth_within_one_voxel(phantom):
    volume = phantom.volume()
    comps = nodule_components(volume, phantom.labels)
    assert len(comps) == len(phantom.nodules)
    voxel = max(phantom.spacing[:2])
    for truth in phantom.nodules:
        comp = min(comps, key=lambda c: np.linalg.norm(np.subtract(c.centroid_lps, truth.center_lps)))
        d = derive_nodule_inputs(volume, phantom.labels, component=comp.index, nodule_type=truth.type)
        assert d["nodule_size_mm"].value == pytest.approx(truth.mean_diameter_mm, abs=voxel), truth
        assert d["diameter_mm"].value == pytest.approx(truth.long_axis_mm, abs=voxel), truth
        assert d["upper_lobe"].value == truth.upper_lobe, truth
        assert d["nodule_count"].value == len(phantom.nodules)
        assert d["nodule_type"].value == truth.type


def test_phantom_inputs_run_through_brock(phantom):
    volume = phantom.volume()
    d = derive_nodule_inputs(volume, phantom.labels, nodule_type="solid")
    names = {i.name for i in get_model("brock").spec.inputs}
    inputs = {k: v.value for k, v in d.items() if k in names}
    inputs.update(age=65, sex="male", family_history=False, emphysema=False, spiculation=False)
    result = get_model("brock").evaluate(inputs)
    assert 0.0 < result.probability < 1.0
