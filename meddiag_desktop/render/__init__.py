"""VTK adapters for the core model (no Qt): 2D slice views and the 3D volume view.

Import the submodules directly (``meddiag_desktop.render.slice_view``); this
package module only makes VTK's module lookup quick (:mod:`._vtk_imports`).
"""

from meddiag_desktop.render._vtk_imports import quick_vtk_module_lookup

quick_vtk_module_lookup()

__all__: list[str] = []
