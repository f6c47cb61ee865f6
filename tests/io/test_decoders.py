"""Which package decodes a file comes from pydicom's decoder registry; decode-pool failures are LoadErrors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import get_decoder
from pydicom.uid import JPEG2000Lossless, MPEG2MPML

from meddiag_desktop.io import LoadError, load, scan
from meddiag_desktop.io.decoders import compressed_decoders, decoder_status, is_compressed

ROOT = Path(__file__).resolve().parents[2]
J2K = "emri_small_jpeg_2k_lossless.dcm"


def test_status_is_what_pydicoms_registry_says():
    status = decoder_status(str(JPEG2000Lossless))
    decoder = get_decoder(JPEG2000Lossless)
    assert status.name == "JPEG 2000 Image Compression (Lossless Only)"
    assert status.plugins == tuple(decoder.available_plugins) and status.plugins
    assert status.missing == tuple(decoder.missing_dependencies)
    assert status.available and status.summary() == f"{status.name}: decoded by {', '.join(decoder.available_plugins)}"
    assert not decoder_status(str(MPEG2MPML)).supported  # a video syntax: pydicom has no decoder
    assert not is_compressed("1.2.840.10008.1.2.1") and not is_compressed("1.2.840.10008.1.2.1.99")
    listed = {s.transfer_syntax for s in compressed_decoders()}
    assert str(JPEG2000Lossless) in listed and "1.2.840.10008.1.2.5" in listed  # RLE
    assert str(MPEG2MPML) not in listed


_BLOCKED = r"""
import sys, json
for name in ("openjpeg", "gdcm", "PIL", "pylibjpeg", "libjpeg", "jpeg_ls", "rle"):
    sys.modules[name] = None  # as if not installed: every JPEG 2000 plugin of pydicom is unavailable
from meddiag_desktop.io import scan, LoadError
from meddiag_desktop.io.pixel_decode import decode_in_process
found = scan(sys.argv[1])
try:
    decode_in_process(sys.argv[2])
    error = None
except LoadError as exc:
    error = str(exc)
print(json.dumps({"notes": found[0].notes, "error": error}))
"""


def test_a_missing_decoder_is_named_in_the_scan_and_the_error(tmp_path):
    """With the codec packages blocked, pydicom's registry names them: scan note and LoadError say what to install."""
    src = Path(get_testdata_file(J2K))
    shutil.copy(src, tmp_path / src.name)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", _BLOCKED, str(tmp_path), str(tmp_path / src.name)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    (note,) = result["notes"]
    assert note.startswith("Its images use the JPEG 2000 Image Compression (Lossless Only) encoding, which no "
                           "installed package decodes: install ")
    assert "pylibjpeg-openjpeg" in note and "gdcm" in note
    assert result["error"].startswith(f"{src.name}: no decoder is installed for the JPEG 2000 Image Compression "
                                      "(Lossless Only) encoding; install ")
    assert "pylibjpeg-openjpeg" in result["error"]


def test_installed_decoders_add_no_scan_note():
    assert scan(get_testdata_file(J2K))[0].notes == []


def test_a_failure_in_the_decode_pool_arrives_as_a_load_error_with_its_detail():
    """pydicom's 12-bit JPEG sample that every installed decoder refuses: decoded in the pool, the
    worker's LoadError (message and detail) is raised here, not relayed as text."""
    with pytest.raises(LoadError) as info:
        load(get_testdata_file("JPEG-lossy.dcm"))
    exc = info.value
    assert str(exc).startswith("JPEG-lossy.dcm: no installed decoder can read this JPEG Extended")
    assert "\0" not in str(exc) and "RuntimeError" not in str(exc)
    assert exc.detail.startswith("RuntimeError: Unable to decode")  # pydicom's own text, kept for the log
    assert exc.__cause__ is None


def test_decode_pool_and_pixel_reading_import_each_other_no_longer():
    code = ("import sys; import meddiag_desktop.io.decode_pool; "
            "print('meddiag_desktop.io.dicom_pixels' in sys.modules, 'pydicom' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.split() == ["False", "False"]  # and pydicom stays lazy


def test_one_home_for_exit_with_parent():
    from meddiag_desktop import spawning
    from meddiag_desktop.ai import _worker
    from meddiag_desktop.io import decode_pool

    assert _worker._exit_with_parent is spawning.exit_with_parent
    assert decode_pool._worker_init.__globals__["exit_with_parent"] is spawning.exit_with_parent


@pytest.mark.skipif(not hasattr(os, "nice"), reason="POSIX priorities")
def test_decode_processes_run_below_the_viewers_priority():
    """So that images decoding (or the processes starting ahead of time) never make the viewer's scrolling stutter."""
    from meddiag_desktop.io import decode_pool

    assert decode_pool._get_pool().submit(os.nice, 0).result(timeout=60) == os.nice(0) + decode_pool.NICE


def test_meddiag_info_says_which_package_decodes_a_compressed_series(capsys):
    from meddiag_desktop.io.cli_info import describe

    path = get_testdata_file(J2K)
    (series,) = describe(path)["series"]
    plugins = ", ".join(get_decoder(JPEG2000Lossless).available_plugins)
    assert series["decoder"] == f"JPEG 2000 Image Compression (Lossless Only): decoded by {plugins}"
    assert "decoder" not in describe(get_testdata_file("CT_small.dcm"))["series"][0]  # uncompressed: nothing to say


def test_scanning_compressed_images_starts_the_decode_processes():
    """So that a series opened from the study browser finds its decoders started (spawn + pydicom import: 1-2 s)."""
    import time

    from meddiag_desktop.io import decode_pool

    decode_pool.shutdown()
    assert decode_pool._pool is None
    scan(get_testdata_file(J2K))
    pool = decode_pool._pool
    assert pool is not None
    deadline = time.monotonic() + 60
    while len(pool._processes or {}) < decode_pool.pool_size() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(pool._processes) == decode_pool.pool_size()
    scan(get_testdata_file(J2K))  # warm once per pool
    assert decode_pool._pool is pool
    import numpy as np
    import pydicom

    vol = load(get_testdata_file(J2K))  # and the warmed pool decodes it exactly as pydicom does
    np.testing.assert_array_equal(vol.array, pydicom.dcmread(get_testdata_file(J2K)).pixel_array)  # 10 frames


def _scan_and_load_in_a_daemon(path: str, out) -> None:
    """Run in a daemonic process (as a Dask worker is): it may not start the decode pool."""
    try:
        import numpy as np

        result = scan(path)
        vol = load(path)
        out.put(("ok", len(result), vol.array.shape, float(np.asarray(vol.array, dtype=np.float64).sum())))
    except BaseException as exc:  # noqa: BLE001 - the parent asserts on it
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def test_a_daemonic_process_scans_and_loads_compressed_images(tmp_path):
    """A Dask worker is daemonic: scanning a compressed study there started the decode pool and failed
    ('daemonic processes are not allowed to have children'); it now decodes in its own process."""
    import multiprocessing as mp

    study = tmp_path / "study"
    study.mkdir()
    shutil.copy(get_testdata_file(J2K), study / "j2k.dcm")
    reference = load(str(study))
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_scan_and_load_in_a_daemon, args=(str(study), out), daemon=True)
    proc.start()
    status = out.get(timeout=120)
    proc.join(30)
    assert status[0] == "ok", status
    import numpy as np

    assert status[1:] == (1, reference.array.shape, float(np.asarray(reference.array, dtype=np.float64).sum()))
