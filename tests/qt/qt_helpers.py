"""Shared data and helpers for the GUI tests (imported by conftest and the tests)."""

from __future__ import annotations

import numpy as np

SHAPE_XYZ = (64, 48, 30)
SPACING = (0.8, 0.9, 2.0)
ORIGIN = (-20.0, 15.0, -40.0)


def synthetic_hu() -> np.ndarray:
    """(z, y, x) HU values with structure everywhere, so every voxel's value is known and distinct enough."""
    nx, ny, nz = SHAPE_XYZ
    z, y, x = np.mgrid[0:nz, 0:ny, 0:nx]
    hu = (x * 7 + y * 13 + z * 29) % 400 - 200
    hu[(x - 32) ** 2 + (y - 24) ** 2 < 64] = 900
    return hu.astype(np.int16)



def open_and_wait(qtbot, win, path, timeout=60000):
    with qtbot.waitSignal(win.volume_shown, timeout=timeout):
        win.open_path(str(path))
    qtbot.wait(50)  # let the coalesced renders run
    return win.state.volume
