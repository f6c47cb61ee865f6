"""Seeded fuzzing: mutated DICOM files either load or raise LoadError; never crash, hang or over-allocate."""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from meddiag_desktop.io import LoadError, load, scan
from meddiag_desktop.io.dicom_write import write_series

BAD_FILES = Path(__file__).parent.parent / "data" / "bad_dicom"
SEEDS = range(40)
#: the most memory one mutated file may make us allocate
MAX_ALLOC = 256 * 2**20


def _bases(tmp_path_factory) -> list[bytes]:
    d = tmp_path_factory.mktemp("fuzzbase")
    arr = (np.arange(32 * 32).reshape(1, 32, 32) % 700 - 100).astype(np.int16)
    write_series(arr, d, spacing=(0.5, 0.5, 1.0))
    out = [next(d.iterdir()).read_bytes()]
    for name in ("CT_small.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "emri_small.dcm", "SC_rgb_rle.dcm"):
        p = get_testdata_file(name)
        if p:
            out.append(Path(p).read_bytes())
    return out


def _tag_offsets(data: bytes, tag: tuple[int, int]) -> list[int]:
    pat = struct.pack("<HH", *tag)
    out, i = [], data.find(pat)
    while i >= 0:
        out.append(i)
        i = data.find(pat, i + 1)
    return out


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One of: flipped bytes, truncation, a huge length, absurd rows/columns, zeroed block."""
    b = bytearray(data)
    kind = rng.integers(0, 5)
    if kind == 0:  # flip random bytes
        for _ in range(int(rng.integers(1, 20))):
            b[int(rng.integers(0, len(b)))] ^= int(rng.integers(1, 256))
    elif kind == 1:  # truncate
        b = b[: int(rng.integers(0, len(b)))]
    elif kind == 2:  # a huge declared length in some element header
        i = int(rng.integers(132, max(133, len(b) - 8)))
        b[i : i + 4] = struct.pack("<I", int(rng.choice([0xFFFFFFF0, 0x7FFFFFFF, 0x10000000, 0xFFFFFFFF])))
    elif kind == 3:  # absurd image size
        for tag in ((0x0028, 0x0010), (0x0028, 0x0011), (0x0028, 0x0008)):
            for off in _tag_offsets(bytes(b), tag):
                # explicit VR US (2-byte length) or IS: overwrite the first value bytes
                pos = off + 8
                if pos + 2 <= len(b) and rng.random() < 0.7:
                    b[pos : pos + 2] = struct.pack("<H", int(rng.choice([0, 1, 65535, 40000, 3])))
    else:  # zero a block
        i = int(rng.integers(0, len(b)))
        b[i : i + int(rng.integers(1, 400))] = bytes(min(len(b) - i, 400))
    return bytes(b)


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    return _bases(tmp_path_factory)


@pytest.mark.parametrize("seed", SEEDS)
def test_mutated_files_load_or_raise_load_error(bases, tmp_path, seed):
    rng = np.random.default_rng(seed)
    for n, base in enumerate(bases):
        data = mutate(base, rng)
        path = tmp_path / f"case{seed}_{n}.dcm"
        path.write_bytes(data)
        tracemalloc.start()
        try:
            try:
                vol = load(path)
            except LoadError as exc:
                assert str(exc), "a LoadError must say what is wrong"
            else:
                assert vol.array.size > 0
            found = scan(path)  # scanning never raises for a bad file: it lists it as skipped
            assert len(found) + len(found.skipped) == 1
            _, peak = tracemalloc.get_traced_memory()
        except BaseException as exc:  # pragma: no cover - keep the file as a regression case
            BAD_FILES.mkdir(parents=True, exist_ok=True)
            (BAD_FILES / f"fuzz_seed{seed}_base{n}.dcm").write_bytes(data)
            raise AssertionError(f"seed {seed} base {n}: {type(exc).__name__}: {exc}") from exc
        finally:
            tracemalloc.stop()
        assert peak < MAX_ALLOC, f"seed {seed} base {n} allocated {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("path", sorted(BAD_FILES.glob("*.dcm")), ids=lambda p: p.name)
def test_regression_files(path):
    """Every bad file found so far loads or raises LoadError."""
    try:
        load(path)
    except LoadError:
        pass


def test_folder_with_junk_opens_the_valid_images_and_lists_the_rest(tmp_path, bases):
    arr = (np.arange(4 * 16 * 16).reshape(4, 16, 16) % 500).astype(np.int16)
    write_series(arr, tmp_path / "study", spacing=(1, 1, 2))
    (tmp_path / "study" / "readme.txt").write_text("hello")
    (tmp_path / "study" / "empty.dcm").write_bytes(b"")
    (tmp_path / "study" / "trunc.dcm").write_bytes(bases[0][:300])
    (tmp_path / "study" / "image.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    rng = np.random.default_rng(0)
    (tmp_path / "study" / "mutated.dcm").write_bytes(mutate(bases[1], rng)[:2000])
    found = scan(tmp_path / "study")
    assert len(found) == 1 and found[0].image_count == 4
    reasons = {s.path.name: s.reason for s in found.skipped}
    assert reasons["readme.txt"] == "not a DICOM file"
    assert reasons["empty.dcm"] == "empty file"
    assert reasons["image.jpg"] == "not a DICOM file"
    assert "trunc.dcm" in reasons and "mutated.dcm" in reasons
    vol = load(tmp_path / "study")
    np.testing.assert_array_equal(vol.array, arr)
    assert any("5 file(s) were skipped" in w for w in vol.warnings)


def test_decode_workers_exit_when_the_app_is_killed(tmp_path):
    """Decoder processes never outlive the viewer (no orphans after a kill -9)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    code = (
        "import sys, time, os\n"
        "from pydicom.data import get_testdata_file\n"
        "from meddiag_desktop.io import load\n"
        "load(get_testdata_file('MR_small_RLE.dcm'))\n"
        "from meddiag_desktop.io import decode_pool\n"
        "print(' '.join(str(p) for p in decode_pool._pool._processes), flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert pids
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in pids if os.path.exists(f"/proc/{p}") and "zombie" not in open(f"/proc/{p}/status").read().lower()]
    assert not alive, f"decoder workers {alive} outlived the app"
