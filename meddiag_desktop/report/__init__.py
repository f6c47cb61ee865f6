"""Reports: a signable PDF, DICOM SEG and a TID 1500 SR from a session's results (Qt-free).

Typical use (GUI or script)::

    from meddiag_desktop.report import build_report, export_report, LabelMap, Provenance
    report = build_report(volume, label_maps=[LabelMap(labels, names, colors, provenance)],
                          risks=[risk_finding(result, derived, model)], impression=text, reader_name=name)
    written = export_report(report, volume, out_dir, anonymize=False)   # report.pdf, seg.dcm, sr.dcm

Heavy libraries (reportlab, highdicom) are imported only when a report is rendered or exported.
Audit events: ``from meddiag_desktop.report.audit import audit`` (``audit("open", study_uid, "ok")``).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "AI_STATEMENT",
    "ClassificationFinding",
    "ExportError",
    "ExportResult",
    "KeyImage",
    "LabelMap",
    "Measurement",
    "PatientStudy",
    "Provenance",
    "Report",
    "RiskFinding",
    "RiskInput",
    "SegmentFinding",
    "build_report",
    "classification_findings",
    "export_report",
    "label_map_from_result",
    "render_pdf",
    "risk_finding",
]

_WHERE = {
    "AI_STATEMENT": "model", "ClassificationFinding": "model", "KeyImage": "model", "LabelMap": "model",
    "Measurement": "model", "PatientStudy": "model", "Provenance": "model", "Report": "model",
    "RiskFinding": "model", "RiskInput": "model", "SegmentFinding": "model",
    "build_report": "build", "classification_findings": "build", "label_map_from_result": "build",
    "risk_finding": "build", "render_pdf": "pdf",
    "export_report": "export", "ExportError": "export", "ExportResult": "export",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"meddiag_desktop.report.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
