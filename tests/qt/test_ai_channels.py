"""GUI: a MONAI bundle with four input channels (BraTS-like: T1c, T1, T2, FLAIR) asks which series of the open
study goes to each channel, preselected from the series descriptions; the reader's choice is what the bundle
receives, channel by channel, in its order."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from qt_helpers import open_and_wait

pytest.importorskip("pytestqt")
pytestmark = pytest.mark.gui

SHAPE = (12, 16, 20)  # z, y, x
#: each series is bright in its own box (z, y, x slices); the bundle labels a voxel k+1 where channel k is bright
BOXES = {"T1c": np.s_[2:5, 2:6, 2:6], "T1": np.s_[2:5, 9:13, 2:6], "T2": np.s_[7:10, 2:6, 12:17],
         "FLAIR": np.s_[7:10, 9:13, 12:17]}
CHANNELS = ["T1c", "T1", "T2", "FLAIR"]


def _write_study(folder: Path) -> None:
    """Four MR series of one study in one folder, in an order unlike the bundle's channels."""
    from pydicom.uid import generate_uid

    from meddiag_desktop.io.dicom_write import write_series

    study, frame = generate_uid(), generate_uid()
    for number, desc in enumerate(["FLAIR", "T1", "T2", "T1c"], start=1):
        arr = np.full(SHAPE, 10, np.int16)
        arr[BOXES[desc]] = 1000
        write_series(arr, folder / desc, spacing=(1.5, 1.5, 2.0), origin=(-15.0, -12.0, 0.0), modality="MR",
                     study_uid=study, frame_of_reference_uid=frame, series_number=number, series_description=desc,
                     study_description="Brain MR", file_names=[f"{desc}_{i:02d}.dcm" for i in range(SHAPE[0])])


def _write_bundle(root: Path) -> Path:
    """A 4-channel MONAI bundle: a 1x1x1 convolution passing channel k to output k+1 (background 0.5), argmax."""
    import torch

    from tests.ai.plugin_factory import TINY_BUNDLE_INFERENCE, TINY_BUNDLE_METADATA, trust_for_tests

    config = json.loads(json.dumps(TINY_BUNDLE_INFERENCE))
    config["network_def"] = {"_target_": "torch.nn.Conv3d", "in_channels": 4, "out_channels": 5, "kernel_size": 1}
    config["preprocessing"]["transforms"] = [
        {"_target_": "LoadImaged", "keys": "image"},
        {"_target_": "EnsureChannelFirstd", "keys": "image"},
        {"_target_": "ScaleIntensityRanged", "keys": "image", "a_min": 0, "a_max": 1000, "b_min": 0.0, "b_max": 1.0,
         "clip": True},
        {"_target_": "EnsureTyped", "keys": "image"}]
    config["inferer"] = {"_target_": "SimpleInferer"}
    config["postprocessing"]["transforms"] = [
        {"_target_": "AsDiscreted", "keys": "pred", "argmax": True},
        {"_target_": "SaveImaged", "keys": "pred", "output_dir": "@output_dir", "output_postfix": "seg",
         "resample": False, "separate_folder": False}]
    meta = json.loads(json.dumps(TINY_BUNDLE_METADATA))
    meta["name"], meta["task"] = "Four-channel test bundle", "Brain MR segmentation"
    meta["network_data_format"]["inputs"]["image"].update(
        format="magnitude", modality="MR", num_channels=4, channel_def={str(i): c for i, c in enumerate(CHANNELS)},
        value_range=[0, 1000])
    meta["network_data_format"]["outputs"]["pred"].update(
        num_channels=5, channel_def={"0": "background", **{str(i + 1): f"{c} bright" for i, c in enumerate(CHANNELS)}})
    (root / "configs").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "configs" / "inference.json").write_text(json.dumps(config, indent=1))
    (root / "configs" / "metadata.json").write_text(json.dumps(meta, indent=1))
    net = torch.nn.Conv3d(4, 5, 1)
    with torch.no_grad():
        net.weight.zero_()
        net.bias.zero_()
        net.bias[0] = 0.5
        for k in range(4):
            net.weight[k + 1, k] = 1.0
    torch.save(net.state_dict(), root / "models" / "model.pt")
    trust_for_tests(root)
    return root


