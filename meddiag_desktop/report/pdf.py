"""The report as a signable PDF (reportlab; Qt-free).

Layout: a header with patient and study on every page; indication, technique and
comparison, the findings (measurements and lesions with their location in words),
the reader's impression, the fixed AI statement and the sign-off (on page 1 when it
fits); then risk estimates with a contribution chart, key images and the
provenance of every AI result;
the footer carries the app version and "page x of y".
"""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

from meddiag_desktop.core.corner_text import format_dicom_date, lps_text
from meddiag_desktop.core.label_geometry import DIAMETER_DEFINITION, SIZE_NAMES, format_mm
from meddiag_desktop.report.model import OUTSIDE_INTENDED_USE, UNCONFIRMED, Report, RiskFinding

__all__ = ["render_pdf"]

_INK = "#1d2733"
_MUTED = "#5b6673"
_ACCENT = "#1f5f8b"
_RULE = "#c9d1da"
_ZEBRA = "#f3f6f9"

_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/Library/Fonts", "C:/Windows/Fonts")


def _fonts() -> tuple[str, str, str]:
    """(regular, bold, mono) font names; DejaVu (all of Unicode's European scripts) when installed."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "MD-Sans" in pdfmetrics.getRegisteredFontNames():
        return "MD-Sans", "MD-Sans-Bold", "MD-Mono"
    for folder in _FONT_DIRS:
        d = Path(folder)
        files = [d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf", d / "DejaVuSansMono.ttf"]
        if all(f.is_file() for f in files):
            try:
                for name, f in zip(("MD-Sans", "MD-Sans-Bold", "MD-Mono"), files):
                    pdfmetrics.registerFont(TTFont(name, str(f)))
                from reportlab.lib.fonts import addMapping

                addMapping("MD-Sans", 0, 0, "MD-Sans")
                addMapping("MD-Sans", 1, 0, "MD-Sans-Bold")
                return "MD-Sans", "MD-Sans-Bold", "MD-Mono"
            except Exception:  # a damaged font file: fall back to the PDF core fonts
                break
    return "Helvetica", "Helvetica-Bold", "Courier"


def _fmt_date(da: str) -> str:
    """A DA (or the date of a DT) as ``2013-04-15`` (core.corner_text.format_dicom_date)."""
    s = (da or "").strip()
    return format_dicom_date(s[:8]) if len(s) >= 8 and s[:8].isdigit() else s


def _fmt(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{v:,.{digits}f}"


def _value(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v).replace("_", " ")


class _Styles:
    def __init__(self) -> None:
        from reportlab.lib.styles import ParagraphStyle

        self.regular, self.bold, self.mono = _fonts()
        base = ParagraphStyle("base", fontName=self.regular, fontSize=9, leading=12, textColor=_INK)
        self.body = base
        self.small = ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5, textColor=_MUTED)
        self.cell = ParagraphStyle("cell", parent=base, fontSize=8, leading=10)
        self.cell_bold = ParagraphStyle("cellb", parent=self.cell, fontName=self.bold)
        self.mono_cell = ParagraphStyle("mono", parent=self.cell, fontName=self.mono, fontSize=6.5, leading=8)
        self.title = ParagraphStyle("title", parent=base, fontName=self.bold, fontSize=15, leading=19,
                                    textColor=_INK, spaceAfter=2)
        self.h2 = ParagraphStyle("h2", parent=base, fontName=self.bold, fontSize=10.5, leading=14,
                                 textColor=_ACCENT, spaceBefore=10, spaceAfter=4)
        self.h3 = ParagraphStyle("h3", parent=base, fontName=self.bold, fontSize=9.5, leading=12, spaceBefore=4,
                                 spaceAfter=2)
        self.big = ParagraphStyle("big", parent=base, fontName=self.bold, fontSize=13, leading=16)


def _p(text: str, style) -> object:
    from reportlab.platypus import Paragraph

    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _table(rows: list[list], widths: list[float], st: _Styles, header: bool = True, align_right: tuple[int, ...] = ()):
    from reportlab.platypus import Table, TableStyle

    from reportlab.lib.enums import TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle

    def style_of(r: int, c: int):
        base = st.cell_bold if header and r == 0 else st.cell
        return ParagraphStyle(f"{base.name}-r", parent=base, alignment=TA_RIGHT) if c in align_right else base

    data = [[cell if not isinstance(cell, str) else _p(cell, style_of(r, c)) for c, cell in enumerate(row)]
            for r, row in enumerate(rows)]
    t = Table(data, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    style = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("LINEBELOW", (0, -1), (-1, -1), 0.5, _RULE),
    ]
    if header:
        style += [("LINEBELOW", (0, 0), (-1, 0), 0.8, _ACCENT), ("BACKGROUND", (0, 0), (-1, 0), "#e6eef5")]
        for r in range(2, len(rows), 2):
            style.append(("BACKGROUND", (0, r), (-1, r), _ZEBRA))
    for c in align_right:
        style.append(("ALIGN", (c, 0), (c, -1), "RIGHT"))
    t.setStyle(TableStyle(style))
    return t


def _contribution_chart(risk: RiskFinding, width: float, st: _Styles):
    """Horizontal bars: log-odds each input adds to the reference profile (red raises, blue lowers)."""
    from reportlab.graphics.shapes import Drawing, Line, Rect, String

    items = sorted(risk.contributions.items(), key=lambda kv: -abs(kv[1]))
    bar_h, gap, label_w, value_w = 11, 4, 150, 44
    h = len(items) * (bar_h + gap) + 34
    d = Drawing(width, h)
    plot_w = width - label_w - value_w
    span = max([abs(v) for _, v in items] + [0.5])
    zero = label_w + plot_w / 2
    scale = (plot_w / 2 - 4) / span
    labels = {i.name: i.label or i.name for i in risk.inputs}
    y = h - 12
    d.add(String(label_w, h - 8, "lowers risk", fontName=st.regular, fontSize=6.5, fillColor=_MUTED))
    d.add(String(label_w + plot_w, h - 8, "raises risk", fontName=st.regular, fontSize=6.5, fillColor=_MUTED,
                 textAnchor="end"))
    for name, lo in items:
        y -= bar_h + gap
        d.add(String(label_w - 6, y + 2.5, labels.get(name, name)[:34], fontName=st.regular, fontSize=7.5,
                     fillColor=_INK, textAnchor="end"))
        w = lo * scale
        color = "#c0392b" if lo > 0 else "#2e6da4"
        if abs(w) >= 0.5:
            d.add(Rect(min(zero, zero + w), y, abs(w), bar_h, fillColor=color, strokeColor=None))
        d.add(String(width - 2, y + 2.5, f"{lo:+.2f}", fontName=st.regular, fontSize=7.5, fillColor=_INK,
                     textAnchor="end"))
    d.add(Line(zero, 14, zero, h - 12, strokeColor=_MUTED, strokeWidth=0.6))
    d.add(String(zero, 3, "log-odds vs reference profile", fontName=st.regular, fontSize=6.5,
                 fillColor=_MUTED, textAnchor="middle"))
    return d


def _risk_block(risk: RiskFinding, width: float, st: _Styles) -> list:
    from reportlab.platypus import KeepTogether, Spacer, Table, TableStyle

    flow: list = []
    head = Table(
        [[_p(f"{risk.probability * 100:.1f} %", st.big), _p(f"Category: {risk.category or '–'}", st.cell_bold)],
         ["", _p(f"Action: {risk.action or '–'}", st.cell)]],
        colWidths=[80, width - 80], hAlign="LEFT",
    )
    head.setStyle(TableStyle([("SPAN", (0, 0), (0, 1)), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                              ("BOX", (0, 0), (-1, -1), 0.6, _RULE), ("BACKGROUND", (0, 0), (0, 1), "#f7efe6")]))
    flow += [_p(f"{risk.title}" + (f" (model {risk.model_id} v{risk.model_version})" if risk.model_version else ""),
                st.h3), head, Spacer(1, 4)]
    if risk.rule:
        flow.append(_p(f"Guideline rule applied: {risk.rule}", st.small))
    rows = [["Input", "Value", "Source"]]
    for i in risk.inputs:
        src = "from image" + (f": {i.detail}" if i.detail else "") if i.origin == "image" else "entered by user"
        rows.append([i.label or i.name, f"{_value(i.value)} {i.unit}".strip(), src])
    flow.append(_table(rows, [130, 90, width - 220], st))
    flow.append(Spacer(1, 6))
    chart = _contribution_chart(risk, width, st)
    flow.append(KeepTogether([_p("Contribution of each input", st.h3), chart]))
    if risk.reference:
        flow.append(_p(f"Reference profile: {risk.reference}", st.small))
    for w in risk.warnings:
        flow.append(_p(f"Warning: {w}", st.small))
    flow.append(_p(f"Citation: {risk.citation}", st.small))
    if risk.guideline_citation:
        flow.append(_p(f"Guideline: {risk.guideline_citation}", st.small))
    return flow


def _findings(report: Report, width: float, st: _Styles) -> list:
    from reportlab.platypus import Spacer

    flow: list = [_p("Findings", st.h2)]
    if not (report.measurements or report.segments or report.classifications or report.detections):
        flow.append(_p("No measurements or AI findings were recorded.", st.body))
    if report.measurements:
        flow += _measurement_table(report, width, st)
    confirmed = [x for x in report.segments if x.confirmed]
    proposals = [x for x in report.segments if not x.confirmed]
    if confirmed:
        ai = any(x.provenance is not None for x in confirmed)
        flow.append(_p("Segmented structures" + (" (AI, confirmed by the reader)" if ai else ""), st.h3))
        flow += [_segment_table(confirmed, width, st), Spacer(1, 4)]
    if report.confirmed_by:
        flow.append(_p(f"AI findings confirmed by: {', '.join(report.confirmed_by)}.", st.small))
    if proposals:
        flow.append(_p(f"AI proposals: unconfirmed, not reviewed by a reader ({len(proposals)})", st.h3))
        flow += [_segment_table(proposals, width, st), Spacer(1, 4)]
    if report.segments:
        flow.append(_p(DIAMETER_DEFINITION, st.small))
    if report.classifications:
        flow.append(_p("Classification (AI)", st.h3))
        rows = [["Location", "Most probable", "Probabilities", "Source", "Status"]]
        for c in report.classifications:
            loc = c.location or (lps_text(c.point_lps) if c.point_lps else "–")  # "R 79.0  A 12.0  S 3.0 mm"
            probs = ", ".join(f"{k.replace('_', ' ')} {v * 100:.0f} %" for k, v in
                              sorted(c.probabilities.items(), key=lambda kv: -kv[1]))
            src = f"{c.provenance.plugin_id} {c.provenance.version}" if c.provenance else ""
            rows.append([loc, c.top_class.replace("_", " "), probs, src, _status_text(c)])
        flow.append(_table(rows, [96, 70, width - 366, 110, 90], st))
    flow += _detections(report, width, st)
    for note in report.notes:
        flow.append(_p(f"Note: {note}", st.small))
    return flow


def _detections(report: Report, width: float, st: _Styles) -> list:
    """Boxes of detection models: those the reader confirmed, then the unconfirmed proposals, apart."""
    from reportlab.platypus import Spacer

    flow: list = []
    confirmed = [d for d in report.detections if d.confirmed]
    proposals = [d for d in report.detections if not d.confirmed]
    unconfirmed = f"AI detection proposals: unconfirmed, not reviewed by a reader ({len(proposals)})"
    for title, items in (("Detected findings (AI, confirmed by the reader)", confirmed), (unconfirmed, proposals)):
        if not items:
            continue
        flow.append(_p(title, st.h3))
        rows = [["Finding", "Centre (LPS mm)", "Box size x × y × z (mm)", "Score", "Source", "Status"]]
        for d in items:
            src = f"{d.provenance.plugin_id} {d.provenance.version}" if d.provenance else ""
            rows.append([d.display_name, "(" + ", ".join(f"{c:.1f}" for c in d.center_lps) + ")",
                         " × ".join(f"{v:.1f}" for v in d.size_mm), f"{d.score:.2f}", src, _status_text(d)])
        flow += [_table(rows, [width - 460, 110, 110, 40, 110, 90], st, align_right=(3,)), Spacer(1, 4)]
    return flow


def _status_text(f) -> str:
    """'confirmed by Dr X' / 'AI proposal, unconfirmed' / 'reader' for a finding of the report."""
    if getattr(f, "provenance", None) is None:
        return "reader"
    if not f.confirmed:
        return UNCONFIRMED
    return "edited by reader" if f.status == "edited" else "confirmed"


def _segment_table(segments, width: float, st: _Styles):
    names = SIZE_NAMES
    rows = [["Structure", "Volume (mL)", "Mean (HU)", f"{names['long_axis_mm']} (mm)",
             f"{names['short_axis_mm']} (mm)", f"{names['mean_diameter_mm']} (mm)", "Source", "Status"]]
    for x in segments:
        src = f"{x.provenance.plugin_id} {x.provenance.version}" if x.provenance else "manual"
        name = x.display_name + (f"\n{x.location}" if x.location else "")
        rows.append([("\u2003" if x.component else "") + name, _fmt(x.volume_ml, 2), _fmt(x.mean_hu, 0),
                     format_mm(x.longest_diameter_mm), format_mm(x.short_axis_mm), format_mm(x.mean_diameter_mm),
                     src, _status_text(x)])
    return _table(rows, [width - 416, 48, 42, 44, 44, 52, 112, 74], st, align_right=(1, 2, 3, 4, 5))


def _outside_use_box(report: Report, width: float, st: _Styles) -> list:
    """A red box first on the page when an AI plugin was run outside its intended use."""
    from reportlab.platypus import Spacer, Table, TableStyle

    items = report.outside_intended_use
    if not items:
        return []
    lines = [f"{p.plugin_id} {p.version} was run {OUTSIDE_INTENDED_USE.upper()} by the reader's choice: "
             f"{p.outside_intended_use} Its results are not valid for this study." for p in items]
    box = Table([[_p("\n".join(lines), st.cell_bold)]], colWidths=[width], hAlign="LEFT")
    box.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 1.2, "#b03a2e"), ("BACKGROUND", (0, 0), (-1, -1), "#fbeeee"),
                             ("LEFTPADDING", (0, 0), (-1, -1), 6), ("TOPPADDING", (0, 0), (-1, -1), 5),
                             ("BOTTOMPADDING", (0, 0), (-1, -1), 5)]))
    return [box, Spacer(1, 6)]


def _key_images(report: Report, width: float, st: _Styles) -> list:
    from reportlab.platypus import Image, KeepTogether, Table, TableStyle

    if not report.key_images:
        return []
    cells = []
    col_w = (width - 12) / 2
    for k in report.key_images:
        img = Image(io.BytesIO(k.png))
        ratio = img.imageHeight / max(img.imageWidth, 1)
        img.drawWidth, img.drawHeight = col_w, min(col_w * ratio, 300)
        if img.drawHeight < col_w * ratio:
            img.drawWidth = img.drawHeight / ratio
        cells.append([img, _p(k.caption, st.small)])
    rows = []
    for i in range(0, len(cells), 2):
        pair = cells[i : i + 2] + ([["", ""]] if len(cells[i : i + 2]) == 1 else [])
        rows.append([pair[0][0], pair[1][0]])
        rows.append([pair[0][1], pair[1][1]])
    t = Table(rows, colWidths=[col_w + 6, col_w + 6], hAlign="LEFT")
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]))
    return [KeepTogether([_p("Key images", st.h2), t])]


def _provenance(report: Report, width: float, st: _Styles) -> list:
    from reportlab.platypus import KeepTogether

    flow: list = []
    rows = [["Software", "Version", "Weights SHA-256", "Device", "Run at"]]
    for p in report.provenances:
        sha = "\n".join(p.weights_sha256) or "–"
        rows.append([f"{p.name or p.plugin_id}\n({p.plugin_id})", p.version, _p(sha, st.mono_cell), p.device or "–",
                     p.run_at.replace("T", " ")])
    for r in report.risks:
        rows.append([f"{r.title}\n({r.model_id})", r.model_version or "–", _p("published formula", st.cell), "–", "–"])
    rows.append(["MedDiag Desktop", report.app_version, "–", "–", report.created_at.replace("T", " ")])
    flow.append(_table(rows, [130, 48, width - 318, 40, 100], st))
    uses = [(p.plugin_id, p.intended_use) for p in report.provenances if p.intended_use]
    for pid, use in uses:
        flow.append(_p(f"Intended use of {pid}: {use}", st.small))
    return [KeepTogether([_p("Provenance", st.h2), *flow])]


def _measurement_table(report: Report, width: float, st: _Styles) -> list:
    """The reader's measurements: readable name, size, location in words and the image it was drawn on."""
    from reportlab.platypus import Spacer

    rows = [["Measurement", "Size", "Location", "Image"]]
    for m in report.measurements:
        name = m.name + (f" – {m.description}" if m.description and m.description.lower() not in m.name.lower()
                         else "")
        digits = 0 if m.unit in ("deg", "mm2") else 1
        unit = {"deg": "°", "mm2": "mm²"}.get(m.unit, m.unit)
        rows.append([name, f"{m.value:,.{digits}f} {unit}".strip(), m.location or "–", m.image or "–"])
    return [_p("Measurements (reader)", st.h3),
            _table(rows, [150, 60, 140, width - 350], st, align_right=(1,)), Spacer(1, 4)]


