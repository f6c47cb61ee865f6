"""Corner and readout texts as a radiologist reads them: dates, side letters, lossy marks."""

from __future__ import annotations

from meddiag_desktop.core.corner_text import axis_position_text, format_dicom_date, lossy_text, lps_text


def test_dicom_dates_read_as_dates():
    assert format_dicom_date("20130415") == "2013-04-15"
    assert format_dicom_date("2013.04.15") == "2013-04-15"  # ACR-NEMA style
    assert format_dicom_date(" 20000101 ") == "2000-01-01"
    assert format_dicom_date("20131345") == "20131345"  # not a date: shown as the file has it
    assert format_dicom_date("") == ""


def test_positions_read_with_the_side_letter_never_a_negative_number():
    assert axis_position_text((1, 0, 0), -79.0) == "R 79.0 mm"
    assert axis_position_text((1, 0, 0), 79.0) == "L 79.0 mm"
    assert axis_position_text((0, -1, 0), 12.0) == "A 12.0 mm"  # coronal slice axis: anterior
    assert axis_position_text((0, -1, 0), -12.0) == "P 12.0 mm"
    assert axis_position_text((0, 0, 1), 3.0) == "S 3.0 mm"
    assert axis_position_text((0, 0, 1), -141.04) == "I 141.0 mm"
    assert axis_position_text((0, 0, 1), -0.01) == "I 0.0 mm"  # no "-0.0"
    assert lps_text((-79.0, -12.0, 3.0)) == "R 79.0  A 12.0  S 3.0 mm"
    assert lps_text((10.25, 4.0, -150.0)) == "L 10.2  P 4.0  I 150.0 mm"


def test_lossy_mark_with_ratio_and_method():
    assert lossy_text({"lossy": False}) == ""
    assert lossy_text({}) == ""
    assert lossy_text({"lossy": True}) == "LOSSY"
    assert lossy_text({"lossy": True, "lossy_ratios": (18.0,)}) == "LOSSY (ratio 18:1)"
    assert lossy_text({"lossy": True, "lossy_ratios": (9.5,), "lossy_methods": ("ISO_15444_1",)}) == \
        "LOSSY (ratio 9.5:1, JPEG 2000)"
    assert lossy_text({"lossy": True, "lossy_methods": ("ISO_10918_1",)}) == "LOSSY (JPEG)"
