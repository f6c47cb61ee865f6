"""The 3D view while it is turned: coarser CPU ray casting during the drag, the full-quality frame on release.

Driven through the widget's own VTK interactor (press, moves, release), as the mouse does.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("vtkmodules.vtkRenderingVolume")

from meddiag_desktop.core import Volume  # noqa: E402
from meddiag_desktop.render import volume_view as vv_mod  # noqa: E402


def _ct() -> Volume:
    """A bone ball with a soft-tissue shell: edges and shading that a coarser sampling visibly changes."""
    z, y, x = np.mgrid[0:40, 0:48, 0:48]
    r = np.sqrt((x - 24) ** 2 + (y - 24) ** 2 + ((z - 20) * 1.2) ** 2)
    arr = np.where(r < 12, 900, np.where(r < 18, 60, -1000)).astype(np.int16)
    return Volume(arr, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3), metadata={"modality": "CT", "units": "HU"})


@pytest.fixture
def view3d(qtbot, monkeypatch):
    monkeypatch.setenv("MEDDIAG_VOLUME_MAPPER", "cpu")
    from meddiag_desktop.qt.viewer_state import ViewerState
    from meddiag_desktop.qt.volume_widget import VolumeViewWidget

    state = ViewerState()
    w = VolumeViewWidget(state)
    qtbot.addWidget(w)
    w.resize(240, 240)
    w.show()
    qtbot.waitExposed(w)
    state.set_volume(_ct())
    w.refine()  # compare full-quality frames only
    w.render_now()
    qtbot.wait(10)  # paints Qt owes the new widget
    yield w
    w.Finalize()


def _camera(w):
    cam = w.volume_view.renderer.GetActiveCamera()
    return cam.GetPosition(), cam.GetFocalPoint(), cam.GetViewUp()


def _restore(w, saved) -> None:
    cam = w.volume_view.renderer.GetActiveCamera()
    cam.SetPosition(*saved[0])
    cam.SetFocalPoint(*saved[1])
    cam.SetViewUp(*saved[2])
    w.volume_view.renderer.ResetCameraClippingRange()


def test_turning_the_view_samples_coarser_and_the_release_renders_full_quality(view3d, qtbot):
    w = view3d
    mapper = w.volume_view.prop.GetMapper()
    assert w.volume_view.mapper_kind == "cpu"
    before = w.capture_array()
    assert mapper.GetImageSampleDistance() == 1.0  # the still frame: one ray per pixel
    saved = _camera(w)
    drawn = []  # image sample distance of every frame drawn from here on
    w.render_window.AddObserver("EndEvent", lambda *_: drawn.append(mapper.GetImageSampleDistance()))

    iren = w._Iren
    iren.SetEventInformation(120, 120, 0, 0)
    iren.LeftButtonPressEvent()  # the trackball style starts rotating: interactive update rate
    assert w.volume_view.interactive
    lo, hi = vv_mod.INTERACTIVE_IMAGE_SAMPLE_DISTANCE
    assert (mapper.GetMinimumImageSampleDistance(), mapper.GetMaximumImageSampleDistance()) == (lo, hi)
    for x in (126, 132, 138):
        iren.SetEventInformation(x, 120, 0, 0)
        iren.MouseMoveEvent()  # turns the camera and renders
    assert _camera(w) != saved
    assert len(drawn) == 3 and all(lo <= d <= hi for d in drawn), drawn
    _restore(w, saved)
    w.render_window.Render()  # same camera as the still frame, interactive sampling: a coarser image
    coarse = w.capture_array()
    assert coarse.shape == before.shape and not np.array_equal(coarse, before)

    del drawn[:]
    iren.LeftButtonReleaseEvent()  # back to the still rate: the style renders the full-quality frame
    assert not w.volume_view.interactive
    assert drawn and drawn[0] == 1.0, drawn
    after = w.capture_array()
    assert np.array_equal(after, before)  # pixel for pixel the frame from before the turn


def test_the_gpu_mapper_keeps_its_own_sampling(monkeypatch):
    monkeypatch.setenv("MEDDIAG_VOLUME_MAPPER", "gpu")
    v = vv_mod.VolumeView()
    v.set_volume(_ct())
    v.set_interactive(True)  # no CPU-caster bounds on the GPU mapper: nothing to set, nothing fails
    assert v.interactive and v.mapper_kind == "gpu"
    v.set_interactive(False)
    assert not v.interactive
