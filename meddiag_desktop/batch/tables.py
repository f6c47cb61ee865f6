"""The batch's tables: findings summary (from each study's SR), failures and studies; CSV, and Parquet with pyarrow.

Every table is written atomically next to the study folders: ``summary.csv``
(one row per measurement or coded finding, :data:`~meddiag_desktop.batch.sr_findings.SUMMARY_COLUMNS`),
``failures.csv`` (one row per study or input that could not be processed, with one
reason) and ``studies.csv`` (every study of the batch and how it ended).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from meddiag_desktop.atomic_files import write_bytes_atomic
from meddiag_desktop.batch.sr_findings import SUMMARY_COLUMNS, read_sr_findings

__all__ = ["FAILURE_COLUMNS", "STUDY_COLUMNS", "write_table", "summary_rows", "write_tables"]

FAILURE_COLUMNS = ("key", "study_uid", "path", "stage", "reason")
STUDY_COLUMNS = ("key", "study_uid", "path", "status", "seconds", "worker", "findings", "reason")


def write_table(out_dir: Path, name: str, columns: Sequence[str], rows: Sequence[dict]) -> list[Path]:
    """``name.csv`` (always) and ``name.parquet`` (when pyarrow is installed); returns the paths written."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    paths = [out_dir / f"{name}.csv"]
    write_bytes_atomic(paths[0], buf.getvalue().encode("utf-8"), 0o600)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return paths
    table = pa.Table.from_pylist([{k: r.get(k) for k in columns} for r in rows], schema=_schema(pa, columns, rows))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    paths.append(out_dir / f"{name}.parquet")
    write_bytes_atomic(paths[1], sink.getvalue().to_pybytes(), 0o600)
    return paths


def _schema(pa, columns, rows):
    numeric = {"value": pa.float64(), "seconds": pa.float64(), "findings": pa.int64()}
    return pa.schema([(c, numeric.get(c, pa.string())) for c in columns])


def summary_rows(out_dir: Path, keys: Sequence[str]) -> tuple[list[dict], list[dict]]:
    """Rows read back from ``<key>/sr.dcm`` of each complete study, and failures for SRs that cannot be read."""
    rows: list[dict] = []
    problems: list[dict] = []
    for key in keys:
        sr = out_dir / key / "sr.dcm"
        if not sr.exists():
            continue  # a PDF-only report: nothing to tabulate
        try:
            rows += [r.to_dict() for r in read_sr_findings(sr)]
        except Exception as exc:  # noqa: BLE001 - one unreadable SR must not lose the table
            problems.append({"key": key, "path": str(sr), "stage": "summary",
                             "reason": f"the SR could not be read back: {type(exc).__name__}: {exc}"})
    return rows, problems


def write_tables(out_dir: str | os.PathLike, done_keys: Sequence[str], studies: Sequence[dict],
                 failures: Sequence[dict]) -> dict[str, list[Path]]:
    """Write summary, failures and studies tables into ``out_dir``; returns name -> paths."""
    out = Path(out_dir)
    rows, problems = summary_rows(out, done_keys)
    return {
        "summary": write_table(out, "summary", SUMMARY_COLUMNS, rows),
        "failures": write_table(out, "failures", FAILURE_COLUMNS, [*failures, *problems]),
        "studies": write_table(out, "studies", STUDY_COLUMNS, studies),
    }