def _fmt_when(iso: str) -> str:
    """``2026-11-29 14:05`` from an ISO 8601 time (seconds and offset dropped), else the text as given."""
    import datetime as _dt

    try:
        return _dt.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return (iso or "").replace("T", " ")


def _technique_text(report: Report) -> str:
    t = report.technique
    p = report.patient
    parts: list[str] = []
    if t is not None:
        what = " ".join(x for x in (t.modality, t.body_part.lower() if t.body_part else "") if x)
        if what:
            parts.append(what)
        if t.series_description:
            parts.append(f"series {t.series_description}")
        if t.slice_thickness_mm:
            parts.append(f"{t.slice_thickness_mm:g} mm slice thickness")
        if t.contrast:
            parts.append(f"contrast: {t.contrast}")
    elif p.modality:
        parts.append(p.modality)
    if p.study_date:
        parts.append(f"study date {_fmt_date(p.study_date)}")
    text = ", ".join(parts)
    return (text[:1].upper() + text[1:] + ".") if text else "Not recorded."


def _context_sections(report: Report, width: float, st: _Styles) -> list:
    """Indication, technique and comparison: what a reader reads before the findings."""
    from reportlab.platypus import Table, TableStyle

    c = report.comparison
    if c is None or not (c.study_date or c.description):
        comparison = "None."
    else:
        comparison = " ".join(x for x in (f"Prior study of {_fmt_date(c.study_date)}" if c.study_date else "Prior study",
                                          f"({c.description})" if c.description else "") if x) + "."
    rows = [[_p("Indication", st.cell_bold), _p(report.indication or "Not given.", st.cell)],
            [_p("Technique", st.cell_bold), _p(_technique_text(report), st.cell)],
            [_p("Comparison", st.cell_bold), _p(comparison, st.cell)]]
    t = Table(rows, colWidths=[80, width - 80], hAlign="LEFT")
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                           ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)]))
    return [t]


