"""Start and stop a real Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``) for tests and the benchmark.

Free ports, a temporary storage folder, the DICOMweb plugin, our AE registered
for C-MOVE; readiness is polled (``/system``), never slept for.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ORTHANC = Path("/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
AET = "ORTHANC"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available() -> str | None:
    """None when Orthanc can run here, else why not (for pytest.skip)."""
    if not ORTHANC.exists():
        return "Orthanc is not installed (apt-get install orthanc orthanc-dicomweb)"
    if not DICOMWEB_PLUGIN.exists():
        return "the Orthanc DICOMweb plugin is not installed (apt-get install orthanc-dicomweb)"
    return None


class Orthanc:
    """A running Orthanc: ``dicom_port``, ``http_port``, ``url``, ``dicomweb_url``; REST helpers."""

    def __init__(self, folder: Path, our_ae: str = "MEDDIAG", our_port: int | None = None,
                 dicom_port: int | None = None, http_port: int | None = None,
                 extra_modalities: dict[str, tuple[str, int]] | None = None):
        self.folder = Path(folder)
        self.dicom_port = dicom_port or free_port()
        self.http_port = http_port or free_port()
        self.our_ae = our_ae
        self.our_port = our_port or free_port()
        self.proc: subprocess.Popen | None = None
        #: more C-MOVE destinations: name -> (AE title, port) on 127.0.0.1
        self.extra_modalities = dict(extra_modalities or {})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    @property
    def node_text(self) -> str:
        return f"{AET}@127.0.0.1:{self.dicom_port}"

    def config(self) -> dict:
        return {
            "Name": "meddiag-test", "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "storage"), "DicomAet": AET, "DicomPort": self.dicom_port,
            "HttpPort": self.http_port, "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
            "DicomCheckCalledAet": True, "DicomAlwaysAllowEcho": True, "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": True, "DicomAlwaysAllowGet": True, "DicomAlwaysAllowMove": True,
            "DicomModalities": {"meddiag": [self.our_ae, "127.0.0.1", self.our_port],
                                **{k: [ae, "127.0.0.1", port] for k, (ae, port) in self.extra_modalities.items()}},
            "Plugins": [str(DICOMWEB_PLUGIN)], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "SaveJobs": False, "StorageCompression": False, "OverwriteInstances": True,
            "DicomScuTimeout": 10, "DicomScpTimeout": 30, "HttpTimeout": 30, "ConcurrentJobs": 2,
        }

    def start(self, timeout: float = 60.0) -> Orthanc:
        self.folder.mkdir(parents=True, exist_ok=True)
        cfg = self.folder / "orthanc.json"
        cfg.write_text(json.dumps(self.config(), indent=1))
        self.log = open(self.folder / "orthanc.log", "ab")
        self.proc = subprocess.Popen([str(ORTHANC), str(cfg)], stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=self.folder)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Orthanc exited with {self.proc.returncode}; see {self.folder / 'orthanc.log'}")
            try:
                with urllib.request.urlopen(self.url + "/system", timeout=1) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            with socket.socket() as s:  # block briefly on the port rather than spin
                s.settimeout(0.2)
                s.connect_ex(("127.0.0.1", self.http_port))
        self.stop()
        raise RuntimeError(f"Orthanc did not answer within {timeout} s; see {self.folder / 'orthanc.log'}")

    def stop(self, graceful: bool = True) -> None:
        """Stop Orthanc; ``graceful=False`` kills it at once (a throw-away test server: saves ~3 s)."""
        if self.proc is not None and self.proc.poll() is None:
            if not graceful:
                self.proc.kill()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()

    # -------------------------------------------------------------- REST helpers
    def rest(self, path: str, data: bytes | None = None, method: str | None = None):
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/dicom" if method != "POSTJSON" else "application/json")
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
        return json.loads(body) if body[:1] in (b"{", b"[") else body

    def upload(self, files) -> int:
        n = 0
        for f in files:
            self.rest("/instances", Path(f).read_bytes(), "POST")
            n += 1
        return n

    def study_id(self, study_uid: str) -> str | None:
        req = urllib.request.Request(self.url + "/tools/lookup", data=study_uid.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            found = [x for x in json.loads(r.read()) if x["Type"] == "Study"]
        return found[0]["ID"] if found else None

    def instances_of_study(self, study_uid: str) -> list[dict]:
        sid = self.study_id(study_uid)
        return [] if sid is None else self.rest(f"/studies/{sid}/instances")

    def delete_all(self) -> None:
        for sid in self.rest("/studies"):
            self.rest(f"/studies/{sid}", method="DELETE")


def have_dcmtk(tool: str) -> bool:
    return shutil.which(tool) is not None
