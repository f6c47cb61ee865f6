"""Detection results: boxes from what the zoo's DetectionSaver writes, in JSON and drawn in slice views."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from tests.ai import zoo_factory as zf
from meddiag_desktop.ai.detection import boxes_from_items, detections_from_outputs
from meddiag_desktop.ai.results import Detection, DetectionResult


@pytest.mark.skipif(not zf.ZOO.is_dir(), reason="zoo bundles not found")
def test_boxes_from_the_lung_nodule_bundles_own_saver(tmp_path):
    """Run the bundle's scripts/detection_saver.py on a RetinaNet-shaped output; read its JSON back."""
    import torch
    from monai.data import MetaTensor

    bundle = zf.copy_bundle("lung_nodule_ct_detection", tmp_path)
    sys.path.insert(0, str(bundle))
    try:
        from scripts.detection_saver import DetectionSaver
    finally:
        sys.path.remove(str(bundle))
        sys.modules.pop("scripts", None)
    (tmp_path / "out").mkdir()  # the bundle writes into its output_dir, which the workflow makes
    saver = DetectionSaver(output_dir=str(tmp_path / "out"), filename="result_luna16_fold0.json",
                           batch_transform=lambda x: [{"filename_or_obj": "case.nii.gz"} for _ in x],
                           output_transform=lambda x: x)
    boxes = torch.tensor([[10.0, -20.0, 30.0, 6.0, 8.0, 4.0], [0.5, 1.5, -2.5, 3.0, 3.0, 3.0]])
    out = [{"box": boxes, "label": torch.tensor([0, 0]), "label_scores": torch.tensor([0.25, 0.875])}]

    class _State:
        batch = [{"image": MetaTensor(torch.zeros(1, 2, 2, 2))}]
        output = out

    class _Engine:
        state = _State()

    saver._started(_Engine())
    saver(_Engine())
    saver._finalize(_Engine())
    saved = [json.loads(p.read_text()) for p in (tmp_path / "out").rglob("*.json")]
    dets = detections_from_outputs([], saved)
    assert [d.score for d in dets] == [0.875, 0.25]  # highest score first
    assert dets[0].center_lps == (0.5, 1.5, -2.5) and dets[0].size_mm == (3.0, 3.0, 3.0)
    assert dets[1].center_lps == (10.0, -20.0, 30.0) and dets[1].size_mm == (6.0, 8.0, 4.0)
    result = DetectionResult("lung_nodule_ct_detection", dets, "research")
    summary = json.loads(json.dumps(result.to_summary()))
    assert summary["task"] == "detection"
    assert summary["detections"][0] == {"center_lps": [0.5, 1.5, -2.5], "size_mm": [3.0, 3.0, 3.0],
                                        "score": 0.875, "label": 0}
    assert result.finding_candidates()[0]["point_lps"] == [0.5, 1.5, -2.5]


def test_bad_box_is_a_clear_error():
    with pytest.raises(ValueError, match="has 4 numbers; expected 6"):
        boxes_from_items([{"box": [[1, 2, 3, 4]], "label": [0], "label_scores": [0.5]}])


def test_boxes_drawn_where_the_slice_cuts_them():
    pytest.importorskip("vtkmodules.vtkRenderingCore")
    from meddiag_desktop.core import Volume
    from meddiag_desktop.core import view_geometry as vg
    from meddiag_desktop.render.detection_layer import DetectionLayer, box_outline
    from meddiag_desktop.render.slice_view import SliceView

    det = Detection((10.0, -20.0, 30.0), (6.0, 8.0, 4.0), 0.9, 0)
    axial_in = box_outline(vg.AXIAL, det.center_lps, det.size_mm, (0.0, 0.0, 31.5))
    assert axial_in is not None
    xs, ys, zs = axial_in[:, 0], axial_in[:, 1], axial_in[:, 2]
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (7.0, 13.0, -24.0, -16.0) and np.allclose(zs, 31.5)
    assert box_outline(vg.AXIAL, det.center_lps, det.size_mm, (0.0, 0.0, 32.5)) is None  # above the box
    sag = box_outline(vg.SAGITTAL, det.center_lps, det.size_mm, (12.0, 0.0, 0.0))
    assert np.allclose(sag[:, 0], 12.0) and (sag[:, 2].min(), sag[:, 2].max()) == (28.0, 32.0)

    vol = Volume(np.zeros((40, 40, 40), np.int16), (1.0, 1.0, 1.0), (-10.0, -40.0, 10.0))
    sv = SliceView(vg.AXIAL)
    sv.set_volume(vol)
    layer = DetectionLayer(sv)
    far = Detection((0.0, -30.0, 45.0), (4.0, 4.0, 2.0), 0.4, 0)
    sv.cursor = np.array([10.0, -20.0, 30.0])
    layer.update([det, far], {0: "nodule"})
    assert layer.visible == [0]
    assert layer._items[0].text.GetInput() == "nodule 0.90"
    assert not layer._items[1].actor.GetVisibility()
