"""Six real MONAI Model Zoo bundles (configs unchanged, seeded random weights): ``meddiag infer`` vs MONAI's runner.

Each runnable bundle is run twice on the same small synthetic input: by
``python -m monai.bundle run`` (overriding only the dataset's data and the
output folder) and by ``meddiag infer BUNDLE ... --json``. The labels must agree
voxel for voxel on the input's grid, and our stdout must be exactly one JSON
object. Bundles that need torchvision (no CPU build on our package registry:
the registry's torchvision wheels are CUDA builds that do not load with CPU
torch) must be refused with an error naming it. Rows of the comparison table are
printed (``pytest -s``) and appended to ``$MEDDIAG_ZOO_TABLE`` when set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.ai import zoo_factory as zf

pytestmark = pytest.mark.skipif(not zf.ZOO.is_dir(), reason=f"zoo bundles not found at {zf.ZOO}")

REPO = Path(__file__).resolve().parents[2]


def _env(tmp: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["XDG_DATA_HOME"] = str(tmp / "xdg-data")  # our plugin logs land here
    env["MEDDIAG_CONFIG_DIR"] = str(tmp / "config")
    env.pop("MEDDIAG_PLUGIN_PATH", None)
    return env


def run_monai(bundle: Path, data: list[dict], out: Path, tmp: Path, run_id: str | None = None):
    """MONAI's own runner, as a bundle's README runs it; returns (returncode, seconds, stderr tail)."""
    cmd = [sys.executable, "-m", "monai.bundle", "run"] + (["--run_id", run_id] if run_id else []) + [
        "--config_file", str(zf.inference_config(bundle)), "--meta_file", str(bundle / "configs" / "metadata.json"),
        "--bundle_root", str(bundle), "--output_dir", str(out), "--dataset#data", repr(data)]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=bundle, env=_env(tmp), timeout=900)
    return p.returncode, time.perf_counter() - t, (p.stdout + p.stderr)[-4000:]


def run_ours(bundle: Path, args: list[str], out: Path, tmp: Path):
    """``meddiag infer BUNDLE ARGS --out OUT --json``: (returncode, seconds, the one JSON object on stdout).

    The bundle is trusted first with ``meddiag plugins trust --yes``, as a user would after reviewing it.
    """
    trust = subprocess.run([sys.executable, "-m", "meddiag_desktop", "plugins", "trust", str(bundle), "--yes"],
                           capture_output=True, text=True, env=_env(tmp), timeout=300)
    assert trust.returncode == 0, trust.stdout + trust.stderr
    cmd = [sys.executable, "-m", "meddiag_desktop", "infer", str(bundle), *args, "--out", str(out), "--json",
           "--device", "cpu"]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=_env(tmp), timeout=900)
    seconds = time.perf_counter() - t
    try:
        summary = json.loads(p.stdout)  # the whole of stdout is one JSON object, nothing before or after
    except ValueError:
        pytest.fail(f"stdout is not one JSON object:\n{p.stdout[:2000]}\nstderr:\n{p.stderr[-2000:]}")
    assert isinstance(summary, dict)
    return p.returncode, seconds, summary


def labels_on_grid(path: Path, reference: Path) -> np.ndarray:
    """A saved label map, rounded to integers, on ``reference``'s grid (nearest neighbour), ``[z, y, x]``."""
    import SimpleITK as sitk

    ref = sitk.ReadImage(str(reference))
    img = sitk.ReadImage(str(path))
    arr = np.rint(sitk.GetArrayFromImage(img).astype(np.float64)).astype(np.uint16)
    lab = sitk.GetImageFromArray(arr)
    lab.CopyInformation(img)
    return sitk.GetArrayFromImage(sitk.Resample(lab, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                                                sitk.sitkUInt16))


def _report(row: dict) -> None:
    line = (f"| {row['bundle']} | {row['kind']} | {row['runs']} | {row['agreement']} | "
            f"{row['ours_s']} | {row['monai_s']} |")
    print("\nZOO", line)
    target = os.environ.get("MEDDIAG_ZOO_TABLE")
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def _parity(name: str, tmp: Path, kind: str, run_id: str | None = None, four_d: bool = False) -> dict:
    bundle = zf.prepare(name, tmp)
    inputs = zf.write_input(name, tmp / "in")
    data = [{"image": str(inputs[0]) if len(inputs) == 1 else [str(p) for p in inputs]}]
    rc_m, t_m, log_m = run_monai(bundle, data, tmp / "out_monai", tmp, run_id)
    assert rc_m == 0, f"MONAI's runner failed on {name}:\n{log_m}"
    if four_d:
        args = [str(zf.write_4d(inputs, tmp / "in" / "all_channels.nii.gz"))]
    else:
        args = [str(inputs[0])]
    rc_o, t_o, summary = run_ours(bundle, args, tmp / "out_ours", tmp)
    assert rc_o == 0, summary
    assert Path(summary["log"]).is_file() and str(tmp) in summary["log"]
    monai_files = sorted(p for p in (tmp / "out_monai").rglob("*.nii.gz"))
    assert len(monai_files) == 1, monai_files
    ours = labels_on_grid(Path(summary["outputs"][0]), inputs[0])
    theirs = labels_on_grid(monai_files[0], inputs[0])
    assert ours.shape == theirs.shape
    agreement = float((ours == theirs).mean())
    _report({"bundle": name, "kind": kind, "runs": "yes", "agreement": f"{agreement:.4f}",
             "ours_s": f"{t_o:.1f}", "monai_s": f"{t_m:.1f}"})
    assert agreement == 1.0, f"{name}: {agreement:.4f} of voxels agree; labels ours {np.unique(ours)}, MONAI {np.unique(theirs)}"
    assert len(np.unique(theirs)) > 1, "the comparison is trivial: MONAI's labels hold one value only"
    return summary


