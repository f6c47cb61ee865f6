"""Risk inputs from what the reader confirmed, and audited risk evaluations (GUI and CLI alike).

:func:`image_inputs` derives the nodule inputs (size, count, upper lobe, type) from
the *confirmed* AI findings only: segments and nodule components the reader did not
accept or edit are left out of the label map first, and a nodule-type classification
counts only once confirmed. What the unconfirmed proposals would give is returned
apart (``proposals``) so a view can show it as a proposal, never as an input.
:func:`evaluate_risk` evaluates a model and writes the audit entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from meddiag_desktop.core.findings import classification_key, segment_key
from meddiag_desktop.core.label_geometry import bounding_box, connected_components
from meddiag_desktop.workflow.ai_run import is_lesion

__all__ = ["ImageInputs", "confirmed_labels", "image_inputs", "evaluate_risk", "nodule_labels"]


@dataclass
class ImageInputs:
    """Inputs derived from confirmed findings, and (apart) what the unconfirmed proposals would give."""

    derived: dict[str, Any] = field(default_factory=dict)  # name -> DerivedValue
    proposals: dict[str, Any] = field(default_factory=dict)  # name -> DerivedValue, only where it differs
    unconfirmed: int = 0  # AI findings still proposed


def confirmed_labels(labels: np.ndarray, names: Mapping[int, str], plugin_id: str, findings: Any) -> np.ndarray:
    """A copy of ``labels`` keeping only the segments and lesion components the reader confirmed.

    ``findings=None`` means no review applies (a reader's own label map): ``labels`` is returned as is.
    """
    if findings is None:
        return labels
    arr = np.array(labels, copy=True)
    for value, name in names.items():
        value = int(value)
        if value <= 0:
            continue
        if findings.edited_by(plugin_id, value) is not None:
            continue  # the reader edited this label: all of it is the reader's (new components included)
        if not is_lesion(name):
            key = segment_key(plugin_id, value)
            if not (key in findings and findings.get(key).confirmed):
                arr[arr == value] = 0
            continue
        box = bounding_box(np.asarray(labels) == value)
        if box is None:
            continue
        comp, n = connected_components(np.asarray(labels)[box] == value)
        drop = [i for i in range(1, n + 1)
                if not (segment_key(plugin_id, value, i) in findings
                        and findings.get(segment_key(plugin_id, value, i)).confirmed)]
        if drop:
            arr[box][np.isin(comp, drop)] = 0
    return arr


def nodule_labels(names: Mapping[int, str]) -> tuple[int | None, tuple[int, ...]]:
    """(nodule label value, lung label values) by name."""
    nodule = next((int(v) for v, n in sorted(names.items()) if "nodule" in str(n).lower()), None)
    lungs = tuple(int(v) for v, n in sorted(names.items()) if "lung" in str(n).lower())
    return nodule, lungs


def _confirmed_classification(classification: Any, findings: Any) -> Any:
    """The first confirmed classified location (or the classification itself when no review applies)."""
    if classification is None or findings is None:
        return classification
    pid = getattr(classification, "plugin_id", "")
    for i, f in enumerate(getattr(classification, "findings", []) or [], start=1):
        key = classification_key(pid, i)
        if key in findings and findings.get(key).confirmed:
            return f
    return None


def image_inputs(volume: Any, labels: np.ndarray | None, names: Mapping[int, str] | None = None, *,
                 plugin_id: str = "", findings: Any = None, classification: Any = None,
                 measurement: Any = None, component: int | None = None) -> ImageInputs:
    """Risk inputs of ``volume`` from the confirmed part of an AI label map (see the module docstring)."""
    from meddiag_desktop.risk.image_inputs import _nodule_type, derive_nodule_inputs

    names = dict(names or {})
    nodule, lungs = nodule_labels(names)
    opts: dict[str, Any] = {"nodule_label": nodule or 7, "lung_labels": lungs or (1, 2)}
    confirmed = confirmed_labels(labels, names, plugin_id, findings) if labels is not None else None
    cls = _confirmed_classification(classification, findings)
    derived = derive_nodule_inputs(volume, confirmed, component=component, measurement=measurement, **opts)
    if cls is not None:
        try:
            derived["nodule_type"] = _nodule_type(cls)
        except ValueError:  # a classifier whose classes are not nodule types
            pass
    out = ImageInputs(derived)
    if findings is not None:
        pending = [f for f in findings.proposed() if not plugin_id or f.plugin_id in (plugin_id, getattr(classification, "plugin_id", ""))]
        out.unconfirmed = len(pending)
        if pending and labels is not None:
            everything = derive_nodule_inputs(volume, labels, measurement=measurement, **opts)
            if classification is not None:
                try:
                    everything["nodule_type"] = _nodule_type(classification)
                except ValueError:
                    pass
            out.proposals = {k: v for k, v in everything.items()
                             if k not in derived or derived[k].value != v.value}
    return out


def evaluate_risk(model: Any, values: Mapping[str, Any], *, study_uid: str = "", via: str = "gui",
                  derived: Mapping[str, Any] | None = None, entered: Sequence[str] = ()) -> Any:
    """Evaluate ``model`` on ``values`` and audit it (ok or failed, with how many inputs came from the image)."""
    from meddiag_desktop.report.audit import audit

    try:
        result = model.evaluate(dict(values))
    except Exception as exc:
        audit("risk", study_uid, "failed", model=model.name, via=via, error=type(exc).__name__)
        raise
    from_image = sorted(k for k in (derived or {}) if k in values and k not in set(entered))
    audit("risk", study_uid, "ok", model=model.name, version=model.spec.version, via=via,
          from_image=from_image, probability=round(float(result.probability), 4))
    return result
