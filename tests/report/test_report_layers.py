"""The report core is cheap to import (that it is Qt/VTK-free is the ``no-qt-vtk`` import contract, tests/test_layers.py)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_report_api_loads_no_heavy_library():
    code = ("import meddiag_desktop.report as r, meddiag_desktop.report.export, meddiag_desktop.workflow.cli; "
            "r.Report; import sys; print(' '.join(sorted(sys.modules)))")
    mods = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    heavy = {m.split(".")[0] for m in mods} & {"PySide6", "vtk", "torch", "reportlab", "highdicom", "monai"}
    assert not heavy
