"""MR volume-rendering presets (T1, angiography MIP) beside the CT ones, scaled to the MR's own intensities."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("vtkmodules.vtkRenderingVolume")

from meddiag_desktop.core import Volume  # noqa: E402
from meddiag_desktop.render.volume_view import MR_PRESETS, PRESETS, VolumeView, mr_anchors  # noqa: E402


def _mr_angio() -> Volume:
    rng = np.random.default_rng(1)
    arr = rng.normal(300, 40, size=(30, 40, 40)).clip(0).astype(np.int16)  # stationary tissue
    arr[:, :4] = 0  # air
    arr[:, 20, 10:30] = 2000  # a bright vessel (TOF inflow)
    return Volume(arr, (1.0, 1.0, 1.0), metadata={"modality": "MR", "units": ""})


def test_mr_presets_are_offered_beside_the_ct_ones():
    assert PRESETS[:3] == ("CT bone", "CT soft tissue", "MIP")
    assert set(MR_PRESETS) <= set(PRESETS) and "MR T1" in PRESETS and "MR angiography (MIP)" in PRESETS


def test_angiography_mip_ramps_from_tissue_to_vessels(monkeypatch):
    monkeypatch.setenv("MEDDIAG_VOLUME_MAPPER", "cpu")
    vol = _mr_angio()
    robust_max, p90, p999 = mr_anchors(vol.array)
    assert 300 < p90 < 400 and p999 == pytest.approx(2000.0)  # the vessel is the top 0.1%
    vv = VolumeView()
    vv.set_volume(vol)
    vv.set_preset("MR angiography (MIP)")
    mapper = vv.prop.GetMapper()
    assert mapper.GetBlendMode() == mapper.MAXIMUM_INTENSITY_BLEND
    op = vv.property.GetScalarOpacity()
    assert op.GetValue(300.0) == 0.0 and op.GetValue(2000.0) == pytest.approx(1.0)
    assert vv.property.GetShade() == 0


def test_t1_preset_is_scaled_to_the_volume_and_composited(monkeypatch):
    monkeypatch.setenv("MEDDIAG_VOLUME_MAPPER", "cpu")
    arr = np.zeros((20, 20, 20), np.float32)
    arr[5:15, 5:15, 5:15] = 800.0  # "fat": bright on T1
    arr[8:12, 8:12, 8:12] = 300.0
    vol = Volume(arr, metadata={"modality": "MR", "units": ""})
    vv = VolumeView()
    vv.set_volume(vol)
    vv.set_preset("MR T1")
    assert vv.prop.GetMapper().GetBlendMode() == vv.prop.GetMapper().COMPOSITE_BLEND
    op = vv.property.GetScalarOpacity()
    assert op.GetValue(0.0) == 0.0  # background clear
    assert op.GetValue(800.0) == pytest.approx(0.75)  # the robust maximum: opaque
    assert 0.0 < op.GetValue(300.0) < 0.2  # darker tissue faint
    vv.set_volume(Volume(arr * 10, metadata={"modality": "MR"}))  # another scanner's scale: same look
    assert vv.property.GetScalarOpacity().GetValue(8000.0) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="unknown 3D preset"):
        vv.set_preset("MR T2 fancy")
