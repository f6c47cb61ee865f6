"""Corner texts of a slice view are shortened with an ellipsis so left and right never overlap."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("vtkmodules.vtkRenderingCore")

from vtkmodules.vtkRenderingCore import vtkRenderWindow, vtkTextProperty, vtkTextRenderer  # noqa: E402

from meddiag_desktop.core import Volume  # noqa: E402
from meddiag_desktop.render.slice_view import (  # noqa: E402
    CORNER_MARGIN,
    SliceView,
    elide,
    fit_corner_lines,
    text_width,
)


def mono(t: str) -> float:
    """A monospaced font: 7 px a character."""
    return 7.0 * len(t)


def test_elide_exact_strings():
    line = "20260115 Synthetic chest CT (demo)"  # 34 characters, 238 px
    assert elide(line, 238, mono) == line  # fits exactly
    assert elide(line, 237, mono) == "20260115 Synthetic chest CT (dem\u2026"
    assert elide(line, 100, mono) == "20260115 Synt\u2026"  # 14 characters with the ellipsis
    assert elide(line, 70, mono) == "20260115\u2026"  # a trailing space before the ellipsis is dropped
    assert elide(line, 7, mono) == "\u2026"
    assert elide(line, 6, mono) == ""  # not even the ellipsis fits
    assert elide("", 0, mono) == ""


def test_fit_corner_lines_exact_strings():
    left = ["Demo Chest", "DEMO-CHEST-001", "20260115 Synthetic chest CT (demo)"]
    right = ["Axial", "Synthetic chest CT (demo)", "CT"]
    # wide: unchanged
    assert fit_corner_lines(left, right, 600, mono) == (left, right)
    # both blocks wider than half the room (330 - 2*5 - 24 = 296, half 148 px = 21 characters): both elided
    ul, ur = fit_corner_lines(left, right, 330, mono)
    assert ul == ["Demo Chest", "DEMO-CHEST-001", "20260115 Synthetic c\u2026"]
    assert ur == ["Axial", "Synthetic chest CT (\u2026", "CT"]
    # a narrow right block keeps its width, the left one gets the rest (296 - 35 = 261 px)
    assert fit_corner_lines(left, ["Axial", "CT"], 330, mono) == (left, ["Axial", "CT"])
    ul, ur = fit_corner_lines(left, ["Axial", "CT"], 250, mono)  # room 216, left budget 181 px = 25 characters
    assert ul == ["Demo Chest", "DEMO-CHEST-001", "20260115 Synthetic chest\u2026"] and ur == ["Axial", "CT"]
    # and the other way round
    ul, ur = fit_corner_lines(["Im 3/9"], ["W 400  L 40 and a very long right text"], 250, mono)
    assert ul == ["Im 3/9"] and ur == ["W 400  L 40 and a very\u2026"]


def test_text_width_matches_vtk_text_renderer():
    tp = vtkTextProperty()
    tp.SetFontFamilyToArial()
    bb = [0, 0, 0, 0]
    for size in (12, 13):
        tp.SetFontSize(size)
        for t in ("20260115 Synthetic chest CT (demo)", "Demo Chest", "W 1500  L -600", "Im 75/150   S -150.0 mm"):
            vtkTextRenderer.GetInstance().GetBoundingBox(tp, t, bb, 72)
            assert abs(text_width(t, size) - (bb[1] - bb[0] + 1)) <= 2.0, (t, size)


def _view(width: int, height: int = 300) -> tuple[SliceView, vtkRenderWindow]:
    meta = {
        "modality": "CT",
        "units": "HU",
        "patient_name": "Demo^Chest",
        "patient_id": "DEMO-CHEST-001",
        "study_date": "20260115",
        "study_description": "Synthetic chest CT (demo)",
        "series_description": "Synthetic chest CT (demo)",
    }
    vol = Volume(np.zeros((10, 40, 40), np.int16), (1.0, 1.0, 2.0), metadata=meta)
    sv = SliceView("axial")
    rw = vtkRenderWindow()
    rw.SetOffScreenRendering(1)
    rw.AddRenderer(sv.renderer)
    rw.SetSize(width, height)
    sv.set_volume(vol)
    sv.set_readout("-1024 HU")
    return sv, rw


def _fits(sv: SliceView, width: int) -> bool:
    size = sv.corner_font_size()
    ann = sv.corner_text
    for left, right in ((2, 3), (0, 1)):
        wl = max(text_width(t, size) for t in ann.GetText(left).split("\n"))
        wr = max(text_width(t, size) for t in ann.GetText(right).split("\n"))
        if wl + wr + 2 * CORNER_MARGIN > width - 8:  # a visible gap between the blocks
            return False
    return True


def test_corner_texts_fit_a_narrow_view_and_come_back_when_wider():
    sv, rw = _view(330)
    ann = sv.corner_text
    assert _fits(sv, 330)
    upper_left = ann.GetText(2).split("\n")
    assert upper_left[:2] == ["Demo Chest", "DEMO-CHEST-001"]
    assert upper_left[2].startswith("2026-01-15 Synthetic") and upper_left[2].endswith("\u2026")
    assert ann.GetText(3).split("\n")[0] == "Axial"
    assert ann.GetText(1) == "W 400  L 40\nZoom 1.00x"  # short texts are untouched
    # very narrow: still no overlap
    rw.SetSize(160, 300)
    sv.reset_camera()  # what the widget does on a resize
    assert _fits(sv, 160)
    # wide again: full texts
    rw.SetSize(900, 300)
    sv.reset_camera()
    assert ann.GetText(2).split("\n")[2] == "2026-01-15 Synthetic chest CT (demo)"
    assert ann.GetText(3) == "Axial\nSynthetic chest CT (demo)\nCT"
    rw.Render()  # draws without error
