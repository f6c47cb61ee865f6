"""A folder with the current study and a prior of the same size opens the current one and lists the prior."""

from __future__ import annotations

import numpy as np

from meddiag_desktop.io import load
from meddiag_desktop.io.dicom_write import write_series


def _study(folder, value, date, time, description):
    arr = np.full((6, 16, 16), value, np.int16)
    write_series(arr, folder, patient_id="SAME01", study_description=description,
                 extra={"StudyDate": date, "StudyTime": time})
    return arr


def test_newest_study_opens_and_priors_are_listed(tmp_path):
    # the prior sorts first on disk and has exactly the current study's size: the old rule opened it
    prior = _study(tmp_path / "a_prior", 100, "20240310", "101500", "CT chest 2024")
    older = _study(tmp_path / "c_older", 50, "20230102", "090000", "CT chest 2023")
    current = _study(tmp_path / "b_current", 200, "20260115", "083000", "CT chest 2026")
    vol = load(tmp_path)
    np.testing.assert_array_equal(vol.array, current)
    note = next(w for w in vol.warnings if "studies" in w)
    assert "holds 3 studies; opened the newest, 2026-01-15 CT chest 2026" in note
    assert note.index("2024-03-10 CT chest 2024") < note.index("2023-01-02 CT chest 2023")  # priors newest first
    assert not np.array_equal(prior, current) and not np.array_equal(older, current)


def test_same_day_the_later_study_time_wins(tmp_path):
    _study(tmp_path / "a_morning", 10, "20260115", "080000", "morning")
    evening = _study(tmp_path / "b_evening", 20, "20260115", "190000", "evening")
    vol = load(tmp_path)
    np.testing.assert_array_equal(vol.array, evening)
    assert any("Prior(s): 2026-01-15 morning" in w for w in vol.warnings)


def test_within_the_newest_study_the_largest_series_opens(tmp_path):
    from pydicom.uid import generate_uid

    uid = generate_uid()
    write_series(np.zeros((3, 16, 16), np.int16), tmp_path / "new_small", study_uid=uid, series_number=1,
                 extra={"StudyDate": "20260201"})
    big = np.ones((5, 16, 16), np.int16)
    write_series(big, tmp_path / "new_big", study_uid=uid, series_number=2, extra={"StudyDate": "20260201"})
    write_series(np.full((9, 16, 16), 7, np.int16), tmp_path / "old_bigger", extra={"StudyDate": "20200101"})
    vol = load(tmp_path)
    np.testing.assert_array_equal(vol.array, big)
    assert any("holds 2 series in the newest study" in w for w in vol.warnings)
