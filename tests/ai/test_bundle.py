"""A MONAI bundle made here (3D UNet, random weights) runs as a plugin, with MONAI's own labels."""

import importlib.util
import json

import numpy as np
import pytest

from plugin_factory import box_volume
from meddiag_desktop.ai.discovery import discover_plugins, plugin_from_folder
from meddiag_desktop.ai.manifest import load_manifest
from meddiag_desktop.ai.runner import InputRefused, run_plugin
from meddiag_desktop.core.volume import Volume

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("monai") is None or importlib.util.find_spec("ignite") is None,
    reason="running MONAI bundles needs monai and pytorch-ignite",
)

INFERENCE = {
    "imports": ["$import glob", "$import os"],
    "bundle_root": ".",
    "output_dir": "$@bundle_root + '/eval'",
    "dataset_dir": "/workspace/data",
    "datalist": "$list(sorted(glob.glob(@dataset_dir + '/*.nii.gz')))",
    "device": "$torch.device('cpu')",
    "network_def": {"_target_": "UNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 2,
                    "channels": [4, 8], "strides": [2], "num_res_units": 0},
    "network": "$@network_def.to(@device)",
    "preprocessing": {"_target_": "Compose", "transforms": [
        {"_target_": "LoadImaged", "keys": "image"},
        {"_target_": "EnsureChannelFirstd", "keys": "image"},
        {"_target_": "Orientationd", "keys": "image", "axcodes": "RAS"},
        {"_target_": "Spacingd", "keys": "image", "pixdim": [2.0, 2.0, 2.0], "mode": "bilinear"},
        {"_target_": "ScaleIntensityRanged", "keys": "image", "a_min": -1000, "a_max": 1000,
         "b_min": 0.0, "b_max": 1.0, "clip": True},
        {"_target_": "EnsureTyped", "keys": "image"}]},
    "dataset": {"_target_": "Dataset", "data": "$[{'image': i} for i in @datalist]", "transform": "@preprocessing"},
    "dataloader": {"_target_": "DataLoader", "dataset": "@dataset", "batch_size": 1, "shuffle": False, "num_workers": 0},
    "inferer": {"_target_": "SlidingWindowInferer", "roi_size": [32, 32, 32], "sw_batch_size": 2, "overlap": 0.25},
    "postprocessing": {"_target_": "Compose", "transforms": [
        {"_target_": "Activationsd", "keys": "pred", "softmax": True},
        {"_target_": "Invertd", "keys": "pred", "transform": "@preprocessing", "orig_keys": "image",
         "nearest_interp": False, "to_tensor": True},
        {"_target_": "AsDiscreted", "keys": "pred", "argmax": True},
        {"_target_": "SaveImaged", "keys": "pred", "output_dir": "@output_dir", "output_postfix": "seg",
         "resample": False, "separate_folder": False}]},
    "handlers": [{"_target_": "CheckpointLoader", "load_path": "$@bundle_root + '/models/model.pt'",
                  "load_dict": {"model": "@network"}}],
    "evaluator": {"_target_": "SupervisedEvaluator", "device": "@device", "val_data_loader": "@dataloader",
                  "network": "@network", "inferer": "@inferer", "postprocessing": "@postprocessing",
                  "val_handlers": "@handlers", "amp": False},
    "initialize": ["$monai.utils.set_determinism(seed=123)"],
    "run": ["$@evaluator.run()"],
}

METADATA = {
    "version": "0.1.0", "monai_version": "1.4.0", "name": "Tiny test bundle",
    "task": "Box segmentation", "description": "random 3D UNet", "authors": "tests",
    "copyright": "Copyright (c) tests", "intended_use": "Testing only, not for diagnosis",
    "eval_metrics": {"mean_dice": 0.5},
    "network_data_format": {
        "inputs": {"image": {"type": "image", "format": "hounsfield", "modality": "CT", "num_channels": 1,
                             "spatial_shape": [32, 32, 32], "dtype": "float32", "value_range": [0, 1]}},
        "outputs": {"pred": {"type": "image", "format": "segmentation", "num_channels": 2,
                             "spatial_shape": [32, 32, 32], "dtype": "float32", "value_range": [0, 1],
                             "channel_def": {"0": "background", "1": "box"}}},
    },
}


