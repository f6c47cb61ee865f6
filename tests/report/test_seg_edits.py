"""A reader-edited segmentation exported as DICOM SEG: dciodvfy accepts it, highdicom reads back the edits."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from tests.report.report_helpers import COLORS, NAMES, dciodvfy, make_report, provenance

from meddiag_desktop.core.history import UndoStack
from meddiag_desktop.core.seg_edit import Brush, LabelEditor
from meddiag_desktop.report import LabelMap, export_report

hd = pytest.importorskip("highdicom")


def test_paint_erase_threshold_paint_undo_then_seg_has_exactly_the_edits(study, tmp_path):
    _, volume, labels = study
    labels = labels.copy()
    names = {**NAMES, 4: "pulmonary vessel"}  # a label the AI did not find: the reader draws it
    history = UndoStack()
    ed = LabelEditor(volume, labels, names, history)
    nodule_centre = volume.to_lps((48 * 0.28, 20, 6))
    right_lung = volume.to_lps((48 * 0.28, 10, 3))
    assert ed.paint(nodule_centre, 3, Brush(6.5)) > 0  # the nodule, larger
    assert ed.erase(right_lung, 1, Brush(4.0, "disc", "axial")) > 0  # a bite out of the right lung
    # threshold paint across the right lung's edge: only its lung-density voxels (-820 HU) become vessel
    centre = volume.to_lps((21, 20, 5))
    under = LabelEditor(volume, np.zeros_like(labels)).paint(centre, 1, Brush(3.0))
    n_vessel = ed.paint(centre, 4, Brush(3.0, hu_range=(-900, -700)))
    assert 0 < n_vessel < under and (volume.array[labels == 4] == -820).all()
    edited = labels.copy()
    ed.paint(volume.center_lps(), 3, Brush(8.0))  # a slip of the hand ...
    assert history.undo()  # ... undone
    assert np.array_equal(labels, edited)
    assert ed.edited == {1: "SEMIAUTOMATIC", 3: "SEMIAUTOMATIC", 4: "MANUAL"}

    lm = LabelMap(labels, names, {**COLORS, 4: "#c04040"}, provenance(), edited=ed.edited)
    result = export_report(make_report(volume, labels, label_maps=[lm]), volume, tmp_path / "out")
    assert dciodvfy(result.paths["seg"]) == []

    seg = hd.seg.segread(result.paths["seg"])
    by_label = {seg.get_segment_description(n).segment_label: n for n in seg.segment_numbers}
    sops = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in volume.metadata["files"]]
    pixels = seg.get_pixels_by_source_instance(sops, combine_segments=True, skip_overlap_checks=True)
    read_back = np.zeros_like(labels)
    for value, name in names.items():
        read_back[pixels == by_label[name]] = value
    assert np.array_equal(read_back, edited)

    types = {name: seg.get_segment_description(n).algorithm_type.value for name, n in by_label.items()}
    assert types == {"right lung": "SEMIAUTOMATIC", "left lung": "AUTOMATIC", "nodule": "SEMIAUTOMATIC",
                     "pulmonary vessel": "MANUAL"}
    for name in ("right lung", "nodule", "left lung"):  # the AI that proposed them is kept
        algo = seg.get_segment_description(by_label[name]).algorithm_identification
        assert (algo[0].AlgorithmName, algo[0].AlgorithmVersion) == ("Test lung segmentation", "0.3.1")
    manual = seg.get_segment_description(by_label["pulmonary vessel"])
    assert manual.algorithm_identification is None and manual.SegmentDescription == "drawn by the reader"
    assert seg.get_segment_description(by_label["nodule"]).SegmentDescription == "AI proposal edited by the reader"
