"""One study of a batch, on a worker: ``meddiag report`` into a staging folder, then one atomic rename.

Why a ``meddiag report`` child process per study rather than calling it in the
worker: the report is then exactly the CLI's (its arguments and exit status are
the only contract, so the report code can change freely); a crash or a leak in a
study ends that study, not the Dask worker; and Dask's worker processes are
daemons, which may not start the plugin's own isolated process. The cost is one
interpreter start per study (``benchmarks/bench_batch.py`` measures it).

Layout under the output folder::

    <key>/report.pdf, seg.dcm, sr.dcm   what meddiag report wrote
    <key>/findings.json                 the SR's measurements read back (sr_findings)
    <key>/batch-done.json               the completion marker, written last
    logs/<key>.log                      stderr of a failed study
    .staging/<key>.<pid>.<token>/       work in progress (renamed to <key>/ when complete)

A study counts as complete only when ``<key>/batch-done.json`` exists and every
file it lists has the size it records, so ``--resume`` can trust it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from meddiag_desktop.atomic_files import write_text_atomic
from meddiag_desktop.batch.discover import StudyJob

__all__ = ["ReportOptions", "StudyResult", "MARKER", "STAGING", "LOGS", "is_complete", "process_study",
           "report_command"]

MARKER = "batch-done.json"
FINDINGS = "findings.json"
STAGING = ".staging"
LOGS = "logs"


@dataclass(frozen=True)
class ReportOptions:
    """What every study gets: the arguments of ``meddiag report``, plus how the child runs."""

    plugins: tuple[str, ...] = ()
    risk: str | None = None
    inputs_json: str | None = None
    device: str = "auto"
    threads: int | None = None  #: torch/OpenMP threads of each study's plugin process
    gpus_by_worker_name: int = 0  #: >0: local GPU workers named 0..N-1 each see one GPU
    timeout: float | None = None  #: seconds a study may take before it is stopped and failed

    def report_args(self) -> list[str]:
        args: list[str] = []
        for p in self.plugins:
            args += ["--plugin", p]
        if self.risk:
            args += ["--risk", self.risk]
        if self.inputs_json:
            args += ["--inputs", self.inputs_json]
        return args + ["--device", self.device]


@dataclass
class StudyResult:
    """How one study ended: ``done`` (outputs complete), ``failed`` (with one reason) or ``skipped``."""

    key: str
    study_uid: str
    path: str
    status: str
    reason: str = ""
    seconds: float = 0.0
    worker: str = ""
    files: list[str] = field(default_factory=list)
    findings: int = 0
    duplicate: bool = False  #: another attempt had already completed it; this one was discarded

    def to_dict(self) -> dict:
        return asdict(self)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_complete(folder: str | os.PathLike) -> bool:
    """True when ``folder`` holds a completion marker and every file it lists, at its recorded size."""
    folder = Path(folder)
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        return all((folder / name).stat().st_size == meta["size"] for name, meta in marker["files"].items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def report_command(job: StudyJob, out: Path, options: ReportOptions) -> list[str]:
    """The ``meddiag report`` child command for ``job`` (it dies with this process)."""
    return [sys.executable, "-m", "meddiag_desktop.batch._child", str(os.getpid()),
            "report", job.path, "--out", str(out), *options.report_args()]


def _reason(proc: subprocess.CompletedProcess) -> str:
    """One line: the child's ``error:`` line, else its last line, else how it ended."""
    lines = [s.strip() for s in proc.stderr.replace("\r", "\n").splitlines() if s.strip()]
    errors = [s for s in lines if "error:" in s]
    if errors:
        return errors[-1].split("error:", 1)[1].strip()
    if proc.returncode < 0:
        import signal

        try:
            return f"the report process was killed by {signal.Signals(-proc.returncode).name}"
        except ValueError:
            pass
    tail = [s for s in lines if not s.endswith(tuple(f"/{n}" for n in range(10)))]  # skip progress counters
    return (tail or lines or [f"meddiag report exited with status {proc.returncode}"])[-1]


