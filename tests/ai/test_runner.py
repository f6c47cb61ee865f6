import numpy as np
import pytest

from tests.ai.plugin_factory import box_volume, rotation
from meddiag_desktop.ai.manifest import Normalization
from meddiag_desktop.ai.resample import model_grid
from meddiag_desktop.ai.devices import attempt_plan
from meddiag_desktop.ai.preprocess import normalize
from meddiag_desktop.ai.runner import InputRefused, RunOptions, run_plugin
from meddiag_desktop.ai.sliding_window import RunCancelled, sliding_window_argmax
from meddiag_desktop.core.volume import Volume


def _dice(a, b):
    return 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def test_labels_align_with_source_on_axis_aligned_input(plugin_factory, ct_box):
    res = run_plugin(plugin_factory(), ct_box)
    assert res.labels.shape == ct_box.array.shape and res.labels.dtype == np.uint8
    assert _dice(res.labels == 1, ct_box.array > 0) > 0.95  # 2 mm model grid on a 1.5x1.5x2 mm source
    got = np.argwhere(res.labels == 1).mean(0)
    want = np.argwhere(ct_box.array > 0).mean(0)
    assert np.abs(got - want).max() <= 0.5  # at most half a source voxel (2 mm grid quantisation)
    same = run_plugin(plugin_factory("test.same", spacing=ct_box.spacing), ct_box)
    assert np.array_equal(same.labels == 1, ct_box.array > 0)  # same grid: exact, voxel for voxel
    expected_ml = (ct_box.array > 0).sum() * np.prod(ct_box.spacing) / 1000
    assert same.stats[0].volume_ml == pytest.approx(expected_ml, rel=1e-6)
    assert same.stats[0].mean == pytest.approx(500) and same.stats[0].min == 500 and same.stats[0].sd == 0


@pytest.mark.parametrize("orientation", ["LPS", "RAS", "native"])
def test_labels_align_on_oblique_input(plugin_factory, orientation):
    direction = rotation(2, 30) @ rotation(0, 20) @ np.diag([1, -1, 1])  # oblique and flipped
    vol = box_volume(shape=(48, 56, 64), spacing=(1.2, 1.1, 1.7), direction=direction, origin=(-40, 25, 100))
    # a sphere in patient space, so any misalignment shows
    idx = np.stack(np.meshgrid(*[np.arange(n) for n in vol.shape_xyz], indexing="ij"), -1).reshape(-1, 3)
    lps = vol.to_lps(idx)
    centre = vol.center_lps() + np.array([5.0, -4.0, 3.0])
    inside = (np.linalg.norm(lps - centre, axis=1) < 22).reshape(vol.shape_xyz).transpose(2, 1, 0)
    vol.array[:] = np.where(inside, 500, -1000)
    res = run_plugin(plugin_factory(spacing=(1.5, 1.5, 1.5), orientation=orientation), vol)
    assert res.labels.shape == vol.array.shape
    assert _dice(res.labels == 1, inside) > 0.93
    got = vol.to_lps(np.argwhere(res.labels == 1)[:, ::-1].mean(0))
    assert np.linalg.norm(got - centre) < 1.0  # centroid within 1 mm


def test_model_grid_covers_oblique_volume():
    vol = box_volume(direction=rotation(1, 35))
    grid = model_grid(vol, (2.0, 2.0, 2.0), "RAS")
    assert grid.direction == (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)
    axes = np.array(grid.direction).reshape(3, 3)
    local = (vol.corners_lps() - np.array(grid.origin)) @ axes / 2.0
    assert local.min() >= -1 and (local.max(0) <= np.array(grid.size)).all()


def test_sliding_window_matches_monai(plugin_factory):
    torch = pytest.importorskip("torch")
    monai_inferers = pytest.importorskip("monai.inferers")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv3d(4, 6, 3, padding=1)).eval()
    img = torch.randn(1, 27, 34, 30)
    for mode in ("constant", "gaussian"):
        for roi in [(12, 12, 12), (30, 14, 40)]:
            ref = monai_inferers.sliding_window_inference(img[None], roi, 3, net, overlap=0.25, mode=mode)[0].argmax(0)
            ours = sliding_window_argmax(img, net, roi, overlap=0.25, blend=mode, sw_batch_size=3)
            assert torch.equal(ref.to(torch.uint8), ours), (mode, roi)


