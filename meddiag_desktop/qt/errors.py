"""One error boundary for every user action: failures are shown, never crash the app."""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["guarded", "user_message"]

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def user_message(exc: BaseException) -> str:
    """Text for the user: typed errors (``ValueError`` family, ``OSError``) speak for themselves."""
    if isinstance(exc, (ValueError, OSError)):
        return str(exc) or type(exc).__name__
    return f"Unexpected error ({type(exc).__name__}): {exc}. Please report this with the log."


def guarded(action: str) -> Callable[[F], F]:
    """Decorate a widget method so any exception is shown by ``self.show_error`` (or logged)."""

    def deco(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(self, *args, **kwargs):
            try:
                return fn(self, *args, **kwargs)
            except Exception as exc:  # the boundary: show, log, continue
                log.error("%s failed:\n%s", action, traceback.format_exc())
                show = getattr(self, "show_error", None) or getattr(self.window(), "show_error", None)
                if show is not None:
                    show(f"{action} failed: {user_message(exc)}")
                return None

        return wrapper  # type: ignore[return-value]

    return deco
