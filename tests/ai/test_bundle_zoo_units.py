"""Reading real zoo bundles (no model run): kinds, label values, workflow, dataset id, hashes, requirements, inputs;
and the worker: children allowed, killed with it, output kept off our stdout."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np
import pytest
from tests.ai.plugin_factory import trust_for_tests

from tests.ai import zoo_factory as zf
from meddiag_desktop.ai.bundle import (
    bundle_config,
    bundle_inputs,
    dataset_id,
    load_bundle_manifest,
    workflow_id,
)
from meddiag_desktop.ai.bundle_inputs import load_channels, map_inputs
from meddiag_desktop.ai.bundle_requirements import requirement_problems
from meddiag_desktop.ai.errors import InputRefused
from meddiag_desktop.ai.input_checks import check_bundle_input
from meddiag_desktop.ai.weights import WeightsError, verify_weights
from meddiag_desktop.core.volume import Volume

zoo = pytest.mark.skipif(not zf.ZOO.is_dir(), reason=f"zoo bundles not found at {zf.ZOO}")


@zoo
@pytest.mark.parametrize("name, task, workflow", [
    ("spleen_ct_segmentation", "segmentation", "run"),
    ("pancreas_ct_dints_segmentation", "segmentation", "run"),
    ("brats_mri_segmentation", "segmentation", "run"),
    ("ventricular_short_axis_3label", "segmentation", "evaluating"),
    ("lung_nodule_ct_detection", "detection", "run"),
    ("breast_density_classification", "classification", "evaluating"),
])
def test_kind_workflow_and_dataset_of_each_zoo_bundle(name, task, workflow):
    folder = zf.ZOO / name
    manifest = load_bundle_manifest(folder)
    assert manifest.task == task
    config = bundle_config(folder)  # pancreas: YAML, read with pyyaml
    assert workflow_id(folder, config) == workflow
    assert dataset_id(config) == "dataset"  # whatever datalist key it reads (datalist, test_datalist, test_imagelist)


@zoo
def test_label_names_are_the_values_the_bundle_writes():
    brats = load_bundle_manifest(zf.ZOO / "brats_mri_segmentation")
    # channel_def says 0 TC, 1 WT, 2 ET; the post-processing writes 4 for ET, 1 for TC, 2 for WT
    assert brats.label_names() == {1: "Tumor core", 2: "Whole tumor", 4: "Enhancing tumor"}
    assert load_bundle_manifest(zf.ZOO / "pancreas_ct_dints_segmentation").label_names() == {
        1: "pancreas", 2: "pancreatic tumor"}
    assert load_bundle_manifest(zf.ZOO / "breast_density_classification").outputs.classes == ["A", "B", "C", "D"]
    assert bundle_inputs(zf.ZOO / "brats_mri_segmentation") == {"image": ["T1c", "T1", "T2", "FLAIR"]}
    assert bundle_inputs(zf.ZOO / "breast_density_classification") == {"image": ["image"]}  # one RGB file


@zoo
def test_md5_from_large_files_yml_is_checked(tmp_path):
    bundle = zf.copy_bundle("spleen_ct_segmentation", tmp_path)
    weights = bundle / "models" / "model.pt"
    weights.write_bytes(b"weights of our own")
    manifest = load_bundle_manifest(bundle)
    assert manifest.weights[0].md5 == "be4fa95e236df91766147c112ee6fafd"  # the zoo's trained weights
    with pytest.raises(WeightsError, match="expected MD5 be4fa95e236df91766147c112ee6fafd, actual "
                       + hashlib.md5(b"weights of our own").hexdigest()):
        verify_weights(bundle, manifest)
    zf.relist_weights(bundle)
    assert verify_weights(bundle, load_bundle_manifest(bundle)) == [weights]


@zoo
def test_declared_packages_are_checked_and_named():
    lung = zf.ZOO / "lung_nodule_ct_detection"
    errors, _ = requirement_problems(lung, lung / "configs" / "inference.json")
    try:
        import torchvision  # noqa: F401
        have_tv = True
    except Exception:  # noqa: BLE001
        have_tv = False
    if not have_tv:
        assert any("needs torchvision (declared 0.19.0), not installed" in e and "packaged app" in e for e in errors)
    brats = zf.ZOO / "brats_mri_segmentation"
    errors, notes = requirement_problems(brats, brats / "configs" / "inference.json")
    assert errors == []  # tensorboard and scikit-learn are for training; missing ones are notes only
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        assert any("tensorboard" in n and "training-only" in n for n in notes)


def test_root_cause_of_a_monai_config_error_is_the_innermost_one():
    from monai.bundle import ConfigParser

    from meddiag_desktop.ai.failures import describe_failure

    parser = ConfigParser({"imports": ["$import os"], "net": "$__import__('no_such_module_zz').Net()"})
    with pytest.raises(Exception) as info:
        parser.get_parsed_content("net")
    assert "Failed to evaluate" in str(info.value)
    kind, message = describe_failure(info.value)
    assert kind == "ModuleNotFoundError"
    assert message == "No module named 'no_such_module_zz' (the bundle needs no_such_module_zz, which is not installed)"


def test_4d_nifti_is_split_into_channels_not_cut(tmp_path):
    import nibabel as nib

    data = np.stack([np.full((6, 5, 4), c * 10.0, np.float32) + np.arange(4, dtype=np.float32) for c in range(4)], -1)
    affine = np.diag([-1.5, -1.5, 2.0, 1.0])
    nib.save(nib.Nifti1Image(data, affine), str(tmp_path / "brats.nii.gz"))
    vols = load_channels(tmp_path / "brats.nii.gz")
    assert len(vols) == 4
    for c, v in enumerate(vols):
        assert v.shape_xyz == (6, 5, 4) and v.spacing == (1.5, 1.5, 2.0)
        np.testing.assert_array_equal(v.array, np.transpose(data[..., c], (2, 1, 0)))
    keys = {"image": ["T1c", "T1", "T2", "FLAIR"]}
    assert [id(v) for v in map_inputs([("", vols)], keys)["image"]] == [id(v) for v in vols]
    with pytest.raises(InputRefused, match=r"needs 4 channel\(s\) \(T1c, T1, T2, FLAIR\) and got 1"):
        map_inputs([("image", vols[:1])], keys)
    with pytest.raises(InputRefused, match="no input 'label'"):
        map_inputs([("label", vols[:1])], keys)


@zoo
def test_2d_bundle_takes_one_slice_3d_bundle_refuses_it():
    one_slice = Volume(np.zeros((1, 64, 64), np.float32), (0.7, 0.7, 1.0))
    vent = zf.ZOO / "ventricular_short_axis_3label"
    assert check_bundle_input(load_bundle_manifest(vent), one_slice, vent) == []
    spleen = zf.ZOO / "spleen_ct_segmentation"
    with pytest.raises(InputRefused, match="is a 3D model; this image is 64x64x1 voxels"):
        check_bundle_input(load_bundle_manifest(spleen), one_slice, spleen)


CHILD_MODEL = '''
import multiprocessing as mp, os, sys, time
import torch

def _child(path):
    with open(path, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(3600)

class Spawner(torch.nn.Module):
    """Starts a child process (as a DataLoader with workers does), prints, then runs slowly."""
    def __init__(self, classes=2):
        super().__init__()
        self.conv = torch.nn.Conv3d(1, classes, 1)
        self.started = False
    def forward(self, x):
        if not self.started:
            self.started = True
            mp.get_context("fork").Process(target=_child, args=({pid_file!r},)).start()
            print("PLUGIN PRINTS TO STDOUT", flush=True)
            print("PLUGIN PRINTS TO STDERR", file=sys.stderr, flush=True)
        time.sleep(0.3)
        return self.conv(x)

def build(classes=2):
    return Spawner(classes)
'''


def test_worker_may_have_children_and_cancel_kills_them(plugin_factory, ct_box, tmp_path, capfd, _isolated_plugin_places):
    """A daemon worker could not start the child at all; cancel ends the worker's whole process group."""
    from meddiag_desktop.ai.isolation import RunCancelled, WorkerProcess, run_isolated

    pid_file = tmp_path / "child.pid"
    folder = plugin_factory()
    (folder / "tinyplugin" / "model.py").write_text(CHILD_MODEL.format(pid_file=str(pid_file)))
    trust_for_tests(folder)  # the model changed after the factory trusted it
    worker = WorkerProcess()
    flag = {"cancel": False}

    def progress(done, total):
        flag["cancel"] = pid_file.is_file() and pid_file.read_text().strip() != ""

    with pytest.raises(RunCancelled):
        run_isolated(folder, ct_box, progress=progress, cancel=lambda: flag["cancel"], worker=worker,
                     start_timeout=120, stall_timeout=60)
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(child, 9)
        pytest.fail("the plugin's child process outlived the cancelled run")
    out, err = capfd.readouterr()
    assert "PLUGIN PRINTS" not in out and "PLUGIN PRINTS" not in err
    log = worker.log_path.read_text()
    assert "PLUGIN PRINTS TO STDOUT" in log and "PLUGIN PRINTS TO STDERR" in log
    assert worker.log_path.parent == Path(_isolated_plugin_places) / "logs"  # the user data folder's logs


