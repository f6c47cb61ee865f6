"""Shared fixtures: studies with exactly known geometry, written as real DICOM."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

APP_DIR_NAME = "meddiag-desktop"

pytest_plugins = ["pytester"]  # tests of these fixtures (tests/qt/test_leak_guard.py)

os.environ.setdefault("MEDDIAG_NO_USER_DATA", "")


@dataclass(frozen=True)
class UserFolders:
    """The per-user folders of one test (all under a temporary folder)."""

    root: Path
    config: Path  # $MEDDIAG_CONFIG_DIR: settings, plugin trust store, hanging protocols
    data: Path  # platformdirs.user_data_dir("meddiag-desktop") (through $XDG_DATA_HOME)
    sessions: Path  # $MEDDIAG_SESSION_DIR
    audit_log: Path  # $MEDDIAG_AUDIT_LOG
    db: Path  # $MEDDIAG_DB_DIR

    @property
    def plugins(self) -> Path:
        """The user plugin folder (``discovery.user_plugins_dir()``)."""
        return self.data / "plugins"

    @property
    def risk_models(self) -> Path:
        return self.data / "risk_models"


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory) -> Path:
    """One user cache per test session (per xdist worker): the generated demo study is made once."""
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(autouse=True)
def user_folders(tmp_path_factory, _session_cache, monkeypatch) -> UserFolders:
    """Every test gets its own user folders: settings (trust store, presets, recent studies, PACS
    nodes), data (plugins, risk models, AI logs), sessions, audit log, study database. Nothing a
    test writes reaches the user's, nothing leaks between tests, and app or worker subprocesses
    see the same folders (they inherit the environment). No plugins come from
    ``MEDDIAG_PLUGIN_PATH`` or installed entry points (``discovery.blocked_entry_points``), and
    windows start no AI worker process in advance. A test or package fixture may point a
    variable elsewhere with ``monkeypatch``; it runs after this one."""
    from meddiag_desktop.ai.discovery import blocked_entry_points

    root = tmp_path_factory.mktemp("user")
    folders = UserFolders(root=root, config=root / "config", data=root / "xdg-data" / APP_DIR_NAME,
                          sessions=root / "sessions", audit_log=root / "audit.log", db=root / "db")
    for var, sub in (("XDG_CONFIG_HOME", "xdg-config"), ("XDG_DATA_HOME", "xdg-data"), ("XDG_STATE_HOME", "xdg-state")):
        monkeypatch.setenv(var, str(root / sub))
    monkeypatch.setenv("XDG_CACHE_HOME", str(_session_cache))
    monkeypatch.setenv("MEDDIAG_CONFIG_DIR", str(folders.config))
    monkeypatch.setenv("MEDDIAG_SESSION_DIR", str(folders.sessions))
    monkeypatch.setenv("MEDDIAG_AUDIT_LOG", str(folders.audit_log))
    monkeypatch.setenv("MEDDIAG_DB_DIR", str(folders.db))
    monkeypatch.setenv("MEDDIAG_AI_PREWARM", "0")  # no torch worker process per window
    monkeypatch.setenv("MEDDIAG_DECODE_PREWARM", "0")  # nor decode processes
    monkeypatch.delenv("MEDDIAG_PLUGIN_PATH", raising=False)
    with blocked_entry_points():
        yield folders


def _where_started() -> str:
    """The test or app line that started a thread or timer (the first frame outside this file); cheap."""
    import sys

    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno} ({frame.f_code.co_name})" if frame else "?"


@pytest.fixture(autouse=True)
def _no_dangling_qt_threads_or_timers(request, monkeypatch):
    """A Qt test fails when it leaves a QThread running or a QTimer active (napari's conftest does the
    same): they would fire into the next test, or into a window already closed. Checked after the
    test's widgets are closed; single shots get up to one second to fire. Only tests using ``qtbot``."""
    if "qtbot" not in request.fixturenames:
        yield
        return
    import weakref

    from PySide6.QtCore import QObject, QThread, QTimer

    qtbot = request.getfixturevalue("qtbot")
    threads: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
    timers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
    pending_shots: dict[int, str] = {}

    def thread_start(self, *args, **kw):
        threads[self] = _where_started()
        return real_thread_start(self, *args, **kw)

    def timer_start(self, *args, **kw):
        timers[self] = _where_started()
        return real_timer_start(self, *args, **kw)

    def single_shot(msec, *args, **kw):
        fn = args[-1] if args else None
        # (msec, callable) without a context object: tracked; a context object's slot dies with it
        if len(args) == 1 and callable(fn) and not isinstance(getattr(fn, "__self__", None), QObject):
            key = id(fn)
            pending_shots[key] = _where_started()

            def fire():
                pending_shots.pop(key, None)
                fn()

            args = (fire,)
        return real_single_shot(msec, *args, **kw)

    real_thread_start, real_timer_start, real_single_shot = QThread.start, QTimer.start, QTimer.singleShot
    monkeypatch.setattr(QThread, "start", thread_start)
    monkeypatch.setattr(QTimer, "start", timer_start)
    monkeypatch.setattr(QTimer, "singleShot", staticmethod(single_shot))
    yield

    def alive(objects, check):
        out = []
        for obj, where in list(objects.items()):
            try:
                if check(obj):
                    out.append((obj, where))
            except RuntimeError:  # its C++ object is gone: stopped with it
                pass
        return out

    try:
        qtbot.waitUntil(lambda: not pending_shots and not alive(timers, lambda t: t.isActive() and t.isSingleShot()),
                        timeout=1000)
    except Exception:
        pass
    running = alive(threads, lambda t: t.isRunning())
    active = alive(timers, lambda t: t.isActive())
    for thread, _ in running:
        thread.quit()
        thread.wait(2000)
    for timer, _ in active:
        timer.stop()
    problems = [f"QThread still running, started at {w}" for _, w in running]
    problems += [f"QTimer still active ({t.interval()} ms), started at {w}" for t, w in active]
    problems += [f"QTimer.singleShot not fired yet, set at {w}" for w in pending_shots.values()]
    if problems:
        pytest.fail("the test left Qt work running (stop it, or close the widget that owns it):\n  "
                    + "\n  ".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def _fresh_result_cache():
    """Every test starts with an empty session cache of plugin runs (workflow/result_cache.py)."""
    from meddiag_desktop.workflow.result_cache import SESSION_CACHE

    SESSION_CACHE.clear()
    yield
    SESSION_CACHE.clear()


def rotation(axis: str, degrees: float) -> np.ndarray:
    """Rotation matrix about LPS axis ``axis`` ('x', 'y' or 'z')."""
    t = np.radians(degrees)
    c, s = np.cos(t), np.sin(t)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


#: acquisition orientations: direction matrices (columns = LPS of x, y, z index axes)
ORIENTATIONS = {
    "axial": np.eye(3),
    "axial_feet_first": np.diag([1.0, 1.0, -1.0]) @ np.diag([1.0, 1.0, 1.0]),
    # sagittal: columns run anterior->posterior (+y), rows head->feet (-z), slices left->right (-x = row x col)
    "sagittal": np.array([[0, 0, -1], [1, 0, 0], [0, -1, 0]], float),
    # coronal: columns right->left (+x), rows head->feet (-z), slices anterior->posterior (+y)
    "coronal": np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float),
    "oblique": rotation("z", 20) @ rotation("x", 30),
}
# keep the feet-first case a proper rotation: flip z and y together
ORIENTATIONS["axial_feet_first"] = np.diag([1.0, -1.0, -1.0])


