"""Files built to hang or exhaust the loader (issue 12): a looping DICOMDIR, deflate bombs, a million
empty sequence items, decode workers under a script without a ``__main__`` guard."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from meddiag_desktop.io import LoadError, load, scan

REPO = Path(__file__).resolve().parents[2]


def _meta_and_body(ds) -> tuple[bytes, bytes]:
    """CT_small written as explicit VR little endian, split after its file meta group."""
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    bio = io.BytesIO()
    ds.save_as(bio, enforce_file_format=True)
    b = bio.getvalue()
    pos = 132
    while struct.unpack_from("<H", b, pos)[0] == 2:
        if b[pos + 4 : pos + 6] in (b"OB", b"UN"):
            pos += 12 + struct.unpack_from("<I", b, pos + 8)[0]
        else:
            pos += 8 + struct.unpack_from("<H", b, pos + 6)[0]
    return b[:pos], b[pos:]


def _deflated(meta: bytes, chunks) -> bytes:
    """A Deflated Explicit VR Little Endian file: ``meta`` (syntax and group length fixed) + the deflated chunks."""
    old = b"\x02\x00\x10\x00UI\x14\x001.2.840.10008.1.2.1\x00"
    assert old in meta
    meta = meta.replace(old, b"\x02\x00\x10\x00UI\x16\x001.2.840.10008.1.2.1.99")
    meta = meta[:140] + struct.pack("<I", struct.unpack_from("<I", meta, 140)[0] + 2) + meta[144:]
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return meta + b"".join(c.compress(ch) for ch in chunks) + c.flush()


def _timed_load(path: Path) -> tuple[str, float, int]:
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(LoadError) as info:
            load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return str(info.value), time.perf_counter() - t0, peak


def test_deflate_bomb_fails_fast_within_the_declared_image_size(tmp_path):
    """~250 kB that inflates to 256 MB behind a 128x128 CT header (pydicom inflates all of it: a 1 MB bomb took 3.1 GB)."""
    meta, body = _meta_and_body(pydicom.dcmread(get_testdata_file("CT_small.dcm")))
    pix = body.index(b"\xe0\x7f\x10\x00")
    head = body[:pix] + b"\xe0\x7f\x10\x00OW\x00\x00" + struct.pack("<I", 2**30 - 2)
    zeros = bytes(2**22)
    path = tmp_path / "bomb.dcm"
    path.write_bytes(_deflated(meta, [head] + [zeros] * 64))
    assert path.stat().st_size < 300_000
    msg, seconds, peak = _timed_load(path)
    assert "expands to more than the 32 kB image it declares" in msg and "decompression bomb" in msg
    assert peak < 16 * 2**20 and seconds < 5
    found = scan(path)
    assert not found and "decompression bomb" in found.skipped[0].reason


def test_deflated_zeros_fail_fast(tmp_path):
    """51 kB of deflated zeros (50 MB inflated, no valid element): was 43 s in pydicom."""
    meta, _ = _meta_and_body(pydicom.dcmread(get_testdata_file("CT_small.dcm")))
    path = tmp_path / "zeros.dcm"
    path.write_bytes(_deflated(meta, [bytes(50 * 2**20)]))
    assert path.stat().st_size < 60_000
    msg, seconds, peak = _timed_load(path)
    assert "its deflated data does not hold a valid DICOM dataset (the file is damaged)" in msg
    assert seconds < 5 and peak < 16 * 2**20


def test_real_deflated_file_still_loads_like_pydicom():
    path = get_testdata_file("image_dfl.dcm")
    vol = load(path)
    np.testing.assert_array_equal(vol.array[0], pydicom.dcmread(path).pixel_array)


def test_a_million_empty_sequence_items_are_refused_quickly(tmp_path):
    """8 MB of empty items in one sequence: pydicom took 17 s and 754 MB."""
    meta, body = _meta_and_body(pydicom.dcmread(get_testdata_file("CT_small.dcm")))
    pos = 0
    while struct.unpack_from("<HH", body, pos) <= (8, 0x1115):
        if body[pos + 4 : pos + 6] in (b"OB", b"OW", b"SQ", b"UN", b"UT"):
            pos += 12 + struct.unpack_from("<I", body, pos + 8)[0]
        else:
            pos += 8 + struct.unpack_from("<H", body, pos + 6)[0]
    seq = b"\x08\x00\x15\x11SQ\x00\x00\xff\xff\xff\xff" + b"\xfe\xff\x00\xe0\x00\x00\x00\x00" * 10**6 + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    path = tmp_path / "items.dcm"
    path.write_bytes(meta + body[:pos] + seq + body[pos:])
    msg, seconds, peak = _timed_load(path)
    assert "elements or sequence items, far more than a file of this size can hold" in msg
    assert seconds < 15 and peak < 128 * 2**20


def _dicomdir_copy(tmp_path: Path) -> Path:
    src = Path(get_testdata_file("DICOMDIR")).parent
    dst = tmp_path / "cd"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("DICOMDIR-*", "TINY_ALPHA"))
    return dst


def _scan_in_child(target: Path) -> list:
    """Scan in a child process with a deadline, so that a regression fails instead of hanging the suite."""
    code = textwrap.dedent(f"""
        import json
        from meddiag_desktop.io import scan
        r = scan({str(target)!r})
        print(json.dumps([sum(s.image_count for s in r), [[s.path.name, s.reason] for s in r.skipped]]))
    """)
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    import json

    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("link", ["self", "cycle"])
def test_dicomdir_with_looping_records_is_reported_not_followed(tmp_path, link):
    """pydicom's FileSet loops forever on these: the scan finishes and says the index loops."""
    cd = _dicomdir_copy(tmp_path)
    good_images = sum(s.image_count for s in scan(cd / "DICOMDIR"))
    ds = pydicom.dcmread(cd / "DICOMDIR")
    recs = ds.DirectoryRecordSequence
    if link == "self":  # the first record's next record is itself
        recs[0].OffsetOfTheNextDirectoryRecord = recs[0].seq_item_tell
    else:  # a series' image points back up to its patient
        img = next(r for r in recs if r.DirectoryRecordType == "IMAGE")
        img.OffsetOfTheNextDirectoryRecord = recs[0].seq_item_tell
    ds.save_as(cd / "DICOMDIR")
    images, skipped = _scan_in_child(cd / "DICOMDIR")
    assert images == good_images > 0
    reason = dict((n, r) for n, r in skipped)["DICOMDIR"]
    assert "record links form a loop (the index is damaged); its folder was scanned instead" in reason