def _worker_name() -> str:
    try:
        from distributed import get_worker

        w = get_worker()
        return f"{w.name}@{w.address}"
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def _child_env(options: ReportOptions) -> dict[str, str]:
    env = dict(os.environ)
    if options.threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, str(options.threads))
    if options.gpus_by_worker_name and options.device == "cuda":
        try:
            from distributed import get_worker

            env["CUDA_VISIBLE_DEVICES"] = str(int(get_worker().name) % options.gpus_by_worker_name)
        except (ImportError, ValueError, TypeError):
            pass
    return env


def _fail(job: StudyJob, out_dir: Path, reason: str, log: str, started: float, worker: str) -> StudyResult:
    if log:
        try:
            write_text_atomic(out_dir / LOGS / f"{job.key}.log", log)
        except OSError:
            pass
    return StudyResult(job.key, job.study_uid, job.path, "failed", reason, time.monotonic() - started, worker)


def process_study(job: StudyJob, out_dir: str, options: ReportOptions) -> StudyResult:
    """Run the report of ``job`` and publish ``<out_dir>/<key>/`` complete or not at all; never raises for a bad study."""
    from meddiag_desktop.batch.sr_findings import read_sr_findings

    started = time.monotonic()
    out = Path(out_dir)
    final = out / job.key
    worker = _worker_name()
    if is_complete(final):
        return StudyResult(job.key, job.study_uid, job.path, "done", "already complete", 0.0, worker,
                           sorted(json.loads((final / MARKER).read_text())["files"]), duplicate=True)
    staging = out / STAGING / f"{job.key}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True, mode=0o700)
    try:
        try:
            proc = subprocess.run(report_command(job, staging, options), capture_output=True, text=True,
                                  errors="replace", timeout=options.timeout, env=_child_env(options),
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            return _fail(job, out, f"stopped after {options.timeout:g} s (the study time limit)",
                         str(exc.stderr or "")[-4000:], started, worker)
        if proc.returncode != 0:
            return _fail(job, out, _reason(proc), proc.stderr[-8000:], started, worker)
        rows = []
        if (staging / "sr.dcm").exists():
            try:
                rows = [r.to_dict() for r in read_sr_findings(staging / "sr.dcm")]
            except Exception as exc:  # noqa: BLE001 - a report we cannot read back is a failed study
                return _fail(job, out, f"the SR written could not be read back: {type(exc).__name__}: {exc}",
                             proc.stderr[-8000:], started, worker)
        write_text_atomic(staging / FINDINGS, json.dumps(rows, indent=1))
        files = {p.name: {"size": p.stat().st_size, "sha256": _sha256(p)}
                 for p in sorted(staging.iterdir()) if p.is_file()}
        from meddiag_desktop import __version__

        marker = {"key": job.key, "study_uid": job.study_uid, "source": job.path, "plugins": list(options.plugins),
                  "risk": options.risk, "device": options.device, "files": files, "findings": len(rows),
                  "seconds": round(time.monotonic() - started, 3), "worker": worker, "meddiag_version": __version__,
                  "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        write_text_atomic(staging / MARKER, json.dumps(marker, indent=1))  # last: it makes the study complete
        duplicate = _publish(staging, final)
        return StudyResult(job.key, job.study_uid, job.path, "done", "", time.monotonic() - started, worker,
                           sorted(files), len(rows), duplicate)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _publish(staging: Path, final: Path) -> bool:
    """Rename ``staging`` to ``final``; True when a complete ``final`` was already there (ours is dropped)."""
    for _ in range(3):
        try:
            os.rename(staging, final)  # atomic; fails when final exists and is not empty
            return False
        except OSError:
            if is_complete(final):
                return True
            if final.exists():  # a partial folder from outside the batch: set it aside, then retry
                stale = final.parent / STAGING / f"{final.name}.stale.{uuid.uuid4().hex[:8]}"
                try:
                    os.rename(final, stale)
                except FileNotFoundError:
                    continue
                shutil.rmtree(stale, ignore_errors=True)
    os.rename(staging, final)
    return False