def test_sliding_window_low_precision_paths_agree():
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv3d(4, 7, 1)).eval()
    img = torch.randn(1, 30, 33, 31)
    ref = sliding_window_argmax(img, net, (16, 16, 16), sw_batch_size=2, accum_dtype="fp32")
    half = sliding_window_argmax(img, net, (16, 16, 16), sw_batch_size=2, accum_dtype="fp16")
    bf16 = sliding_window_argmax(img, net, (16, 16, 16), sw_batch_size=2, autocast_dtype=torch.bfloat16)
    assert (half == ref).float().mean() > 0.999
    assert (bf16 == ref).float().mean() > 0.97
    labels, conf = sliding_window_argmax(img, net, (16, 16, 16), return_confidence=True)
    assert torch.equal(labels, ref) and float(conf.min()) >= 1 / 7 - 1e-3 and float(conf.max()) <= 1.0


def test_sliding_window_progress_and_cancel():
    torch = pytest.importorskip("torch")
    net = torch.nn.Conv3d(1, 2, 1)
    seen = []
    sliding_window_argmax(torch.zeros(1, 20, 20, 20), net, (8, 8, 8), progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, 27) and seen[-1] == (27, 27)
    calls = iter(range(100))
    with pytest.raises(RunCancelled):
        sliding_window_argmax(torch.zeros(1, 20, 20, 20), net, (8, 8, 8), cancel=lambda: next(calls) >= 2)


def test_normalisation():
    a = np.array([-2000, -1000, 0, 1000, 3000], np.float32)
    w = normalize(a, Normalization(kind="window", min=-1000, max=1000))
    assert w.tolist() == [0, 0, 0.5, 1, 1]
    z = normalize(a, Normalization(kind="zscore"))
    assert abs(z.mean()) < 1e-6 and z.std() == pytest.approx(1, rel=1e-5)


def test_unfit_inputs_are_refused_or_warned(plugin_factory):
    folder = plugin_factory()
    flat = Volume(np.zeros((1, 64, 64), np.int16), (1, 1, 1), metadata={"modality": "CT"})
    with pytest.raises(InputRefused, match="3D model"):
        run_plugin(folder, flat)
    rgb = Volume(np.zeros((8, 64, 64, 3), np.uint8))
    with pytest.raises(InputRefused, match="RGB"):
        run_plugin(folder, rgb)
    absurd = Volume(np.zeros((20, 20, 20), np.int16), (1, 1, 400))
    with pytest.raises(InputRefused, match="spacing"):
        run_plugin(folder, absurd)
    mr = box_volume()
    mr.metadata["modality"] = "MR"
    with pytest.raises(InputRefused, match=r"^MR study; this plugin expects CT\."):
        run_plugin(folder, mr)  # outside the intended use (the [input] modality when no [domain] is declared)
    res = run_plugin(folder, mr, RunOptions(force=True))
    assert res.warnings[0].startswith("Outside intended use: MR study; this plugin expects CT.")


def test_oom_plan():
    assert attempt_plan("cuda", 4) == [("cuda", 4), ("cuda", 2), ("cuda", 1), ("cpu", 1)]
    assert attempt_plan("cpu", 2) == [("cpu", 2), ("cpu", 1)]


def test_classification_with_occlusion_map(plugin_factory, ct_box):
    folder = plugin_factory("test.cls", classifier=True)
    inside = tuple(ct_box.center_lps())
    outside = tuple(ct_box.to_lps((2, 2, 2)))
    res = run_plugin(folder, ct_box, RunOptions(points_lps=[inside, outside]))
    assert res.findings[0].top_class == "bright" and res.findings[1].top_class == "dark"
    assert res.probabilities["bright"] > 0.9
    assert res.explanation.shape == ct_box.array.shape and res.explanation.max() > 0
    # the explanation lies around the first point
    hot = np.argwhere(res.explanation > 0.5 * res.explanation.max())[:, ::-1].mean(0)
    assert np.linalg.norm(ct_box.to_lps(hot) - np.array(inside)) < 12
