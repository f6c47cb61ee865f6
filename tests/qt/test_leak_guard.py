"""The autouse guard in tests/conftest.py fails a Qt test that leaves a QThread or QTimer running."""

from __future__ import annotations

from pathlib import Path

LEAKY_TESTS = '''
from PySide6.QtCore import QThread, QTimer

kept = []


def test_repeating_timer_left_active(qtbot):
    kept.append(QTimer())
    kept[-1].start(5000)


def test_thread_left_running(qtbot):
    kept.append(QThread())
    kept[-1].start()


def test_single_shot_still_pending(qtbot):
    QTimer.singleShot(4000, lambda: None)


def test_short_single_shots_that_fire_are_fine(qtbot):
    t = QTimer()
    t.setSingleShot(True)
    t.start(100)
    QTimer.singleShot(50, lambda: None)
    kept.append(t)


def test_no_qt_no_guard():
    import threading
    threading.Timer(0.01, lambda: None).start()
'''


def test_leaked_thread_timer_and_single_shot_fail_the_test(pytester):
    pytester.makeconftest((Path(__file__).parents[1] / "conftest.py").read_text())
    pytester.makepyfile(test_leaky=LEAKY_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5, errors=3)
    result.stdout.fnmatch_lines_random([
        "*QTimer still active (5000 ms), started at *test_leaky.py:* (test_repeating_timer_left_active)",
        "*QThread still running, started at *test_leaky.py:* (test_thread_left_running)",
        "*QTimer.singleShot not fired yet, set at *test_leaky.py:* (test_single_shot_still_pending)",
    ])
