"""Run ``meddiag`` as a child that dies with the Dask worker that started it.

``python -m meddiag_desktop.batch._child PARENT_PID report ...`` asks Linux to
kill this process when its parent goes (``PR_SET_PDEATHSIG``), so a worker killed
mid-study leaves no report process behind to finish a duplicate; elsewhere it
just runs the command.
"""

from __future__ import annotations

import os
import signal
import sys


def _die_with_parent(parent: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(137)


def main() -> int:
    _die_with_parent(int(sys.argv[1]))
    from meddiag_desktop.cli import main as meddiag

    return meddiag(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
