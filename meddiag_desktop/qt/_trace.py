"""Start-up timeline on stderr when ``MEDDIAG_TRACE`` is set (for the start-up benchmark)."""

from __future__ import annotations

import os
import sys
import time

_ON = bool(os.environ.get("MEDDIAG_TRACE"))
_T0 = time.perf_counter()


def trace(event: str) -> None:
    if _ON:
        cpu = time.process_time()
        print(f"MEDDIAG_TRACE {time.perf_counter() - _T0:7.3f}s (cpu {cpu:6.3f}s) @{time.time():.3f} {event}",
              file=sys.stderr, flush=True)
