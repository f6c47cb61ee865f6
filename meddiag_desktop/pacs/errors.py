"""Errors of PACS operations: one line that says what failed and what to do."""

from __future__ import annotations

from meddiag_desktop.core.progress import Cancelled

__all__ = ["PacsError", "RetrieveIncomplete", "PacsCancelled"]


class PacsError(ValueError):
    """A network or PACS failure; ``str()`` is one line for the user (a ``ValueError``, like ``LoadError``)."""


class RetrieveIncomplete(PacsError):
    """A retrieve that ended before all instances arrived; the study stays marked partial."""

    def __init__(self, message: str, received: int, expected: int | None):
        super().__init__(message)
        self.received = received
        self.expected = expected


class PacsCancelled(PacsError, Cancelled):
    """The user cancelled; what arrived is kept and the study stays partial."""
