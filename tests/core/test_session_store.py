"""Sessions: atomic saves, restore after a kill, never inside the source folder."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from meddiag_desktop.core.annotations import MeasurementStore
from meddiag_desktop.core.measurements import Measurement
from meddiag_desktop.session_store import SessionState, SessionStore, atomic_write_text


def test_save_load_round_trip(tmp_path):
    store = SessionStore(tmp_path / "sessions")
    ms = MeasurementStore()
    ms.add(Measurement("distance", [(0, 0, 0), (3, 4, 0)], label="x"))
    st = SessionState("1.2.3", source="/data/ct", measurements=ms.to_list(), window=(1500, -600), layout="1x3",
                      cursor_lps=(1, 2, 3), cameras={"axial": {"zoom": 2.0}})
    path = store.save(st)
    assert path.parent == tmp_path / "sessions" and "1.2.3" not in path.name
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    back = store.load("1.2.3")
    assert back.measurements == st.measurements and back.window == (1500, -600) and back.layout == "1x3"
    ms2 = MeasurementStore()
    ms2.load_list(back.measurements)
    assert [m.points for m in ms2] == [m.points for m in ms]


def test_corrupt_session_is_reported_not_overwritten(tmp_path):
    store = SessionStore(tmp_path)
    store.path_for("9.9").write_text("{broken")
    with pytest.raises(ValueError, match="cannot be read"):
        store.load("9.9")
    assert store.path_for("9.9").read_text() == "{broken"


def test_failed_write_leaves_old_file(tmp_path, monkeypatch):
    target = tmp_path / "s.json"
    atomic_write_text(target, "old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_killed_process_leaves_a_lock_that_offers_restore(tmp_path):
    code = textwrap.dedent(f"""
        import os
        from meddiag_desktop.session_store import SessionStore, SessionState
        s = SessionStore({str(tmp_path)!r})
        s.open_lock("1.2")
        s.save(SessionState("1.2", measurements=[{{"id": "a", "kind": "point", "label": "", "normal": [0, 0, 1], "points": [[1, 2, 3]]}}]))
        os.kill(os.getpid(), 9)
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=os.getcwd())
    assert proc.returncode == -9
    store = SessionStore(tmp_path)
    assert store.open_lock("1.2") is True  # unclean exit detected
    assert store.load("1.2").measurements[0]["points"] == [[1, 2, 3]]
    store.close_lock("1.2")
    assert store.open_lock("1.2") is False  # clean close last time
