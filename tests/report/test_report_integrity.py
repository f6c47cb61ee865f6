"""Integrity: sources untouched, no writes beside them, atomic owner-only outputs, interrupted exports."""

from __future__ import annotations

import errno
import os
import stat

import pytest
from tests.report.report_helpers import make_report, phantom, tree_hashes

from meddiag_desktop.report import export_report
from meddiag_desktop.report.export import ExportError


def test_sources_are_unchanged_and_nothing_is_added(study, tmp_path):
    folder, volume, labels = study
    before = tree_hashes(folder.parent)
    mtimes = {p: p.stat().st_mtime_ns for p in folder.iterdir()}
    export_report(make_report(volume, labels), volume, tmp_path / "out", anonymize=True)
    export_report(make_report(volume, labels), volume, tmp_path / "out2")
    assert tree_hashes(folder.parent) == before
    assert {p: p.stat().st_mtime_ns for p in folder.iterdir()} == mtimes


@pytest.mark.parametrize("where", [".", "sub", "sub/deeper"])
def test_refuses_an_output_inside_the_source_folder(study, where):
    folder, volume, labels = study
    before = tree_hashes(folder)
    with pytest.raises(ExportError, match="source folder"):
        export_report(make_report(volume, labels, key_images=[]), volume, folder / where)
    assert tree_hashes(folder) == before and not (folder / "sub").exists()


def test_outputs_are_owner_only_and_no_temporary_file_remains(study, tmp_path):
    _, volume, labels = study
    result = export_report(make_report(volume, labels), volume, tmp_path / "out")
    for path in result.paths.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.pdf", "seg.dcm", "sr.dcm"]


def test_existing_outputs_are_not_overwritten_unless_asked(study, tmp_path):
    _, volume, labels = study
    report = make_report(volume, labels, key_images=[])
    export_report(report, volume, tmp_path / "out")
    signed = (tmp_path / "out" / "report.pdf").read_bytes()
    with pytest.raises(ExportError, match="already holds"):
        export_report(report, volume, tmp_path / "out")
    assert (tmp_path / "out" / "report.pdf").read_bytes() == signed
    export_report(report, volume, tmp_path / "out", overwrite=True)


def test_full_disk_while_writing_leaves_no_partial_file(study, tmp_path, monkeypatch):
    _, volume, labels = study
    out = tmp_path / "out"
    out.mkdir()
    (out / "seg.dcm").write_bytes(b"previous complete export")

    def fsync_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync_full)
    with pytest.raises(OSError, match="No space"):
        export_report(make_report(volume, labels, key_images=[]), volume, out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["seg.dcm"]
    assert (out / "seg.dcm").read_bytes() == b"previous complete export"


def test_crash_between_files_publishes_nothing_and_keeps_the_earlier_set(study, tmp_path, monkeypatch):
    import meddiag_desktop.report.export_set as export_set

    _, volume, labels = study
    out = tmp_path / "out"
    export_report(make_report(volume, labels, key_images=[]), volume, out)
    before = tree_hashes(out)
    real_write = export_set._write
    calls = []

    def write_then_die(path, data, mode):
        calls.append(path.name)
        if len(calls) == 2:
            raise KeyboardInterrupt("power cut")
        return real_write(path, data, mode)

    monkeypatch.setattr(export_set, "_write", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        export_report(make_report(volume, labels, key_images=[], impression="a new one"), volume, out, overwrite=True)
    assert calls == ["seg.dcm", "sr.dcm"]
    assert tree_hashes(out) == before  # the earlier set, whole; not its SEG beside a new SR
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "source"]  # no staging folder left


def test_failure_while_building_writes_nothing(study, tmp_path, monkeypatch):
    import meddiag_desktop.report.pdf as pdf

    _, volume, labels = study

    def broken(report, pagesize="A4"):
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(pdf, "render_pdf", broken)
    with pytest.raises(RuntimeError):
        export_report(make_report(volume, labels, key_images=[]), volume, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_killed_export_process_leaves_no_partial_file(study, tmp_path):
    """A process killed with SIGKILL in the middle of writing a file leaves nothing half-written."""
    import signal
    import subprocess
    import sys
    import textwrap

    folder, volume, _ = study
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import os, sys, time
        import meddiag_desktop.report.export as ex
        from meddiag_desktop.io import load
        from tests.report.report_helpers import make_report
        import numpy as np
        from tests.report.report_helpers import phantom
        volume = load({str(folder)!r})
        report = make_report(volume, phantom()[1], key_images=[])
        real = os.fdopen
        class Slow:
            def __init__(self, fh): self.fh = fh
            def __enter__(self): return self
            def __exit__(self, *a): return self.fh.__exit__(*a)
            def fileno(self): return self.fh.fileno()
            def flush(self): self.fh.flush()
            def write(self, data):
                self.fh.write(data[: len(data) // 2]); self.fh.flush()
                print("HALF", flush=True); time.sleep(60)
        import meddiag_desktop.report.export_set as es
        es.os.fdopen = lambda fd, mode: Slow(real(fd, mode))
        ex.export_report(report, volume, {str(out)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # `python -c` imports tests.* from there
    try:
        line = proc.stdout.readline()
        assert line.strip() == "HALF", line
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not out.exists()  # the half-written data is only in a hidden staging folder, never published
    staged = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.meddiag-staging-")]
    assert len(staged) == 1
    export_report(make_report(volume, phantom()[1], key_images=[]), volume, out)  # the next run cleans it up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "source"]
    assert sorted(p.name for p in out.iterdir()) == ["report.pdf", "seg.dcm", "sr.dcm"]
