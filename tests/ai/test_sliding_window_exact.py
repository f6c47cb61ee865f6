"""The faster sliding window gives the same numbers: exact-output checks (issue 18)."""

from __future__ import annotations

import pytest

from meddiag_desktop.ai.discovery import bundled_plugins_dir
from meddiag_desktop.ai.sliding_window import _add_wrapped, scan_starts, importance_map, sliding_window_argmax

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("first", [0, 1, 5, 7])
def test_wrapped_add_equals_index_add_with_the_rotated_slots(first):
    torch.manual_seed(first)
    ring = torch.randn(3, 8, 5, 6)
    window = torch.randn(3, 8, 5, 6)
    ref = ring.clone().index_add_(1, (torch.arange(8) + first) % 8, window)
    _add_wrapped(ring, window, first, 1)
    assert torch.equal(ring, ref)
    ring0, w0 = torch.randn(8, 4, 4), torch.randn(8, 4, 4)
    ref0 = ring0.clone().index_add_(0, (torch.arange(8) + first) % 8, w0)
    _add_wrapped(ring0, w0, first, 0)
    assert torch.equal(ring0, ref0)


def _reference(image, net, roi, overlap, blend):
    """The plain blend: a full-size float map, windows added in the same (z, y, x) order, then argmax."""
    c, z, y, x = image.shape
    rz, ry, rx = roi
    weight = importance_map(roi, blend, image.device)
    acc = wsum = None
    for zs in scan_starts(z, rz, overlap):
        for ys in scan_starts(y, ry, overlap):
            for xs in scan_starts(x, rx, overlap):
                with torch.no_grad():
                    out = net(image[None, :, zs : zs + rz, ys : ys + ry, xs : xs + rx])[0]
                if acc is None:
                    acc = torch.zeros((out.shape[0], z, y, x))
                    wsum = torch.zeros((z, y, x))
                acc[:, zs : zs + rz, ys : ys + ry, xs : xs + rx] += out * weight
                wsum[zs : zs + rz, ys : ys + ry, xs : xs + rx] += weight
    conf = torch.softmax(acc / wsum.clamp_min(1e-12), dim=0).amax(0).to(torch.float16)
    return acc.argmax(0).to(torch.uint8), conf


@pytest.mark.parametrize("blend", ["gaussian", "constant"])
def test_ring_buffer_gives_the_plain_blend_bit_for_bit(blend):
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv3d(4, 5, 1)).eval()
    img = torch.randn(1, 41, 23, 29)
    roi = (16, 12, 12)
    ref_labels, ref_conf = _reference(img, net, roi, 0.25, blend)
    labels, conf = sliding_window_argmax(img, net, roi, overlap=0.25, blend=blend, sw_batch_size=1,
                                         return_confidence=True)
    assert torch.equal(labels, ref_labels) and torch.equal(conf, ref_conf)


def test_ties_and_nan_pick_the_class_argmax_picks():
    """Labels come from ``max(0).indices``: on tied scores the first class, on NaN the NaN's class, as argmax."""
    torch.manual_seed(5)
    codes = torch.randint(0, 3, (4, 30, 21, 25)).float()  # small integers: exact sums, many ties
    codes[:, 3:6, 4:9, 2:7] = float("nan")  # one class's NaN inside a region
    codes[1:, 3:6, 4:9, 2:7] = 0.0

    class Lookup(torch.nn.Module):  # logits: the codes under the window (the image carries the z, y, x index)
        def forward(self, x):
            idx = x[:, 0].long()
            return codes.flatten(1)[:, idx].permute(1, 0, 2, 3, 4)

    z, y, x = codes.shape[1:]
    image = torch.arange(z * y * x, dtype=torch.float32).reshape(1, z, y, x)
    for blend in ("constant", "gaussian"):
        ref, _ = _reference(image, Lookup(), (8, 8, 8), 0.25, blend)
        got = sliding_window_argmax(image, Lookup(), (8, 8, 8), overlap=0.25, blend=blend, sw_batch_size=3)
        assert torch.equal(got, ref)
        assert (got[3:6, 4:9, 2:7] == 0).all()  # NaN in class 0 wins there, as with argmax
    assert (ref == 0).sum() > 0 and (ref == 2).sum() > 0


@pytest.mark.slow
def test_bundled_segmentation_labels_do_not_depend_on_the_batch():
    """chest-ct-seg declares 4 windows per batch (both cores busy); the labels are those of batch 1."""
    folder = bundled_plugins_dir() / "chest_ct_seg"
    if not (folder / "weights.safetensors").exists():
        pytest.skip("chest-ct-seg weights not trained yet")
    from meddiag_desktop.ai.manifest_io import load_manifest
    from meddiag_desktop.ai.resample import model_grid, resample_to_grid
    from meddiag_desktop.ai.plugin_code import build_model
    from meddiag_desktop.ai.preprocess import normalize
    from meddiag_desktop.demo.phantom import PhantomParams, make_chest_phantom

    m = load_manifest(folder)
    assert m.inference.sw_batch_size == 4
    vol = make_chest_phantom(PhantomParams.random(77)).volume()
    grid = model_grid(vol, m.input.spacing_mm, m.input.orientation)
    arr = normalize(resample_to_grid(vol, grid, m.input.pad_value), m.input.normalization)
    image = torch.from_numpy(arr)[None, :64]  # one band of windows
    model = build_model(folder, m)
    roi = tuple(reversed(m.inference.roi_size))
    one = sliding_window_argmax(image, model, roi, overlap=m.inference.overlap, blend=m.inference.blend, sw_batch_size=1)
    four = sliding_window_argmax(image, model, roi, overlap=m.inference.overlap, blend=m.inference.blend, sw_batch_size=4)
    assert torch.equal(one, four)
