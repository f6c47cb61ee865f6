"""The 3D view's draft first frame: unshaded with the CPU ray caster until refine(), whatever preset is picked."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("vtkmodules.vtkRenderingVolume")

from meddiag_desktop.core import Volume  # noqa: E402
from meddiag_desktop.render.volume_view import VolumeView  # noqa: E402


def _ct() -> Volume:
    arr = np.full((20, 24, 28), -1000, np.int16)
    arr[5:15, 6:18, 7:21] = 700  # "bone"
    return Volume(arr, (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), np.eye(3), metadata={"modality": "CT", "units": "HU"})


def test_draft_is_unshaded_until_refined(monkeypatch):
    monkeypatch.setenv("MEDDIAG_VOLUME_MAPPER", "cpu")
    vv = VolumeView()
    vv.set_volume(_ct(), draft=True)
    assert vv.draft and vv.preset == "CT bone"
    assert vv.property.GetShade() == 0
    vv.set_preset("CT soft tissue")  # the window applies its preset after the volume: still a draft
    assert vv.property.GetShade() == 0
    assert vv.refine() is True
    assert not vv.draft and vv.property.GetShade() == 1 and vv.preset == "CT soft tissue"
    assert vv.refine() is False  # nothing left to refine
    vv.set_volume(_ct())  # a volume without draft is shaded from its first frame
    assert not vv.draft and vv.property.GetShade() == 1


def test_gpu_mapper_has_no_draft(monkeypatch):
    monkeypatch.setenv("MEDDIAG_VOLUME_MAPPER", "gpu")
    vv = VolumeView()
    vv.set_volume(_ct(), draft=True)  # the GPU ray caster samples gradients on the fly: no slow first frame
    assert not vv.draft and vv.property.GetShade() == 1


def test_draft_casts_a_ray_every_second_pixel_until_refined(monkeypatch):
    from meddiag_desktop.render.volume_view import DRAFT_IMAGE_SAMPLE_DISTANCE

    monkeypatch.setenv("MEDDIAG_VOLUME_MAPPER", "cpu")
    vv = VolumeView()
    vv.set_volume(_ct(), draft=True)
    m = vv.prop.GetMapper()
    assert (m.GetMinimumImageSampleDistance(), m.GetMaximumImageSampleDistance()) == (DRAFT_IMAGE_SAMPLE_DISTANCE,) * 2
    vv.refine()  # the full-quality frame: one ray per pixel, as VTK renders a still frame
    assert (m.GetMinimumImageSampleDistance(), m.GetMaximumImageSampleDistance()) == (1.0, 10.0)
    vv.set_volume(_ct())
    m = vv.prop.GetMapper()
    assert m.GetMinimumImageSampleDistance() == 1.0
