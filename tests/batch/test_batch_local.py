"""meddiag batch on a real LocalCluster (2 worker processes): outputs, tables, failures, audit, resume."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from tests.batch.batch_helpers import audit_events
from meddiag_desktop.cli import main

pytest.importorskip("distributed")


def _hu_above_zero_ml(folder: Path) -> float:
    """What the thresholding plugin must find: voxels above 0 HU, read with pydicom alone (5 mm voxels)."""
    n = 0
    for f in folder.iterdir():
        ds = pydicom.dcmread(f)
        hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        n += int((hu > 0).sum())
    return n * 0.125


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_batch_on_a_local_cluster_then_resume(archive, plugin, tmp_path, capsys, audit_log):
    import highdicom as hd

    out = tmp_path / "reports"
    status = main(["batch", str(archive["root"]), "--plugin", str(plugin), "--out", str(out), "--workers", "2",
                   "--json"])
    captured = capsys.readouterr()
    assert status == 1, captured.err  # two bad studies; the three good ones are done
    outcome = json.loads(captured.out)
    assert (outcome["done"], outcome["failed"], outcome["total"]) == (3, 1, 4)
    assert "Dask dashboard: http://" in captured.err and "3 done, 1 failed, 0 remaining of 4" in captured.err

    # every good study: complete folder named by its StudyInstanceUID, SR readable by highdicom, volume right
    summary = _rows(out / "summary.csv")
    for name, uid in archive["good"].items():
        folder = out / uid
        assert sorted(p.name for p in folder.iterdir()) == ["batch-done.json", "findings.json", "report.pdf",
                                                            "seg.dcm", "sr.dcm"]
        marker = json.loads((folder / "batch-done.json").read_text())
        assert marker["study_uid"] == uid and marker["source"] == str(archive["root"] / name)
        assert all((folder / f).stat().st_size == m["size"] for f, m in marker["files"].items())
        sr = hd.sr.srread(folder / "sr.dcm")
        assert sr.StudyInstanceUID == uid
        (group,) = sr.content.get_volumetric_roi_measurement_groups()
        volume = next(m for m in group.get_measurements() if m.name.meaning == "Volume")
        expected = _hu_above_zero_ml(archive["root"] / name)
        assert float(volume.value) == pytest.approx(expected, rel=0.01)
        rows = [r for r in summary if r["study_uid"] == uid and r["measurement"] == "Volume"]
        assert len(rows) == 1 and float(rows[0]["value"]) == float(volume.value) and rows[0]["unit"] == "ml"
        assert rows[0]["finding"] == "bright" and rows[0]["algorithm"] == "Test test.threshold"
    assert {r["study_uid"] for r in summary} == set(archive["good"].values())

    # each bad study once in the failures table, with its reason
    failures = {Path(r["path"]).name: r for r in _rows(out / "failures.csv")}
    assert set(failures) == {"truncated", "undecodable"}
    assert failures["truncated"]["stage"] == "scan" and "truncated file" in failures["truncated"]["reason"]
    bad = failures["undecodable"]
    assert bad["stage"] == "report" and bad["key"] == archive["undecodable"]
    assert "decoder" in bad["reason"] and "\n" not in bad["reason"]
    assert not (out / archive["undecodable"]).exists() and (out / "logs" / f"{archive['undecodable']}.log").exists()
    import pyarrow.parquet as pq

    assert pq.read_table(out / "summary.parquet").num_rows == len(summary)
    assert not (out / ".staging").exists()

    # the audit log: one batch event per processed study, and the report's own events
    batch_events = [e for e in audit_events(audit_log) if e.get("via") == "batch"]
    assert sorted(e["outcome"] for e in batch_events) == ["failed", "ok", "ok", "ok"]
    assert len({e["study"] for e in batch_events}) == 4
    assert sum(1 for e in audit_events(audit_log) if e["action"] == "ai_run" and e["outcome"] == "ok") == 3

    # again without --resume: refused, nothing touched
    mtimes = {uid: (out / uid / "batch-done.json").stat().st_mtime_ns for uid in archive["good"].values()}
    assert main(["batch", str(archive["root"]), "--plugin", str(plugin), "--out", str(out)]) == 2
    assert "already holds 3 completed studies; add --resume" in capsys.readouterr().err

    # --resume: the complete studies are skipped (not re-run, not re-audited); the bad one is tried again
    n_events = len(audit_events(audit_log))
    status = main(["batch", str(archive["root"]), "--plugin", str(plugin), "--out", str(out), "--workers", "2",
                   "--resume", "--json"])
    outcome = json.loads(capsys.readouterr().out)
    assert status == 1 and (outcome["skipped"], outcome["done"], outcome["failed"]) == (3, 0, 1)
    assert {uid: (out / uid / "batch-done.json").stat().st_mtime_ns for uid in archive["good"].values()} == mtimes
    new = audit_events(audit_log)[n_events:]
    assert [e["outcome"] for e in new if e.get("via") == "batch"] == ["failed"]
    assert {r["study_uid"] for r in _rows(out / "summary.csv")} == set(archive["good"].values())
    statuses = sorted(r["status"] for r in _rows(out / "studies.csv"))
    assert statuses == ["failed", "skipped", "skipped", "skipped"]
