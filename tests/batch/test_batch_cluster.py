"""meddiag batch against a separate ``dask scheduler`` and two ``dask worker`` processes; one worker is killed."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.batch.batch_helpers import audit_events

pytest.importorskip("distributed")


def _wait_for(what: str, check, deadline_s: float, procs=()):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"{p.args[:4]} exited with {p.returncode} while waiting for {what}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two workers (no nanny: a killed worker stays dead), as separate processes on localhost."""
    scheduler_file = tmp_path / "scheduler.json"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    procs: dict[str, subprocess.Popen] = {}

    def start(name, *args):
        procs[name] = subprocess.Popen([sys.executable, "-m", *args], stdout=subprocess.DEVNULL,
                                       stderr=open(logs / f"{name}.log", "w"), env=dict(os.environ), cwd=tmp_path)

    start("scheduler", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
          "--scheduler-file", str(scheduler_file))
    try:
        address = _wait_for("the scheduler file", lambda: scheduler_file.exists() and scheduler_file.stat().st_size
                            and json.loads(scheduler_file.read_text())["address"], 60, procs.values())
        for name in ("wA", "wB"):
            start(name, "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny", "--name", name,
                  "--no-dashboard")
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, procs
    finally:
        for p in procs.values():  # only the processes this fixture started, each by its own handle
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def test_a_killed_worker_loses_and_duplicates_nothing(archive, plugin, cluster, tmp_path, audit_log):
    address, procs = cluster
    listing = tmp_path / "studies.txt"
    names = sorted(archive["good"])
    listing.write_text("# studies of the test archive\n" + "".join(f"{archive['root'] / n}\n" for n in names))
    out = tmp_path / "reports"
    batch = subprocess.Popen([sys.executable, "-m", "meddiag_desktop", "batch", str(listing), "--plugin", str(plugin),
                              "--out", str(out), "--scheduler", address, "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = procs["wA"]
    try:
        # wait until worker A is inside a study (its staging folder exists), then SIGKILL it
        staging = _wait_for("worker A to start a study",
                            lambda: next(iter((out / ".staging").glob(f"*.{victim.pid}.*")), None)
                            if (out / ".staging").is_dir() else None, 90, [batch])
        killed_key = staging.name.split(f".{victim.pid}.")[0]
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        stdout, stderr = batch.communicate(timeout=180)
    finally:
        if batch.poll() is None:
            batch.kill()
    assert batch.returncode == 0, stderr
    outcome = json.loads(stdout)
    assert (outcome["done"], outcome["failed"], outcome["total"]) == (3, 0, 3)

    # every study done exactly once, complete; the killed one finished on worker B
    uids = sorted(archive["good"].values())
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(uids)  # no .staging, no logs, no extra
    for uid in uids:
        marker = json.loads((out / uid / "batch-done.json").read_text())
        assert all((out / uid / f).stat().st_size == m["size"] for f, m in marker["files"].items())
        assert set(marker["files"]) == {"findings.json", "report.pdf", "seg.dcm", "sr.dcm"}
    assert killed_key in uids
    assert json.loads((out / killed_key / "batch-done.json").read_text())["worker"].startswith("wB@")
    with open(out / "studies.csv", newline="") as fh:
        studies = list(csv.DictReader(fh))
    assert sorted(r["key"] for r in studies) == uids and {r["status"] for r in studies} == {"done"}
    with open(out / "summary.csv", newline="") as fh:
        volumes = [r["study_uid"] for r in csv.DictReader(fh) if r["measurement"] == "Volume"]
    assert sorted(volumes) == uids
    batch_events = [e for e in audit_events(audit_log) if e.get("via") == "batch"]
    assert len(batch_events) == 3 and {e["outcome"] for e in batch_events} == {"ok"}

    # the killed worker's report process died with it (no orphan left to finish a duplicate)
    def orphan_gone():
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        return f"meddiag_desktop.batch._child {victim.pid} " not in ps

    _wait_for("the killed worker's report process to end", orphan_gone, 15)
