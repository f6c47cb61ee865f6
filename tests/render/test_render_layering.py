"""Layer rules: view geometry is pure numpy; the render layer never imports Qt; the GUI module is light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {m.split(".")[0] for m in out.split()}


def test_view_geometry_imports_numpy_only():
    mods = _modules_after("import meddiag_desktop.core.view_geometry")
    assert not mods & {"vtkmodules", "vtk", "PySide6", "shiboken6"}


def test_render_layer_never_imports_qt():
    mods = _modules_after(
        "import meddiag_desktop.render.slice_view, meddiag_desktop.render.volume_view, meddiag_desktop.render.image_data"
    )
    assert "vtkmodules" in mods
    assert not mods & {"PySide6", "shiboken6", "torch", "monai"}


def test_gui_entry_module_is_light():
    mods = _modules_after("import meddiag_desktop.qt.app")
    assert not mods & {"vtkmodules", "torch", "monai", "pydicom", "SimpleITK"}