@zoo
def test_png_is_a_one_slice_image_for_2d_bundles(tmp_path):
    from PIL import Image

    grey = (np.arange(48 * 40).reshape(40, 48) % 251).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "cine.png")
    (vol,) = load_channels(tmp_path / "cine.png")
    assert vol.array.shape == (1, 40, 48) and not vol.is_rgb
    np.testing.assert_array_equal(vol.array[0], grey)
    vent = zf.ZOO / "ventricular_short_axis_3label"
    assert check_bundle_input(load_bundle_manifest(vent), vol, vent) == []
    Image.fromarray(np.stack([grey] * 3, -1)).save(tmp_path / "colour.jpg")
    (rgb,) = load_channels(tmp_path / "colour.jpg")
    assert rgb.is_rgb and rgb.array.shape == (1, 40, 48, 3)


def test_2d_model_without_slice_inferer_runs_slice_by_slice_on_a_3d_study(tmp_path):
    """A 2D bundle whose inferer takes one image (SimpleInferer) gets each slice of a 3D study; labels stack in order.

    Reference: MONAI's runner on each slice file alone.
    """
    import copy
    import json

    import nibabel as nib
    import torch
    from monai.bundle import run as monai_run
    from monai.networks.nets import UNet

    from tests.ai.plugin_factory import TINY_BUNDLE_INFERENCE, TINY_BUNDLE_METADATA
    from meddiag_desktop.ai.bundle_run import run_bundle
    from meddiag_desktop.ai.runner import RunOptions

    cfg = copy.deepcopy(TINY_BUNDLE_INFERENCE)
    cfg["network_def"]["spatial_dims"] = 2
    cfg["preprocessing"]["transforms"] = [t for t in cfg["preprocessing"]["transforms"]
                                          if t["_target_"] not in ("Orientationd", "Spacingd")]
    cfg["inferer"] = {"_target_": "SimpleInferer"}
    meta = copy.deepcopy(TINY_BUNDLE_METADATA)
    meta["network_data_format"]["inputs"]["image"]["spatial_shape"] = [32, 32]
    bundle = tmp_path / "tiny2d"
    (bundle / "configs").mkdir(parents=True)
    (bundle / "models").mkdir()
    (bundle / "configs" / "inference.json").write_text(json.dumps(cfg))
    (bundle / "configs" / "metadata.json").write_text(json.dumps(meta))
    torch.manual_seed(3)
    torch.save(UNet(spatial_dims=2, in_channels=1, out_channels=2, channels=(4, 8), strides=(2,),
                    num_res_units=0).state_dict(), bundle / "models" / "model.pt")

    rng = np.random.default_rng(5)
    arr = (rng.normal(0, 400, (3, 24, 32))).astype(np.float32)  # 3 slices of 32 x 24
    vol = Volume(arr, (0.8, 0.8, 5.0), (10.0, -5.0, 40.0), metadata={"modality": "CT"})
    manifest = load_bundle_manifest(bundle)
    notes = []
    result = run_bundle(bundle, manifest, vol, RunOptions(allow_bundle_code=True), None, None, notes.append)
    assert result.labels.shape == (3, 24, 32)
    assert any("run on each of the 3 slices" in n for n in notes)
    for z in (0, 2):  # first and last: the stacking order
        src = tmp_path / f"slice{z}"
        src.mkdir()
        nib.save(nib.Nifti1Image(arr[z].T.copy(), np.diag([0.8, 0.8, 1.0, 1.0])), str(src / "s.nii.gz"))
        monai_run(run_id="run", config_file=str(bundle / "configs" / "inference.json"),
                  meta_file=str(bundle / "configs" / "metadata.json"), bundle_root=str(bundle),
                  output_dir=str(tmp_path / f"ref{z}"), **{"dataset#data": [{"image": str(src / "s.nii.gz")}]})
        ref = np.asarray(nib.load(str(next((tmp_path / f"ref{z}").rglob("*.nii.gz")))).dataobj)
        np.testing.assert_array_equal(result.labels[z], np.rint(ref).astype(np.uint8).T)
    assert 0 < result.labels.mean() < 1


def test_a_refusal_raised_while_handling_another_error_stays_the_message():
    from meddiag_desktop.ai.failures import describe_failure

    try:
        try:
            {}["spacing"]
        except KeyError:
            raise InputRefused("voxel spacing is missing")
    except InputRefused as err:
        assert describe_failure(err) == ("InputRefused", "voxel spacing is missing")


def test_float_labels_are_rounded_not_truncated(tmp_path):
    """Prostate's inverse transform leaves 1.9999999 where the label is 2; a plain cast made it 1."""
    import SimpleITK as sitk

    from meddiag_desktop.ai.bundle_run import read_label_prediction

    arr = np.array([[[0.0, 0.9999999, 1.9999999, 2.0000002]]], np.float32)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.5, 0.5, 3.0))
    sitk.WriteImage(img, str(tmp_path / "pred.nii.gz"))
    ref = sitk.Image([4, 1, 1], sitk.sitkUInt8)
    ref.SetSpacing((0.5, 0.5, 3.0))
    assert read_label_prediction(tmp_path / "pred.nii.gz", ref).tolist() == [[[0, 1, 2, 2]]]
