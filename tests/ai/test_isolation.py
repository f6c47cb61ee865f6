"""The viewer survives whatever a plugin does: it runs in a worker process."""

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from meddiag_desktop.ai.isolation import PluginCrashed, PluginFailed, PluginHung, run_isolated
from meddiag_desktop.ai.runner import RunOptions
from meddiag_desktop.ai.sliding_window import RunCancelled
from tests.ai.plugin_factory import trust_for_tests

FAST = dict(start_timeout=60, stall_timeout=60)


def test_result_comes_back_with_progress(plugin_factory, ct_box):
    seen = []
    res = run_isolated(plugin_factory(spacing=ct_box.spacing), ct_box, progress=lambda d, t: seen.append((d, t)), **FAST)
    assert np.array_equal(res.labels == 1, ct_box.array > 0)
    assert seen[-1][0] == seen[-1][1] > 1 and res.device == "cpu"
    assert res.stats[0].name == "bright"


def test_exception_in_plugin(plugin_factory, ct_box):
    with pytest.raises(PluginFailed, match="plugin bug: shapes do not match") as err:
        run_isolated(plugin_factory(behaviour="raise"), ct_box, **FAST)
    assert "ValueError" in str(err.value) and "Traceback" in err.value.details


@pytest.mark.parametrize("behaviour, fragment", [("segfault", "SIGSEGV"), ("null_pointer", "SIGSEGV"),
                                                 ("exit3", "status 3")])
def test_crashing_plugin_leaves_parent_running(plugin_factory, ct_box, behaviour, fragment):
    with pytest.raises(PluginCrashed, match=fragment):
        run_isolated(plugin_factory(behaviour=behaviour), ct_box, **FAST)
    if behaviour == "segfault":
        assert run_isolated(plugin_factory("test.ok"), ct_box, **FAST).labels.any()  # still usable


def test_hanging_plugin_is_stopped(plugin_factory, ct_box):
    t0 = time.monotonic()
    with pytest.raises(PluginHung, match="no progress for 3 s"):
        run_isolated(plugin_factory(behaviour="hang"), ct_box, start_timeout=60, stall_timeout=3)
    assert time.monotonic() - t0 < 40


def test_cancel_stops_within_two_seconds_and_returns_nothing(plugin_factory, ct_box):
    started = threading.Event()
    flag = {"cancel": False, "at": None}

    def progress(done, total):
        if done >= 1:
            started.set()
            if flag["at"] is None:
                flag["at"] = time.monotonic()
                flag["cancel"] = True

    t_cancel = {}

    def cancel():
        if flag["cancel"] and "t" not in t_cancel:
            t_cancel["t"] = time.monotonic()
        return flag["cancel"]

    with pytest.raises(RunCancelled):
        run_isolated(plugin_factory(behaviour="slow"), ct_box, progress=progress, cancel=cancel, **FAST)
    assert time.monotonic() - t_cancel["t"] < 2.0


def test_out_of_memory_retries_with_smaller_batch(plugin_factory, ct_box):
    notes = []
    res = run_isolated(plugin_factory(behaviour="oom_batch"), ct_box, on_note=notes.append, **FAST)
    assert res.labels.any()
    assert any("out of memory" in n and "batch 1" in n for n in res.notes) and notes == res.notes


def test_out_of_memory_everywhere_is_a_clear_failure(plugin_factory, ct_box):
    with pytest.raises(PluginFailed, match="out of memory even with batch 1"):
        run_isolated(plugin_factory(behaviour="oom_always"), ct_box, RunOptions(sw_batch_size=2), **FAST)


def test_tampered_weights_refused_before_running(plugin_factory, ct_box):
    folder = plugin_factory(sha="1" * 64)
    with pytest.raises(PluginFailed, match="expected SHA-256 1111"):
        run_isolated(folder, ct_box, **FAST)


def test_classification_in_worker(plugin_factory, ct_box):
    res = run_isolated(plugin_factory("test.cls", classifier=True), ct_box,
                       RunOptions(points_lps=[tuple(ct_box.center_lps())]), **FAST)
    assert res.probabilities["bright"] > 0.9 and res.explanation.shape == ct_box.array.shape


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="uses /proc to watch the worker")
def test_worker_ends_when_the_app_dies(plugin_factory, ct_box, tmp_path):
    """A hung plugin must not outlive a killed app (its worker watches its parent)."""
    import os
    import signal
    import subprocess
    import sys

    folder = plugin_factory(behaviour="hang")
    pid_file = tmp_path / "worker.pid"
    in_forward = tmp_path / "in-forward"
    code = f"""
import sys, numpy as np
from tests.ai.plugin_factory import box_volume
from meddiag_desktop.ai.isolation import run_isolated
import meddiag_desktop.ai.isolation as iso
orig = iso.WorkerProcess.take
def take(self, request):
    open({str(pid_file)!r}, "w").write(str(self._proc.pid))
    return orig(self, request)
iso.WorkerProcess.take = take
run_isolated({str(folder)!r}, box_volume(), start_timeout=600, stall_timeout=600)
"""
    app = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                           env=dict(os.environ, TINYPLUGIN_IN_FORWARD=str(in_forward)))
    deadline = time.monotonic() + 120
    while not in_forward.exists() and time.monotonic() < deadline:  # the worker is inside the hanging forward
        assert app.poll() is None, "the app ended before its worker ran the plugin"
        time.sleep(0.05)
    assert in_forward.exists(), "the worker never reached the plugin's forward"
    worker = int(pid_file.read_text())
    os.kill(app.pid, signal.SIGKILL)
    app.wait()
    deadline = time.monotonic() + 60  # a worker still importing torch notices once the import is done
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{worker}/status").read_text()
        except OSError:
            break
        if "State:\tZ" in state:  # exited, waiting to be reaped by init
            break
        time.sleep(0.2)
    else:
        os.kill(worker, signal.SIGKILL)
        raise AssertionError("worker outlived the app")


def test_classifier_without_location_uses_its_candidate_finder(plugin_factory, ct_box, monkeypatch):
    seg = plugin_factory("test.finder", spacing=ct_box.spacing)
    cls = plugin_factory("test.cls", classifier=True)
    toml = cls / "plugin.toml"
    toml.write_text(toml.read_text().replace(
        "patch_size = [16, 16, 16]", 'patch_size = [16, 16, 16]\ncandidates_from = "test.finder"\ncandidates_label = 1'))
    monkeypatch.setenv("MEDDIAG_PLUGIN_PATH", str(seg.parent))
    trust_for_tests(cls)  # its manifest changed since the factory trusted it
    res = run_isolated(cls, ct_box, **FAST)
    assert len(res.findings) == 1 and res.findings[0].top_class == "bright"
    assert "test.finder" in res.findings[0].source
    centre = np.argwhere(ct_box.array > 0)[:, ::-1].mean(0)
    assert np.allclose(res.findings[0].point_lps, ct_box.to_lps(centre), atol=1.0)
    empty = ct_box.array.copy()
    empty[:] = -1000
    from meddiag_desktop.ai.errors import InputRefused
    from meddiag_desktop.core.volume import Volume

    with pytest.raises(InputRefused, match="found no bright"):
        run_isolated(cls, Volume(empty, ct_box.spacing, metadata={"modality": "CT"}), **FAST)
