"""The bundled demo study: a deterministic synthetic chest CT with ground truth.

``demo_study_dir()`` returns a folder of DICOM files (generated on first use
into the user cache, ``<cache>/demo-v1/``) that the app opens like any study;
``demo_ground_truth()`` gives its label volume and nodules. The phantom itself
(:func:`make_chest_phantom`, :class:`PhantomParams`) lives in
:mod:`meddiag_desktop.demo.phantom` and can be randomised for training data.

Importing this package is cheap: numpy, pydicom and SimpleITK are imported
only when a study is made or read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from meddiag_desktop.demo.phantom import Nodule

__all__ = [
    "DEMO_VERSION",
    "demo_study_dir",
    "demo_ground_truth",
    "default_cache_dir",
    "make_chest_phantom",
    "PhantomParams",
    "Phantom",
    "Nodule",
    "NoduleSpec",
    "LABELS",
]

#: part of the folder name, so a changed generator makes a new folder
DEMO_VERSION = "v1"

_LAZY = {"make_chest_phantom", "PhantomParams", "Phantom", "Nodule", "NoduleSpec", "LABELS"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from meddiag_desktop.demo import phantom

        return getattr(phantom, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_cache_dir() -> Path:
    """The per-user cache folder of MedDiag Desktop."""
    from meddiag_desktop.paths import user_cache_dir

    return user_cache_dir()


def _root(cache_dir: str | os.PathLike | None) -> Path:
    base = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return base / f"demo-{DEMO_VERSION}"


def demo_study_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Folder of the demo study (``<root>/dicom/IM*.dcm`` plus ``<root>/ground_truth/``).

    Generated on first use (a few seconds) into ``<cache_dir>/demo-v1``, by
    default in the user cache; later calls return at once. Safe when several
    processes ask at the same time.
    """
    from meddiag_desktop.demo._study import generate_study

    root = _root(cache_dir)
    try:
        return generate_study(root)
    except OSError as exc:
        raise OSError(f"could not write the demo study into {root}: {exc}; "
                      "pass cache_dir= a writable folder") from exc


def demo_ground_truth(cache_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, list[Nodule]]:
    """Label volume (z, y, x, uint8; values in ``LABELS``) and nodules of the demo study."""
    from meddiag_desktop.demo._study import read_ground_truth

    return read_ground_truth(demo_study_dir(cache_dir))
