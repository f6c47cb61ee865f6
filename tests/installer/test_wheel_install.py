"""A non-editable install (a wheel) carries the bundled AI plugins and the icons.

The project keeps them in the top-level ``plugins/`` and ``resources/`` folders;
pyproject.toml maps those onto ``meddiag_desktop.plugins`` and
``meddiag_desktop.resources`` so that a wheel installs them inside the package,
and :mod:`meddiag_desktop.paths` / the plugin discovery look there first.

The wheel test builds from a copy of the source (not touching the checkout's
``build/``), installs the wheel into a fresh venv that borrows only the
dependencies from this environment (a ``.pth`` line; this package's own
editable install there is not activated), and runs ``meddiag`` from outside the
repository. About 10-20 s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ["meddiag.chest-ct-seg", "meddiag.nodule-type"]


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_package_list_names_every_package():
    """The explicit ``packages`` list cannot drift from the folders under meddiag_desktop/."""
    setuptools = pytest.importorskip("setuptools")
    found = set(setuptools.find_packages(str(ROOT), include=["meddiag_desktop", "meddiag_desktop.*"]))
    listed = set(_config()["packages"])
    assert found <= listed, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(found - listed)}"
    mapped = {"meddiag_desktop.plugins", "meddiag_desktop.resources"}
    assert listed - found == mapped, f"listed but not found: {sorted(listed - found - mapped)}"
    assert _config()["package-dir"] == {"meddiag_desktop.plugins": "plugins", "meddiag_desktop.resources": "resources"}


def test_source_tree_finds_the_top_level_folders():
    from meddiag_desktop import paths

    if Path(paths.__file__).resolve().parents[1] != ROOT:
        pytest.skip("meddiag_desktop is not imported from this checkout")
    assert paths.resources_dir() == ROOT / "resources"
    assert paths.resource_path("meddiag.svg").is_file()
    assert paths.bundled_plugins_dir() == ROOT / "plugins"


def _copy_source(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    for name in ("meddiag_desktop", "plugins", "resources"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_wheel_installs_plugins_and_resources(tmp_path):
    pytest.importorskip("setuptools")
    src, dist, venv, work = (tmp_path / n for n in ("src", "dist", "venv", "elsewhere"))
    _copy_source(src)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir", "-q", "-w", str(dist), "."],
        cwd=src, check=True, capture_output=True, text=True, timeout=180,
    )
    (wheel,) = dist.glob("meddiag_desktop-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    py = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True, capture_output=True, text=True, timeout=120,
    )
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # numpy, pydicom, torch...
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MEDDIAG_PLUGIN_PATH", "PYTHONHOME")}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))

    probe = (
        "import json, meddiag_desktop, meddiag_desktop.paths as p;"
        "print(json.dumps({'pkg': meddiag_desktop.__file__, 'res': str(p.resources_dir()),"
        " 'svg': str(p.resource_path('meddiag.svg')), 'icon': str(p.resource_path('icons/meddiag-64.png')),"
        " 'plugins': str(p.bundled_plugins_dir())}))"
    )
    got = json.loads(subprocess.run([str(py), "-c", probe], cwd=work, env=env, check=True, capture_output=True,
                                    text=True, timeout=60).stdout)
    pkg = Path(got["pkg"]).parent
    assert pkg == site / "meddiag_desktop", got  # the installed copy, not this checkout
    assert Path(got["res"]) == pkg / "resources"
    assert Path(got["plugins"]) == pkg / "plugins"

    meddiag = venv / "bin" / "meddiag"
    out = subprocess.run([str(meddiag), "plugins", "--json"], cwd=work, env=env, check=True, capture_output=True,
                         text=True, timeout=120).stdout
    plugins = {p["id"]: p for p in json.loads(out)}
    for pid in BUNDLED:
        assert pid in plugins, f"{pid} missing from the installed wheel: {sorted(plugins)}"
        p = plugins[pid]
        assert p["source"] == "bundled" and p["error"] is None, p
        assert p["weights_verified"] is True, p
        assert Path(p["path"]).parent == pkg / "plugins", p

    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]
    assert "meddiag_desktop/resources/meddiag.desktop" in names
