"""The bundled demo chest CT with its ground-truth labels exports a valid SEG whose frames match the labels."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from tests.report.report_helpers import dciodvfy, pdf_text

from meddiag_desktop.report import LabelMap, build_report, export_report


def test_demo_study_exports_valid_seg_and_sr(tmp_path):
    from meddiag_desktop.demo import LABELS, demo_ground_truth, demo_study_dir
    from meddiag_desktop.io import load

    volume = load(demo_study_dir())
    labels, nodules = demo_ground_truth()
    names = {k: v.split(" (")[0] for k, v in LABELS.items() if k}
    report = build_report(volume, label_maps=[LabelMap(labels, names)])
    result = export_report(report, volume, tmp_path / "out")
    assert dciodvfy(result.paths["seg"]) == [] and dciodvfy(result.paths["sr"]) == []
    seg = pydicom.dcmread(result.paths["seg"])
    sop_index = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID: k
                 for k, f in enumerate(volume.metadata["files"])}
    frames = seg.pixel_array
    for value in (7, 3):  # nodules and airway, frame by frame
        number = next(s.SegmentNumber for s in seg.SegmentSequence if s.SegmentLabel == names[value])
        rebuilt = np.zeros(labels.shape, bool)
        for i, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
            if item.SegmentIdentificationSequence[0].ReferencedSegmentNumber == number:
                k = sop_index[item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID]
                rebuilt[k] = frames[i].astype(bool)
        assert np.array_equal(rebuilt, labels == value)
    nodule_rows = [s for s in report.segments if s.name.startswith("nodule") and s.component]
    assert len(nodule_rows) == len(nodules)
    assert sorted(round(s.volume_ml, 2) for s in nodule_rows) == pytest.approx(
        sorted(round(n.volume_ml, 2) for n in nodules), abs=0.02)
    assert "nodule" in pdf_text(result.paths["pdf"])
