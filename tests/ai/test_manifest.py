import hashlib

import pytest

from meddiag_desktop.ai.manifest import ManifestError, parse_manifest
from meddiag_desktop.ai.manifest_io import load_manifest
from meddiag_desktop.ai.weights import WeightsError, load_state_dict, verify_weights

BASE = {
    "plugin": {
        "id": "x.seg", "name": "X", "version": "1.0", "task": "segmentation", "intended_use": "research",
        "entry": "pkg.mod:build", "authors": ["a"], "license": "MIT",
    },
    "outputs": {"labels": [{"value": 1, "name": "lung", "color": "#00ff00"}]},
    "weights": [{"file": "w.safetensors", "sha256": "0" * 64}],
}


def _with(**changes):
    import copy

    d = copy.deepcopy(BASE)
    for k, v in changes.items():
        d["plugin"][k] = v
    return d


def test_valid_manifest_has_all_fields(plugin_factory):
    m = load_manifest(plugin_factory())
    assert m.id == "test.threshold" and m.task == "segmentation" and m.intended_use == "testing only"
    assert m.entry == "tinyplugin.model:build" and m.input.spacing_mm == (2.0, 2.0, 2.0)
    assert m.input.normalization.kind == "window" and m.label_names() == {1: "bright"}
    assert m.weights[0].sha256 and "Intended use: testing only" in m.model_card()


@pytest.mark.parametrize(
    "data, fragment",
    [
        (_with(task="detection"), "task"),
        (_with(entry="not an entry"), "entry"),
        (_with(id="bad id!"), "id"),
        ({**BASE, "weights": [{"file": "../escape.pt", "sha256": "0" * 64}]}, "inside the plugin folder"),
        ({**BASE, "weights": [{"file": "w.pt", "sha256": "xyz"}]}, "sha256"),
        ({**BASE, "weights": [{"file": "w.pt"}]}, "sha256"),
        ({**BASE, "outputs": {"labels": []}}, "labels"),
        ({**BASE, "outputs": {"labels": [{"value": 1, "name": "a", "color": "green"}]}}, "colour"),
        ({**BASE, "unknown_key": 1}, "unknown_key"),
        ({**BASE, "input": {"spacing_mm": [0.0, 1, 1]}}, "spacing"),
        ({**BASE, "input": {"normalization": {"kind": "window", "min": 5, "max": 1}}}, "min < max"),
        (_with(task="classification"), "classes"),
    ],
)
def test_invalid_manifests_name_the_problem(data, fragment):
    with pytest.raises(ManifestError, match=fragment):
        parse_manifest(data)


def test_missing_intended_use_is_an_error():
    d = _with()
    del d["plugin"]["intended_use"]
    with pytest.raises(ManifestError, match="intended_use"):
        parse_manifest(d)


def test_bad_toml_and_missing_manifest(tmp_path):
    (tmp_path / "plugin.toml").write_text("id = [unclosed")
    with pytest.raises(ManifestError, match="cannot read TOML"):
        load_manifest(tmp_path)
    with pytest.raises(ManifestError, match="no plugin.toml"):
        load_manifest(tmp_path / "missing")


def test_reading_a_manifest_does_not_import_plugin_code(plugin_factory):
    import sys

    folder = plugin_factory()
    (folder / "tinyplugin" / "__init__.py").write_text("raise SystemExit('imported!')")
    load_manifest(folder)
    assert "tinyplugin" not in sys.modules


def test_tampered_weights_are_refused_naming_both_hashes(plugin_factory):
    folder = plugin_factory()
    m = load_manifest(folder)
    verify_weights(folder, m)
    w = folder / "weights.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 0xFF
    w.write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(WeightsError) as err:
        verify_weights(folder, m)
    msg = str(err.value)
    assert "weights.safetensors" in msg and m.weights[0].sha256 in msg and actual in msg


def test_torch_weights_load_without_code(tmp_path):
    import pickle

    import torch

    good = tmp_path / "good.pt"
    torch.save({"state_dict": {"a": torch.ones(2)}}, good)
    assert torch.equal(load_state_dict(good)["a"], torch.ones(2))

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    bad = tmp_path / "bad.pt"
    with open(bad, "wb") as f:
        pickle.dump({"x": Evil()}, f)
    with pytest.raises(WeightsError, match="holds pickled Python objects, not just tensors; loading them could run "
                       "code, so the file is refused") as err:
        load_state_dict(bad)
    assert "weights_only" not in str(err.value)
