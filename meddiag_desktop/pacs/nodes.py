"""PACS nodes (name, AE title, host, port or DICOMweb URL, timeout) and our own AE, stored with the settings.

The settings file is ``user_config_dir()/pacs.json``::

    {"local": {"ae_title": "MEDDIAG", "port": 11112},
     "nodes": [{"name": "orthanc", "ae_title": "ORTHANC", "host": "10.0.0.5", "port": 4242, "timeout": 10},
               {"name": "web", "url": "http://10.0.0.5:8042/dicom-web", "timeout": 10}]}
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from meddiag_desktop.pacs.errors import PacsError

__all__ = ["Node", "LocalAE", "PacsSettings", "resolve_node", "settings_path", "load_settings", "save_settings"]

_AE_AT = re.compile(r"^(?P<ae>[^@]+)@(?P<host>[^:@]+):(?P<port>\d{1,5})$")


@dataclass
class Node:
    """A PACS: DIMSE (``ae_title``, ``host``, ``port``) or DICOMweb (``url``); ``timeout`` in seconds."""

    name: str = ""
    ae_title: str = ""
    host: str = ""
    port: int = 104
    url: str = ""
    timeout: float = 10.0
    #: HTTP basic auth for DICOMweb, "user:password" (optional)
    auth: str = ""

    @property
    def is_web(self) -> bool:
        return bool(self.url)

    @property
    def label(self) -> str:
        return self.url if self.is_web else f"{self.ae_title}@{self.host}:{self.port}"

    def validate(self) -> Node:
        if self.is_web:
            if not self.url.startswith(("http://", "https://")):
                raise PacsError(f"node {self.name!r}: DICOMweb URL must start with http:// or https://")
        else:
            if not (1 <= len(self.ae_title.strip()) <= 16):
                raise PacsError(f"node {self.name!r}: AE title must have 1 to 16 characters, got {self.ae_title!r}")
            if not self.host:
                raise PacsError(f"node {self.name!r}: no host")
            if not (0 < int(self.port) < 65536):
                raise PacsError(f"node {self.name!r}: port {self.port} is not between 1 and 65535")
        if not self.timeout or self.timeout <= 0:
            raise PacsError(f"node {self.name!r}: timeout must be a positive number of seconds")
        return self


@dataclass
class LocalAE:
    """Our own AE title and the port our C-STORE SCP listens on (``meddiag listen``, C-MOVE destination)."""

    ae_title: str = "MEDDIAG"
    port: int = 11112


@dataclass
class PacsSettings:
    local: LocalAE = field(default_factory=LocalAE)
    nodes: list[Node] = field(default_factory=list)

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)


def settings_path() -> Path:
    from meddiag_desktop.paths import user_config_dir

    return user_config_dir() / "pacs.json"


def load_settings(path: Path | None = None) -> PacsSettings:
    """The saved nodes and our AE; defaults when there is no file. A broken file is a :class:`PacsError`."""
    p = path or settings_path()
    if not p.is_file():
        return PacsSettings()
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
        local = LocalAE(**raw.get("local", {}))
        nodes = [Node(**n).validate() for n in raw.get("nodes", [])]
    except (ValueError, TypeError) as exc:
        raise PacsError(f"{p}: PACS settings cannot be read ({exc}); fix or delete the file") from None
    return PacsSettings(local, nodes)


def save_settings(settings: PacsSettings, path: Path | None = None) -> Path:
    """Write the settings atomically."""
    from meddiag_desktop.atomic_files import write_text_atomic

    p = path or settings_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    data = {"local": asdict(settings.local), "nodes": [asdict(n.validate()) for n in settings.nodes]}
    write_text_atomic(p, json.dumps(data, indent=2))
    return p


def resolve_node(text: str, timeout: float | None = None, settings: PacsSettings | None = None) -> Node:
    """A configured node's name, ``AE@host:port`` or an ``http(s)://…/dicom-web`` URL, as a :class:`Node`."""
    s = settings or load_settings()
    node = s.node(text)
    if node is None:
        m = _AE_AT.match(text)
        if m:
            node = Node(name=text, ae_title=m["ae"], host=m["host"], port=int(m["port"]))
        elif text.startswith(("http://", "https://")):
            node = Node(name=text, url=text.rstrip("/"))
        else:
            known = ", ".join(n.name for n in s.nodes) or "none configured"
            raise PacsError(f"unknown PACS node {text!r}: give a configured name ({known}), AE@host:port "
                            "or an http(s)://…/dicom-web URL")
    if timeout is not None:
        node = Node(**{**asdict(node), "timeout": float(timeout)})
    return node.validate()
