"""Headless reading session: run plugins and a risk model through the workflow, for the report.

This is what ``meddiag report`` (:mod:`meddiag_desktop.workflow.cli`) does, usable from
scripts: plugins run through :func:`~meddiag_desktop.workflow.ai_run.run_ai` (gate,
worker process, audit), and the report package receives their results
(:func:`~meddiag_desktop.report.build.label_map_from_result` and friends). The GUI holds
the same pieces in memory and calls :func:`~meddiag_desktop.report.build.build_report` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from meddiag_desktop.core.findings import FindingSet
from meddiag_desktop.core.volume import Volume
from meddiag_desktop.report.model import ClassificationFinding, LabelMap, RiskFinding

__all__ = ["SessionResults", "run_plugins", "accept_all", "evaluate_risk", "image_risk_inputs"]


@dataclass
class SessionResults:
    """What the plugins produced, ready for :func:`build_report`."""

    label_maps: list[LabelMap] = field(default_factory=list)
    classifications: list[ClassificationFinding] = field(default_factory=list)
    raw_classifications: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)  #: plugins that refused the study, with the reason
    findings: FindingSet = field(default_factory=FindingSet)  #: every AI finding, proposed until accepted
    runs: list[Any] = field(default_factory=list)  #: the workflow's AIRun of each plugin that ran
    warnings: list[str] = field(default_factory=list)  #: outside intended use, implausible results
    detections: list[Any] = field(default_factory=list)  #: DetectionFinding of detection models' boxes


def run_plugins(volume: Volume, plugin_ids: Sequence[str], device: str = "auto",
                progress: Callable[[str, int, int], None] | None = None, timeout: float = 300,
                force: bool = False) -> SessionResults:
    """Run each plugin (isolated worker process) on ``volume`` through the shared workflow; every run is audited.

    A plugin that refuses the study (outside its intended use, nothing to classify...) is
    listed in ``not_run`` and the others still run; any other failure raises. ``force``
    runs plugins outside their intended use (recorded in every output). The findings are
    proposals until :meth:`SessionResults.findings` records a decision.
    """
    from meddiag_desktop.ai import InputRefused, PluginFailed, SegmentationResult
    from meddiag_desktop.ai.discovery import find_plugin
    from meddiag_desktop.report.build import classification_findings, label_map_from_result
    from meddiag_desktop.workflow import run_ai

    out = SessionResults()
    for pid in plugin_ids:
        info = find_plugin(pid)
        if not info.ok:
            raise ValueError(f"plugin {info.id} cannot be used: {info.error}")

        def on_progress(done: int, total: int, _pid: str = info.id) -> None:
            if progress is not None:
                progress(_pid, done, total)

        try:
            run = run_ai(info, volume, force=force, via="cli", device=device, progress=on_progress,
                         stall_timeout=timeout, start_timeout=max(timeout, 120))
        except (InputRefused, PluginFailed) as exc:
            refused = isinstance(exc, InputRefused) or getattr(exc, "kind", "") == "InputRefused"
            if not refused:
                raise
            out.not_run.append(f"AI plugin {info.id} was not run on this study: {exc}")
            continue
        result = run.result
        out.runs.append(run)
        out.findings.extend(run.findings)
        out.notes += [f"{info.id}: {w}" for w in (*result.warnings, *result.notes)]
        out.warnings += [f"{info.id}: {w}" for w in result.warnings
                         if w.lower().startswith(("outside intended use", "implausible"))]
        if isinstance(result, SegmentationResult):
            out.label_maps.append(label_map_from_result(result, run.provenance))
        elif getattr(result, "task", "") == "detection":
            from meddiag_desktop.report.build import detection_findings

            out.detections += detection_findings(result, run.provenance)
        else:
            out.raw_classifications.append(result)
            out.classifications += classification_findings(result, run.provenance)
    return out


def accept_all(session: SessionResults, by: str, study_uid: str | None = None) -> int:
    """``--accept-ai``: the person running the report accepts every AI finding; audited. Returns how many."""
    from meddiag_desktop.report.audit import audit
    from meddiag_desktop.report.build import classification_findings

    decided = session.findings.accept_all(by)
    audit("ai_run", study_uid, "accepted", via="cli --accept-ai", findings=len(decided),
          plugins=sorted({f.plugin_id for f in decided}))
    session.classifications = [c for r, run in _classification_runs(session)
                               for c in classification_findings(r, run.provenance, session.findings)]
    from meddiag_desktop.report.build import detection_findings

    session.detections = [d for run in session.runs if getattr(run.result, "task", "") == "detection"
                          for d in detection_findings(run.result, run.provenance, session.findings)]
    return len(decided)


def _classification_runs(session: SessionResults):
    for run in session.runs:
        if getattr(run.result, "task", "") not in ("segmentation", "detection"):
            yield run.result, run


def _find(label_maps: Sequence[LabelMap], word: str) -> tuple[LabelMap | None, list[int]]:
    for lm in label_maps:
        values = [v for v in lm.present() if word in str(lm.names[v]).lower()]
        if values:
            return lm, values
    return None, []


def image_risk_inputs(volume: Volume, label_maps: Sequence[LabelMap], classifications: Sequence[Any] = (),
                      findings: FindingSet | None = None) -> dict:
    """Inputs found in the image: age and sex (DICOM), nodule size, count, lobe (segmentation), type (AI).

    With ``findings``, only the AI findings a reader confirmed count (the shared workflow's rule).
    """
    from meddiag_desktop.workflow import image_inputs

    lm, _ = _find(label_maps, "nodule")
    pid = lm.provenance.plugin_id if lm is not None and lm.provenance is not None else ""
    return image_inputs(volume, lm.array if lm is not None else None, lm.names if lm is not None else {},
                        plugin_id=pid, findings=findings if pid else None,
                        classification=classifications[0] if classifications else None).derived


def evaluate_risk(volume: Volume, model_name: str, entered: Mapping[str, Any], label_maps: Sequence[LabelMap] = (),
                  classifications: Sequence[Any] = (), findings: FindingSet | None = None,
                  via: str = "cli") -> RiskFinding:
    """Evaluate ``model_name`` on entered inputs merged over image-derived ones (entered values win); audited."""
    from meddiag_desktop.report.build import risk_finding
    from meddiag_desktop.risk.registry import get_model
    from meddiag_desktop.workflow import evaluate_risk as evaluate

    model = get_model(model_name)
    names = {i.name for i in model.spec.inputs}
    derived = {k: v for k, v in image_risk_inputs(volume, label_maps, classifications, findings).items() if k in names}
    values = {k: v.value for k, v in derived.items()}
    values.update(entered)
    study = str(volume.metadata.get("study_uid", ""))
    result = evaluate(model, values, study_uid=study, via=via, derived=derived, entered=list(entered))
    used = {k: v for k, v in derived.items() if k not in entered}  # an entered value is "entered", even if equal
    return risk_finding(result, used, model)
