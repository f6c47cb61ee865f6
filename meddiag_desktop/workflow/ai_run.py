"""Run an AI plugin on a study the one way the GUI and the CLI both use: gate, run, audit, provenance, findings.

:func:`run_ai` checks the plugin's intended use first (a study outside it is
refused with one sentence naming the mismatch, unless ``force``), runs the plugin
in its worker process, writes the audit entry (refused, failed, cancelled or ok,
with ``forced`` and the mismatch when the reader ran it anyway), and returns an
:class:`AIRun`: the result, its report :class:`~meddiag_desktop.report.model.Provenance`
and its findings, all *proposed* until a reader decides.

A result already at hand is not computed again: successful runs are filed in the
session's :data:`~meddiag_desktop.workflow.result_cache.SESSION_CACHE` by study grid,
plugin, version, plugin files (weights) and options, and a classifier that takes its
candidates from a segmentation plugin gets them from that plugin's run (cached, or
run once here and cached), leaving out components the reader rejected.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from meddiag_desktop.core.findings import (
    AIFinding,
    classification_key,
    detection_class_names,
    detection_key,
    segment_key,
)
from meddiag_desktop.core.label_geometry import LESION_WORDS, is_lesion

__all__ = ["AIRun", "check_plugin", "run_ai", "findings_from_result", "detection_class_names", "LESION_WORDS",
           "is_lesion"]


@dataclass
class AIRun:
    """One plugin run: the result, where it came from, and its findings (proposed)."""

    result: Any
    info: Any
    provenance: Any
    findings: list[AIFinding] = field(default_factory=list)
    outside_intended_use: str = ""  # the mismatch, when the reader ran it anyway
    sizes: dict[str, Any] = field(default_factory=dict)  # finding key -> core.label_geometry.Component

    @property
    def forced(self) -> bool:
        return bool(self.outside_intended_use)


def check_plugin(info: Any, volume: Any):
    """The intended-use check of ``info`` (a PluginInfo) on ``volume``: a :class:`DomainCheck` (fast, no torch)."""
    from meddiag_desktop.ai.intended_use import check_domain, run_domain

    folder = getattr(info, "path", None)
    return check_domain(info.manifest, volume, folder, domain=run_domain(info.manifest, folder))


def findings_from_result(result: Any, provenance: Any, volume: Any, sizes: dict | None = None) -> list[AIFinding]:
    """The findings of a result: one per present label, one per component of a lesion label,
    one per classified location, one per detected box (kind ``detection``: centre and size in LPS mm,
    score, class name). ``sizes``, when given, is filled with each lesion component's
    :class:`~meddiag_desktop.core.label_geometry.Component` (volume and Fleischner diameters)."""
    from meddiag_desktop.core.label_geometry import label_components

    pid = getattr(provenance, "plugin_id", "") or result.plugin_id
    version = getattr(provenance, "version", "")
    forced = bool(getattr(provenance, "outside_intended_use", "") or getattr(result, "outside_intended_use", ""))
    out: list[AIFinding] = []
    if getattr(result, "task", "") == "segmentation":
        labels = np.asarray(result.labels)
        for value, name in sorted(result.label_names.items()):
            # presence label by label: no int64 copy of the whole map for a histogram
            if value <= 0 or not np.any(labels == value):
                continue
            if is_lesion(name):
                for c in label_components(volume, labels, value, diameters=sizes is not None):
                    if sizes is not None:
                        sizes[segment_key(pid, value, c.index)] = c
                    out.append(AIFinding(segment_key(pid, value, c.index), "component", str(name), int(value), c.index,
                                         c.centroid_lps, pid, version, forced))
            else:
                out.append(AIFinding(segment_key(pid, value), "segment", str(name), int(value), None, None,
                                     pid, version, forced))
    elif getattr(result, "task", "") == "detection":
        names = detection_class_names(result)
        for i, d in enumerate(result.detections, start=1):
            out.append(AIFinding(detection_key(pid, i), "detection", names.get(int(d.label), f"class {d.label}"),
                                 None, i, tuple(float(c) for c in d.center_lps), pid, version, forced,
                                 size_mm=tuple(float(s) for s in d.size_mm), score=float(d.score)))
    else:
        for i, f in enumerate(result.findings, start=1):
            top = getattr(f, "top_class", None) or max(f.probabilities, key=f.probabilities.get)
            out.append(AIFinding(classification_key(pid, i), "classification", str(top), None, None,
                                 tuple(float(c) for c in f.point_lps), pid, version, forced))
    return out


_SESSION = object()  # run_ai's default cache: the session's


def _audit(*args, **kw) -> None:
    from meddiag_desktop.report.audit import audit

    audit(*args, **kw)


def run_ai(
    info: Any,
    volume: Any,
    *,
    force: bool = False,
    via: str = "gui",
    device: str = "auto",
    points: list[tuple[float, float, float]] | None = None,
    batch: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    on_stage: Callable[[str], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    worker: Any = None,
    inputs: Any = None,
    stall_timeout: float = 180.0,
    start_timeout: float = 120.0,
    cache: Any = _SESSION,
    findings: Any = None,
    _grid: str | None = None,
) -> AIRun:
    """Gate, run (worker process), audit and describe one plugin run on ``volume``.

    Raises :class:`~meddiag_desktop.ai.intended_use.OutsideIntendedUse` (an ``InputRefused``)
    when the study is outside the plugin's intended use and ``force`` is false; other
    refusals, failures and cancellations propagate after their audit entry.

    ``cache``: a :class:`~meddiag_desktop.workflow.result_cache.ResultCache` (default: the
    session's), or None to run regardless. A cached run is returned as a copy, without a
    worker process; the audit entry says ``cached``. ``findings``: the reader's decisions
    (a ``FindingSet``); a classifier's candidates leave out the components rejected there.
    """
    from meddiag_desktop.ai.intended_use import OutsideIntendedUse, forced_note
    from meddiag_desktop.ai.isolation import PluginFailed, run_isolated
    from meddiag_desktop.ai.runner import InputRefused, RunOptions
    from meddiag_desktop.ai.sliding_window import RunCancelled
    from meddiag_desktop.report.model import Provenance

    study = str(volume.metadata.get("study_uid", "") or "")
    version = info.manifest.version if getattr(info, "manifest", None) is not None else ""
    check = check_plugin(info, volume)
    if not check.ok and not force:
        _audit("ai_run", study, "refused", plugin=info.id, version=version, via=via,
               reason="outside intended use", mismatch=check.sentence)
        raise OutsideIntendedUse(info.id, check)
    sentence = check.sentence if not check.ok else ""
    if cache is _SESSION:
        from meddiag_desktop.workflow.result_cache import SESSION_CACHE as cache
    grid = _grid  # the study's volume_digest, when a caller has it already
    candidate_source = ""
    manifest = getattr(info, "manifest", None)
    if (manifest is not None and manifest.task == "classification" and not points
            and getattr(manifest.input, "candidates_from", None)):
        from meddiag_desktop.workflow.result_cache import volume_digest

        grid = grid or (volume_digest(volume) if cache is not None else None)
        points, candidate_source, worker = _candidates(
            info, volume, force=force, via=via, device=device, progress=progress, cancel=cancel, on_stage=on_stage,
            on_note=on_note, worker=worker, stall_timeout=stall_timeout, start_timeout=start_timeout, cache=cache,
            findings=findings, grid=grid)
    started = _dt.datetime.now().astimezone()
    options = RunOptions(device=device, sw_batch_size=batch, points_lps=points or None, force=bool(force))
    key = None
    if cache is not None:
        from meddiag_desktop.workflow.result_cache import run_key

        key = run_key(info, volume, options, inputs, grid=grid)
        hit = cache.get(key)
        if hit is not None:
            _audit("ai_run", study, "ok", plugin=info.id, version=version, device=hit.result.device, via=via,
                   findings=len(hit.findings), warnings=len(hit.result.warnings), cached=True, **(
                       {"forced": True, "outside_intended_use": sentence} if sentence else {}))
            return hit
    kw = dict(on_stage=on_stage, on_note=on_note, stall_timeout=stall_timeout, start_timeout=start_timeout)
    if worker is not None:
        kw["worker"] = worker
    if inputs is not None:
        kw["inputs"] = inputs  # a MONAI bundle's inputs by key (ai/bundle_inputs.py)
    forced_kw = {"forced": True, "outside_intended_use": sentence} if sentence else {}
    try:
        result = run_isolated(info, volume, options, progress, cancel, **kw)
    except RunCancelled:
        _audit("ai_run", study, "cancelled", plugin=info.id, version=version, via=via, **forced_kw)
        raise
    except (InputRefused, PluginFailed) as exc:
        refused = isinstance(exc, InputRefused) or getattr(exc, "kind", "") == "InputRefused"
        _audit("ai_run", study, "refused" if refused else "failed", plugin=info.id, version=version, via=via,
               device=device, error=type(exc).__name__, **forced_kw)
        raise
    except BaseException as exc:
        _audit("ai_run", study, "failed", plugin=info.id, version=version, via=via, device=device,
               error=type(exc).__name__, **forced_kw)
        raise
    if candidate_source:
        for f in getattr(result, "findings", []):
            f.source = candidate_source
    if sentence:
        result.outside_intended_use = sentence
        note = forced_note(check)
        if note not in result.warnings:
            result.warnings = [note, *result.warnings]
    prov = Provenance.from_plugin(info, device=result.device, run_at=started, outside_intended_use=sentence)
    sizes: dict[str, Any] = {}
    findings = findings_from_result(result, prov, volume, sizes)
    _audit("ai_run", study, "ok", plugin=info.id, version=version, device=result.device, via=via,
           findings=len(findings), warnings=len(result.warnings), **forced_kw)
    run = AIRun(result, info, prov, findings, sentence, sizes)
    if cache is not None:
        cache.put(key, run)
    return run


def _candidates(info: Any, volume: Any, *, force: bool, via: str, device: str, progress, cancel, on_stage, on_note,
                worker: Any, stall_timeout: float, start_timeout: float, cache: Any, findings: Any,
                grid: str | None) -> tuple[list[tuple[float, float, float]], str, Any]:
    """Locations for a classifier whose manifest names ``candidates_from``: the components of that label in the
    segmentation plugin's run (from the cache, or run here once, audited and cached), largest first, without
    those the reader rejected. Returns (points, where they came from, the worker still unused or None)."""
    from meddiag_desktop.ai.discovery import find_plugin
    from meddiag_desktop.ai.classification import points_from_labels
    from meddiag_desktop.ai.errors import InputRefused
    from meddiag_desktop.core.label_geometry import label_components

    manifest = info.manifest
    seg_info = find_plugin(manifest.input.candidates_from)
    if not seg_info.ok:
        raise InputRefused(f"{manifest.name}: its candidates come from {seg_info.id}, which cannot be used: "
                           f"{seg_info.error}")
    if on_stage is not None:
        on_stage(f"finding candidates with {seg_info.manifest.name if seg_info.manifest else seg_info.id}")
    seg = run_ai(seg_info, volume, force=force, via=via, device=device, progress=progress, cancel=cancel,
                 on_stage=on_stage, on_note=on_note, worker=worker, stall_timeout=stall_timeout,
                 start_timeout=start_timeout, cache=cache, _grid=grid)
    if worker is not None and getattr(worker, "used", False):
        worker = None  # it ran the segmentation
    value = int(manifest.input.candidates_label)
    labels = seg.result.labels
    label_name = seg.result.label_names.get(value, f"label {value}")
    rejected = set()
    if findings is not None:
        rejected = {f.key for f in findings if f.status == "rejected" and f.plugin_id == seg_info.id}
    if rejected:  # points_from_labels' order (largest first), without the rejected components
        comps = [c for c in label_components(volume, labels, value, diameters=False) if c.voxels >= 3
                 and segment_key(seg_info.id, value, c.index) not in rejected]
        comps.sort(key=lambda c: (-c.voxels, c.index))
        points = [tuple(float(v) for v in c.centroid_lps) for c in comps]
    else:
        points = points_from_labels(labels, volume, value)
    if not points:
        raise InputRefused(
            f"{manifest.name}: {seg_info.id} found no {label_name} to classify; "
            "give the location to classify (X, Y, Z in LPS mm, e.g. --point=X,Y,Z)"
        )
    return points, f"{label_name} found by {seg_info.id}", worker
