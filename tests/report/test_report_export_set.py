"""An export is published as a set: a killed ``meddiag report`` leaves the earlier set whole, never a mix.

The real command runs in a child process and stops at a named step
(``MEDDIAG_TEST_EXPORT_STALL``, an export hook that waits until killed); the test kills it
with SIGKILL there, checks the destination, then lets the next run clean up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.report.report_helpers import tree_hashes

from meddiag_desktop.report.export_set import ExportError, clean_stale, publish_set

INPUTS = {"family_history": False, "emphysema": True, "spiculation": False, "nodule_size_mm": 9,
          "nodule_type": "solid", "nodule_count": 1, "upper_lobe": True}
ROOT = Path(__file__).resolve().parents[2]


def _report(folder: Path, out: Path, *extra: str, stall: str | None = None) -> subprocess.Popen:
    home = out.parent.parent / "user"  # audit log, date-shift key: never the real user's
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
               MEDDIAG_AUDIT_LOG=str(home / "audit.log"), MEDDIAG_CONFIG_DIR=str(home / "config"))
    env.pop("MEDDIAG_TEST_EXPORT_STALL", None)
    if stall:
        env["MEDDIAG_TEST_EXPORT_STALL"] = stall
    cmd = [sys.executable, "-m", "meddiag_desktop", "report", str(folder), "--out", str(out), "--risk", "brock",
           "--inputs", json.dumps(INPUTS), "--overwrite", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _kill_at(proc: subprocess.Popen, step: str, deadline_s: float = 120) -> None:
    end = time.monotonic() + deadline_s
    try:
        for line in proc.stderr:
            if line.strip() == f"STALLED {step}":
                break
            assert time.monotonic() < end, "the export never reached the step"
        else:
            pytest.fail(f"meddiag report ended before {step}: rc={proc.wait()}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_killed_report_command_leaves_the_earlier_set_and_the_next_run_cleans_up(study, tmp_path, user_folders):
    folder, _, _ = study
    out = tmp_path / "reports" / "case"
    first = _report(folder, out)
    assert first.wait(timeout=180) == 0, first.stderr.read()
    earlier = tree_hashes(out)
    assert sorted(earlier) == ["report.pdf", "sr.dcm"]

    for step in ("sr.dcm", "publish"):  # after the first file of the set; after the whole set was checked
        _kill_at(_report(folder, out, "--anonymize", stall=step), step)
        assert tree_hashes(out) == earlier, step  # the earlier set, whole: no new SR beside the old PDF
        names = sorted(p.name for p in out.parent.iterdir())
        assert names[0].startswith(".case.meddiag-staging-") and names[1:] == ["case"], names

    last = _report(folder, out, "--anonymize")
    assert last.wait(timeout=180) == 0, last.stderr.read()
    assert sorted(p.name for p in out.parent.iterdir()) == ["case"]  # stale staging folders removed
    now = tree_hashes(out)
    assert sorted(now) == ["report.pdf", "sr.dcm"] and now["sr.dcm"] != earlier["sr.dcm"]
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]


def test_without_an_atomic_exchange_a_kill_between_the_renames_is_undone(tmp_path, monkeypatch):
    import meddiag_desktop.report.export_set as export_set

    out = tmp_path / "case"
    publish_set(out, {"report.pdf": b"old pdf", "sr.dcm": b"old sr"})
    earlier = tree_hashes(out)
    monkeypatch.setattr(export_set, "_exchange", lambda a, b: False)
    real_rename = os.rename
    calls = []

    def rename_then_die(src, dst):
        calls.append(Path(dst).name)
        real_rename(src, dst)
        if len(calls) == 1:
            raise KeyboardInterrupt("killed between the two renames")

    monkeypatch.setattr(export_set.os, "rename", rename_then_die)
    with pytest.raises(KeyboardInterrupt):
        publish_set(out, {"report.pdf": b"new pdf", "sr.dcm": b"new sr"}, overwrite=True)
    monkeypatch.setattr(export_set.os, "rename", real_rename)
    assert not out.exists()  # the earlier set is aside, the new one was never published
    assert clean_stale(out)
    assert tree_hashes(out) == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case"]
    publish_set(out, {"report.pdf": b"new pdf"}, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["report.pdf"]  # replaced as a whole: no old SR left


def test_a_folder_with_other_files_is_refused(tmp_path):
    out = tmp_path / "desktop"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(ExportError, match=r"holds other files \(holiday\.jpg\).*new or empty folder"):
        publish_set(out, {"report.pdf": b"pdf"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["desktop"]
