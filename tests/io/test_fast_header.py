"""The fast header reader must agree exactly with pydicom wherever it answers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from meddiag_desktop.io.dicom_header import HeaderError, read_header
from meddiag_desktop.io.dicom_write import write_series
from meddiag_desktop.io.fast_header import parse_fast

TEST_DIR = Path(get_testdata_file("CT_small.dcm")).parent
SHIPPED = sorted(TEST_DIR.glob("*.dcm"))
try:
    SHIPPED += sorted(Path(get_testdata_file("eCT_Supplemental.dcm")).parent.glob("*.dcm"))
except TypeError:
    pass


def _both(path):
    out = []
    for fast in (True, False):
        try:
            out.append(dataclasses.asdict(read_header(path, fast=fast)))
        except HeaderError as exc:
            out.append(("error", str(exc)))
    return out


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_fast_and_pydicom_headers_agree(path):
    fast, slow = _both(path)
    if isinstance(fast, tuple) or isinstance(slow, tuple):
        # both must refuse the file (the fast reader may word the reason differently only if it fell back)
        assert isinstance(fast, tuple) and isinstance(slow, tuple), (fast, slow)
        return
    assert fast == slow


def test_fast_reader_answers_for_ordinary_files(tmp_path):
    arr = np.zeros((2, 8, 8), np.int16)
    paths = write_series(arr, tmp_path, window=(400, 40), patient_name="Müller^Jörg")
    buf = paths[0].read_bytes()
    parsed = parse_fast(buf)
    assert parsed is not None
    ts, values, stop = parsed
    assert values["PatientName"] == "Müller^Jörg"
    assert values["Rows"] == 8 and values["WindowWidth"] == "400"
    assert buf[stop : stop + 4] == b"\xe0\x7f\x10\x00"
    assert _both(paths[0])[0] == _both(paths[0])[1]


def test_fast_reader_falls_back_on_unknown_character_set(tmp_path):
    arr = np.zeros((1, 4, 4), np.int16)
    paths = write_series(arr, tmp_path, extra={"SpecificCharacterSet": "ISO 2022 IR 87"})
    assert parse_fast(paths[0].read_bytes()) is None
    read_header(paths[0])  # pydicom handles it
