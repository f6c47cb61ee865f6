"""Layer rules: the core never imports Qt or VTK; start-up never imports torch or monai."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "meddiag_desktop"
QT_VTK = ("PySide6", "vtk", "vtkmodules", "shiboken6")
#: packages that must stay importable without a display
PURE = ["core", "io", "demo", "risk", "ai", "report", "workflow", "reading"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", PURE)
def test_pure_layers_import_no_qt_or_vtk(layer):
    folder = PKG / layer
    if not folder.exists():
        pytest.skip(f"{layer} not present")
    bad = {str(p.relative_to(PKG)): sorted(_imports(p) & set(QT_VTK)) for p in folder.rglob("*.py")}
    bad = {k: v for k, v in bad.items() if v and not Path(k).name.startswith("qt_")}
    assert not bad, f"Qt/VTK imported in the pure layer: {bad}"


def test_render_layer_imports_no_qt():
    bad = {str(p.relative_to(PKG)) for p in (PKG / "render").rglob("*.py") if _imports(p) & {"PySide6", "shiboken6"}}
    assert not bad, f"render/ must not import Qt: {bad}"


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
    with a numpy fallback), in reading by the registration; importing either package never loads it."""
    users = {str(p.relative_to(PKG)) for p in (PKG / "core").rglob("*.py") if "SimpleITK" in _imports(p)}
    assert users <= {"core/label_geometry.py"}, f"core/ must not use SimpleITK: {users}"
    mods = _modules_after("import meddiag_desktop.reading.registration, meddiag_desktop.reading.hanging, "
                          "meddiag_desktop.reading.priors, meddiag_desktop.core.label_geometry")
    assert "SimpleITK" not in mods and not {m for m in mods if m.split('.')[0] in QT_VTK}
