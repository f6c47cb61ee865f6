"""Manifest-declared label post-processing: exact voxel results, schema checks, runner wiring."""

import numpy as np
import pytest

from meddiag_desktop.ai.manifest import KeepTouching, ManifestError, RemoveSmallComponents, parse_manifest
from meddiag_desktop.ai.postprocess import (
    apply_postprocess,
    border_label_counts,
    components,
    keep_touching,
    remove_small_components,
)


def _lung_with_specks() -> np.ndarray:
    """A 1 x 8 x 10 slab: lung (1) on the left, heart (4) on the right, nodule (7) components."""
    lab = np.zeros((1, 8, 10), np.uint8)
    lab[0, :, :6] = 1
    lab[0, :, 6:] = 4
    lab[0, 1, 1] = 7  # single voxel inside the lung
    lab[0, 3:6, 2:5] = 7  # 3x3 block inside the lung (9 voxels)
    lab[0, 6, 8] = 7  # single voxel inside the heart
    lab[0, 0:2, 5:7] = 7  # 2x2 block straddling lung and heart (4 voxels)
    return lab


def test_components_face_vs_full_connectivity():
    m = np.zeros((1, 3, 3), bool)
    m[0, 0, 0] = m[0, 1, 1] = True  # diagonal neighbours
    assert components(m, 6)[1] == 2
    assert components(m, 26)[1] == 1
    assert components(np.zeros((2, 2, 2), bool))[1] == 0
    with pytest.raises(ValueError):
        components(m, 8)


def test_border_counts_count_face_contacts_by_label():
    lab = _lung_with_specks()
    comp, n = components(lab == 7)
    counts = border_label_counts(comp, n, lab, [7])
    big = comp[0, 4, 3]
    assert counts[big, 1] == 12 and counts[big].sum() == 12  # 3x3 block: 12 lung faces, nothing else
    single_heart = comp[0, 6, 8]
    assert counts[single_heart, 4] == 4 and counts[single_heart].sum() == 4
    straddle = comp[0, 0, 5]
    # border of the 2x2 block at rows 0-1, cols 5-6 (row -1 is outside): (0,4) (1,4) (2,5) lung; (0,7) (1,7) (2,6) heart
    assert counts[straddle, 1] == 3 and counts[straddle, 4] == 3


def test_remove_small_components_exact():
    lab = _lung_with_specks()
    expected = lab.copy()
    expected[0, 1, 1] = 1  # the lung speck becomes lung again
    expected[0, 6, 8] = 4  # the heart speck becomes heart
    # 2 mm voxels: 8 mm^3 each; the 4-voxel block is 32 mm^3, the 9-voxel block 72 mm^3
    n = remove_small_components(lab, [7], min_volume_mm3=20.0, spacing=(2.0, 2.0, 2.0))
    assert n == 2
    np.testing.assert_array_equal(lab, expected)
    n = remove_small_components(lab, [7], min_volume_mm3=40.0, spacing=(2.0, 2.0, 2.0))
    assert n == 1  # the 4-voxel block; its border is 3 lung + 3 heart, ties go to the lower label
    expected[0, 0:2, 5:7] = 1
    np.testing.assert_array_equal(lab, expected)
    assert (lab[0, 3:6, 2:5] == 7).all()


def test_remove_small_components_background_fill_and_other_labels_untouched():
    lab = _lung_with_specks()
    lab[0, 7, 0] = 5  # a one-voxel "bone" speck: not a processed label, stays
    remove_small_components(lab, [7], min_volume_mm3=2.0, spacing=(1.0, 1.0, 1.0), fill="background")
    assert lab[0, 1, 1] == 0 and lab[0, 6, 8] == 0 and lab[0, 7, 0] == 5
    assert (lab == 7).sum() == 13


def test_keep_touching_any_contact_and_fraction():
    lab = _lung_with_specks()
    expected = lab.copy()
    expected[0, 6, 8] = 4  # only the heart speck touches no lung
    assert keep_touching(lab, [7], touching=[1, 2]) == 1
    np.testing.assert_array_equal(lab, expected)
    # more than half of the border in the lung: the straddling block (3 of 6) goes too
    lab2 = _lung_with_specks()
    assert keep_touching(lab2, [7], touching=[1, 2], min_fraction=0.51) == 2
    assert (lab2[0, 0:2, 5:7] == 1).all() and lab2[0, 6, 8] == 4 and (lab2 == 7).sum() == 10


def test_isolated_component_with_no_neighbours_becomes_background():
    lab = np.zeros((3, 3, 3), np.uint8)
    lab[1, 1, 1] = 7
    assert keep_touching(lab, [7], touching=[1]) == 1
    assert not lab.any()


