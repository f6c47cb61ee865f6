"""File > Export report: build a :class:`~meddiag_desktop.report.Report` from the session and preview it.

The report holds the patient/study of the open volume, the reader's measurements
(from the measurement store), the AI results with their provenance, the risk
result and key images: the three slice views as shown (overlays included).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QBuffer, QByteArray, QIODevice

from meddiag_desktop.core.measurements import KINDS, summarize

__all__ = ["session_report", "report_measurements", "view_png", "burned_in_reason", "confirm_burned_in",
           "active_slice_widget", "key_image_of_view", "shown_prior", "KEY_IMAGE_FOV_MM"]

#: field of view (mm, the shorter side) of a key image zoomed to a finding
KEY_IMAGE_FOV_MM = 90.0

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


def view_png(widget, centre_lps=None, fov_mm: float | None = None) -> bytes:
    """PNG bytes of a slice view as shown, without the patient text (the report may be anonymised)
    and without the crosshair lines; with ``centre_lps`` and ``fov_mm``, zoomed so that ``fov_mm``
    around that point fills the shorter side (the view is put back as it was afterwards)."""
    sv = widget.slice_view
    text = sv.corner_text
    was, cross = text.GetVisibility(), sv.crosshair_visible
    zoom, pan = sv.zoom, sv.pan.copy()
    text.VisibilityOff()
    sv.set_crosshair_visible(False)
    try:
        if centre_lps is not None and fov_mm:
            _zoom_to(sv, centre_lps, fov_mm)
        widget.render_now()
        image = widget.capture()
    finally:
        text.SetVisibility(was)
        sv.set_crosshair_visible(cross)
        if centre_lps is not None and fov_mm:
            sv.pan = pan
            sv.set_zoom(zoom)
        widget.request_render()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    buf.close()
    return bytes(data)


def _zoom_to(sv, centre_lps, fov_mm: float) -> None:
    """Centre slice view ``sv`` on ``centre_lps`` with ``fov_mm`` across its shorter side."""
    import numpy as np

    w, h = (max(int(x), 1) for x in sv.renderer.GetSize())
    shown_mm = sv.world_per_pixel() * min(w, h)  # across the shorter side now
    sv.set_zoom(sv.zoom * shown_mm / fov_mm)
    x, y = sv.lps_to_display(centre_lps)[:2]
    sv.pan_by_display(w / 2.0 - x, h / 2.0 - y)  # the point to the middle of the view


def active_slice_widget(window):
    """The slice view the reader works in: the focused one, else the one maximised, else axial."""
    visible = [w for w in window.slice_widgets.values() if w.isVisible()]
    if not visible:
        raise ValueError("No slice view is shown: show a slice view to add it as a key image")
    for w in visible:
        if w.hasFocus():
            return w
    if len(visible) == 1:
        return visible[0]
    from meddiag_desktop.core import view_geometry as vg

    axial = window.slice_widgets.get(vg.AXIAL)
    return axial if axial in visible else visible[0]


def key_image_of_view(window, widget=None, fov_mm: float = KEY_IMAGE_FOV_MM):
    """A :class:`~meddiag_desktop.report.KeyImage` of the active slice view as it is now: zoomed to the
    measurement in its plane nearest the cursor (else the cursor), no crosshair, no corner texts,
    measurements drawn; captioned "Axial image 75/150, right upper lobe: Distance 1 12.6 mm"."""
    import numpy as np

    from meddiag_desktop.core.measurements import measurement_text
    from meddiag_desktop.render.measurement_layer import in_plane
    from meddiag_desktop.report.location import locate, slice_caption
    from meddiag_desktop.report.model import KeyImage

    w = widget if widget is not None else active_slice_widget(window)
    sv, volume = w.slice_view, window.state.volume
    if volume is None:
        raise ValueError("Open a study first: a key image shows the open study")
    cursor = np.asarray(sv.cursor, float)
    shown = [m for m in window.measurements if in_plane(sv.geom, volume, cursor, m)]
    centre, what = cursor, ""
    if shown:
        m = min(shown, key=lambda m: float(np.linalg.norm(np.mean(m.points, axis=0) - cursor)))
        centre = np.mean(np.asarray(m.points, float), axis=0)
        pts = np.asarray(m.points, float)
        span = float(np.ptp(pts, axis=0).max()) if len(pts) > 1 else 0.0
        fov_mm = max(fov_mm, 3.0 * span)
        body = ", ".join(measurement_text(volume, m).splitlines()[:2])  # the label (if renamed) and the size
        same = [x.id for x in window.measurements if x.name == m.name]
        what = body if m.label else f"{m.name} {same.index(m.id) + 1} {body}"  # "Distance 1", as the report names it
    label_maps = []
    panels = getattr(window, "panels", None)
    if panels is not None and getattr(panels, "segmentation", None) is not None:
        from meddiag_desktop.report.build import label_map_from_result

        label_maps.append(label_map_from_result(panels.segmentation))
    where = locate(volume, centre, label_maps).text
    info = sv.slice_info()
    title = sv.title or "view"
    caption = slice_caption(title, info.index, info.count, where) if info is not None else title
    if what:
        caption += f": {what}"
    return KeyImage(view_png(w, centre, fov_mm), caption)


def report_measurements(volume, store) -> list:
    """One report ``Measurement`` per value of each reader measurement."""
    from meddiag_desktop.report.model import Measurement as ReportMeasurement

    from meddiag_desktop.report.location import image_text

    out = []
    counts: dict[str, int] = {}
    for m in store:
        values = summarize(volume, m)
        units = str(values.get("units", "") or "")
        counts[m.name] = counts.get(m.name, 0) + 1
        name = m.name if m.label else f"{m.name} {counts[m.name]}"  # "Distance 2", or the reader's own name
        found = [(key, what, unit) for key, (what, unit) in _UNITS.items()
                 if isinstance(values.get(key), (int, float)) and not (isinstance(values.get(key), float)
                                                                      and math.isnan(values[key]))]
        image = image_text(volume, m.points, m.normal)
        for key, what, unit in found:
            label = name if len(found) == 1 else f"{name}, {what.lower()}"
            out.append(ReportMeasurement(label, float(values[key]), unit or units,
                                         tuple(tuple(p) for p in m.points), KINDS[m.kind][1], image=image))
    return out


def session_report(window):
    """The Report of what ``window`` shows now (raises ``ValueError`` without a study)."""
    from meddiag_desktop.report.build import build_report, classification_findings, label_map_from_result, risk_finding
    from meddiag_desktop.report.location import slice_caption
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
        caption = slice_caption(view, info.index, info.count) if info is not None else view.capitalize()
        key_images.append(KeyImage(view_png(w), caption))  # the whole slice, without crosshair
    return build_report(volume, label_maps=label_maps, classifications=classifications, risks=risks,
                        measurements=report_measurements(volume, window.measurements), key_images=key_images,
                        findings=findings, detections=detections, comparison=shown_prior(window))


def shown_prior(window):
    """The prior study shown beside the current one (the compare view's ``prior``), as the report's
    comparison; None when no prior is open."""
    from meddiag_desktop.report.model import Comparison

    prior = getattr(getattr(window, "compare", None), "prior", None)
    date = str(getattr(prior, "study_date", "") or "")
    if prior is None or not date:
        return None
    return Comparison(date, str(getattr(prior, "description", "") or ""))


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