def test_spleen_ct_segmentation_matches_monai_runner(tmp_path):
    """3D segmentation with 4 DataLoader workers (our worker must not be a daemon); JSON stdout; same labels."""
    summary = _parity("spleen_ct_segmentation", tmp_path, "3D segmentation")
    assert summary["labels"] == {"1": "spleen"}
    assert summary["timings"]["infer_s"] < 60, "DataLoader workers should fork, not start new interpreters"


def test_ventricular_2d_bundle_runs_its_evaluating_workflow_slice_by_slice(tmp_path):
    """2D UNet with SliceInferer on a 6-slice short-axis stack; the workflow is 'evaluating', not 'run'."""
    summary = _parity("ventricular_short_axis_3label", tmp_path, "2D segmentation (slice by slice)", run_id="evaluating")
    assert summary["labels"] == {"1": "lv_pool", "2": "myocardium", "3": "rv_pool"}


@pytest.mark.slow
@pytest.mark.timeout(1200)  # SegResNet on its 240x240x160 window, twice, on the CPU
def test_brats_four_channel_4d_input_matches_monai_runner(tmp_path):
    """One 4D NIfTI is split into the four MR channels (T1c, T1, T2, FLAIR); labels 1/2/4 named as written."""
    summary = _parity("brats_mri_segmentation", tmp_path, "3D segmentation, 4 channels", four_d=True)
    assert summary["labels"] == {"1": "Tumor core", "2": "Whole tumor", "4": "Enhancing tumor"}


@pytest.mark.parametrize("name", ["lung_nodule_ct_detection", "breast_density_classification"])
def test_bundles_needing_torchvision_are_refused_naming_it(name, tmp_path):
    """torchvision cannot be installed with CPU torch here: MONAI's runner fails, and our error names the package."""
    try:
        import torchvision  # noqa: F401
    except Exception:  # noqa: BLE001  (ImportError, or a CUDA build failing to register its operators)
        pass
    else:
        pytest.skip("torchvision is installed here; this case is about its absence")
    bundle = zf.copy_bundle(name, tmp_path)
    (bundle / "models" / "model.pt").write_bytes(b"not needed: refused before loading")
    inputs = zf.write_input(name, tmp_path / "in")
    rc_o, t_o, summary = run_ours(bundle, [str(inputs[0])], tmp_path / "out_ours", tmp_path)
    assert rc_o != 0
    assert "needs torchvision" in summary["error"] and "cannot ship in the packaged app" in summary["error"], summary
    rc_m, t_m, log_m = run_monai(bundle, [{"image": str(inputs[0])}], tmp_path / "out_monai", tmp_path,
                                 "evaluating" if name.startswith("breast") else None)
    assert rc_m != 0 and "torchvision" in log_m
    kind = "3D detection" if "detection" in name else "2D classification"
    _report({"bundle": name, "kind": kind, "runs": "no: needs torchvision", "agreement": "n/a",
             "ours_s": f"{t_o:.1f} (refused)", "monai_s": f"{t_m:.1f} (fails)"})


def test_pancreas_dints_root_cause_is_one_readable_line(tmp_path):
    """YAML bundle whose config loads its architecture file onto CUDA: the innermost error, not MONAI's wrapper."""
    bundle = zf.copy_bundle("pancreas_ct_dints_segmentation", tmp_path)
    inputs = zf.write_input("pancreas_ct_dints_segmentation", tmp_path / "in")
    rc_o, t_o, summary = run_ours(bundle, [str(inputs[0])], tmp_path / "out_ours", tmp_path)
    assert rc_o != 0
    err = summary["error"]
    assert "Failed to evaluate" not in err and "\n" not in err, err
    assert "search_code_18590.pt" in err and "does not exist" in err, err
    log = Path(summary["log"]).read_text()
    assert "Traceback" in log and "Failed to evaluate ConfigExpression" in log  # the whole chain is in the log
    rc_m, t_m, log_m = run_monai(bundle, [{"image": str(inputs[0])}], tmp_path / "out_monai", tmp_path)
    assert rc_m != 0 and "Failed to evaluate ConfigExpression" in log_m
    _report({"bundle": "pancreas_ct_dints_segmentation", "kind": "3D segmentation (YAML)",
             "runs": "no: config needs CUDA", "agreement": "n/a", "ours_s": f"{t_o:.1f} (fails)",
             "monai_s": f"{t_m:.1f} (fails)"})
