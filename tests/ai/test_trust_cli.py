"""``meddiag plugins trust/untrust``, trust in ``meddiag plugins [--json]``, ``infer`` refusing untrusted plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def meddiag(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "meddiag_desktop", *map(str, args)], capture_output=True, text=True,
                          input=stdin, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _study(tmp_path: Path) -> Path:
    import SimpleITK as sitk

    from meddiag_desktop.ai.resample import volume_to_sitk
    from tests.ai.plugin_factory import box_volume

    path = tmp_path / "ct.nii.gz"
    sitk.WriteImage(volume_to_sitk(box_volume()), str(path))
    return path


def test_trust_shows_hash_and_files_and_records_consent(plugin_factory):
    from meddiag_desktop.ai.trust import hash_tree, store_path, tree_digest

    folder = plugin_factory(trust=False)
    digest = tree_digest(hash_tree(folder))
    run = meddiag("plugins", "trust", folder, stdin="")  # no terminal, no --yes: nothing recorded
    assert run.returncode == 2 and "--yes" in run.stderr and not store_path().exists()
    assert f"sha256 of all 4 files: {digest}" in run.stdout and "tinyplugin/model.py" in run.stdout

    run = meddiag("plugins", "trust", folder, "--yes", "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["trusted"] and out["sha256"] == digest and out["basis"] == "user" and out["trusted_by"]
    assert {r["path"]: r["status"] for r in out["files"]} == dict.fromkeys(hash_tree(folder), "ok")
    assert json.loads(store_path().read_text())["plugins"][str(folder.resolve())]["via"] == "cli"

    run = meddiag("plugins", "untrust", folder)
    assert run.returncode == 0 and "consent withdrawn" in run.stdout
    assert json.loads(store_path().read_text())["plugins"] == {}


def test_listing_shows_trust_state_of_every_file(plugin_factory, _isolated_plugin_places, monkeypatch, tmp_path):
    from tests.ai.plugin_factory import make_plugin

    user = make_plugin(_isolated_plugin_places / "plugins", "u.listed", trust=False)
    # the subprocess cannot see this test's patched platformdirs: point it at the folder by MEDDIAG_PLUGIN_PATH
    monkeypatch.setenv("MEDDIAG_PLUGIN_PATH", str(user))
    items = {i["id"]: i for i in json.loads(meddiag("plugins", "--json").stdout)}
    assert items["meddiag.chest-ct-seg"]["trusted"] and items["meddiag.chest-ct-seg"]["trust"]["basis"] == "lock"
    assert all(r["status"] == "ok" for r in items["meddiag.chest-ct-seg"]["trust"]["files"])
    it = items["u.listed"]
    assert it["trusted"] is False and it["trust"]["state"] == "not_trusted"
    assert f"meddiag plugins trust {user}" in it["trust"]["message"]
    run = meddiag("infer", "u.listed", _study(tmp_path), "--out", tmp_path / "out", "--json")  # by id, from the env path
    assert run.returncode == 1 and json.loads(run.stdout)["error"].startswith("PluginUntrusted: plugin Test u.listed at ")
    assert meddiag("plugins", "trust", "u.listed", "--yes").returncode == 0  # by id
    text = meddiag("plugins").stdout
    assert "trusted by its lock file" in text and "      ok          tinyplugin/model.py" in text
    (user / "tinyplugin" / "model.py").write_text("# edited\n")
    text = meddiag("plugins").stdout
    assert "NOT TRUSTED (changed)" in text and "      changed     tinyplugin/model.py" in text


def test_infer_refuses_an_untrusted_plugin_with_valid_json(plugin_factory, tmp_path):
    folder = plugin_factory(trust=False)
    study = _study(tmp_path)
    run = meddiag("infer", folder, study, "--out", tmp_path / "out", "--json")
    assert run.returncode == 1
    assert json.loads(run.stdout)["error"] == (f"PluginUntrusted: plugin Test test.threshold at {folder.resolve()} is "
                                               f"not trusted: run `meddiag plugins trust {folder.resolve()}` or "
                                               "confirm in the app")
    assert not (tmp_path / "out").exists()
    assert meddiag("plugins", "trust", folder, "--yes").returncode == 0
    run = meddiag("infer", folder, study, "--out", tmp_path / "out", "--json", "--device", "cpu")
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.strip().splitlines()[-1])["plugin"] == "test.threshold"
