"""pynetdicom / dicomweb-client are imported only when used (that db and pacs are Qt-free is the
``no-qt-vtk`` import-linter contract of pyproject.toml, run by tests/test_layers.py)."""

from __future__ import annotations

import subprocess
import sys



def test_network_libraries_are_lazy():
    code = ("import meddiag_desktop.db, meddiag_desktop.pacs, meddiag_desktop.pacs.cli, meddiag_desktop.db.cli, sys;"
            "print(' '.join(sorted(sys.modules)))")
    mods = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert not {m for m in mods if m.split(".")[0] in ("pynetdicom", "dicomweb_client", "requests", "PySide6", "vtk")}
