"""Files that share one SOPInstanceUID: an identical copy is a duplicate; another slice under the same UID
(as GDCM's ``gdcmtar -U`` writes when it splits an enhanced file) is kept; a second version of the same
slice is left out with a reason. Built from pydicom's CT_small.dcm."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
from pydicom.data import get_testdata_file

from meddiag_desktop.io import load, scan


def _slices(folder, uid: str, n: int = 3):
    folder.mkdir(parents=True, exist_ok=True)
    base = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    x, y, z = (float(v) for v in base.ImagePositionPatient)
    expected = []
    for k in range(n):
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        ds.SOPInstanceUID = uid  # every slice claims the same instance
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [x, y, z + 5.0 * k]
        arr = ds.pixel_array.copy()
        arr[k, :] = 1000 + k  # make each slice's pixels its own
        ds.PixelData = arr.tobytes()
        ds.save_as(folder / f"slice{k}.dcm")
        expected.append(arr.astype(np.int32) + int(ds.RescaleIntercept))
    return expected


def test_slices_sharing_one_uid_are_kept_and_the_series_says_so(tmp_path):
    uid = pydicom.uid.generate_uid()
    expected = _slices(tmp_path / "study", uid)
    found = scan(tmp_path / "study")
    assert len(found) == 1 and found[0].image_count == 3 and not found.skipped
    vol = load(found[0])
    assert vol.array.shape == (3, 128, 128)
    np.testing.assert_array_equal(vol.array, np.stack(expected))
    assert any("share one SOPInstanceUID but show different slices" in w for w in vol.warnings)


def test_identical_copy_is_a_duplicate_and_a_changed_version_is_a_conflict(tmp_path):
    uid = pydicom.uid.generate_uid()
    _slices(tmp_path / "study", uid)
    (tmp_path / "study" / "copy").mkdir()
    shutil.copy(tmp_path / "study" / "slice1.dcm", tmp_path / "study" / "copy" / "slice1_again.dcm")
    changed = pydicom.dcmread(tmp_path / "study" / "slice2.dcm")
    arr = changed.pixel_array.copy()
    arr[:10, :10] = 0
    changed.PixelData = arr.tobytes()
    changed.save_as(tmp_path / "study" / "copy" / "slice2_edited.dcm")
    found = scan(tmp_path / "study")
    reasons = {s.path.name: s.reason for s in found.skipped}
    assert reasons["slice1_again.dcm"] == (
        f"duplicate of {tmp_path / 'study' / 'slice1.dcm'} (same SOPInstanceUID, position and pixels)"
    )
    assert reasons["slice2_edited.dcm"].startswith(
        f"shares its SOPInstanceUID with {tmp_path / 'study' / 'slice2.dcm'} at the same position but its pixels differ"
    )
    assert found[0].image_count == 3
    vol = load(tmp_path / "study")
    assert vol.array.shape[0] == 3
    assert not any("not images or damaged" in w for w in vol.warnings)
