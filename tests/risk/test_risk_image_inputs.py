"""Inputs derived from synthetic label maps with known geometry."""

import numpy as np
import pytest

from meddiag_desktop.core.volume import Volume
from meddiag_desktop.risk import get_model
from meddiag_desktop.risk.image_inputs import (
    NoduleMeasurement,
    axial_diameters,
    connected_components,
    derive_nodule_inputs,
    nodule_components,
    parse_age,
    patient_inputs,
)

NODULE, RIGHT, LEFT = 7, 1, 2


def chest(spacing=(0.7, 0.8, 2.5), shape=(64, 160, 200), direction=None, metadata=None):
    """Two box 'lungs' (right half label 1, left half label 2) on an anisotropic grid."""
    labels = np.zeros(shape, np.uint8)
    nz, ny, nx = shape
    labels[4:nz - 4, 10:ny - 10, 10:nx // 2 - 2] = RIGHT
    labels[4:nz - 4, 10:ny - 10, nx // 2 + 2:nx - 10] = LEFT
    kw = {} if direction is None else {"direction": direction}
    vol = Volume(np.zeros(shape, np.int16), spacing=spacing, metadata=metadata or {}, **kw)
    return vol, labels


def add_ellipsoid(vol, labels, center_ijk, semi_axes_mm, label=NODULE):
    """Voxels within an axis-aligned ellipsoid (semi-axes along the index axes, mm)."""
    k, j, i = np.mgrid[0:labels.shape[0], 0:labels.shape[1], 0:labels.shape[2]]
    sx, sy, sz = vol.spacing
    ci, cj, ck = center_ijk
    a, b, c = semi_axes_mm
    inside = (((i - ci) * sx / a) ** 2 + ((j - cj) * sy / b) ** 2 + ((k - ck) * sz / c) ** 2) <= 1
    labels[inside] = label
    return inside


def test_connected_components_numbered_in_raster_order():
    m = np.zeros((5, 5, 5), bool)
    m[0, 0, 0] = m[1, 1, 1] = True  # diagonal neighbours: one component (26-connectivity)
    m[4, 4, 4] = m[4, 4, 2] = True  # not touching: two components
    lab, n = connected_components(m)
    assert n == 3
    assert lab[0, 0, 0] == lab[1, 1, 1] == 1 and lab[4, 4, 2] == 2 and lab[4, 4, 4] == 3


def test_connected_components_agree_with_simpleitk():
    sitk = pytest.importorskip("SimpleITK")
    m = np.random.default_rng(1).random((30, 40, 50)) < 0.3
    ours, n = connected_components(m)
    theirs = sitk.GetArrayFromImage(sitk.ConnectedComponent(sitk.GetImageFromArray(m.astype(np.uint8)), True))
    assert n == theirs.max() and np.array_equal(ours, theirs)


@pytest.mark.parametrize("spacing", [(0.7, 0.8, 2.5), (0.5, 1.0, 1.25), (1.0, 1.0, 1.0)])
def test_size_of_an_ellipsoid_within_one_voxel(spacing):
    vol, labels = chest(spacing=spacing)
    # semi-axes 9 mm along x, 5 mm along y: long axis 18 mm, short 10 mm, mean 14 mm
    add_ellipsoid(vol, labels, (50.3, 80.4, 40), (9.0, 5.0, 6.0))
    long_mm, short_mm, s = axial_diameters(vol, labels == NODULE)
    assert s == 40
    assert long_mm == pytest.approx(18.0, abs=max(spacing[:2]))
    assert short_mm == pytest.approx(10.0, abs=max(spacing[:2]))
    d = derive_nodule_inputs(vol, labels)
    assert d["nodule_size_mm"].value == pytest.approx(14.0, abs=max(spacing[:2]))
    assert d["nodule_size_mm"].source == "segmentation"
    assert d["diameter_mm"].value == pytest.approx(18.0, abs=max(spacing[:2]))


def test_oblique_nodule_long_axis_is_the_feret_diameter():
    vol, labels = chest(spacing=(0.6, 0.6, 2.0))
    k, j, i = np.mgrid[0:labels.shape[0], 0:labels.shape[1], 0:labels.shape[2]]
    x, y, z = (i - 50) * 0.6, (j - 80) * 0.6, (k - 30) * 2.0
    u, v = (x + y) / np.sqrt(2), (x - y) / np.sqrt(2)  # rotated 45 degrees in the axial plane
    labels[(u / 10) ** 2 + (v / 4) ** 2 + (z / 6) ** 2 <= 1] = NODULE
    long_mm, short_mm, _ = axial_diameters(vol, labels == NODULE)
    assert long_mm == pytest.approx(20.0, abs=0.85) and short_mm == pytest.approx(8.0, abs=0.85)


def test_direction_is_honoured_for_a_coronal_acquisition():
    # index x -> patient x, index y -> patient -z (inferior), index z -> patient y: a coronal stack.
    direction = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float)
    vol, labels = chest(spacing=(0.7, 0.7, 2.0), shape=(40, 120, 120), direction=direction)
    labels[:] = 0
    # ellipsoid: 8 mm semi-axis along patient x, 5 mm along patient y (index z), 3 mm along patient z
    add_ellipsoid(vol, labels, (60, 60, 20), (8.0, 3.0, 5.0))
    long_mm, short_mm, _ = axial_diameters(vol, labels == NODULE)
    assert long_mm == pytest.approx(16.0, abs=2.0)  # one voxel along patient y is 2 mm here
    assert short_mm == pytest.approx(10.0, abs=2.0)


def test_count_largest_component_and_choice():
    vol, labels = chest()
    add_ellipsoid(vol, labels, (40, 40, 20), (3.0, 3.0, 3.0))   # small, first in raster order
    add_ellipsoid(vol, labels, (150.3, 100.4, 45), (8.0, 8.0, 8.0))  # large
    comps = nodule_components(vol, labels)
    assert [c.index for c in comps] == [1, 2] and comps[1].voxel_count > comps[0].voxel_count
    d = derive_nodule_inputs(vol, labels)
    assert d["nodule_count"].value == 2
    assert d["nodule_size_mm"].value == pytest.approx(16.0, abs=0.8)  # the largest by default
    d1 = derive_nodule_inputs(vol, labels, component=1)
    assert d1["nodule_size_mm"].value == pytest.approx(6.0, abs=0.8)
    with pytest.raises(ValueError, match="component 3"):
        derive_nodule_inputs(vol, labels, component=3)


def test_upper_lobe_from_the_lung_that_holds_the_nodule():
    vol, labels = chest(spacing=(0.7, 0.8, 2.5), shape=(64, 160, 200))
    # lungs span k = 4..59 -> LPS z 10..147.5 mm; the fissure lies 35-60 % below the apex
    add_ellipsoid(vol, labels, (150, 80, 55), (4.0, 4.0, 4.0))  # near the apex of the left lung
    d = derive_nodule_inputs(vol, labels)
    assert d["upper_lobe"].value is True and "label 2" in d["upper_lobe"].detail
    vol, labels = chest(spacing=(0.7, 0.8, 2.5), shape=(64, 160, 200))
    add_ellipsoid(vol, labels, (50, 80, 10), (4.0, 4.0, 4.0))  # near the base of the right lung
    d = derive_nodule_inputs(vol, labels)
    assert d["upper_lobe"].value is False and "label 1" in d["upper_lobe"].detail


def test_measurement_and_classification_override():
    vol, labels = chest(metadata={"patient_age": "071Y", "patient_sex": "M"})
    add_ellipsoid(vol, labels, (50, 80, 40), (9.0, 5.0, 6.0))
    d = derive_nodule_inputs(vol, labels, measurement=NoduleMeasurement(15.0, 11.0),
                             nodule_type={"label": "part-solid", "probability": 0.83})
    assert d["nodule_size_mm"].value == 13.0 and d["nodule_size_mm"].source == "measurement"
    assert d["diameter_mm"].value == 15.0
    assert d["nodule_type"].value == "part_solid" and d["nodule_type"].source == "classification"
    assert "0.83" in d["nodule_type"].detail
    assert d["age"].value == 71 and d["sex"].value == "male"
    only_long = derive_nodule_inputs(vol, None, measurement={"long_axis_mm": 9.5})
    assert only_long["nodule_size_mm"].value == 9.5 and "nodule_count" not in only_long
    with pytest.raises(ValueError, match="nodule type"):
        derive_nodule_inputs(vol, None, nodule_type="calcified")


def test_derived_inputs_feed_brock():
    vol, labels = chest(metadata={"patient_age": "067Y", "patient_sex": "F"})
    add_ellipsoid(vol, labels, (150, 80, 55), (7.0, 5.0, 5.0))
    d = derive_nodule_inputs(vol, labels, nodule_type="solid")
    inputs = {k: v.value for k, v in d.items() if k in {i.name for i in get_model("brock").spec.inputs}}
    inputs.update(family_history=False, emphysema=False, spiculation=False)
    r = get_model("brock").evaluate(inputs)
    assert 0 < r.probability < 1 and r.inputs["nodule_count"] == 1


@pytest.mark.parametrize(("text", "years"), [("067Y", 67), ("67", 67), ("018M", 1.5), ("052W", 1.0),
                                             ("010D", 0.03), (54, 54), ("", None), ("abc", None), ("67Q", None)])
def test_parse_age(text, years):
    assert parse_age(text) == (None if years is None else pytest.approx(years, abs=0.01))


def test_patient_inputs_from_dates_when_no_age_string():
    d = patient_inputs({"patient_birth_date": "19580615", "study_date": "20250614", "patient_sex": "F"})
    assert d["age"].value == 66 and d["sex"].value == "female" and d["age"].source == "dicom"
    d = patient_inputs({"patient_birth_date": "19580615", "study_date": "20250615", "patient_sex": "O"})
    assert d["age"].value == 67 and "sex" not in d
    assert patient_inputs({}) == {}


def test_nodule_type_from_classification_probabilities():
    vol, _ = chest()
    d = derive_nodule_inputs(vol, None, nodule_type={"Solid": 0.2, "Part-solid": 0.7, "Ground-glass": 0.1})
    assert d["nodule_type"].value == "part_solid" and "0.70" in d["nodule_type"].detail

    class Finding:  # the shape of meddiag_desktop.ai results: probabilities (+ plugin_id)
        probabilities = {"solid": 0.1, "part_solid": 0.3, "non_solid": 0.6}
        plugin_id = "nodule-type-classifier"

    d = derive_nodule_inputs(vol, None, nodule_type=Finding())
    assert d["nodule_type"].value == "non_solid" and "nodule-type-classifier" in d["nodule_type"].detail
    with pytest.raises(ValueError, match="no nodule type"):
        derive_nodule_inputs(vol, None, nodule_type={"benign": 0.9, "malignant": 0.1})
