"""Our C-STORE SCP: receives pushed studies (``meddiag listen``) and C-MOVE results into the database.

Every received file goes to managed storage and the index; a file that cannot be
parsed or placed in a study is quarantined with the reason and refused with
status 0xC210. It also answers C-ECHO, so a PACS can test the connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["StoreServer", "storage_contexts"]


def storage_contexts():
    """pynetdicom's storage presentation contexts (all storage SOP classes, default transfer syntaxes)."""
    from pynetdicom import StoragePresentationContexts

    return StoragePresentationContexts


class StoreServer:
    """A C-STORE SCP on ``port`` with AE title ``ae_title`` storing into ``db``; use as a context manager.

    ``on_stored(study_uid)`` is called (from a network thread) after each stored
    instance, and ``on_instance(path)`` with its file in managed storage;
    ``received``/``quarantined`` count since start.
    """

    def __init__(self, db, ae_title: str = "MEDDIAG", port: int = 11112, bind: str = "",
                 on_stored: Callable[[str], None] | None = None, timeout: float = 30.0,
                 on_instance: Callable[[Path], None] | None = None):
        self.db = db
        self.ae_title = ae_title
        self.port = port
        self.bind = bind
        self.on_stored = on_stored
        self.on_instance = on_instance
        self.timeout = timeout
        self.received = 0
        self.quarantined = 0
        self.by_study: dict[str, int] = {}
        self._count_lock = threading.Lock()
        self._server = None

    def _handle_store(self, event) -> int:
        from meddiag_desktop.db import DatabaseError

        try:
            data = event.encoded_dataset(include_meta=True)
        except Exception as exc:
            raw = bytes(event.request.DataSet.getvalue()) if event.request.DataSet is not None else b""
            self.db.quarantine(raw, f"received from {event.assoc.requestor.ae_title}: cannot be decoded ({exc})")
            with self._count_lock:
                self.quarantined += 1
            return 0xC210
        try:
            path, study = self.db.store_received(data, commit=False)
        except DatabaseError as exc:
            self.db.quarantine(data, f"received from {event.assoc.requestor.ae_title}: {exc}",
                               name=str(getattr(event.request, "AffectedSOPInstanceUID", "") or "received"))
            with self._count_lock:
                self.quarantined += 1
            return 0xC210
        with self._count_lock:
            self.received += 1
            self.by_study[study] = self.by_study.get(study, 0) + 1
        if self.on_stored is not None:
            self.on_stored(study)
        if self.on_instance is not None:
            self.on_instance(path)
        return 0x0000

    def _handle_end(self, event) -> None:
        self.db.flush()

    def start(self) -> StoreServer:
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import Verification

        from meddiag_desktop.pacs.errors import PacsError

        ae = AE(self.ae_title)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.timeout
        ae.maximum_pdu_size = 0
        for cx in storage_contexts():
            ae.add_supported_context(cx.abstract_syntax, _ALL_SYNTAXES(), scp_role=True, scu_role=False)
        ae.add_supported_context(Verification)
        handlers = [(evt.EVT_C_STORE, self._handle_store), (evt.EVT_RELEASED, self._handle_end),
                    (evt.EVT_ABORTED, self._handle_end), (evt.EVT_CONN_CLOSE, self._handle_end)]
        try:
            self._server = ae.start_server((self.bind, self.port), block=False, evt_handlers=handlers)
        except OSError as exc:
            raise PacsError(f"cannot listen on port {self.port} ({exc.strerror or exc}); "
                            "choose another port (--port) or stop the program using it") from None
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        self.db.flush()

    def __enter__(self) -> StoreServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _ALL_SYNTAXES() -> list[str]:
    """Transfer syntaxes we accept: the uncompressed ones and every compressed one pydicom knows."""
    from pydicom.uid import AllTransferSyntaxes

    return list(AllTransferSyntaxes)
