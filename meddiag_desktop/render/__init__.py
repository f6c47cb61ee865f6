"""VTK adapters for the core model (no Qt): 2D slice views and the 3D volume view.

Import the submodules directly (``meddiag_desktop.render.slice_view``); this
package module stays empty so importing it costs nothing.
"""

__all__: list[str] = []
