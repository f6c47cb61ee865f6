"""Errors shared by the steps of a plugin run (input checks, intended use, bundles), and the 'ai' extra.

Kept apart so that every step can raise them without importing the runner:
:class:`InputRefused` (the input does not fit the model) and
:class:`AIExtraMissing` (torch or MONAI is not installed), raised by
:func:`import_ai` wherever a run imports them lazily.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["InputRefused", "AIExtraMissing", "AI_EXTRA_HINT", "import_ai"]

#: what to do when torch or MONAI is missing
AI_EXTRA_HINT = "install meddiag-desktop[ai] (pip install 'meddiag-desktop[ai]')"


class InputRefused(ValueError):
    """The volume does not fit the model (2D image, RGB, absurd spacing...)."""


class AIExtraMissing(ImportError):
    """torch or MONAI (the ``ai`` extra) is not installed, or cannot be imported."""


def import_ai(name: str) -> ModuleType:
    """Import ``name`` (``torch``, ``monai.bundle``...); a failure says to install the ``ai`` extra.

    Raises
    ------
    AIExtraMissing
        naming the missing package (not chained: the message is the whole story;
        the worker's log keeps the traceback).
    """
    try:
        return importlib.import_module(name)
    except ImportError as err:
        top = name.split(".")[0]
        missing = (getattr(err, "name", None) or top).split(".")[0]
        if isinstance(err, ModuleNotFoundError) and missing == top:
            text = f"AI plugins need {top}, which is not installed; {AI_EXTRA_HINT}"
        else:
            text = f"AI plugins need {top}, which cannot be imported ({err}); {AI_EXTRA_HINT}"
        raise AIExtraMissing(text, name=top) from None