def _ai_statement(report: Report, width: float, st: _Styles) -> list:
    from reportlab.platypus import Spacer, Table, TableStyle

    box = Table([[_p(report.statement, st.small)]], colWidths=[width], hAlign="LEFT")
    box.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.8, "#b03a2e"), ("BACKGROUND", (0, 0), (-1, -1), "#fbeeee"),
                             ("LEFTPADDING", (0, 0), (-1, -1), 6), ("TOPPADDING", (0, 0), (-1, -1), 3),
                             ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]))
    return [Spacer(1, 8), box]


def _sign_off(report: Report, width: float, st: _Styles) -> list:
    """Reader's name, date and time, and a line to sign on; kept together (on page 1 when it fits)."""
    from reportlab.platypus import KeepTogether, Table, TableStyle

    reader = _p(report.reader_name, st.body) if report.reader_name else ""
    sig = Table(
        [[reader, "", "", "", _p(_fmt_when(report.created_at), st.body)],
         [_p("Reader (name)", st.small), "", _p("Signature", st.small), "", _p("Date and time", st.small)]],
        colWidths=[width * 0.36, 16, width * 0.36, 16, width * 0.28 - 32], rowHeights=[26, 12], hAlign="LEFT",
    )
    sig.setStyle(TableStyle([("LINEBELOW", (0, 0), (0, 0), 0.6, _INK), ("LINEBELOW", (2, 0), (2, 0), 0.6, _INK),
                             ("LINEBELOW", (4, 0), (4, 0), 0.6, _INK), ("VALIGN", (0, 0), (-1, 0), "BOTTOM"),
                             ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    return [KeepTogether([_p("Sign-off", st.h2), sig])]


def _header_lines(report: Report) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    p = report.patient
    left = [("Patient", p.patient_name or "–"), ("Patient ID", p.patient_id or "–")]
    if not p.pseudonymised:
        left.append(("Born", _fmt_date(p.patient_birth_date) or "–"))
    left.append(("Sex / age", " / ".join(x for x in (p.patient_sex, p.age_text) if x) or "–"))
    right = [("Study", " ".join(x for x in (p.modality, p.study_description) if x) or "–"),
             ("Study date", _fmt_date(p.study_date) or "–")]
    if not p.pseudonymised:
        right.append(("Accession", p.accession_number or "–"))
    right.append(("Series", p.series_description or "–"))
    return left, right


def render_pdf(report: Report, pagesize: str = "A4") -> bytes:
    """The report as PDF bytes."""
    from reportlab.lib.pagesizes import A4, letter
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas as rl_canvas
    from reportlab.platypus import Frame, PageTemplate, BaseDocTemplate, Spacer

    size = letter if pagesize.lower() == "letter" else A4
    st = _Styles()
    margin = 16 * mm
    header_h = 30 * mm
    width = size[0] - 2 * margin
    left, right = _header_lines(report)
    title = "Imaging report" + (" (pseudonymised)" if report.patient.pseudonymised else "")

    def draw_header(c, doc) -> None:
        c.saveState()
        top = size[1] - 12 * mm
        c.setFillColor(_ACCENT)
        c.setFont(st.bold, 12)
        c.drawString(margin, top, title)
        c.setFont(st.regular, 7.5)
        c.setFillColor(_MUTED)
        c.drawRightString(size[0] - margin, top, report.institution or "MedDiag Desktop")
        y0 = top - 5 * mm
        for col, items in ((margin, left), (margin + width / 2, right)):
            y = y0
            for k, v in items:
                c.setFont(st.regular, 7.5)
                c.setFillColor(_MUTED)
                c.drawString(col, y, k)
                c.setFont(st.bold, 8)
                c.setFillColor(_INK)
                c.drawString(col + 22 * mm, y, v[:60])
                y -= 3.6 * mm
        c.setStrokeColor(_ACCENT)
        c.setLineWidth(1.2)
        c.line(margin, size[1] - header_h - 4 * mm, size[0] - margin, size[1] - header_h - 4 * mm)
        c.restoreState()

    class NumberedCanvas(rl_canvas.Canvas):
        """Defers page output so the footer can say "page x of y"."""

        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self._pages: list[dict] = []

        def showPage(self):  # noqa: N802 - reportlab API
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont(st.regular, 7)
                self.setFillColor(_MUTED)
                self.setStrokeColor(_RULE)
                self.line(margin, 12 * mm, size[0] - margin, 12 * mm)
                self.drawString(margin, 8.5 * mm,
                                f"MedDiag Desktop {report.app_version} · created {report.created_at.replace('T', ' ')}"
                                " · AI results are not for clinical use on their own")
                if report.outside_intended_use:  # on every page, its own line
                    self.setFillColor("#b03a2e")
                    self.drawString(margin, 5 * mm, f"AI run {OUTSIDE_INTENDED_USE.upper()}: its results are not "
                                                    "valid for this study")
                    self.setFillColor(_MUTED)
                self.drawRightString(size[0] - margin, 8.5 * mm, f"Page {self._pageNumber} of {total}")
                super().showPage()
            super().save()

    buf = io.BytesIO()
    doc = BaseDocTemplate(buf, pagesize=size, leftMargin=margin, rightMargin=margin, topMargin=header_h + 8 * mm,
                          bottomMargin=18 * mm, title=title, author="MedDiag Desktop",
                          subject="Imaging report", creator=f"MedDiag Desktop {report.app_version}")
    frame = Frame(margin, 18 * mm, width, size[1] - header_h - 8 * mm - 18 * mm, id="body", leftPadding=0,
                  rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=draw_header)])

    # what a radiologist reads in order: indication, technique, comparison, findings, impression, sign-off
    # (on page 1 when it fits); then the risk estimates, key images and provenance behind it
    flow: list = _outside_use_box(report, width, st) + _context_sections(report, width, st)
    flow += _findings(report, width, st)
    flow.append(_p("Impression", st.h2))
    flow.append(_p(report.impression or "No impression has been entered.", st.body))
    flow += _ai_statement(report, width, st)
    flow += _sign_off(report, width, st)
    if report.risks:
        flow.append(_p("Risk estimates", st.h2))
        for r in report.risks:
            flow += _risk_block(r, width, st)
            flow.append(Spacer(1, 8))
    flow += _key_images(report, width, st)
    if report.provenances or report.risks:
        flow += _provenance(report, width, st)
    doc.build(flow, canvasmaker=NumberedCanvas)
    return buf.getvalue()
