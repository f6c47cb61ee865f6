"""``meddiag info``: series, geometry and warnings, as text and JSON."""

from __future__ import annotations

import json

import numpy as np

from meddiag_desktop.cli import main


def test_info_json_reports_geometry_and_warnings(make_series, tmp_path, capsys):
    folder, arr, spacing, origin, direction = make_series("oblique", folder="study/ct", series_description="Chest")
    (tmp_path / "study" / "junk.bin").write_bytes(b"\x00" * 10)
    assert main(["info", str(tmp_path / "study"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    (s,) = info["series"]
    assert s["description"] == "Chest"
    assert s["shape_xyz"] == [arr.shape[2], arr.shape[1], arr.shape[0]]
    np.testing.assert_allclose(s["spacing"], spacing, atol=1e-5)
    np.testing.assert_allclose(s["origin"], origin, atol=1e-3)
    np.testing.assert_allclose(s["direction"], direction, atol=1e-5)
    assert s["warnings"] == []
    assert info["skipped"] == [{"path": str(tmp_path / "study" / "junk.bin"), "reason": "not a DICOM file"}]


def test_info_text_and_errors(make_series, tmp_path, capsys):
    folder, *_ = make_series("axial")
    assert main(["info", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "spacing (mm):" in out and "origin (LPS mm):" in out
    assert main(["info", str(tmp_path / "nope")]) == 1
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["info", str(tmp_path / "empty")]) == 1
