"""Run a blocking function (scan, load) on a QThread with progress, cancel and result signals.

The function receives ``progress(done, total)`` and ``cancel() -> bool``
(a :class:`~meddiag_desktop.core.progress.CancelToken`); both are thread-safe.
Results and errors come back on the UI thread as signals; a
:class:`~meddiag_desktop.core.progress.Cancelled` (``LoadCancelled``,
``RunCancelled``...) ends the task as cancelled, not failed.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from meddiag_desktop.core.progress import Cancelled, CancelToken

__all__ = ["BackgroundTask"]


class _Worker(QObject):
    progress = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(str, object)  # message, exception
    cancelled = Signal()
    done = Signal()

    def __init__(self, fn: Callable[..., Any], cancel: CancelToken) -> None:
        super().__init__()
        self._fn = fn
        self._cancel = cancel

    @Slot()
    def run(self) -> None:
        try:
            result = self._fn(lambda d, t: self.progress.emit(int(d), int(t)), self._cancel)
        except Exception as exc:  # noqa: BLE001 - reported to the UI
            if self._cancel() or isinstance(exc, Cancelled):
                self.cancelled.emit()
            else:
                from meddiag_desktop.qt.errors import user_message

                if not isinstance(exc, (ValueError, OSError)):  # typed errors speak for themselves
                    traceback.print_exc()
                self.failed.emit(user_message(exc), exc)
        else:
            if self._cancel():
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)
        finally:
            self.done.emit()


class BackgroundTask(QObject):
    """One background job. Connect to the signals, then :meth:`start`; :meth:`cancel` to stop."""

    progress = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(str, object)
    cancelled = Signal()
    finished = Signal()  #: always last, after succeeded/failed/cancelled

    def __init__(self, fn: Callable[..., Any], name: str = "task", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._cancel = CancelToken()
        self._thread = QThread()
        self._thread.setObjectName(f"meddiag-{name}")
        self._worker = _Worker(fn, self._cancel)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self.progress)
        self._worker.succeeded.connect(self.succeeded)
        self._worker.failed.connect(self.failed)
        self._worker.cancelled.connect(self.cancelled)
        self._worker.done.connect(self._on_done)
        self.running = False
        self.done = False
        self.started_at: float | None = None  #: time.perf_counter() at start()

    def start(self) -> None:
        self.running = True
        self.started_at = time.perf_counter()
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.cancel()

    def wait(self, ms: int = 30000) -> bool:
        """Cancel and wait for the thread to end (used when closing the window)."""
        self._cancel.cancel()
        if self._thread.isRunning():
            self._thread.quit()
            if not self._thread.wait(ms):
                return False
        # the work has ended; ``finished`` still follows from the event loop, but nothing runs any more
        # (a window that waited for its tasks on close is not busy, even before its events are processed)
        self.running = False
        return True

    @Slot()
    def _on_done(self) -> None:
        self._thread.quit()
        self._thread.wait()
        self.running = False
        self.done = True
        self.finished.emit()