def test_four_channel_bundle_asks_for_series_and_runs_in_the_chosen_order(qtbot, main_window, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("monai")
    from PySide6.QtWidgets import QDialogButtonBox

    from meddiag_desktop.ai.discovery import plugin_from_folder

    win = main_window
    _write_study(tmp_path / "mr")
    info = plugin_from_folder(_write_bundle(tmp_path / "plugins" / "four_channel"), "user")
    assert info.ok, info.error
    vol = open_and_wait(qtbot, win, tmp_path / "mr")
    ai = win.panels.ai
    ai._provider = lambda: [info]
    ai._run_kw.update(start_timeout=120, stall_timeout=120)
    ai.refresh_plugins()
    assert ai.current_plugin is info
    ai.run_button.click()
    dlg = ai.channel_dialog
    assert dlg is not None and dlg.isVisible()
    labels = [dlg.combos[i].currentText() for i in range(4)]
    assert [lab.split(" — ")[0] for lab in labels] == ["#4 T1c", "#2 T1", "#3 T2", "#1 FLAIR"]  # by description
    if os.environ.get("MEDDIAG_SHOTS"):
        dlg.grab().save(os.path.join(os.environ["MEDDIAG_SHOTS"], "channel_dialog.png"))
    # the reader swaps T2 and FLAIR: the bundle must receive the FLAIR series as its T2 channel and vice versa
    t2, flair = dlg.combos[2].currentData(), dlg.combos[3].currentData()
    dlg.combos[2].setCurrentIndex(dlg.combos[2].findData(flair))
    dlg.combos[3].setCurrentIndex(dlg.combos[3].findData(t2))
    dlg.buttons.button(QDialogButtonBox.Ok).click()
    qtbot.waitUntil(lambda: ai.run_record is not None or ai.banner.isVisible(), timeout=180000)
    assert not ai.banner.isVisible(), ai.banner.label.text()
    run = ai.run_record
    assert [(k, ch, lab.split(" — ")[0]) for k, ch, lab in ai.last_channels] == [
        ("image", "T1c", "#4 T1c"), ("image", "T1", "#2 T1"), ("image", "T2", "#1 FLAIR"), ("image", "FLAIR", "#3 T2")]
    out = run.result.labels
    assert out.shape == vol.array.shape
    assert (out[BOXES["T1c"]] == 1).all() and (out[BOXES["T1"]] == 2).all()
    assert (out[BOXES["FLAIR"]] == 3).all() and (out[BOXES["T2"]] == 4).all()  # swapped, as chosen
    inside = np.zeros(SHAPE, bool)
    for box in BOXES.values():
        inside[box] = True
    assert (out[~inside] == 0).all()
    assert run.result.label_names[3] == "T2 bright" and not win.error_banner.isVisible()
    # the risk panel re-derives its inputs after each result and decision: let it finish before the window closes
    qtbot.waitUntil(lambda: not win.panels._risk_timer.isActive() and not win.is_busy(), timeout=30000)


def test_too_few_series_is_a_clear_error(qtbot, main_window, ct_series, tmp_path):
    pytest.importorskip("torch")
    from meddiag_desktop.ai.discovery import plugin_from_folder

    win = main_window
    info = plugin_from_folder(_write_bundle(tmp_path / "plugins" / "four_channel"), "user")
    open_and_wait(qtbot, win, ct_series)
    ai = win.panels.ai
    ai._provider = lambda: [info]
    ai.refresh_plugins()
    ai.run_button.click()
    assert ai.channel_dialog is None and not ai.is_busy()
    assert ("Four-channel test bundle needs 4 series (T1c, T1, T2, FLAIR); the open study has 1."
            in ai.banner.label.text())
