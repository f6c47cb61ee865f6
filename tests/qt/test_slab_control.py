"""The thick-slab control: tool bar, shortcut and View menu set MIP / MinIP / average in every 2D view."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core import Volume
from meddiag_desktop.core import view_geometry as vg
from meddiag_desktop.core.slab import Slab

pytestmark = pytest.mark.gui


def _upper_right(win, view: str) -> list[str]:
    return win.slice_widgets[view].slice_view.corner_text.GetText(3).split("\n")


def test_shortcut_cycles_projections_and_thickness_applies_to_every_view(qtbot, new_window):
    win = new_window()
    arr = np.zeros((30, 24, 20), np.int16)
    arr[18, 7, 9] = 900
    vol = Volume(arr, (0.7, 0.7, 1.0), metadata={"modality": "CT", "units": "HU"})
    win.show_volume(vol)
    win.state.set_cursor(vol.to_lps((5, 5, 15)))
    control = win.tools.slab_control
    act = win.tools.actions["slab.cycle"]
    assert act.shortcut().toString() == "M"
    assert win.slice_widgets[vg.AXIAL].slice_view.slab is None
    act.trigger()
    for view in vg.VIEWS:
        assert win.slice_widgets[view].slice_view.slab == Slab("mip", 10.0)
        assert "MIP 10.0 mm" in _upper_right(win, view)
    sv = win.slice_widgets[vg.AXIAL].slice_view
    sv.reslice.Update()
    from vtkmodules.util.numpy_support import vtk_to_numpy

    assert vtk_to_numpy(sv.reslice.GetOutput().GetPointData().GetScalars()).max() == 900  # 3 mm away, in
    control.thickness.setValue(4.0)
    assert "MIP 4.0 mm" in _upper_right(win, vg.SAGITTAL)
    sv.reslice.Update()
    assert vtk_to_numpy(sv.reslice.GetOutput().GetPointData().GetScalars()).max() == 0  # out
    act.trigger()
    assert "MinIP 4.0 mm" in _upper_right(win, vg.CORONAL)
    act.trigger()
    assert "Average 4.0 mm" in _upper_right(win, vg.AXIAL)
    act.trigger()  # back to thin slices
    assert all(win.slice_widgets[v].slice_view.slab is None for v in vg.VIEWS)
    assert not control.thickness.isEnabled()
    assert win.tools.actions["slab.cycle"] in win._view_menu.actions()
