"""The synthetic chest phantom: determinism, tissue values, anatomy, nodule ground truth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from meddiag_desktop.core.lung_anatomy import in_upper_lobe, lung_extent
from meddiag_desktop.demo.phantom import (
    DEFAULT_NODULES,
    LABELS,
    NoduleSpec,
    PhantomParams,
    make_chest_phantom,
)


def _points_lps(phantom, mask: np.ndarray) -> np.ndarray:
    kk, jj, ii = np.nonzero(mask)
    return phantom.volume().to_lps(np.stack([ii, jj, kk], axis=1).astype(float))


def _nodule_mask(phantom, nodule) -> tuple[np.ndarray, tuple[slice, slice, slice]]:
    k0, k1, j0, j1, i0, i1 = nodule.bbox_zyx
    box = (slice(k0, k1), slice(j0, j1), slice(i0, i1))
    return phantom.labels[box] == nodule.label, box


def test_same_params_give_bit_identical_volumes(small_params):
    a = make_chest_phantom(small_params)
    b = make_chest_phantom(small_params)
    assert a.hu.dtype == np.int16 and a.labels.dtype == np.uint8
    assert np.array_equal(a.hu, b.hu)
    assert np.array_equal(a.labels, b.labels)
    assert [n.to_dict() for n in a.nodules] == [n.to_dict() for n in b.nodules]
    c = make_chest_phantom(dataclasses.replace(small_params, seed=small_params.seed + 1))
    assert not np.array_equal(a.hu, c.hu)


def test_default_geometry(demo_phantom):
    p = demo_phantom
    assert p.hu.shape == p.labels.shape == (150, 384, 384)
    assert p.spacing == (0.9, 0.9, 2.0)
    assert np.array_equal(p.direction, np.eye(3))
    assert p.hu.min() >= -1024 and p.hu.max() <= 3071
    assert set(np.unique(p.labels)) == set(LABELS)
    assert p.warnings == []


def test_tissue_hu_ranges(demo_phantom):
    hu, labels = demo_phantom.hu, demo_phantom.labels

    def median(label):
        return float(np.median(hu[labels == label]))

    assert -900 <= median(1) <= -780
    assert -900 <= median(2) <= -780
    assert median(3) < -850  # airway lumen
    assert 0 <= median(4) <= 300  # heart (enhanced blood pool and myocardium)
    assert median(5) > 300  # bone
    assert float(np.percentile(hu[labels == 5], 90)) > 600  # cortical bone
    assert median(6) > -300  # vessels (thin ones partly volume-averaged with lung)
    # outside the body (air) and body wall fat
    assert float(np.median(hu[:, :5, :])) < -950
    lung = hu[labels == 1]
    assert 5 < float(lung.std()) < 150  # textured, not flat


@pytest.mark.parametrize("kind,lo,hi", [("solid", -60, 150), ("non_solid", -760, -540), ("part_solid", -750, -250)])
def test_nodule_hu_by_type(demo_phantom, kind, lo, hi):
    found = [n for n in demo_phantom.nodules if n.type == kind]
    assert found
    for n in found:
        mask, box = _nodule_mask(demo_phantom, n)
        values = demo_phantom.hu[box][mask]
        k, j, i = np.nonzero(mask)
        centre = np.array([k.mean(), j.mean(), i.mean()])
        d = np.linalg.norm((np.stack([k, j, i], 1) - centre) * np.array([2.0, 0.9, 0.9]), axis=1)
        core = values[d <= max(1.0, 0.3 * n.mean_diameter_mm / 2)]
        if kind == "part_solid":  # ground glass with a solid core
            assert lo <= float(np.median(values)) <= hi, n
            assert float(np.max(core)) > -150, n
        else:
            assert lo <= float(np.median(core)) <= hi, n


def test_anatomy_sides(demo_phantom):
    p = demo_phantom
    right = _points_lps(p, p.labels == 1).mean(axis=0)
    left = _points_lps(p, p.labels == 2).mean(axis=0)
    assert right[0] < 0 < left[0]  # LPS: +x is patient left
    bone = _points_lps(p, p.labels == 5)
    spine = bone[np.abs(bone[:, 0]) < 15].mean(axis=0)
    assert spine[1] > right[1] + 20 and spine[1] > left[1] + 20  # spine is posterior
    heart = _points_lps(p, p.labels == 4).mean(axis=0)
    assert heart[0] > 0 and heart[1] < spine[1] - 40  # heart: left, anterior
    assert heart[2] < (right[2] + left[2]) / 2 + 30  # lower chest
    airway = _points_lps(p, p.labels == 3)
    assert airway[:, 2].max() > _points_lps(p, p.labels == 1)[:, 2].max()  # trachea rises above the apex
    # slice index increases towards the head with the default direction
    zs = [_points_lps(p, np.pad(p.labels[k:k + 1] == 3, ((k, 149 - k), (0, 0), (0, 0))))[:, 2].mean()
          for k in (140, 145)]
    assert zs[1] > zs[0]


def test_default_nodules_cover_both_lungs_and_lobes(demo_phantom):
    nodules = demo_phantom.nodules
    assert len(nodules) == len(DEFAULT_NODULES) == 5
    assert sorted((n.type, n.nominal_diameter_mm) for n in nodules) == sorted(
        (s.type, s.diameter_mm) for s in DEFAULT_NODULES)
    assert {(n.lung, n.upper_lobe) for n in nodules} == {("right", True), ("right", False),
                                                         ("left", True), ("left", False)}
    spic = [n for n in nodules if n.spiculated]
    assert len(spic) == 1 and spic[0].lung == "right" and spic[0].upper_lobe and spic[0].nominal_diameter_mm == 12
    for n, spec in zip(nodules, DEFAULT_NODULES):
        assert (n.type, n.lung, n.upper_lobe) == (spec.type, spec.lung, spec.upper_lobe)
        assert abs(n.mean_diameter_mm - spec.diameter_mm) < 0.25 * spec.diameter_mm + 1.5


def _feret(mask2d: np.ndarray, spacing) -> tuple[float, float]:
    """Independent long/short axis: projections over 720 angles (extent of voxel centres + 1 pixel)."""
    jj, ii = np.nonzero(mask2d)
    pts = np.stack([ii * spacing[0], jj * spacing[1]], axis=1)
    ang = np.linspace(0, np.pi, 720, endpoint=False)
    proj = pts @ np.stack([np.cos(ang), np.sin(ang)])
    width = proj.max(axis=0) - proj.min(axis=0)
    best = int(np.argmax(width))
    return float(width[best]) + spacing[0], float(width[(best + 360) % 720]) + spacing[0]


def test_nodule_sizes_match_mask_within_one_voxel(demo_phantom):
    p = demo_phantom
    voxel_ml = np.prod(p.spacing) / 1000
    for n in p.nodules:
        mask, _ = _nodule_mask(p, n)
        areas = mask.sum(axis=(1, 2))
        long_axis, short_axis = _feret(mask[int(np.argmax(areas))], p.spacing)
        assert n.long_axis_mm == pytest.approx(long_axis, abs=p.spacing[0]), n
        assert n.short_axis_mm == pytest.approx(short_axis, abs=p.spacing[0]), n
        assert n.short_axis_mm <= n.long_axis_mm
        assert n.mean_diameter_mm == pytest.approx((n.long_axis_mm + n.short_axis_mm) / 2, abs=0.01)
        assert n.volume_ml == pytest.approx(mask.sum() * voxel_ml, rel=1e-3)
        centre = _points_lps(p, np.pad(mask, [(b, s - e) for b, e, s in zip(
            n.bbox_zyx[0::2], n.bbox_zyx[1::2], p.labels.shape)])).mean(axis=0)
        assert np.allclose(centre, n.center_lps, atol=0.01)
        assert p.labels[tuple(np.rint(p.volume().to_index(n.center_lps)).astype(int)[::-1])] == 7


def test_upper_lobe_flags_follow_the_shared_rule(demo_phantom):
    p = demo_phantom
    extents = {lung: lung_extent(_points_lps(p, p.labels == label)) for lung, label in (("right", 1), ("left", 2))}
    for n in p.nodules:
        assert n.upper_lobe == in_upper_lobe(n.center_lps, extents[n.lung]), n
        assert (p.labels[_nodule_mask(p, n)[1]] == (1 if n.lung == "right" else 2)).any()


def test_oblique_variant_has_valid_geometry(small_params):
    params = dataclasses.replace(small_params, rotation_deg=(6.0, -4.0, 10.0), slice_order="superior_to_inferior",
                                 nodules=(NoduleSpec("solid", 10.0, "right", True),
                                          NoduleSpec("non_solid", 12.0, "left", False)))
    p = make_chest_phantom(params)
    d = p.direction
    assert np.allclose(d.T @ d, np.eye(3), atol=1e-12)
    assert abs(abs(np.linalg.det(d)) - 1) < 1e-12
    assert not np.allclose(d, np.eye(3))
    assert d[2, 2] < 0  # slices run towards the feet
    right = _points_lps(p, p.labels == 1).mean(axis=0)
    left = _points_lps(p, p.labels == 2).mean(axis=0)
    assert right[0] < left[0]
    # the volume centre stays where asked, whatever the rotation
    assert np.allclose(p.volume().center_lps(), params.center_lps, atol=1e-6)
    assert len(p.nodules) == 2
    extents = {lung: lung_extent(_points_lps(p, p.labels == label)) for lung, label in (("right", 1), ("left", 2))}
    for n, spec in zip(p.nodules, params.nodules):
        ijk = np.rint(p.volume().to_index(n.center_lps)).astype(int)
        assert p.labels[ijk[2], ijk[1], ijk[0]] == 7
        assert n.upper_lobe == spec.upper_lobe == in_upper_lobe(n.center_lps, extents[n.lung])


def test_random_params_are_deterministic_and_valid(small_params):
    a, b = PhantomParams.random(7), PhantomParams.random(7)
    assert a == b
    assert PhantomParams.from_dict(a.to_dict()) == a
    assert PhantomParams.from_dict(PhantomParams().to_dict()) == PhantomParams()
    variants = [PhantomParams.random(s) for s in range(40)]
    assert len({v.matrix_size for v in variants}) > 1
    assert any(v.rotation_deg != (0.0, 0.0, 0.0) for v in variants)
    p = make_chest_phantom(dataclasses.replace(PhantomParams.random(3), **{
        k: getattr(small_params, k) for k in ("matrix_size", "pixel_spacing_mm", "n_slices", "slice_spacing_mm")}))
    assert {1, 2, 4, 5} <= set(np.unique(p.labels))


@pytest.mark.parametrize("bad", [dict(pixel_spacing_mm=0), dict(matrix_size=(8, 8)), dict(slice_order="up"),
                                 dict(noise_sd_hu=-1), dict(body_half_width_mm=50)])
def test_bad_params_are_refused(bad):
    with pytest.raises(ValueError):
        PhantomParams(**bad)
    with pytest.raises(ValueError):
        NoduleSpec("calcified", 5.0, "right", True)
