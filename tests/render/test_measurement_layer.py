"""Measurement drawing rules (no Qt): which views show a measurement, its outline and handles."""

from __future__ import annotations

import numpy as np

from meddiag_desktop.core import Volume
from meddiag_desktop.core import view_geometry as vg
from meddiag_desktop.core.measurements import Measurement
from meddiag_desktop.render.measurement_layer import MeasurementLayer, handle_points, in_plane, outline_lps
from meddiag_desktop.render.slice_view import SliceView


def _vol():
    return Volume(np.zeros((20, 30, 40), np.int16), (0.8, 0.9, 2.0), (0.0, 0.0, 0.0), np.eye(3))


def test_in_plane_within_half_a_slice_only():
    v = _vol()
    m = Measurement("distance", [(4, 4, 10), (10, 8, 10)], (0, 0, -1))
    assert in_plane(vg.AXIAL, v, (0, 0, 10.9), m)
    assert not in_plane(vg.AXIAL, v, (0, 0, 11.1), m)  # slices are 2 mm apart
    assert not in_plane(vg.CORONAL, v, (0, 4, 0), m)  # drawn in another plane
    p = Measurement("point", [(4, 4, 10)])
    assert in_plane(vg.SAGITTAL, v, (4.3, 0, 0), p) and not in_plane(vg.SAGITTAL, v, (4.5, 0, 0), p)


def test_outlines_and_handles():
    e = Measurement("ellipse", [(0, 0, 0), (4, 0, 0), (0, 2, 0)], (0, 0, -1))
    (poly,) = outline_lps("ellipse", e.points, e.normal)
    assert np.allclose(poly[0], poly[-1]) and np.allclose(np.abs(poly).max(axis=0)[:2], (4, 2), atol=1e-6)
    n = Measurement("nodule_axes", [(0, 0, 0), (4, 0, 0), (2, -1, 0), (2, 1, 0)])
    assert len(outline_lps("nodule_axes", n.points, n.normal)) == 2
    f = Measurement("freehand", [(0, 0, 0), (4, 0, 0), (2, 3, 0)])
    assert handle_points(f) == [] and handle_points(n) == [0, 1, 2, 3]


def test_layer_shows_and_hides_props():
    v = _vol()
    sv = SliceView(vg.AXIAL)
    sv.set_volume(v)
    layer = MeasurementLayer(sv)
    c = v.center_lps()
    m = Measurement("distance", [c, c + (5, 0, 0)], (0, 0, -1))
    layer.update([m], {m.id: "5.0 mm"})
    assert layer.visible_ids == [m.id]
    sv.set_cursor(c + (0, 0, 4))
    layer.update([m], {m.id: "5.0 mm"})
    assert layer.visible_ids == []
    layer.update([], {})
    assert not layer._items
