"""Typed errors of the I/O layer. Messages are shown to users as they are."""

from __future__ import annotations

__all__ = ["LoadError", "LoadCancelled"]


class LoadError(ValueError):
    """A study or file cannot be shown; the message says what is wrong and what to do."""


class LoadCancelled(Exception):
    """Loading was cancelled by the user (not an error: nothing to report)."""
