"""Without torch (the 'ai' extra), a run says to install meddiag-desktop[ai] instead of a bare ImportError."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import SimpleITK as sitk

from tests.ai.plugin_factory import box_volume
from meddiag_desktop.ai.errors import AIExtraMissing, import_ai
from meddiag_desktop.ai.resample import volume_to_sitk

ROOT = Path(__file__).resolve().parents[2]


def test_import_ai_names_the_extra_for_a_missing_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # what Python does for a module it cannot find, on purpose
    with pytest.raises(AIExtraMissing) as err:
        import_ai("torch")
    assert str(err.value) == ("AI plugins need torch, which is not installed; "
                              "install meddiag-desktop[ai] (pip install 'meddiag-desktop[ai]')")
    assert err.value.name == "torch" and err.value.__cause__ is None


def test_a_broken_torch_is_named_too(monkeypatch, tmp_path):
    (tmp_path / "torch.py").write_text("raise ImportError('libtorch_cpu.so: cannot open shared object file')\n")
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AIExtraMissing, match=r"AI plugins need torch, which cannot be imported \(libtorch_cpu.so: "
                                             r"cannot open shared object file\); install meddiag-desktop\[ai\]"):
        import_ai("torch")


def test_meddiag_infer_without_torch_says_install_the_ai_extra(plugin_factory, tmp_path):
    """The CLI and its worker process both start without torch (a sitecustomize blocks it, as if not installed)."""
    folder = plugin_factory()  # weights written here, where torch is installed; trusted through MEDDIAG_CONFIG_DIR
    vol = box_volume()
    study = tmp_path / "study.nii.gz"
    sitk.WriteImage(volume_to_sitk(vol), str(study))
    shim = tmp_path / "no_torch"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text("import sys\nsys.modules['torch'] = None\nsys.modules['monai'] = None\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(ROOT)]), "XDG_DATA_HOME": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-m", "meddiag_desktop", "infer", str(folder), str(study),
                           "--out", str(tmp_path / "out"), "--device", "cpu", "--json"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1, proc.stderr
    error = json.loads(proc.stdout.strip().splitlines()[-1])["error"]
    assert error == ("PluginFailed: AI plugins need torch, which is not installed; "
                     "install meddiag-desktop[ai] (pip install 'meddiag-desktop[ai]')")
    assert "meddiag infer: PluginFailed: AI plugins need torch" in proc.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
