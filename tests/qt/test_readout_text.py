"""The status-bar readout says where the cursor is as a reader would: R/L, A/P, S/I in mm."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core import Volume

pytestmark = pytest.mark.gui


def test_hover_readout_uses_side_letters(qtbot, new_window):
    win = new_window()
    vol = Volume(np.full((4, 8, 8), -650, np.int16), metadata={"modality": "CT", "units": "HU"})
    win.show_volume(vol)
    win._on_hover(np.array([-79.0, -12.0, 3.0]), -650.0, "axial")
    assert win.readout.text() == "-650 HU    R 79.0  A 12.0  S 3.0 mm"
    win._on_hover(None, None, "axial")
    assert win.readout.text() == ""
