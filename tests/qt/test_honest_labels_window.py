"""An image without patient geometry opens in one view, titled honestly, with the reason in the warnings."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel

from meddiag_desktop import io
from meddiag_desktop.core import view_geometry as vg

pytestmark = pytest.mark.gui


def test_emri_small_opens_in_one_view_without_reformats(qtbot, new_window):
    from pydicom.data import get_testdata_file

    path = get_testdata_file("emri_small.dcm")
    if path is None:
        pytest.skip("pydicom-data's emri_small.dcm is not available")
    win = new_window()
    win.show_volume(io.load(path))
    assert win.layout_name == vg.AXIAL
    assert win.frames[vg.AXIAL].isVisible()
    assert not any(win.frames[k].isVisible() for k in (vg.CORONAL, vg.SAGITTAL, "3d"))
    assert win.frames[vg.AXIAL].findChild(QLabel, "view_title").text() == "Image (no patient orientation)"
    assert vg.NO_GEOMETRY_REASON in win.warnings.volume_warnings
    items = [win.warnings.list.item(i).text() for i in range(win.warnings.list.count())]
    assert any(vg.NO_GEOMETRY_REASON in t for t in items)
    win.set_layout("four")  # asking for reformats keeps the one view
    assert win.layout_name == vg.AXIAL
    assert not win.frames["3d"].isVisible()
