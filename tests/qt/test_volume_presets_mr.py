"""An MR study gets an MR 3D preset, a CT study a CT one; the choice within a family is kept."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core import Volume

pytestmark = pytest.mark.gui


def test_preset_family_follows_the_modality(qtbot, new_window):
    win = new_window()
    combo = win.volume_presets
    assert [combo.itemText(i) for i in range(combo.count())][-2:] == ["MR T1", "MR angiography (MIP)"]
    mr = Volume(np.full((8, 8, 8), 100, np.int16), metadata={"modality": "MR", "units": ""})
    win.show_volume(mr)
    assert combo.currentText() == "MR T1" and win.volume_widget.volume_view.preset == "MR T1"
    combo.setCurrentText("MR angiography (MIP)")
    win.show_volume(mr)
    assert combo.currentText() == "MR angiography (MIP)"  # kept within the family
    win.show_volume(Volume(np.zeros((8, 8, 8), np.int16), metadata={"modality": "CT", "units": "HU"}))
    assert combo.currentText() == "CT bone"
