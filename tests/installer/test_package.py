"""Build the Linux package and check it offline, in an empty folder and environment.

Slow (a PyInstaller build of Qt, VTK and PyTorch: several minutes) and so skipped
unless ``MEDDIAG_RUN_SLOW=1``; ``MEDDIAG_REUSE_BUILD=1`` repackages the last
PyInstaller output instead of rebuilding. The check itself is
``installer/check_package.sh`` (no network via ``unshare -n``, ``env -i``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("MEDDIAG_RUN_SLOW") != "1", reason="packaging build: set MEDDIAG_RUN_SLOW=1"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux package is built on Linux"),
    pytest.mark.timeout(3600),
]


def _tarball() -> Path:
    from importlib.metadata import version
    import platform

    return ROOT / "dist" / f"meddiag-{version('meddiag-desktop')}-linux-{platform.machine()}.tar.gz"


@pytest.fixture(scope="module")
def package() -> Path:
    if shutil.which("xvfb-run") is None:
        pytest.skip("needs xvfb-run")
    args = ["bash", str(ROOT / "installer" / "build.sh"), "--python", sys.executable]
    if os.environ.get("MEDDIAG_REUSE_BUILD") == "1":
        args.append("--reuse")
    build = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    assert build.returncode == 0, f"build failed:\n{build.stdout[-4000:]}\n{build.stderr[-4000:]}"
    print(build.stdout[-1500:])
    tarball = _tarball()
    assert tarball.is_file()
    return tarball


def test_package_is_lean(package):
    names = subprocess.run(["tar", "-tzf", str(package)], capture_output=True, text=True, check=True).stdout.split()
    leftovers = [n for n in names if "__pycache__" in n or "/tests/" in n or n.endswith((".a", ".h", ".pyi"))
                 or "torch/include/" in n or "torch/bin/test_" in n]
    assert not leftovers, f"build leftovers in the package: {leftovers[:10]}"
    assert package.stat().st_size < 1200 * 2**20, f"package grew to {package.stat().st_size / 2**20:.0f} MiB"
    top = {n.split("/")[1] for n in names if n.count("/") >= 1 and n.split("/")[1]}
    assert {"meddiag", "install.sh", "meddiag.desktop", "meddiag.png", "app", "VERSION"} <= top


def test_package_runs_offline_from_an_empty_folder(package):
    check = subprocess.run(["bash", str(ROOT / "installer" / "check_package.sh"), str(package)],
                           cwd=ROOT, capture_output=True, text=True, timeout=1800)
    print(check.stdout)
    assert check.returncode == 0, f"{check.stdout[-6000:]}\n{check.stderr[-3000:]}"
    assert "check: PASSED" in check.stdout


def test_install_script_installs_and_uninstalls(package, tmp_path):
    subprocess.run(["tar", "-xzf", str(package), "-C", str(tmp_path)], check=True)
    (unpacked,) = tmp_path.glob("meddiag-*")
    prefix = tmp_path / "prefix"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home")}
    subprocess.run([str(unpacked / "install.sh"), "--prefix", str(prefix)], check=True, env=env, capture_output=True)
    launcher = prefix / "bin" / "meddiag"
    desktop = (prefix / "share" / "applications" / "meddiag.desktop").read_text()
    assert f"Exec=\"{prefix}/lib/meddiag-desktop/meddiag\" %f" in desktop
    assert (prefix / "share" / "icons" / "hicolor" / "256x256" / "apps" / "meddiag.png").is_file()
    out = subprocess.run([str(launcher), "--version"], check=True, env=env, capture_output=True, text=True)
    assert out.stdout.strip().startswith("meddiag ")
    subprocess.run([str(unpacked / "install.sh"), "--prefix", str(prefix), "--uninstall"], check=True, env=env,
                   capture_output=True)
    assert not launcher.exists() and not (prefix / "lib" / "meddiag-desktop").exists()


def _tiny_monai_bundle(root: Path) -> Path:
    """The AI tests' tiny MONAI bundle (3D UNet, random weights) as users install them: configs/ and models/."""
    pytest.importorskip("torch")
    pytest.importorskip("monai.networks.nets")
    from tests.ai.plugin_factory import write_tiny_bundle

    return write_tiny_bundle(root, trust=False)  # the packaged app records consent itself, below


def test_packaged_app_runs_a_users_monai_bundle_offline(package, tmp_path):
    """A MONAI bundle the user installed runs in the packaged app (MONAI, ignite and all of
    MONAI's components are bundled), on an RLE series, with no network and no env of ours."""
    bundle = _tiny_monai_bundle(tmp_path / "tiny_bundle")
    subprocess.run(["tar", "-xzf", str(package), "-C", str(tmp_path)], check=True)
    (unpacked,) = tmp_path.glob("meddiag-*")
    series = tmp_path / "rle"
    subprocess.run(["/usr/bin/python3", "-I", "-S", str(ROOT / "installer" / "make_rle_series.py"), str(series)],
                   check=True, capture_output=True)
    nonet = ["unshare", "-n", "--"] if subprocess.run(["unshare", "-n", "true"]).returncode == 0 else []
    out = tmp_path / "out"
    env = ["env", "-i", "PATH=/usr/bin:/bin", f"HOME={tmp_path / 'home'}", "LANG=C.UTF-8"]
    trust = subprocess.run([*env, str(unpacked / "meddiag"), "plugins", "trust", str(bundle), "--yes"],
                           capture_output=True, text=True, timeout=300)  # no bundle code runs without consent
    assert trust.returncode == 0, trust.stderr[-3000:]
    run = subprocess.run(
        [*nonet, "env", "-i", "PATH=/usr/bin:/bin", f"HOME={tmp_path / 'home'}", "LANG=C.UTF-8",
         str(unpacked / "meddiag"), "infer", str(bundle), str(series), "--out", str(out), "--device", "cpu", "--json"],
        capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert list(out.glob("*_labels.nii.gz"))
