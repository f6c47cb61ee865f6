"""Run background warm-ups once the reader pauses, not while they scroll.

Starting a helper process ahead of time (the AI worker importing torch, the image decoders)
costs a second or more of CPU. Right after a study appears the reader is usually scrolling,
and on a 2-core workstation that work took the axial view from 67-74 to 58-60 fps (the AI
worker) and the coronal view a sixth of its frame rate (the decoders). :func:`call_when_idle`
waits until the viewer state has seen no cursor, window, camera or input change for
``QUIET_S`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

__all__ = ["call_when_idle", "QUIET_S"]

#: seconds without a cursor, window, camera or input change before a warm-up starts
QUIET_S = 2.0


def call_when_idle(state, parent: QObject, action: Callable[[], None]) -> None:
    """Call ``action`` on the UI thread once ``state`` (a ``ViewerState``) has been quiet for QUIET_S.

    The wait ends with ``parent`` (a closed window starts nothing).
    """
    signals = (state.cursor_changed, state.window_changed, state.camera_changed, state.user_interacted)
    last = [time.monotonic()]

    def touched(*_args) -> None:
        last[0] = time.monotonic()

    def check() -> None:
        quiet = time.monotonic() - last[0]
        if quiet < QUIET_S:  # still reading: ask again when it could have been quiet long enough
            QTimer.singleShot(int((QUIET_S - quiet) * 1000) + 20, parent, check)
            return
        for signal in signals:
            signal.disconnect(touched)
        action()

    for signal in signals:
        signal.connect(touched)
    QTimer.singleShot(int(QUIET_S * 1000), parent, check)
