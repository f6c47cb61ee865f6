"""Progress and cancel for long work: one callback type each, one cancel token, one ``Cancelled`` base class.

Every long job (scan, load, an AI run, a registration, a PACS retrieve) takes
``progress(done, total)`` and ``cancel() -> bool``, both callable from any thread.
A job that sees ``cancel()`` true stops by raising a subclass of :class:`Cancelled`
(``LoadCancelled``, ``RunCancelled``, ``RegistrationCancelled``, ``PacsCancelled``),
so a caller that only needs to know "the user stopped it" catches the base class.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Progress", "Cancel", "Cancelled", "CancelToken"]

#: ``progress(done, total)``: called from the working thread as work advances.
Progress = Callable[[int, int], None]
#: ``cancel() -> bool``: polled by the work; True means stop and raise a :class:`Cancelled`.
Cancel = Callable[[], bool]


class Cancelled(Exception):
    """The user cancelled the work: not an error, nothing to report."""


class CancelToken:
    """A thread-safe cancel flag that is itself a :data:`Cancel`: ``token()`` says whether to stop.

    Pass the token wherever a ``cancel=`` callable is expected; :meth:`cancel` sets it.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop (idempotent, any thread)."""
        self._event.set()

    def __call__(self) -> bool:
        return self._event.is_set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def __repr__(self) -> str:
        return f"CancelToken(cancelled={self.cancelled})"
