"""A real MONAI zoo bundle with a ``$`` expression that runs a shell command: no consent, no command.

The bundle is spleen_ct_segmentation from the MONAI Model Zoo (configs unchanged,
``/work/shared/zoo_bundles``), copied to a temporary folder, with one expression
added to its ``initialize`` list. Untrusted: every way of starting a run refuses it
before MONAI parses the config, and the marker file is never written. Trusted: MONAI
evaluates the config (the marker appears). One byte changed in a config: refused again,
naming the file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from meddiag_desktop.ai.runner import RunOptions, run_plugin
from meddiag_desktop.ai.trust import PluginUntrusted, trust_plugin, untrust_plugin
from tests.ai.plugin_factory import box_volume

ROOT = Path(__file__).resolve().parents[2]
#: ``<repo>/../shared/zoo_bundles`` (a worktree sits one level deeper: its grandparent holds shared/)
ZOO = next((p / "shared" / "zoo_bundles" for p in (ROOT.parent, ROOT.parent.parent)
            if (p / "shared" / "zoo_bundles").is_dir()), ROOT.parent / "shared" / "zoo_bundles")

pytestmark = pytest.mark.skipif(not (ZOO / "spleen_ct_segmentation").is_dir(), reason="zoo bundles not beside the checkout")


@pytest.fixture
def evil_bundle(tmp_path):
    """spleen_ct_segmentation plus ``$__import__('os').system('touch MARKER')``; returns (folder, marker)."""
    folder = tmp_path / "user-plugins" / "spleen_ct_segmentation"
    shutil.copytree(ZOO / "spleen_ct_segmentation", folder)
    marker = tmp_path / "MARKER"
    config = folder / "configs" / "inference.json"
    data = json.loads(config.read_text())
    # the second expression ends the run there: the rest of the bundle is not what is tested
    data["initialize"] = [f"$__import__('os').system('touch {marker}')", "$int('stop here')"] + list(
        data.get("initialize", []))
    config.write_text(json.dumps(data, indent=4))
    return folder, marker


def _infer(folder: Path, study: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "meddiag_desktop", "infer", str(folder), str(study), "--out", str(out),
                           "--device", "cpu", "--json", "--timeout", "120"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _study(tmp_path: Path) -> Path:
    import SimpleITK as sitk

    from meddiag_desktop.ai.resample import volume_to_sitk

    path = tmp_path / "ct.nii.gz"
    sitk.WriteImage(volume_to_sitk(box_volume(shape=(24, 32, 32))), str(path))
    return path


def test_untrusted_bundle_is_refused_everywhere_and_its_code_never_runs(evil_bundle, tmp_path):
    from meddiag_desktop.ai.isolation import run_isolated

    folder, marker = evil_bundle
    vol = box_volume(shape=(24, 32, 32))
    expected = (f"bundle Spleen CT segmentation at {folder} is not trusted: run `meddiag plugins trust {folder}` "
                "or confirm in the app")
    with pytest.raises(PluginUntrusted) as err:  # the app's path: parent process, before a worker starts
        run_isolated(folder, vol, start_timeout=60, stall_timeout=60)
    assert str(err.value) == expected
    with pytest.raises(PluginUntrusted):  # the worker's own check, before MONAI sees the config
        run_plugin(folder, vol, RunOptions(device="cpu", allow_bundle_code=True))
    run = _infer(folder, _study(tmp_path), tmp_path / "out")  # the CLI, with --json
    assert run.returncode != 0
    assert json.loads(run.stdout.strip().splitlines()[-1])["error"] == f"PluginUntrusted: {expected}"
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True
    assert not marker.exists()


def test_trusted_bundle_runs_and_one_changed_byte_needs_trust_again(evil_bundle, tmp_path):
    folder, marker = evil_bundle
    vol = box_volume(shape=(24, 32, 32))
    status = trust_plugin(folder, via="tests")
    assert status.trusted and "configs/inference.json" in status.files
    with pytest.raises(Exception, match="stop here"):  # in-process like the worker: MONAI runs its initialize list
        run_plugin(folder, vol, RunOptions(device="cpu", allow_bundle_code=True))
    assert marker.exists()
    marker.unlink()

    config = folder / "configs" / "inference.json"
    raw = bytearray(config.read_bytes())
    raw[raw.index(b"164")] = ord("2")  # ScaleIntensityRanged a_max 164 -> 264: one byte
    config.write_bytes(bytes(raw))
    with pytest.raises(PluginUntrusted) as err:
        run_plugin(folder, vol, RunOptions(device="cpu", allow_bundle_code=True))
    assert "it changed since it was trusted" in str(err.value) and "changed: configs/inference.json" in str(err.value)
    assert err.value.changes == {"changed": ["configs/inference.json"]}
    added = folder / "scripts" / "extra.py"  # a new script is a change too
    added.parent.mkdir()
    added.write_text("import os\n")
    with pytest.raises(PluginUntrusted, match="added: scripts/extra.py"):
        run_plugin(folder, vol, RunOptions(device="cpu", allow_bundle_code=True))
    assert not marker.exists()
    assert untrust_plugin(folder) and not untrust_plugin(folder)
