"""The channel-mapping dialog for multi-input bundles: BraTS channels from the real bundle's metadata."""

from __future__ import annotations

import pytest

from tests.ai import zoo_factory as zf

pytest.importorskip("PySide6")


@pytest.mark.skipif(not zf.ZOO.is_dir(), reason="zoo bundles not found")
def test_brats_channels_preselected_from_series_descriptions(qtbot):
    from PySide6.QtWidgets import QDialogButtonBox

    from meddiag_desktop.ai.bundle import bundle_inputs
    from meddiag_desktop.qt.channel_map_dialog import ChannelMapDialog

    channels = bundle_inputs(zf.ZOO / "brats_mri_segmentation")["image"]
    series = [("1.1", "AX T1 PRE"), ("1.2", "AX T2 FSE"), ("1.3", "AX FLAIR"), ("1.4", "AX T1C POST GD")]
    dlg = ChannelMapDialog("BraTS", channels, series)
    qtbot.addWidget(dlg)
    assert [dlg.combos[i].currentData() for i in range(4)] == ["1.4", "1.1", "1.2", "1.3"]  # T1c, T1, T2, FLAIR
    ok = dlg.buttons.button(QDialogButtonBox.Ok)
    assert ok.isEnabled() and dlg.mapping() == ["1.4", "1.1", "1.2", "1.3"]
    dlg.combos[1].setCurrentIndex(dlg.combos[1].findData("1.4"))  # T1 given the T1c series too
    assert not ok.isEnabled() and "different series" in dlg.problem.text()
    dlg.combos[1].setCurrentIndex(0)
    assert not ok.isEnabled() and "needs a series" in dlg.problem.text()
