"""File > Export report: build a :class:`~meddiag_desktop.report.Report` from the session and preview it.

The report holds the patient/study of the open volume, the reader's measurements
(from the measurement store), the AI results with their provenance, the risk
result and key images: the three slice views as shown (overlays included).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QBuffer, QByteArray, QIODevice

from meddiag_desktop.core.measurements import KINDS, summarize

__all__ = ["session_report", "report_measurements", "view_png", "burned_in_reason", "confirm_burned_in"]

_UNITS = {
    "length_mm": ("Length", "mm"),
    "angle_deg": ("Angle", "deg"),
    "long_axis_mm": ("Long axis", "mm"),
    "short_axis_mm": ("Short axis", "mm"),
    "area_mm2": ("Area", "mm2"),
    "mean": ("Mean", ""),
    "sd": ("SD", ""),
    "value": ("Value", ""),
}


def view_png(widget) -> bytes:
    """PNG bytes of a slice view as shown, without the patient text (the report may be anonymised)."""
    text = widget.slice_view.corner_text
    was = text.GetVisibility()
    text.VisibilityOff()
    try:
        widget.render_now()
        image = widget.capture()
    finally:
        text.SetVisibility(was)
        widget.request_render()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    buf.close()
    return bytes(data)


def report_measurements(volume, store) -> list:
    """One report ``Measurement`` per value of each reader measurement."""
    from meddiag_desktop.report.model import Measurement as ReportMeasurement

    out = []
    for m in store:
        values = summarize(volume, m)
        units = str(values.get("units", "") or "")
        for key, (what, unit) in _UNITS.items():
            v = values.get(key)
            if not isinstance(v, (int, float)) or (isinstance(v, float) and math.isnan(v)):
                continue
            out.append(ReportMeasurement(f"{m.name}: {what}", float(v), unit or units,
                                         tuple(tuple(p) for p in m.points), KINDS[m.kind][1]))
    return out


def session_report(window):
    """The Report of what ``window`` shows now (raises ``ValueError`` without a study)."""
    from meddiag_desktop.report.build import build_report, classification_findings, label_map_from_result, risk_finding
    from meddiag_desktop.report.model import KeyImage

    volume = window.state.volume
    if volume is None:
        raise ValueError("Open a study first: the report describes the open study")
    panels = window.panels
    label_maps, classifications, risks = [], [], []
    detections: list = []
    findings = getattr(panels, "findings", None) if panels is not None else None  # the reader's decisions
    if panels is not None:
        if panels.segmentation is not None:
            label_maps.append(label_map_from_result(panels.segmentation, panels.provenances.get(id(panels.segmentation))))
            editor = getattr(window, "segment_editor", None)  # the reader's edits: SEMIAUTOMATIC / MANUAL in the SEG
            if editor is not None:
                label_maps[-1].edited = editor.edited_for(panels.segmentation.labels)
        if panels.classification is not None:
            classifications += classification_findings(panels.classification,
                                                       panels.provenances.get(id(panels.classification)), findings)
        if getattr(panels, "detection", None) is not None:  # boxes of a detection model
            from meddiag_desktop.report.build import detection_findings

            detections += detection_findings(panels.detection, panels.provenances.get(id(panels.detection)), findings)
        risk = panels.risk
        if risk is not None and risk.result is not None:
            risks.append(risk_finding(risk.result, risk.derived, risk.model))
    key_images = []
    for view, w in window.slice_widgets.items():
        if not w.isVisible():
            continue
        info = w.slice_view.slice_info()
        where = f", image {info.index + 1}/{info.count}" if info is not None else ""
        key_images.append(KeyImage(view_png(w), f"{view.capitalize()}{where}"))
    return build_report(volume, label_maps=label_maps, classifications=classifications, risks=risks,
                        measurements=report_measurements(volume, window.measurements), key_images=key_images,
                        findings=findings, detections=detections)


def burned_in_reason(volume) -> str | None:
    """Why the open study's pixels may show burned-in patient text (first and last source headers), else None."""
    import pydicom

    from meddiag_desktop.report.phi_verify import burned_in

    files = list(volume.metadata.get("files") or [])
    headers = []
    for f in {files[0], files[-1]} if files else ():
        try:
            headers.append(pydicom.dcmread(f, stop_before_pixels=True, force=True))
        except Exception:  # noqa: BLE001 - unreadable now: the export reads every header again and decides
            continue
    return burned_in(headers)


def confirm_burned_in(parent, volume) -> bool:
    """Ask before source pixels go into an anonymised report whose source may have burned-in names.
    True: include the key images (the user confirmed); False: leave them out."""
    from PySide6.QtWidgets import QMessageBox

    why = burned_in_reason(volume)
    if why is None:
        return False
    answer = QMessageBox.question(
        parent, "Key images may show the patient's name",
        f"{why[0].upper()}{why[1:]}.\n\nThe key images are renderings of these pixels, so they may show the "
        "patient's name or other identifiers that anonymising cannot remove.\n\nInclude the key images in "
        "the anonymised report? (No: the report is exported without them.)",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes
