"""db and pacs are Qt-free, and pynetdicom / dicomweb-client are imported only when used."""

from __future__ import annotations

import subprocess
import sys

from tests.test_layers import PKG, QT_VTK, _imports


def test_db_and_pacs_import_no_qt_or_vtk():
    bad = {str(p): _imports(p) & set(QT_VTK) for layer in ("db", "pacs") for p in (PKG / layer).rglob("*.py")}
    assert not {k: v for k, v in bad.items() if v}


def test_network_libraries_are_lazy():
    code = ("import meddiag_desktop.db, meddiag_desktop.pacs, meddiag_desktop.pacs.cli, meddiag_desktop.db.cli, sys;"
            "print(' '.join(sorted(sys.modules)))")
    mods = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert not {m for m in mods if m.split(".")[0] in ("pynetdicom", "dicomweb_client", "requests", "PySide6", "vtk")}
