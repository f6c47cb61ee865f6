"""The report core is Qt-free and cheap to import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "meddiag_desktop" / "report"


def test_report_package_imports_no_qt_or_vtk():
    bad = {}
    for path in PKG.rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        hit = names & {"PySide6", "shiboken6", "vtk", "vtkmodules"}
        if hit:
            bad[path.name] = sorted(hit)
    assert not bad


def test_importing_the_report_api_loads_no_heavy_library():
    code = ("import meddiag_desktop.report as r, meddiag_desktop.report.export, meddiag_desktop.report.cli; "
            "r.Report; import sys; print(' '.join(sorted(sys.modules)))")
    mods = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    heavy = {m.split(".")[0] for m in mods} & {"PySide6", "vtk", "torch", "reportlab", "highdicom", "monai"}
    assert not heavy