@pytest.fixture
def bundle(tmp_path):
    import torch
    from monai.networks.nets import UNet

    root = tmp_path / "tiny_bundle"
    (root / "configs").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "configs" / "inference.json").write_text(json.dumps(INFERENCE, indent=1))
    (root / "configs" / "metadata.json").write_text(json.dumps(METADATA, indent=1))
    torch.manual_seed(7)
    net = UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(4, 8), strides=(2,), num_res_units=0)
    torch.save(net.state_dict(), root / "models" / "model.pt")
    return root


def test_bundle_metadata_becomes_model_card(bundle):
    m = load_manifest(bundle)
    assert m.kind == "monai_bundle" and m.task == "segmentation" and m.name == "Tiny test bundle"
    assert m.intended_use == "Testing only, not for diagnosis" and m.input.modality == "CT"
    assert m.label_names() == {1: "box"} and m.metrics == {"mean_dice": 0.5}
    assert m.weights[0].file == "models/model.pt"


def test_bundle_in_user_folder_is_discovered(bundle, _isolated_plugin_places):
    import shutil

    shutil.copytree(bundle, _isolated_plugin_places / "plugins" / "tiny_bundle")
    infos = [i for i in discover_plugins() if i.source == "user"]
    assert [i.id for i in infos] == ["tiny_bundle"] and infos[0].allow_bundle_code


def test_bundled_folder_bundles_do_not_run_code(bundle, ct_box):
    info = plugin_from_folder(bundle, "bundled")
    assert not info.allow_bundle_code
    with pytest.raises(InputRefused, match="can run code"):
        run_plugin(bundle, ct_box)


def test_labels_match_monai_bundle_runner(bundle, tmp_path):
    import SimpleITK as sitk
    from monai.bundle import run as monai_run

    from meddiag_desktop.ai.isolation import run_isolated
    from meddiag_desktop.ai.resample import volume_to_sitk

    t = np.deg2rad(15)
    direction = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    vol = box_volume(shape=(30, 40, 44), spacing=(1.6, 1.4, 2.5), direction=direction, origin=(-30, 10, 50))
    rng = np.random.default_rng(0)
    vol.array[:] = (vol.array + rng.normal(0, 80, vol.array.shape)).astype(np.int16)
    data = tmp_path / "data"
    data.mkdir()
    sitk.WriteImage(volume_to_sitk(vol), str(data / "case.nii.gz"))

    ref_out = tmp_path / "ref"
    monai_run(run_id="run", config_file=str(bundle / "configs" / "inference.json"),
              meta_file=str(bundle / "configs" / "metadata.json"), bundle_root=str(bundle),
              dataset_dir=str(data), output_dir=str(ref_out))
    ref_img = sitk.ReadImage(str(next(ref_out.rglob("*.nii.gz"))))
    ref = sitk.GetArrayFromImage(ref_img)

    img = sitk.ReadImage(str(data / "case.nii.gz"))
    loaded = Volume(sitk.GetArrayFromImage(img), img.GetSpacing(), img.GetOrigin(),
                    np.array(img.GetDirection()).reshape(3, 3), metadata={"modality": "CT"})
    assert np.allclose(ref_img.GetOrigin(), img.GetOrigin(), atol=1e-3)
    assert np.allclose(ref_img.GetDirection(), img.GetDirection(), atol=1e-5)
    assert ref.shape == loaded.array.shape

    seen = []
    ours = run_isolated(bundle, loaded, progress=lambda d, t: seen.append((d, t)), start_timeout=120)
    assert 0 < (ref == 1).mean() < 1, "degenerate reference: the test needs both labels present"
    assert np.array_equal(ours.labels, ref.astype(ours.labels.dtype))
    assert seen and seen[-1][0] == seen[-1][1]
    assert ours.label_names == {1: "box"} and ours.intended_use.startswith("Testing only")
