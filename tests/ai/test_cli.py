import json

import numpy as np
import SimpleITK as sitk

from tests.ai.plugin_factory import box_volume
from meddiag_desktop.ai.resample import volume_to_sitk
from meddiag_desktop.cli import main


def _nifti(tmp_path, vol):
    path = tmp_path / "study.nii.gz"
    sitk.WriteImage(volume_to_sitk(vol), str(path))
    return path


def test_plugins_json_lists_required_fields(plugin_factory, tmp_path, monkeypatch, capsys):
    folder = plugin_factory()
    broken = tmp_path / "plugins" / "broken"
    broken.mkdir()
    (broken / "plugin.toml").write_text("id = 'x'")
    monkeypatch.setenv("MEDDIAG_PLUGIN_PATH", str(folder.parent))
    assert main(["plugins", "--json"]) == 0
    items = {i["path"]: i for i in json.loads(capsys.readouterr().out)}
    ok = items[str(folder)]
    assert {"id", "name", "version", "task", "intended_use", "weights_verified", "path", "error"} <= set(ok)
    assert ok["id"] == "test.threshold" and ok["weights_verified"] is True and ok["error"] is None
    assert items[str(broken)]["error"]
    assert main(["plugins"]) == 0 and "intended use: testing only" in capsys.readouterr().out


def test_infer_writes_aligned_nifti_and_json(plugin_factory, tmp_path, monkeypatch, capsys):
    t = np.deg2rad(20)
    direction = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
    vol = box_volume(direction=direction, origin=(10, -20, 30))
    folder = plugin_factory(spacing=vol.spacing, orientation="native")
    monkeypatch.setenv("MEDDIAG_PLUGIN_PATH", str(folder.parent))
    study = _nifti(tmp_path, vol)
    out = tmp_path / "out"
    assert main(["infer", "test.threshold", str(study), "--out", str(out), "--device", "cpu", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["labels"] == {"1": "bright"} and res["device"] == "cpu" and res["probabilities"] == {}
    expected_ml = (vol.array > 0).sum() * np.prod(vol.spacing) / 1000
    assert abs(res["volumes_ml"]["bright"] - expected_ml) < 1e-3 * expected_ml
    assert {"load_s", "run_s", "infer_s", "total_s"} <= set(res["timings"])
    label_img = sitk.ReadImage(res["outputs"][0])
    src = sitk.ReadImage(str(study))
    assert np.allclose(label_img.GetOrigin(), src.GetOrigin(), atol=1e-4)
    assert np.allclose(label_img.GetDirection(), src.GetDirection(), atol=1e-6)
    assert np.allclose(label_img.GetSpacing(), src.GetSpacing())
    assert np.array_equal(sitk.GetArrayFromImage(label_img) == 1, sitk.GetArrayFromImage(src) > 0)


def test_infer_plugin_folder_and_classification(plugin_factory, tmp_path, capsys):
    vol = box_volume()
    study = _nifti(tmp_path, vol)
    folder = plugin_factory("test.cls", classifier=True)
    c = ",".join(str(v) for v in vol.center_lps())
    assert main(["infer", str(folder), str(study), "--out", str(tmp_path / "o"), "--point", c, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["probabilities"]["bright"] > 0.9 and res["findings"][0]["top_class"] == "bright"
    assert any(o.endswith("_explanation.nii.gz") for o in res["outputs"])


def test_infer_failures_exit_nonzero_with_reason(plugin_factory, tmp_path, capsys):
    study = _nifti(tmp_path, box_volume())
    assert main(["infer", "no.such.plugin", str(study), "--out", str(tmp_path / "o")]) == 2
    assert "no plugin with id 'no.such.plugin'" in capsys.readouterr().err
    bad = plugin_factory(sha="2" * 64)
    assert main(["infer", str(bad), str(study), "--out", str(tmp_path / "o"), "--json"]) == 1
    captured = capsys.readouterr()
    assert "expected SHA-256 2222" in json.loads(captured.out)["error"] and "SHA-256" in captured.err
    assert main(["infer", str(bad), str(tmp_path / "missing.nii.gz"), "--out", str(tmp_path / "o")]) == 2
