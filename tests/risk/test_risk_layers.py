"""The risk core stays Qt-free and light: it imports only the core layer (and pydantic/numpy)."""

import subprocess
import sys

CODE = """
import sys
import meddiag_desktop.risk, meddiag_desktop.risk.cli, meddiag_desktop.risk.image_inputs
from meddiag_desktop.risk import get_model
get_model("breast_fna").formula()
banned = ("PySide6", "vtk", "SimpleITK", "torch", "monai", "pydicom", "sklearn", "scipy",
          "meddiag_desktop.io", "meddiag_desktop.qt", "meddiag_desktop.render", "meddiag_desktop.ai")
print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in banned or m.startswith(banned))))
"""


def test_risk_imports_no_gui_no_io():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
