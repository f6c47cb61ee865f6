"""Quicker imports of VTK's compiled modules (no Qt).

``import vtkmodules.vtkX`` goes through VTK's own import hook, which globs the whole
``vtkmodules`` folder (500+ files) twice for every module it loads: about 60 ms of
start-up for the two dozen modules the viewer needs. :func:`quick_vtk_module_lookup`
gives the hook the same answer from one cached listing of each folder.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["quick_vtk_module_lookup"]


def quick_vtk_module_lookup() -> None:
    """Replace ``vtkmodules.find_lib_path`` by a lookup in a cached folder listing (same results).

    Does nothing when VTK is missing or its hook has no such function (another VTK version).
    """
    try:
        import vtkmodules
    except ImportError:
        return
    original = getattr(vtkmodules, "find_lib_path", None)
    exts = getattr(vtkmodules, "LIB_EXTS", None)
    if original is None or exts is None or getattr(original, "cached_listing", False):
        return
    listings: dict[str, list[str]] = {}

    def find_lib_path(paths, vtk_module_name: str):
        n = len(vtk_module_name)
        for ext in exts:
            for base_path in paths:
                base = str(base_path)
                names = listings.get(base)
                if names is None:
                    try:
                        names = sorted(e for e in os.listdir(base) if not e.startswith("."))
                    except OSError:
                        names = []
                    listings[base] = names
                for name in names:  # what glob(f"{vtk_module_name}[.-]*") matches
                    if name.startswith(vtk_module_name) and len(name) > n and name[n] in ".-":
                        resolved = Path(base, name).resolve()
                        if resolved.is_file() and ext in resolved.suffixes:
                            return str(resolved)
        return None

    find_lib_path.cached_listing = True  # type: ignore[attr-defined]
    find_lib_path.original = original  # type: ignore[attr-defined]
    vtkmodules.find_lib_path = find_lib_path
