"""core.label_geometry: the one definition of components, volume and Fleischner diameters."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core import label_geometry as lg
from meddiag_desktop.core.volume import Volume


def test_is_lesion_names_the_labels_measured_per_component():
    assert [lg.is_lesion(n) for n in ("Nodule", "lung-nodule 2", "Tumor", "mass", "GGO lesion")] == [True] * 5
    assert [lg.is_lesion(n) for n in ("right lung", "heart", "airway", "", 7)] == [False] * 5


@pytest.mark.parametrize("connectivity", [6, 26])
@pytest.mark.parametrize("density", [0.3, 0.6])  # sparse: numpy propagation; dense: SimpleITK
def test_components_match_simpleitk_numbering(connectivity, density):
    sitk = pytest.importorskip("SimpleITK")
    m = np.random.default_rng(7).random((40, 70, 80)) < density
    ours, n = lg.connected_components(m, connectivity)
    theirs = sitk.GetArrayFromImage(sitk.ConnectedComponent(sitk.GetImageFromArray(m.astype(np.uint8)),
                                                            connectivity == 26))
    assert n == theirs.max() and np.array_equal(ours, theirs)
    dense, n2 = lg._components_dense(m, connectivity)
    assert n2 == n and np.array_equal(dense, theirs)


def test_volume_uses_the_absolute_determinant():
    flipped = np.diag([1.0, -1.0, 1.0])  # a left-handed index frame: det = -1
    vol = Volume(np.zeros((10, 10, 10), np.int16), (0.5, 0.8, 2.0), (0, 0, 0), flipped)
    assert lg.voxel_volume_mm3(vol) == pytest.approx(0.8)
    mask = np.zeros((10, 10, 10), bool)
    mask[2:4, 2:7, 3:5] = True
    (c,) = lg.label_components(vol, mask.astype(np.uint8), 1)
    assert c.voxels == 20 and c.volume_mm3 == pytest.approx(16.0) and c.volume_ml == pytest.approx(0.016)


def test_twelve_mm_sphere_reads_twelve_mm_on_its_largest_axial_slice():
    spacing = (0.7, 0.7, 1.0)
    shape = (40, 60, 60)
    vol = Volume(np.zeros(shape, np.int16), spacing, (-10.0, 20.0, -50.0), np.eye(3))
    k, j, i = np.indices(shape)
    ball = ((i - 30) * 0.7) ** 2 + ((j - 30) * 0.7) ** 2 + ((k - 20) * 1.0) ** 2 <= 6.0 ** 2
    d = lg.axial_diameters(vol, ball)
    assert d.axial_slice == 20
    assert d.long_axis_mm == pytest.approx(12.0, abs=0.7) and d.short_axis_mm == pytest.approx(12.0, abs=0.7)
    assert abs(d.mean_diameter_mm - (d.long_axis_mm + d.short_axis_mm) / 2) <= 0.1  # each rounded to 0.1 mm
    # the same number whether measured on the whole array, in its bounding box or by component
    (c,) = lg.label_components(vol, ball.astype(np.uint8), 1)
    assert c.diameters == d
    assert lg.mask_geometry(vol, ball).diameters == d


def test_long_and_short_axis_of_an_oblique_ellipse_on_a_coronal_stack():
    # index x -> patient x, index y -> patient -z, index z -> patient y: "axial" is still the LPS x-y plane
    direction = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float)
    shape = (60, 40, 80)
    vol = Volume(np.zeros(shape, np.int16), (0.5, 2.0, 0.5), (0, 0, 0), direction)
    k, j, i = np.indices(shape)
    x, y, z = (i - 40) * 0.5, (k - 30) * 0.5, -(j - 20) * 2.0
    u, v = (x + y) / np.sqrt(2), (x - y) / np.sqrt(2)
    mask = (u / 9.0) ** 2 + (v / 4.0) ** 2 + (z / 5.0) ** 2 <= 1
    d = lg.axial_diameters(vol, mask)
    assert d.long_axis_mm == pytest.approx(18.0, abs=0.8) and d.short_axis_mm == pytest.approx(8.0, abs=0.8)
    assert d.axial_slice == 20  # index y, the axis along patient z


def test_empty_mask_is_a_clear_error():
    vol = Volume(np.zeros((4, 4, 4), np.int16), (1, 1, 1))
    with pytest.raises(ValueError, match="empty"):
        lg.axial_diameters(vol, np.zeros((4, 4, 4), bool))
    assert lg.label_components(vol, np.zeros((4, 4, 4), np.uint8), 7) == []
    assert lg.mask_geometry(vol, np.zeros((4, 4, 4), bool)) is None


def test_numpy_only_labelling_matches_the_graph_labelling(monkeypatch):
    import sys

    m = np.random.default_rng(11).random((30, 40, 50)) < 0.3
    assert m.sum() >= lg._GRAPH_VOXELS  # the graph path
    graph, n = lg._components_dense(m, 26)
    monkeypatch.setitem(sys.modules, "scipy.sparse.csgraph", None)  # an install without scipy
    plain, n2 = lg._components_dense(m, 26)
    assert n == n2 and np.array_equal(graph, plain)


def test_label_box_and_labelled_components_agree_with_the_plain_definitions(monkeypatch):
    labels = np.zeros((40, 30, 20), np.uint8)
    labels[3:9, 4:7, 2:5] = 7
    labels[30:33, 20:28, 15:19] = 7
    labels[10:20, 1:29, 0:20] = 1
    monkeypatch.setattr(lg, "_CHUNK_BYTES", 30 * 20 * 4)  # four planes a chunk: boxes span chunks
    for value in (1, 7, 3):
        mask = labels == value
        assert lg.label_box(labels, value) == lg.bounding_box(mask)
    vol = Volume(np.zeros(labels.shape, np.int16), (0.7, 0.8, 1.5), (10.0, -5.0, 3.0), np.eye(3))
    comps, comp_map, box = lg.labelled_components(vol, labels, 7)
    assert [c.voxels for c in comps] == [6 * 3 * 3, 3 * 8 * 4] and box == lg.bounding_box(labels == 7)
    full, n = lg.connected_components(labels == 7)
    assert n == 2 and np.array_equal(comp_map, full[box])
    for c in comps:  # the same numbers as measuring each component's own mask
        assert c == lg.mask_geometry(vol, full == c.index, 7, c.index)
    assert lg.labelled_components(vol, labels, 5) == ([], None, None)
