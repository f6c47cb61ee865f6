"""One cancel token and one ``Cancelled`` base class for every long job (core/progress.py)."""

from __future__ import annotations

import threading

import pytest

from meddiag_desktop.core.progress import Cancelled, CancelToken


def test_cancel_token_is_a_cancel_callable_set_from_any_thread():
    token = CancelToken()
    assert token() is False and not token.cancelled
    t = threading.Thread(target=token.cancel)
    t.start()
    t.join(5)
    assert token() is True and token.cancelled
    token.cancel()  # idempotent
    assert token() is True
    assert repr(token) == "CancelToken(cancelled=True)"


def test_every_typed_cancel_is_a_cancelled_and_not_an_error():
    from meddiag_desktop.ai.sliding_window import RunCancelled
    from meddiag_desktop.io import LoadCancelled, LoadError
    from meddiag_desktop.pacs.errors import PacsCancelled, PacsError
    from meddiag_desktop.reading.registration import RegistrationCancelled

    for cls in (LoadCancelled, RunCancelled, RegistrationCancelled, PacsCancelled):
        assert issubclass(cls, Cancelled), cls
        with pytest.raises(Cancelled):
            raise cls("stopped")
    assert not issubclass(LoadCancelled, LoadError)  # ``except LoadError`` never swallows a cancel
    assert issubclass(PacsCancelled, PacsError)  # PACS callers that catch PacsError still see it
