"""Layer rules: the import-linter contracts of ``pyproject.toml`` hold (and fail on a wrong import);
start-up never imports torch or monai; the core loads without Qt, VTK or torch; SimpleITK is imported lazily.

The contracts (``[tool.importlinter]``) say which package may import which, and that only
``qt`` imports PySide6 and only ``qt``/``render`` import VTK; this file runs them and
proves they bite, and keeps the checks a static import graph cannot make (what importing
a module loads at run time).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "meddiag_desktop"
QT_VTK = ("PySide6", "vtk", "vtkmodules", "shiboken6")
_LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def _contracts() -> dict[str, str]:
    """id -> name of every contract in pyproject.toml."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c["name"] for c in config["tool"]["importlinter"]["contracts"]}


def _lint(root: Path) -> tuple[int, str]:
    """Run ``lint-imports`` on the package and pyproject.toml in ``root`` (no cache: nothing written there)."""
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb"}
    proc = subprocess.run([sys.executable, "-c", _LINT, "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=240)
    return proc.returncode, proc.stdout + proc.stderr


def _status(output: str, name: str) -> str:
    """KEPT or BROKEN: the verdict printed after contract ``name``."""
    for line in output.splitlines():
        if line.startswith(name + " "):
            return line[len(name):].split()[0]
    raise AssertionError(f"contract {name!r} not reported:\n{output}")


def test_import_contracts_are_kept():
    status, out = _lint(ROOT)
    contracts = _contracts()
    assert {"layers", "no-qt-vtk", "render-no-qt", "core-simpleitk", "user-folders"} <= set(contracts)
    assert status == 0, out
    assert {_status(out, name) for name in contracts.values()} == {"KEPT"}, out


def test_contracts_fail_on_a_wrong_import(tmp_path):
    """A copy of the package with one wrong import per contract: each contract is broken and names the import."""
    shutil.copytree(PKG, tmp_path / "meddiag_desktop", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    wrong = {
        "core/volume.py": "import meddiag_desktop.qt  # deliberately wrong: the core imports the GUI",
        "report/model.py": "import vtk  # deliberately wrong: VTK outside render",
        "render/image_data.py": "import PySide6  # deliberately wrong: Qt in render",
        "core/view_geometry.py": "import SimpleITK  # deliberately wrong: SimpleITK outside label_geometry",
        "risk/registry.py": "import platformdirs  # deliberately wrong: a second home for the user folders",
    }
    for rel, line in wrong.items():
        path = tmp_path / "meddiag_desktop" / rel
        path.write_text(path.read_text(encoding="utf-8") + "\n" + line + "\n", encoding="utf-8")
    (tmp_path / "meddiag_desktop" / "unplaced.py").write_text('"""A new top-level module no layer lists."""\n')

    status, out = _lint(tmp_path)
    names = _contracts()
    assert status != 0, out
    for cid in ("layers", "no-qt-vtk", "render-no-qt", "core-simpleitk", "user-folders"):
        assert _status(out, names[cid]) == "BROKEN", (cid, out)
    assert "meddiag_desktop.core.volume -> meddiag_desktop.qt" in out
    assert "meddiag_desktop.report.model -> vtk" in out
    assert "meddiag_desktop.render.image_data -> PySide6" in out
    assert "meddiag_desktop.core.view_geometry -> SimpleITK" in out
    assert "meddiag_desktop.risk.registry -> platformdirs" in out
    assert "meddiag_desktop.unplaced" in out  # exhaustive: every top-level module must be placed


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_core_and_io_load_without_qt_vtk_torch():
    mods = _modules_after("import meddiag_desktop.core, meddiag_desktop.io, meddiag_desktop.cli")
    assert not {m for m in mods if m.split('.')[0] in QT_VTK + ("torch", "monai")}


def test_gui_start_up_imports_no_torch_or_monai():
    mods = _modules_after("import meddiag_desktop.qt.app, meddiag_desktop.qt.main_window")
    assert "torch" not in mods and "monai" not in mods


def test_core_and_reading_import_simpleitk_only_lazily():
    """SimpleITK is imported inside functions only: in core just by label_geometry (connected components,
    with a numpy fallback; the ``core-simpleitk`` contract), in reading by the registration; importing either
    package never loads it."""
    mods = _modules_after("import meddiag_desktop.reading.registration, meddiag_desktop.reading.hanging, "
                          "meddiag_desktop.reading.priors, meddiag_desktop.core.label_geometry")
    assert "SimpleITK" not in mods and not {m for m in mods if m.split('.')[0] in QT_VTK}
