"""Qt-free parts of the reading tools: labels, longest diameter, placement state machine."""

from __future__ import annotations

import math

import numpy as np
import pytest

from meddiag_desktop.core import Volume
from meddiag_desktop.core import view_geometry as vg
from meddiag_desktop.core.annotations import MeasurementStore
from meddiag_desktop.core.measurements import Measurement, longest_diameter_mm, measurement_text


def _volume(spacing=(0.8, 0.9, 2.0)):
    arr = np.arange(10 * 12 * 14, dtype=np.int16).reshape(10, 12, 14)
    return Volume(arr, spacing, (0.0, 0.0, 0.0), np.eye(3), metadata={"units": "HU"})


def test_measurement_text_units_and_label():
    v = _volume()
    d = Measurement("distance", [(0, 0, 0), (3, 4, 0)], label="Aorta")
    assert measurement_text(v, d) == "Aorta\n5.0 mm"
    a = Measurement("angle", [(1, 0, 0), (0, 0, 0), (0, 1, 0)])
    assert measurement_text(v, a) == "90.0\u00b0"
    n = Measurement("nodule_axes", [(0, 0, 0), (10, 0, 0), (5, -3, 0), (5, 3, 0)])
    assert measurement_text(v, n).startswith("L 10.0 \u00d7 S 6.0 mm\nmean 8.0 mm")
    p = Measurement("point", [(0.8 * 3, 0.9 * 2, 2.0 * 1)])
    assert measurement_text(v, p) == f"{v.array[1, 2, 3]} HU"


def test_longest_diameter_of_a_box_is_its_voxel_centre_diagonal():
    v = _volume()
    mask = np.zeros(v.array.shape, bool)
    mask[2:5, 3:9, 1:11] = True
    expected = math.sqrt((9 * 0.8) ** 2 + (5 * 0.9) ** 2 + (2 * 2.0) ** 2)
    assert longest_diameter_mm(v, mask) == pytest.approx(expected)
    assert longest_diameter_mm(v, np.zeros_like(mask)) == 0.0


def test_history_names_keep_acronyms():
    store = MeasurementStore()
    store.add(Measurement("ellipse", [(0, 0, 0), (2, 0, 0), (0, 1, 0)]))
    assert store.history.texts == ["Add ellipse ROI"]


@pytest.fixture
def frame():
    return vg.view_frame(vg.AXIAL)


def test_placement_click_drag_and_click_click(frame):
    from meddiag_desktop.core.placement import Placement

    pl = Placement("distance", frame)
    pl.press((0, 0, 5), (10, 10))
    pl.move((4, 0, 5), (20, 10), True)
    m = pl.release((6, 0, 5), (30, 10))
    assert m is not None and m.points == [(0, 0, 5), (6, 0, 5)]
    assert m.normal == tuple(frame[:, 2])
    pl = Placement("distance", frame)
    pl.press((0, 0, 5), (10, 10))
    assert pl.release((0, 0, 5), (11, 10)) is None  # a click: the end follows the mouse
    pl.move((2, 2, 5), (40, 40), False)
    pl.press((3, 3, 5), (50, 50))
    m = pl.release((3, 3, 5), (50, 50))
    assert m.points == [(0, 0, 5), (3, 3, 5)]


def test_placement_nodule_two_drags_angle_three_clicks_and_ellipse_box(frame):
    from meddiag_desktop.core.placement import Placement

    pl = Placement("nodule_axes", frame)
    pl.press((0, 0, 0), (0, 0))
    assert pl.release((8, 0, 0), (80, 0)) is None
    pl.press((4, -2, 0), (40, 20))
    m = pl.release((4, 2, 0), (40, -20))
    assert m.points == [(0, 0, 0), (8, 0, 0), (4, -2, 0), (4, 2, 0)]
    pl = Placement("angle", frame)
    for i, (p, px) in enumerate((((5, 0, 0), (50, 0)), ((0, 0, 0), (0, 0)), ((0, 5, 0), (0, 50)))):
        pl.press(p, px)
        m = pl.release(p, px)
        assert (m is None) == (i < 2)
    assert m.points == [(5, 0, 0), (0, 0, 0), (0, 5, 0)]
    pl = Placement("ellipse", frame)
    pl.press((0, 0, 0), (0, 0))
    m = pl.release((10, 6, 0), (100, 60))
    c, a, b = (np.array(p) for p in m.points)
    assert np.allclose(c, (5, 3, 0)) and np.allclose(np.abs(a - c), (5, 0, 0)) and np.allclose(np.abs(b - c), (0, 3, 0))
    pl = Placement("ellipse", frame)
    pl.press((0, 0, 0), (0, 0))
    assert pl.release((0, 0, 0), (0, 0)) is None  # click: wait for the opposite corner
    pl.press((4, 4, 0), (40, 40))
    assert pl.release((4, 4, 0), (40, 40)) is not None


def test_placement_freehand_needs_three_points(frame):
    from meddiag_desktop.core.placement import Placement

    pl = Placement("freehand", frame)
    pl.press((0, 0, 0), (0, 0))
    pl.move((1, 0, 0), (10, 0), True)
    assert pl.release((1, 0, 0), (10, 0)) is None
    pl.press((0, 0, 0), (0, 0))
    for p in ((4, 0, 0), (4, 4, 0), (0, 4, 0)):
        pl.move(p, (0, 0), True)
    m = pl.release((0, 4, 0), (0, 0))
    assert len(m.points) == 4
