"""Typed errors of the I/O layer. Messages are shown to users as they are."""

from __future__ import annotations

from meddiag_desktop.core.progress import Cancelled

__all__ = ["LoadError", "LoadCancelled", "unreadable_reason"]


class LoadError(ValueError):
    """A study or file cannot be shown; the message says what is wrong and what to do.

    ``detail`` keeps the technical cause (an exception's type and text) for logs and bug
    reports; the message itself stays in plain words.
    """

    def __init__(self, message: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


def unreadable_reason(exc: BaseException) -> str:
    """Plain words for an unexpected parser exception on a damaged file (no raw exception text)."""
    if isinstance(exc, RecursionError):
        return "its data is nested far too deeply (the file is damaged)"
    if isinstance(exc, MemoryError):
        return "it declares more data than it can hold (the file is damaged)"
    if isinstance(exc, (EOFError, OSError)) and not isinstance(exc, FileNotFoundError):
        return "the file ends in the middle of its data or cannot be read (truncated or damaged)"
    if isinstance(exc, UnicodeError):
        return "a text value is not valid in its character set (the file is damaged)"
    return "its structure is damaged and cannot be read as DICOM"


class LoadCancelled(Cancelled):
    """Loading was cancelled by the user (not an error: nothing to report)."""
