"""Headless report session: load a study, run plugins and a risk model, build the report.

This is what ``meddiag report`` does, usable from scripts; the GUI holds the same
pieces in memory and calls :func:`~meddiag_desktop.report.build.build_report` directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meddiag_desktop.core.volume import Volume
from meddiag_desktop.report.model import ClassificationFinding, LabelMap, Provenance, RiskFinding

__all__ = ["SessionResults", "run_plugins", "evaluate_risk", "read_inputs", "image_risk_inputs"]


@dataclass
class SessionResults:
    """What the plugins produced, ready for :func:`build_report`."""

    label_maps: list[LabelMap] = field(default_factory=list)
    classifications: list[ClassificationFinding] = field(default_factory=list)
    raw_classifications: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)  #: plugins that refused the study, with the reason


def run_plugins(volume: Volume, plugin_ids: Sequence[str], device: str = "auto",
                progress: Callable[[str, int, int], None] | None = None, timeout: float = 300) -> SessionResults:
    """Run each plugin (isolated worker process) on ``volume``; every run is audited.

    A plugin that refuses the study (wrong modality, nothing to classify...) is listed in
    ``not_run`` and the others still run; any other failure raises.
    """
    import datetime as _dt

    from meddiag_desktop.ai.discovery import find_plugin
    from meddiag_desktop.ai.isolation import run_isolated
    from meddiag_desktop.ai.results import SegmentationResult
    from meddiag_desktop.ai.isolation import PluginFailed
    from meddiag_desktop.ai.runner import InputRefused, RunOptions
    from meddiag_desktop.report.audit import audit
    from meddiag_desktop.report.build import classification_findings, label_map_from_result

    out = SessionResults()
    study = str(volume.metadata.get("study_uid", ""))
    for pid in plugin_ids:
        info = find_plugin(pid)
        if not info.ok:
            raise ValueError(f"plugin {info.id} cannot be used: {info.error}")
        started = _dt.datetime.now().astimezone()

        def on_progress(done: int, total: int, _pid: str = info.id) -> None:
            if progress is not None:
                progress(_pid, done, total)

        try:
            result = run_isolated(info, volume, RunOptions(device=device), progress=on_progress,
                                  stall_timeout=timeout, start_timeout=max(timeout, 120))
        except (InputRefused, PluginFailed) as exc:
            refused = isinstance(exc, InputRefused) or getattr(exc, "kind", "") == "InputRefused"
            audit("ai_run", study, "refused" if refused else "failed", plugin=info.id, device=device,
                  error=type(exc).__name__)
            if not refused:
                raise
            out.not_run.append(f"AI plugin {info.id} was not run on this study: {exc}")
            continue
        except BaseException as exc:
            audit("ai_run", study, "failed", plugin=info.id, device=device, error=type(exc).__name__)
            raise
        audit("ai_run", study, "ok", plugin=info.id, version=info.manifest.version, device=result.device)
        prov = Provenance.from_plugin(info, device=result.device, run_at=started)
        out.notes += [f"{info.id}: {w}" for w in (*result.warnings, *result.notes)]
        if isinstance(result, SegmentationResult):
            out.label_maps.append(label_map_from_result(result, prov))
        else:
            out.classifications += classification_findings(result, prov)
            out.raw_classifications.append(result)
    return out


def read_inputs(text: str | None) -> dict[str, Any]:
    """Risk inputs from a JSON object, a JSON file or ``-`` (stdin); ``{}`` for None."""
    import sys

    if text is None:
        return {}
    if text == "-":
        raw, source = sys.stdin.read(), "stdin"
    elif text.lstrip().startswith("{"):
        raw, source = text, "--inputs"
    else:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ValueError(f"--inputs {text!r} is neither a JSON object nor an existing file")
        raw, source = path.read_text(encoding="utf-8"), str(path)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{source} must hold a JSON object of input name -> value")
    return data


def _find(label_maps: Sequence[LabelMap], word: str) -> tuple[LabelMap | None, list[int]]:
    for lm in label_maps:
        values = [v for v in lm.present() if word in str(lm.names[v]).lower()]
        if values:
            return lm, values
    return None, []


def image_risk_inputs(volume: Volume, label_maps: Sequence[LabelMap], classifications: Sequence[Any] = ()) -> dict:
    """Inputs found in the image: age and sex (DICOM), nodule size, count, lobe (segmentation), type (AI)."""
    from meddiag_desktop.risk.image_inputs import derive_nodule_inputs

    lm, nodule_values = _find(label_maps, "nodule")
    lungs: list[int] = []
    if lm is not None:
        lungs = [v for v in lm.present() if "lung" in str(lm.names[v]).lower()]
    nodule_type = classifications[0] if classifications else None
    try:
        return derive_nodule_inputs(volume, lm.array if lm is not None else None,
                                    nodule_label=nodule_values[0] if nodule_values else 7,
                                    lung_labels=tuple(lungs) or (1, 2), nodule_type=nodule_type)
    except ValueError:  # e.g. a classifier whose classes are not nodule types
        return derive_nodule_inputs(volume, lm.array if lm is not None else None,
                                    nodule_label=nodule_values[0] if nodule_values else 7,
                                    lung_labels=tuple(lungs) or (1, 2))


def evaluate_risk(volume: Volume, model_name: str, entered: Mapping[str, Any], label_maps: Sequence[LabelMap] = (),
                  classifications: Sequence[Any] = ()) -> RiskFinding:
    """Evaluate ``model_name`` on entered inputs merged over image-derived ones (entered values win)."""
    from meddiag_desktop.report.audit import audit
    from meddiag_desktop.report.build import risk_finding
    from meddiag_desktop.risk.registry import get_model

    model = get_model(model_name)
    names = {i.name for i in model.spec.inputs}
    derived = {k: v for k, v in image_risk_inputs(volume, label_maps, classifications).items() if k in names}
    values = {k: v.value for k, v in derived.items()}
    values.update(entered)
    study = str(volume.metadata.get("study_uid", ""))
    try:
        result = model.evaluate(values)
    except Exception as exc:
        audit("risk", study, "failed", model=model.name, error=type(exc).__name__)
        raise
    audit("risk", study, "ok", model=model.name, version=model.spec.version)
    used = {k: v for k, v in derived.items() if k not in entered}  # an entered value is "entered", even if equal
    return risk_finding(result, used, model)
