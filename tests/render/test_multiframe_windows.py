"""Enhanced multi-frame images open at their own FrameVOILUTSequence window; CT secondary captures are not HU."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

pytest.importorskip("vtkmodules.vtkRenderingCore")

from meddiag_desktop import io  # noqa: E402
from meddiag_desktop.core import Volume  # noqa: E402
from meddiag_desktop.core import view_geometry as vg  # noqa: E402


def _testdata(name: str) -> str:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} not available")
    return path


def test_ect_supplemental_opens_at_its_frame_voi_window():
    vol = io.load(_testdata("eCT_Supplemental.dcm"))  # shared FrameVOILUTSequence: centre 49, width 102
    first = vg.default_window(vol)
    assert (first.width, first.level) == (102.0, 49.0)
    assert vg.window_presets_for(vol)[0] == first  # offered first, before the named CT presets
    assert vol.metadata["units"] == "HU"


def test_per_frame_voi_comes_before_shared_and_explanations_name_it(tmp_path):
    src = pydicom.dcmread(_testdata("eCT_Supplemental.dcm"))
    item = pydicom.Dataset()
    item.WindowCenter, item.WindowWidth, item.WindowCenterWidthExplanation = [-600, 40], [1500, 400], ["LUNG", "SOFT"]
    src.PerFrameFunctionalGroupsSequence[0].FrameVOILUTSequence = pydicom.Sequence([item])
    path = tmp_path / "ect_perframe.dcm"
    src.save_as(path)
    presets = io.load(path).window_presets
    assert [(p.name, p.width, p.level) for p in presets] == [
        ("LUNG", 1500.0, -600.0), ("SOFT", 400.0, 40.0), ("Frame VOI 3", 102.0, 49.0)]


def test_ct_colour_secondary_capture_is_not_hu(tmp_path):
    src = pydicom.dcmread(_testdata("SC_rgb.dcm"))  # RGB secondary capture
    src.Modality = "CT"
    path = tmp_path / "ct_sc_rgb.dcm"
    src.save_as(path)
    vol = io.load(path)
    assert vol.metadata["units"] == ""
    assert not any(p.name == "Lung" for p in vg.window_presets_for(vol))
    grey = Volume(np.zeros((2, 2, 2), np.int16), metadata={"modality": "CT"})  # no units given: a CT is HU
    assert any(p.name == "Lung" for p in vg.window_presets_for(grey))
    rgb = Volume(np.zeros((1, 2, 2, 3), np.uint8), metadata={"modality": "CT"})
    assert not any(p.name == "Lung" for p in vg.window_presets_for(rgb))
