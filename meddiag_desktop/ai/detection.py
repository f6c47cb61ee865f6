"""Detection output of MONAI bundles as :class:`~meddiag_desktop.ai.results.Detection` boxes.

MONAI's detection bundles (``lung_nodule_ct_detection``) end their
post-processing with ``AffineBoxToWorldCoordinated(affine_lps_to_ras=True)`` and
``ConvertBoxModed(dst_mode="cccwhd")``: boxes are centre x, y, z in world (LPS)
mm and width, height, depth in mm, with ``label`` and ``label_scores``; their
``DetectionSaver`` writes the same as JSON. Both forms are read here.
"""

from __future__ import annotations

from meddiag_desktop.ai.results import Detection

__all__ = ["detections_from_outputs", "boxes_from_items"]


def boxes_from_items(items: list[dict]) -> list[Detection]:
    """Boxes from dicts holding ``box`` (N x 6, cccwhd), ``label`` (N) and ``label_scores``/``scores`` (N)."""
    found: list[Detection] = []
    for it in items:
        boxes = it.get("box") or []
        labels = it.get("label") or [0] * len(boxes)
        scores = it.get("label_scores") or it.get("scores") or [float("nan")] * len(boxes)
        for b, lab, sc in zip(boxes, labels, scores):
            if len(b) != 6:
                raise ValueError(f"a detection box has {len(b)} numbers; expected 6 (centre x, y, z, size x, y, z)")
            found.append(Detection(tuple(float(v) for v in b[:3]), tuple(float(v) for v in b[3:]), float(sc), int(lab)))
    found.sort(key=lambda d: -d.score)
    return found


def detections_from_outputs(outputs: list[dict], saved: list) -> list[Detection]:
    """Prefer what the bundle saved (after its post-processing); else the evaluator's own output."""
    for data in saved:
        items = data if isinstance(data, list) else data.get("validation") or data.get("test") or [data] if isinstance(data, dict) else []
        items = [i for i in items if isinstance(i, dict) and "box" in i]
        if items:
            return boxes_from_items(items)
    return boxes_from_items([o for o in outputs if "box" in o])
