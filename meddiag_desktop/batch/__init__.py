"""Batch AI over many studies on Dask ``distributed`` (``meddiag batch``); Qt-free.

One workstation (a LocalCluster) or a cluster (a ``dask scheduler`` address)
runs the same tasks: each study is read where it lies by a worker and goes
through ``meddiag report``; outputs land atomically in ``OUT/<StudyInstanceUID>/``
with a completion marker, and the findings read back from each SR make the
summary table. See ``docs/BATCH.md``.

Nothing here imports Dask until a batch runs::

    from meddiag_desktop.batch.engine import BatchConfig, run_batch
    from meddiag_desktop.batch.study import ReportOptions
    outcome = run_batch(BatchConfig("/archive/2025", Path("/reports"), ReportOptions(("meddiag.chest-ct-seg",))))
"""

__all__: list[str] = []
