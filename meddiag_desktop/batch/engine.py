"""Run a batch on Dask: a LocalCluster sized to this machine, or the scheduler of a real cluster.

The client finds candidates, the workers read the headers (:func:`scan_candidate`)
and run one ``meddiag report`` per study (:func:`process_study`); the client
follows the futures, reports progress, audits every study and writes the tables.
A worker that dies takes its study back to the scheduler, which gives it to
another worker (up to ``distributed.scheduler.allowed-failures`` deaths, then the
study is failed as one that kills workers); publishing by rename makes a repeated
study land once.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from meddiag_desktop.core.progress import Cancel
from meddiag_desktop.spawning import main_hidden  # Dask spawns its workers: never re-run the caller's script
from meddiag_desktop.batch.discover import (BatchInputError, InputProblem, StudyJob, candidates, merge_scans,
                                            scan_candidate)
from meddiag_desktop.batch.study import MARKER, STAGING, ReportOptions, StudyResult, is_complete, process_study

__all__ = ["BatchConfig", "BatchProgress", "BatchOutcome", "run_batch", "local_cluster_size", "BatchInputError"]


@dataclass
class BatchConfig:
    """Everything ``meddiag batch`` was asked to do."""

    input: str
    out_dir: Path
    options: ReportOptions = field(default_factory=ReportOptions)
    scheduler: str | None = None  #: ``tcp://host:port`` of a running scheduler; None starts a LocalCluster
    workers: int | None = None  #: LocalCluster workers (default: sized to the machine)
    resume: bool = False
    dashboard_address: str = ":0"
    retries: int = 1  #: extra tries of a study whose task raised (worker deaths are counted by the scheduler)


@dataclass
class BatchProgress:
    """Counts while the batch runs; :meth:`line` is what the terminal shows."""

    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    started: float = field(default_factory=time.monotonic)
    dashboard: str = ""
    last: StudyResult | None = None

    @property
    def remaining(self) -> int:
        return self.total - self.done - self.failed - self.skipped

    @property
    def per_minute(self) -> float:
        elapsed = time.monotonic() - self.started
        n = self.done + self.failed
        return 60.0 * n / elapsed if n and elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        rate = self.per_minute
        return 60.0 * self.remaining / rate if rate else None

    def line(self) -> str:
        eta = self.eta_seconds
        eta_text = "ETA --" if eta is None else f"ETA {int(eta // 3600)}:{int(eta % 3600 // 60):02d}:{int(eta % 60):02d}"
        skipped = f", {self.skipped} already complete" if self.skipped else ""
        return (f"{self.done} done, {self.failed} failed, {self.remaining} remaining of {self.total}{skipped}; "
                f"{self.per_minute:.1f} studies/min; {eta_text}")


@dataclass
class BatchOutcome:
    """What the batch did: per-study results, failures (one reason each) and the tables written."""

    results: list[StudyResult]
    failures: list[dict]
    tables: dict[str, list[Path]]
    progress: BatchProgress
    dashboard: str = ""
    cancelled: bool = False

    def to_json(self) -> dict:
        p = self.progress
        return {"total": p.total, "done": p.done, "failed": p.failed, "skipped": p.skipped,
                "seconds": round(time.monotonic() - p.started, 2), "dashboard": self.dashboard,
                "cancelled": self.cancelled,
                "tables": {k: [str(x) for x in v] for k, v in self.tables.items()},
                "studies": [r.to_dict() for r in self.results], "failures": self.failures}


def local_cluster_size(device: str, workers: int | None = None) -> tuple[int, int, int]:
    """(workers, threads per study, GPUs) for a LocalCluster on this machine.

    CPU: one worker per core while there are ~4 GB of memory for each (a study's
    plugin process holds the volume and the model), each study's torch using the
    cores divided among the workers. CUDA: one worker per GPU.
    """
    cores = os.cpu_count() or 1
    gpus = 0
    if device == "cuda":
        import torch  # only for --device cuda

        gpus = torch.cuda.device_count()
        if not gpus:
            raise BatchInputError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu")
        n = workers or gpus
    else:
        try:
            mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        except (ValueError, OSError, AttributeError):
            mem_gb = 8.0
        n = workers or max(1, min(cores, int(mem_gb // 4)))
    return n, max(1, cores // n), gpus


def _check_output(config: BatchConfig, cands: list[str]) -> None:
    out = config.out_dir.resolve()
    for c in cands:
        src = Path(c).resolve()
        src = src if src.is_dir() else src.parent
        if out == src or src in out.parents:
            raise BatchInputError(f"refusing to write into {out}: it is inside the input {src}; source folders are "
                                  "never written to, choose an output folder elsewhere")
    if not config.resume and out.is_dir():
        done = [p.parent.name for p in out.glob(f"*/{MARKER}")]
        if done:
            raise BatchInputError(f"{out} already holds {len(done)} completed studies; add --resume to skip them "
                                  "(and run the rest) or choose an empty output folder")


def _check_plugins(options: ReportOptions) -> None:
    from meddiag_desktop.ai.discovery import PluginNotFound, find_plugin

    for pid in options.plugins:
        try:
            info = find_plugin(pid)
        except PluginNotFound as exc:
            raise BatchInputError(f"{exc} (see 'meddiag plugins')") from None
        if not info.ok:
            raise BatchInputError(f"plugin {info.id} cannot be used: {info.error}")


def _connect(config: BatchConfig):
    """(client, cluster or None, ReportOptions adjusted to the cluster)."""
    import logging

    from distributed import Client, LocalCluster

    options = config.options
    if config.scheduler:
        client = Client(config.scheduler, timeout="20s")
        if options.device == "cuda":
            info = client.scheduler_info()
            if not any((w.get("resources") or {}).get("GPU") for w in info.get("workers", {}).values()):
                client.close()
                raise BatchInputError(f"no worker of {config.scheduler} offers a GPU; start GPU workers with "
                                      "'dask worker SCHEDULER --nthreads 1 --resources GPU=1'")
        return client, None, options
    n, threads, gpus = local_cluster_size(options.device, config.workers)
    with main_hidden():
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=config.dashboard_address, resources={"GPU": 1} if gpus else None,
                               silence_logs=logging.ERROR)
    client = Client(cluster)
    from dataclasses import replace

    return client, cluster, replace(options, threads=options.threads or threads, gpus_by_worker_name=gpus)


def run_batch(config: BatchConfig, on_progress: Callable[[BatchProgress], None] | None = None,
              cancel: Cancel | None = None) -> BatchOutcome:
    """Run the batch; raises :class:`BatchInputError` on bad input before any study starts.

    ``on_progress`` is called (in this thread) when a study ends and about once a
    second otherwise; ``cancel()`` returning True stops submitting, cancels what
    has not finished and writes the tables of what has.
    """
    try:
        from distributed import wait
    except ImportError:
        raise BatchInputError("meddiag batch needs Dask distributed, which is not installed: "
                              "pip install 'meddiag-desktop[batch]' (or: pip install distributed)") from None

    from meddiag_desktop.report.audit import audit

    config.out_dir = Path(config.out_dir).expanduser().resolve()
    cands = candidates(config.input)
    _check_output(config, cands)
    _check_plugins(config.options)
    config.out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    progress = BatchProgress()
    notify = on_progress or (lambda p: None)
    client, cluster, options = _connect(config)
    batch_id = uuid.uuid4().hex[:12]
    try:
        progress.dashboard = client.dashboard_link or ""
        notify(progress)
        scans = client.map(scan_candidate, cands, key=[f"meddiag-scan-{batch_id}-{i}" for i in range(len(cands))],
                           retries=config.retries)
        outcomes, failures = [], []
        for c, f in zip(cands, scans):
            try:
                outcomes.append(f.result())
            except Exception as exc:  # noqa: BLE001 - an unreadable candidate is a failure row, not the end
                failures.append({"key": "", "path": c, "stage": "scan", "reason": f"{type(exc).__name__}: {exc}"})
        jobs, problems = merge_scans(outcomes)
        problems = [*getattr(cands, "problems", ()), *problems]  # studies a pacs: INPUT could not retrieve
        failures += [{"key": p.key, "path": p.source, "stage": "scan", "reason": p.reason} for p in problems]
        results: list[StudyResult] = []
        todo: list[StudyJob] = []
        for j in jobs:
            if config.resume and is_complete(config.out_dir / j.key):
                results.append(StudyResult(j.key, j.study_uid, j.path, "skipped", "already complete (--resume)"))
            else:
                todo.append(j)
        progress.total = len(jobs)
        progress.skipped = len(jobs) - len(todo)
        progress.started = time.monotonic()
        notify(progress)
        resources = {"GPU": 1} if options.device == "cuda" else None
        futures = {client.submit(process_study, j, str(config.out_dir), options, key=f"meddiag-study-{j.key}-{batch_id}",
                                 retries=config.retries, resources=resources, pure=False): j for j in todo}
        pending = set(futures)
        cancelled = False
        while pending:
            if cancel is not None and cancel():
                cancelled = True
                client.cancel(list(pending))
                break
            try:
                finished, pending = wait(pending, timeout=1.0, return_when="FIRST_COMPLETED")
            except TimeoutError:
                finished = set()
            for fut in finished:
                job = futures[fut]
                result = _result_of(fut, job)
                results.append(result)
                if result.status == "done":
                    progress.done += 1
                else:
                    progress.failed += 1
                    failures.append({"key": job.key, "study_uid": job.study_uid, "path": job.path,
                                     "stage": "report", "reason": result.reason})
                audit("export", job.study_uid, "ok" if result.status == "done" else "failed", via="batch",
                      batch=batch_id, seconds=round(result.seconds, 2),
                      **({"error": result.reason[:200]} if result.status != "done" else {"files": result.files}))
                progress.last = result
                notify(progress)
            if not finished:
                notify(progress)
        done_keys = [r.key for r in results if r.status in ("done", "skipped")]
        studies = [r.to_dict() for r in sorted(results, key=lambda r: r.key)]
        from meddiag_desktop.batch.tables import write_tables

        tables = write_tables(config.out_dir, done_keys, studies, failures)
        return BatchOutcome(results, failures, tables, progress, progress.dashboard, cancelled)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        _clean_staging(config.out_dir)


def _result_of(fut, job: StudyJob) -> StudyResult:
    """The task's result, or a failed result naming why the task itself failed (e.g. killed workers)."""
    try:
        return fut.result()
    except Exception as exc:  # noqa: BLE001 - KilledWorker, an error in publishing...: one reason per study
        name = type(exc).__name__
        reason = f"{name}: {exc}"
        if name == "KilledWorker":
            reason = f"every worker that processed this study died (out of memory?); {reason}"
        return StudyResult(job.key, job.study_uid, job.path, "failed", reason)


def _clean_staging(out_dir: Path) -> None:
    """Remove what interrupted attempts left in ``.staging`` (complete studies are never there)."""
    staging = out_dir / STAGING
    if staging.is_dir():
        shutil.rmtree(staging, ignore_errors=True)


def outcome_json(outcome: BatchOutcome) -> str:
    return json.dumps(outcome.to_json(), indent=1, default=str)