def test_apply_postprocess_runs_steps_in_order_from_models_or_dicts():
    steps = [
        KeepTouching(op="keep_touching", labels=[7], touching=[1, 2]),
        RemoveSmallComponents(op="remove_small_components", labels=[7], min_volume_mm3=20.0),
    ]
    lab = _lung_with_specks()
    report = apply_postprocess(lab, steps, (2.0, 2.0, 2.0))
    assert report == {"0:keep_touching": 1, "1:remove_small_components": 1}
    assert (lab == 7).sum() == 13 and lab[0, 1, 1] == 1 and lab[0, 6, 8] == 4
    lab2 = _lung_with_specks()
    apply_postprocess(lab2, [s.model_dump() for s in steps], (2.0, 2.0, 2.0))
    np.testing.assert_array_equal(lab, lab2)
    with pytest.raises(ValueError):
        apply_postprocess(lab, [{"op": "dilate", "labels": [7]}], (1.0, 1.0, 1.0))


# ------------------------------------------------------------------ manifest
def _manifest(post):
    return {
        "plugin": {"id": "t.seg", "name": "t", "version": "1", "task": "segmentation", "intended_use": "tests",
                   "entry": "m:build"},
        "weights": [{"file": "w.safetensors", "sha256": "0" * 64}],
        "outputs": {"labels": [{"value": 1, "name": "lung"}, {"value": 7, "name": "nodule"}]},
        "postprocess": post,
    }


def test_manifest_parses_postprocess_steps():
    m = parse_manifest(_manifest([
        {"op": "keep_touching", "labels": [7], "touching": [1]},
        {"op": "remove_small_components", "labels": [7], "min_volume_mm3": 30, "connectivity": 26},
    ]))
    assert isinstance(m.postprocess[0], KeepTouching) and m.postprocess[0].min_fraction == 0.0
    assert isinstance(m.postprocess[1], RemoveSmallComponents) and m.postprocess[1].connectivity == 26
    assert parse_manifest(_manifest([])).postprocess == []


@pytest.mark.parametrize("post, words", [
    ([{"op": "remove_small_components", "labels": [7], "min_volume_mm3": 30, "colour": 1}], "colour"),
    ([{"op": "remove_small_components", "labels": [7]}], "min_volume_mm3"),
    ([{"op": "remove_small_components", "labels": [7], "min_volume_mm3": 0}], "min_volume_mm3"),
    ([{"op": "fill_holes", "labels": [7]}], "postprocess"),
    ([{"op": "keep_touching", "labels": [7], "touching": [3]}], "[3]"),
    ([{"op": "keep_touching", "labels": [7], "touching": [1], "min_fraction": 1.5}], "min_fraction"),
    ([{"op": "keep_touching", "labels": [], "touching": [1]}], "labels"),
    ([{"op": "remove_small_components", "labels": [7], "min_volume_mm3": 5, "connectivity": 8}], "connectivity"),
])
def test_manifest_rejects_bad_postprocess(post, words):
    with pytest.raises(ManifestError) as err:
        parse_manifest(_manifest(post))
    assert words in str(err.value)


def test_bundled_seg_plugin_declares_its_postprocess():
    from meddiag_desktop.ai.discovery import bundled_plugins_dir
    from meddiag_desktop.ai.manifest_io import load_manifest

    m = load_manifest(bundled_plugins_dir() / "chest_ct_seg")
    ops = [s.op for s in m.postprocess]
    assert "keep_touching" in ops and "remove_small_components" in ops
    assert all(7 in s.labels for s in m.postprocess)


# ------------------------------------------------------------------ runner
def test_runner_applies_manifest_postprocess_on_the_model_grid(tmp_path, monkeypatch):
    import sys

    from tests.ai.plugin_factory import box_volume, make_plugin

    from meddiag_desktop.ai.runner import RunOptions, run_plugin

    vol = box_volume()  # 40 x 50 x 60 voxels of 1.5 x 1.5 x 2 mm, a bright box
    arr = vol.array.copy()
    arr[2:5, 2:6, 2:6] = 500  # a 6 x 6 x 6 mm bright speck far from the box: 27 voxels (216 mm^3) at 2 mm
    vol = type(vol)(arr, vol.spacing, vol.origin, vol.direction, metadata={"modality": "CT"})
    plain = make_plugin(tmp_path / "a", "test.plain")
    cleaned = make_plugin(tmp_path / "b", "test.cleaned", extra=(
        '\n[[postprocess]]\nop = "remove_small_components"\nlabels = [1]\nmin_volume_mm3 = 1000.0\n'))
    try:
        before = run_plugin(plain, vol, RunOptions(device="cpu"))
        after = run_plugin(cleaned, vol, RunOptions(device="cpu"))
    finally:  # in-process runs import the test plugin's package; later tests expect it not imported
        for name in [n for n in sys.modules if n == "tinyplugin" or n.startswith("tinyplugin.")]:
            del sys.modules[name]
    assert before.labels[:6, :8, :8].sum() >= 8 and "postprocess_s" not in before.timings
    assert not after.labels[:6, :8, :8].any() and "postprocess_s" in after.timings
    box = before.labels.astype(bool)
    box[:6, :8, :8] = False
    np.testing.assert_array_equal(after.labels.astype(bool), box)  # the box itself is untouched
