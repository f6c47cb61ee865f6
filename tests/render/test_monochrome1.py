"""MONOCHROME1 (low values white, as in CR/DX) loads with its stored values and is drawn inverted.

As in Weasis and OHIF the voxels are never rewritten: the value under the cursor
and the window presets stay in stored units; only the 2D views' grey ramp runs
white to black.
"""

from __future__ import annotations

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")

from meddiag_desktop.core import Volume  # noqa: E402

LOW, HIGH = 100, 900


def write_cr(path, photometric: str = "MONOCHROME1", window: tuple[float, float] | None = (1000.0, 500.0)):
    """A 64x64 unsigned 16-bit CR image: left half LOW, right half HIGH."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"  # Computed Radiography Image Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "CR"
    ds.PatientName = "Mono^One"
    ds.PatientID = "M1"
    ds.InstanceNumber = 1
    ds.PixelSpacing = [0.2, 0.2]
    pixels = np.full((64, 64), LOW, np.uint16)
    pixels[:, 32:] = HIGH
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    if window is not None:
        ds.WindowWidth, ds.WindowCenter = window
    ds.PixelData = pixels.tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return pixels


def test_monochrome1_loads_stored_values_and_flag(tmp_path):
    from meddiag_desktop.io import load

    path = tmp_path / "cr.dcm"
    pixels = write_cr(path)
    vol = load(path)
    assert vol.metadata["photometric"] == "MONOCHROME1"
    assert vol.metadata["monochrome1"] is True
    np.testing.assert_array_equal(vol.array[0], pixels)  # never inverted in memory
    # the readout under the cursor is the stored value
    assert vol.value_at(vol.to_lps((5, 5, 0))) == LOW
    assert vol.value_at(vol.to_lps((50, 5, 0))) == HIGH
    # the VOI window from the file is a preset, in stored units
    assert [(p.width, p.level) for p in vol.window_presets] == [(1000.0, 500.0)]


def test_monochrome2_is_not_flagged(tmp_path):
    from meddiag_desktop.io import load

    path = tmp_path / "cr2.dcm"
    write_cr(path, "MONOCHROME2")
    vol = load(path)
    assert vol.metadata["monochrome1"] is False


def test_is_monochrome1_rules():
    pytest.importorskip("vtkmodules.vtkImagingCore")
    from meddiag_desktop.render.slice_view import is_monochrome1

    grey = np.zeros((1, 4, 4), np.uint16)
    assert is_monochrome1(Volume(grey, metadata={"photometric": "MONOCHROME1"}))
    assert is_monochrome1(Volume(grey, metadata={"monochrome1": True}))
    assert not is_monochrome1(Volume(grey, metadata={"photometric": "MONOCHROME2"}))
    assert not is_monochrome1(Volume(grey))  # NIfTI etc.
    assert not is_monochrome1(Volume(np.zeros((1, 4, 4, 3), np.uint8), metadata={"monochrome1": True}))
    assert not is_monochrome1(None)


def _brightness(widget, volume, x_index: int) -> float:
    """Mean grey of the displayed pixel column nearest voxel column ``x_index`` at mid height."""
    sv = widget.slice_view
    lps = volume.to_lps((x_index, volume.shape_xyz[1] // 2, 0))
    x, y = sv.lps_to_display(lps)
    img = widget.capture()
    h = img.height()
    c = img.pixelColor(int(round(x)), h - 1 - int(round(y)))  # VTK display y is up
    return (c.red() + c.green() + c.blue()) / 3.0


@pytest.mark.gui
@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_slice_view_draws_monochrome1_inverted(qtbot, tmp_path, photometric):
    pytest.importorskip("pytestqt")
    from meddiag_desktop.io import load
    from meddiag_desktop.qt.slice_widget import SliceViewWidget
    from meddiag_desktop.qt.viewer_state import ViewerState
    from meddiag_desktop.render.image_data import image_from_volume

    path = tmp_path / "cr.dcm"
    write_cr(path, photometric)
    vol = load(path)
    state = ViewerState()
    widget = SliceViewWidget("axial", state)
    qtbot.addWidget(widget)
    widget.resize(320, 320)
    widget.show()
    qtbot.waitExposed(widget)
    state.set_volume(vol)
    widget.set_image(vol, image_from_volume(vol))
    assert state.window == (1000.0, 500.0)  # the file's VOI window still applies
    widget.slice_view.set_crosshair_visible(False)
    widget.render_now()
    low, high = _brightness(widget, vol, 8), _brightness(widget, vol, 56)
    if photometric == "MONOCHROME1":
        assert widget.slice_view.inverted
        assert low > high + 100, (low, high)  # low stored value shows bright
    else:
        assert not widget.slice_view.inverted
        assert high > low + 100, (low, high)
    # the readout stays the stored value
    assert state.volume.value_at(vol.to_lps((8, 32, 0))) == LOW

    # a following MONOCHROME2 study is not left inverted (and vice versa)
    other = Volume(vol.array.copy(), spacing=vol.spacing, metadata={"photometric": "MONOCHROME2"} if photometric == "MONOCHROME1" else {"photometric": "MONOCHROME1", "monochrome1": True})
    state.set_volume(other)
    state.set_window(1000.0, 500.0)
    widget.set_image(other, image_from_volume(other))
    widget.render_now()
    low2, high2 = _brightness(widget, other, 8), _brightness(widget, other, 56)
    assert (low2 > high2) == (photometric == "MONOCHROME2"), (low2, high2)
