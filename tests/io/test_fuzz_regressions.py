"""Every distinct failure the fuzz harness (benchmarks/fuzz_loader.py) found, kept as a regression case:
``scan`` and ``load`` finish, raise nothing but LoadError, and say what is wrong in plain words."""

from __future__ import annotations

import gzip
import re
import shutil
import struct
import time
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from meddiag_desktop.io import LoadError, load, scan

DATA = Path(__file__).parent.parent / "data"
RAW_TEXT = re.compile(r"\b(struct\.error|Traceback|[A-Z][A-Za-z]*(Error|Exception)\b:?|NoneType|object has no attribute)")


def _check(target: Path) -> list[str]:
    """Scan and load ``target``: only LoadError may escape; every message is plain words."""
    found = scan(target)
    messages = [s.reason for s in found.skipped]
    for s in (list(found)[:4] if target.is_dir() or target.name == "DICOMDIR" else [target]):
        try:
            load(s)
        except LoadError as exc:
            messages.append(str(exc))
    raw = [m for m in messages if RAW_TEXT.search(m)]
    assert not raw, raw
    return messages


@pytest.mark.parametrize("path", sorted((DATA / "bad_dicom").glob("*.dcm")), ids=lambda p: p.name)
def test_bad_files_scan_and_load_in_plain_words(path):
    _check(path)


@pytest.mark.parametrize("path", sorted((DATA / "bad_dicomdir").glob("*.DICOMDIR")), ids=lambda p: p.name)
def test_damaged_dicomdir_never_aborts_the_scan(tmp_path, path):
    """Mutated copies of pydicom's DICOMDIR (a NUL in a file ID, multi-valued or unparsable offsets)."""
    cd = tmp_path / "cd"
    shutil.copytree(Path(get_testdata_file("DICOMDIR")).parent, cd, ignore=shutil.ignore_patterns("DICOMDIR-*", "TINY_ALPHA"))
    shutil.copy(path, cd / "DICOMDIR")
    messages = _check(cd / "DICOMDIR")
    assert scan(cd / "DICOMDIR")  # the images are still found (through the folder when the index is damaged)
    assert any("DICOMDIR" in m for m in messages)


def test_misaligned_header_of_a_large_file_fails_fast():
    """philips_mprage (23 MB) with one element length changed to 7: pydicom read the misaligned
    stream as elements for minutes (a hang in the fuzz run); its work is now bounded."""
    import nibabel

    src = Path(nibabel.__file__).parent / "nicom" / "tests" / "data" / "philips_mprage.dcm.gz"
    if not src.is_file():
        pytest.skip("nibabel's philips_mprage.dcm.gz missing")
    data = bytearray(gzip.decompress(src.read_bytes()))
    assert data[153986 + 4 : 153986 + 6] == b"LO"
    data[153986 + 6 : 153986 + 8] = struct.pack("<H", 7)
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "mprage.dcm"
        path.write_bytes(bytes(data))
        t0 = time.perf_counter()
        messages = _check(path)
        assert time.perf_counter() - t0 < 20
    assert any("structure is damaged" in m for m in messages)


@pytest.mark.parametrize("name", ["jpeg_baseline_libjpeg_spins.dcm", "j2k_codestream_decoder_spins.dcm"])
def test_decoder_that_spins_forever_is_stopped(monkeypatch, name):
    """Decoders that never return, found by the 10,000-case fuzz runs: SC_rgb_dcmtk_+eb+cr.dcm with one length
    set to 0xFFFFFFFF (seed 2026, case 6483; pylibjpeg's libjpeg spins) and GDCMJ2K_TextGBR.dcm with two bytes
    of its JPEG 2000 codestream changed (seed 2027, case 785). The decode worker is stopped after its time
    budget and the next file decodes in a fresh worker."""
    from meddiag_desktop.io import decode_pool

    monkeypatch.setattr(decode_pool, "DECODE_SECONDS_BASE", 3.0)
    t0 = time.perf_counter()
    with pytest.raises(LoadError, match="the image decoder did not finish within 3 s and was stopped"):
        load(DATA / "hanging_dicom" / name)
    assert time.perf_counter() - t0 < 30
    assert load(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm")).array.shape == (1, 100, 100, 3)


def test_cancel_reaches_a_decoder_that_spins():
    from meddiag_desktop.io import LoadCancelled

    t0 = time.perf_counter()
    with pytest.raises(LoadCancelled):
        load(DATA / "hanging_dicom" / "jpeg_baseline_libjpeg_spins.dcm", cancel=lambda: time.perf_counter() - t0 > 1.0)
    assert time.perf_counter() - t0 < 10
