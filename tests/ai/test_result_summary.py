"""Results cross the worker boundary as to_summary() + arrays() and come back whole (result_from_summary)."""

from __future__ import annotations

import json

import numpy as np

from meddiag_desktop.ai.results import (
    ClassificationResult,
    Detection,
    DetectionResult,
    Finding,
    LabelStats,
    SegmentationResult,
    result_from_summary,
)
from meddiag_desktop.core.label_map import LabelMap


def _round_trip(result):
    summary = json.loads(json.dumps(result.to_summary()))  # what the pipe and the CLI's JSON carry
    arrays = {k: np.array(v) for k, v in result.arrays().items()}
    back = result_from_summary(summary, arrays)
    assert type(back) is type(result)
    assert back.to_summary() == summary
    return back


def test_segmentation_round_trip_keeps_labels_names_and_statistics():
    labels = np.zeros((4, 5, 6), np.uint8)
    labels[1:3, 2:4, 1:5] = 7
    stats = [LabelStats(7, "nodule", "#ff0054", 16, 0.016, 35.5, 2.25, 30.0, 40.0)]
    res = SegmentationResult("p.seg", LabelMap(labels, {7: "nodule"}, {7: "#ff0054"}), stats, "testing", "cpu",
                             {"infer_s": 0.123456}, ["a note"], ["a warning"], outside_intended_use="MR study")
    back = _round_trip(res)
    assert np.array_equal(back.labels, labels) and back.labels.dtype == np.uint8
    assert back.label_names == {7: "nodule"} and back.label_colors == {7: "#ff0054"}
    assert back.stats == stats and back.timings == {"infer_s": 0.123}
    assert (back.notes, back.warnings, back.outside_intended_use) == (["a note"], ["a warning"], "MR study")


def test_classification_round_trip_keeps_findings_and_explanation():
    heat = np.linspace(0, 1, 60, dtype=np.float32).reshape(3, 4, 5)
    res = ClassificationResult("p.cls", ["benign", "malignant"],
                               [Finding((1.234, -5.0, 7.5), {"benign": 0.123456, "malignant": 0.876544}, "user")],
                               heat, "testing")
    back = _round_trip(res)
    assert np.array_equal(back.explanation, heat)
    assert back.findings[0].point_lps == (1.23, -5.0, 7.5) and back.findings[0].source == "user"
    assert back.probabilities == {"benign": 0.1235, "malignant": 0.8765} and back.findings[0].top_class == "malignant"
    no_map = ClassificationResult("p.cls", ["a", "b"], [], None, "testing")
    assert no_map.arrays() == {} and _round_trip(no_map).explanation is None


def test_detection_round_trip_keeps_boxes():
    res = DetectionResult("p.det", [Detection((1.0, 2.0, 3.0), (4.0, 5.0, 6.0), 0.9876543, 1)], "testing")
    back = _round_trip(res)
    assert back.detections == [Detection((1.0, 2.0, 3.0), (4.0, 5.0, 6.0), 0.987654, 1)]
