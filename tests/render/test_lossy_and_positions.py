"""Lossy images are marked in the corner text; slice positions read with side letters; dates as dates."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("vtkmodules.vtkRenderingCore")

from meddiag_desktop import io  # noqa: E402
from meddiag_desktop.core import Volume  # noqa: E402
from meddiag_desktop.render.slice_view import SliceView  # noqa: E402


def _testdata(name: str) -> str:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} not available")
    return path


def test_mr2_j2ki_is_marked_lossy_with_its_ratio():
    vol = io.load(_testdata("MR2_J2KI.dcm"))  # LossyImageCompression 01, ratio 18
    sv = SliceView("axial")
    sv.set_volume(vol)
    assert "LOSSY (ratio 18:1)" in sv.corner_text.GetText(3).split("\n")
    assert sv.corner_text.GetText(2).split("\n")[-1].startswith("2004-08-26")  # StudyDate 20040826


def test_jpeg_with_method_only_and_lossless_files_unmarked():
    vol = io.load(_testdata("SC_jpeg_no_color_transform.dcm"))  # 01 with method ISO_10918_1, no ratio
    sv = SliceView("axial")
    sv.set_volume(vol)
    assert "LOSSY (JPEG)" in sv.corner_text.GetText(3).split("\n")
    sv.set_volume(io.load(_testdata("MR_small.dcm")))
    assert "LOSSY" not in sv.corner_text.GetText(3)


def test_slice_position_reads_with_the_side_letter():
    vol = Volume(np.zeros((5, 6, 200), np.int16), (1.0, 1.0, 1.0), origin=(-100.0, -3.0, -2.0))
    sv = SliceView("sagittal")
    sv.set_volume(vol)
    sv.set_cursor((-79.0, 0.0, 0.0))
    assert sv.corner_text.GetText(0).split("\n")[0].endswith("R 79.0 mm")
    sv.set_cursor((12.0, 0.0, 0.0))
    assert sv.corner_text.GetText(0).split("\n")[0].endswith("L 12.0 mm")
    ax = SliceView("axial")
    ax.set_volume(vol)
    ax.set_cursor((0.0, 0.0, -2.0))
    assert ax.corner_text.GetText(0).split("\n")[0].endswith("I 2.0 mm")