def test_dicomdir_paths_out_of_its_folder_are_not_followed(tmp_path):
    cd = _dicomdir_copy(tmp_path)
    outside = tmp_path / "secret.dcm"
    shutil.copy(get_testdata_file("CT_small.dcm"), outside)
    ds = pydicom.dcmread(cd / "DICOMDIR")
    img = next(r for r in ds.DirectoryRecordSequence if r.DirectoryRecordType == "IMAGE")
    img.ReferencedFileID = ["..", "secret.dcm"]
    ds.save_as(cd / "DICOMDIR")
    found = scan(cd / "DICOMDIR")
    assert all(str(outside) not in str(i.path) for s in found for i in s.instances)
    reason = next(s.reason for s in found.skipped if s.path.name == "DICOMDIR")
    assert "1 record(s) point outside its folder (not followed)" in reason


def test_load_from_a_script_without_main_guard_decodes_compressed_files(tmp_path):
    """Decode workers must not re-import the caller's main script (it had no __main__ guard: they crashed)."""
    series = tmp_path / "jpeg_series"
    series.mkdir()
    base = pydicom.dcmread(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm"))
    for k in range(3):  # a three-file JPEG series: several files decode in parallel workers
        base.SOPInstanceUID = pydicom.uid.generate_uid()
        base.InstanceNumber = k + 1
        base.ImagePositionPatient = [0, 0, float(k)]
        base.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        base.PixelSpacing = [1, 1]
        base.save_as(series / f"{k}.dcm")
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        import numpy as np
        from pydicom.data import get_testdata_file
        from meddiag_desktop.io import load
        print("main ran", flush=True)
        v = load(get_testdata_file("JPEG2000.dcm"))
        w = load({str(series)!r})
        np.save({str(tmp_path / 'out.npy')!r}, w.array)
        print("loaded", v.array.shape, w.array.shape, flush=True)
    """))
    proc = subprocess.run([sys.executable, "-W", "ignore", str(script)], capture_output=True, text=True, timeout=180, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("main ran") == 1  # the workers never ran the script again
    assert "loaded (1, 1024, 256) (3, 100, 100, 3)" in proc.stdout
    ref = pydicom.dcmread(series / "0.dcm")
    ref.pixel_array_options(as_rgb=True)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy")[0], ref.pixel_array)


def test_symbolic_links_in_a_study_folder_are_listed_not_followed(tmp_path):
    study, elsewhere = tmp_path / "study", tmp_path / "elsewhere"
    study.mkdir()
    (elsewhere / "other_patient").mkdir(parents=True)
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ct.save_as(study / "ct.dcm")
    mr = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    mr.save_as(elsewhere / "mr.dcm")
    mr.SOPInstanceUID = pydicom.uid.generate_uid()
    mr.save_as(elsewhere / "other_patient" / "mr2.dcm")
    (study / "link.dcm").symlink_to(elsewhere / "mr.dcm")
    (study / "linked_folder").symlink_to(elsewhere / "other_patient", target_is_directory=True)
    found = scan(study)
    assert [s.modality for s in found] == ["CT"]
    reasons = {s.path.name: s.reason for s in found.skipped}
    assert reasons["link.dcm"].startswith(f"symbolic link to a file ({elsewhere / 'mr.dcm'}): not followed")
    assert reasons["linked_folder"].startswith("symbolic link to a folder")
    vol = load(study)
    assert vol.metadata["modality"] == "CT"
    assert any("2 file(s) were skipped" in w and "symbolic links" in w for w in vol.warnings)
    # a link the user opens directly is the user's choice: it is opened
    assert load(study / "link.dcm").metadata["modality"] == "MR"


def test_an_unexpected_exception_becomes_a_plain_load_error_with_the_detail_kept(monkeypatch):
    from meddiag_desktop.io import dicom_volume

    def broken(*a, **k):
        raise struct.error("unpack requires a buffer of 4 bytes")

    monkeypatch.setattr(dicom_volume, "_load_stack", broken)
    with pytest.raises(LoadError) as info:
        load(get_testdata_file("CT_small.dcm"))
    msg = str(info.value)
    assert msg.startswith("CT_small.dcm: this image cannot be shown: its structure is damaged")
    assert "struct.error" not in msg and "unpack requires" not in msg
    assert "struct.error: unpack requires a buffer of 4 bytes" in info.value.detail
