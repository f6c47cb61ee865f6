"""Images without patient geometry: no orientation letters, an honest title, no made-up position."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("vtkmodules.vtkRenderingCore")

from meddiag_desktop import io  # noqa: E402
from meddiag_desktop.core import Volume  # noqa: E402
from meddiag_desktop.core import view_geometry as vg  # noqa: E402
from meddiag_desktop.render.slice_view import SliceView  # noqa: E402


def _testdata(name: str) -> str:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} not available (pydicom-data)")
    return path


def test_loader_marks_files_without_patient_orientation():
    emri = io.load(_testdata("emri_small.dcm"))  # enhanced MR, 10 frames, no plane position/orientation
    assert emri.metadata["no_patient_geometry"] is True and not vg.has_patient_geometry(emri)
    sc = io.load(_testdata("SC_rgb.dcm"))  # secondary capture: no IOP, empty PatientOrientation
    assert not vg.has_patient_geometry(sc)
    mr = io.load(_testdata("MR_small.dcm"))  # ImageOrientationPatient present
    assert mr.metadata["no_patient_geometry"] is False and vg.has_patient_geometry(mr)


def test_no_geometry_view_has_no_letters_and_an_honest_title():
    emri = io.load(_testdata("emri_small.dcm"))
    sv = SliceView("axial")
    sv.set_volume(emri)
    assert sv.title == vg.NO_GEOMETRY_TITLE == "Image (no patient orientation)"
    assert not sv.letters.GetVisibility()
    assert not sv._vline.GetVisibility() and not sv._hline.GetVisibility()
    lower_left = sv.corner_text.GetText(0).split("\n")[0]
    assert lower_left == "Im 5/10"  # the frame number, no made-up "S 4.0 mm"
    assert sv.corner_text.GetText(3).split("\n")[0] == vg.NO_GEOMETRY_TITLE


def test_volume_with_geometry_keeps_letters_and_position():
    vol = Volume(np.zeros((4, 8, 8), np.int16), metadata={"modality": "CT"})
    sv = SliceView("axial")
    sv.set_volume(vol)
    assert sv.title == "Axial" and sv.letters.GetVisibility()
    assert sv.corner_text.GetText(0).startswith("Im 3/4   S 1.5 mm")