def ramp_volume(shape_zyx=(7, 11, 13), seed: int = 0) -> np.ndarray:
    """int16 test volume whose every voxel is distinct, so misplaced slices show."""
    z, y, x = shape_zyx
    rng = np.random.default_rng(seed)
    base = (np.arange(z)[:, None, None] * 1000 + np.arange(y)[None, :, None] * 20 + np.arange(x)[None, None, :]).astype(np.int16)
    return (base + rng.integers(0, 3, size=shape_zyx)).astype(np.int16)


@pytest.fixture
def make_series(tmp_path):
    """Write a synthetic series; returns (folder, array, spacing, origin, direction)."""
    from meddiag_desktop.io.dicom_write import write_series

    counter = {"n": 0}

    def make(orientation="axial", shape=(7, 11, 13), spacing=(0.7, 0.9, 2.5), origin=(-40.0, 12.5, 100.0),
             shuffle=True, intercept=0.0, folder=None, **kw):
        counter["n"] += 1
        out = tmp_path / (folder or f"series{counter['n']}")
        arr = ramp_volume(shape, seed=counter["n"])
        direction = ORIENTATIONS[orientation] if isinstance(orientation, str) else np.asarray(orientation)
        names = None
        if shuffle:
            rng = np.random.default_rng(counter["n"])
            names = [f"f{v:04d}.dcm" for v in rng.permutation(shape[0])]
        stored = arr if intercept == 0 else (arr.astype(np.int32) - int(intercept)).astype(np.int16)
        write_series(stored, out, spacing=spacing, origin=origin, direction=direction, file_names=names,
                     rescale_intercept=intercept, **kw)
        return out, arr, spacing, origin, direction

    return make


@pytest.fixture(scope="session")
def prior_pair(tmp_path_factory):
    """The demo phantom (small) as a current study and a moved prior with a known transform (tests/reading)."""
    from tests.reading.prior_study import make_prior_pair

    return make_prior_pair(tmp_path_factory.mktemp("priors"))


@pytest.fixture(scope="session")
def mni152_nifti(tmp_path_factory):
    """nilearn's MNI152 T1 template (shipped with nilearn, no download) written as NIfTI: a real brain MR we did not make."""
    datasets = pytest.importorskip("nilearn.datasets")
    nib = pytest.importorskip("nibabel")
    path = tmp_path_factory.mktemp("mni") / "mni152.nii.gz"
    nib.save(datasets.load_mni152_template(), str(path))
    return path
