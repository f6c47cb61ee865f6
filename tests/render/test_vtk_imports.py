"""The cached VTK module lookup finds exactly the files VTK's own (globbing) lookup finds."""

from __future__ import annotations

import os

import pytest

vtkmodules = pytest.importorskip("vtkmodules")

import meddiag_desktop.render  # noqa: E402,F401  (installs the quick lookup)


def test_same_file_as_vtks_lookup_for_every_module():
    quick = vtkmodules.find_lib_path
    assert getattr(quick, "cached_listing", False)
    folder = list(vtkmodules.__path__)
    names = sorted({e.split(".")[0] for e in os.listdir(folder[0]) if e.startswith("vtk") and (".so" in e or ".pyd" in e)})
    assert len(names) > 50
    # prefixes of other modules (vtkIOXML / vtkIOXMLParser) and a name that is no module
    for name in [*names, "vtkIOXML", "vtkIOXMLParser", "vtkRenderingCore", "vtkNoSuchModule"]:
        assert quick(folder, name) == quick.original(folder, name), name
    assert quick(folder, "vtkNoSuchModule") is None
    assert quick(folder, "vtkIOXML").endswith(".so") and "vtkIOXMLParser" not in quick(folder, "vtkIOXML")
