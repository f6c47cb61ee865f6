"""Append-only audit log of opens, AI runs and exports (JSON lines, no patient names or IDs).

``audit(action, study_uid, outcome, **details)`` appends one line to
``<user data folder>/audit.log`` (:mod:`meddiag_desktop.paths`; ``MEDDIAG_AUDIT_LOG``
overrides the path). The study is recorded as the first 16 hex digits of the
SHA-256 of its Study Instance UID: enough to find every event of a study you
hold, useless to anyone who does not. Details must not hold patient identifiers;
values that look like them (keys containing ``patient``/``name``/``birth``) are
refused. Logging never raises: a full disk must not stop a clinical export, so
failures are returned as ``False``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["audit", "audit_log_path", "study_key", "ACTIONS"]

ACTIONS = ("open", "ai_run", "risk", "export", "preview")
ENV_VAR = "MEDDIAG_AUDIT_LOG"
_FORBIDDEN_KEYS = ("patient", "name", "birth", "accession")
_LOCK = threading.Lock()


def audit_log_path() -> Path:
    """Where the log lives (the folder is created on first write)."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override)
    from meddiag_desktop.paths import user_data_dir

    return user_data_dir() / "audit.log"


def study_key(study_uid: str | None) -> str:
    """Pseudonymous key of a study: 16 hex digits of SHA-256 of its UID ('' when unknown)."""
    uid = (study_uid or "").strip()
    return hashlib.sha256(uid.encode("ascii", "replace")).hexdigest()[:16] if uid else ""


def audit(action: str, study_uid: str | None, outcome: str, **details: Any) -> bool:
    """Append one event; returns False (never raises) when it could not be written.

    Parameters
    ----------
    action:
        one of :data:`ACTIONS` (``open``, ``ai_run``, ``risk``, ``export``, ``preview``).
    study_uid:
        the Study Instance UID; only its hash is stored.
    outcome:
        ``ok``, ``failed``, ``cancelled``... (short word).
    details:
        JSON-serialisable extras (plugin id, device, files written, error type).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; use one of {', '.join(ACTIONS)}")
    bad = [k for k in details if any(f in k.lower() for f in _FORBIDDEN_KEYS)]
    if bad:
        raise ValueError(f"audit details must not carry patient identifiers: {', '.join(bad)}")
    event = {
        "time": _dt.datetime.now().astimezone().isoformat(timespec="milliseconds"),
        "action": action,
        "study": study_key(study_uid),
        "outcome": outcome,
        **details,
    }
    line = json.dumps(event, default=str, ensure_ascii=True) + "\n"
    path = audit_log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _LOCK:
            # O_APPEND: every write lands at the end, even with several processes; 0o600: owner only
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("ascii"))
            finally:
                os.close(fd)
    except OSError:
        return False
    return True
