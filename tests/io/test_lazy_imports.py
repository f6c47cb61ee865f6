"""Opening an uncompressed series must not import pydicom: its import (~0.3 s with the
pixel plugins) would sit between the user's double-click and the first image."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np


def test_uncompressed_series_loads_without_importing_pydicom(make_series):
    folder, arr, spacing, origin, _ = make_series("axial", intercept=-1024.0)
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from meddiag_desktop import io
        found = io.scan({str(folder)!r})
        vol = io.load(found[0])
        np.save(sys.argv[1], vol.array)
        print(",".join(sorted(m for m in sys.modules if m.split(".")[0] == "pydicom")) or "none")
    """)
    out = folder.parent / "loaded.npy"
    proc = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "none"
    np.testing.assert_array_equal(np.load(out), arr)  # and it is still read right


def test_files_the_fast_reader_cannot_parse_still_fall_back_to_pydicom(tmp_path):
    from pydicom.data import get_testdata_file

    from meddiag_desktop.io.dicom_header import read_header

    # big-endian: the minimal reader declines it, pydicom reads it
    h = read_header(get_testdata_file("MR_small_bigendian.dcm"))
    assert (h.rows, h.columns) == (64, 64)
