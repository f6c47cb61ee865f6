"""Risk side panel: pick a model, fill its inputs (derived ones prefilled), see the risk live.

The panel only wraps :mod:`meddiag_desktop.risk` (Qt-free logic): the form is built
from the model's input declarations, every edit re-validates and re-evaluates,
and any failure is shown in the panel instead of escaping to the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from meddiag_desktop.risk import (
    RiskError,
    RiskModel,
    RiskResult,
    check_inputs,
    discover_models,
    format_probability,
)
from meddiag_desktop.risk.image_inputs import DerivedValue, patient_inputs

__all__ = ["RiskPanel", "ContributionChart", "InputField"]

_CATEGORY_COLORS = {"low": "#2e7d32", "intermediate": "#e65100", "high": "#c62828", "": "#455a64"}
_SOURCE_TEXT = {"dicom": "from DICOM", "segmentation": "from image", "measurement": "measured",
                "classification": "from AI"}
_CHIP = "QLabel {{ background: {bg}; color: {fg}; border-radius: 7px; padding: 1px 4px; font-size: 10px; }}"
_UNSET = "Select…"


def _retain_size(widget: QWidget) -> None:
    """Keep the widget's room when hidden, so the form's columns stay aligned."""
    policy = widget.sizePolicy()
    policy.setRetainSizeWhenHidden(True)
    widget.setSizePolicy(policy)


def _symbols(text: str) -> str:
    """Typeset the ASCII comparison operators of manifests for display."""
    return text.replace(">=", "≥").replace("<=", "≤").replace("mm3", "mm³")


def _pretty(value: str) -> str:
    return value.replace("_", "-").capitalize()


class InputField(QWidget):
    """One input row: editor, unit, 'from image' chip, restore button and inline error."""

    edited = Signal(str)  # input name

    def __init__(self, spec: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.spec = spec
        self._derived: DerivedValue | None = None
        self._setting = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(1)
        row = QHBoxLayout()
        row.setSpacing(6)
        outer.addLayout(row)
        if spec.type in ("bool", "category"):
            self.editor: QComboBox | QLineEdit = QComboBox()
            self.editor.addItem(_UNSET, None)
            items = [("Yes", True), ("No", False)] if spec.type == "bool" else [(_pretty(a), a) for a in spec.allowed]
            for text, data in items:
                self.editor.addItem(text, data)
            self.editor.currentIndexChanged.connect(self._on_edit)
        else:
            self.editor = QLineEdit()
            lo = "" if spec.min is None else f"{spec.min:g}"
            hi = "" if spec.max is None else f"{spec.max:g}"
            self.editor.setPlaceholderText(f"{lo}–{hi}")
            self.editor.textEdited.connect(self._on_edit)
        self.editor.setToolTip(spec.description)
        self.editor.setMinimumWidth(90)
        row.addWidget(self.editor, 1)
        self.unit = QLabel(spec.unit)
        self.unit.setStyleSheet("color: #607d8b;")
        self.unit.setFixedWidth(34)
        row.addWidget(self.unit)
        self.chip = QLabel()
        self.chip.setFixedWidth(80)
        self.chip.setAlignment(Qt.AlignmentFlag.AlignCenter)
        _retain_size(self.chip)
        self.chip.setVisible(False)
        row.addWidget(self.chip)
        self.restore = QToolButton()
        self.restore.setFixedWidth(22)
        _retain_size(self.restore)
        self.restore.setText("↺")
        self.restore.setAutoRaise(True)
        self.restore.setVisible(False)
        self.restore.clicked.connect(self.restore_derived)
        row.addWidget(self.restore)
        self.error = QLabel()
        self.error.setStyleSheet("color: #c62828; font-size: 10px;")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        outer.addWidget(self.error)

    # ------------------------------------------------------------ value
    def raw(self) -> Any:
        """The entered value (None when empty): bool/str for combos, text for numbers."""
        if isinstance(self.editor, QComboBox):
            return self.editor.currentData()
        text = self.editor.text().strip()
        return text or None

    def set_raw(self, value: Any) -> None:
        self._setting = True
        try:
            if isinstance(self.editor, QComboBox):
                idx = self.editor.findData(value) if value is not None else 0
                self.editor.setCurrentIndex(max(idx, 0))
            else:
                self.editor.setText("" if value is None else (f"{value:g}" if isinstance(value, float) else str(value)))
        finally:
            self._setting = False
        self._update_chip()

    # ---------------------------------------------------------- derived
    def set_derived(self, derived: DerivedValue | None) -> None:
        """Fill in a value found in the image or header and mark it as derived."""
        self._derived = derived
        if derived is not None:
            self.set_raw(derived.value)
        self._update_chip()

    def restore_derived(self) -> None:
        if self._derived is not None:
            self.set_raw(self._derived.value)
            self.edited.emit(self.spec.name)

    def is_overridden(self) -> bool:
        return self._derived is not None and not self._same(self.raw(), self._derived.value)

    @staticmethod
    def _same(raw: Any, value: Any) -> bool:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return abs(float(raw) - float(value)) < 1e-9
            except (TypeError, ValueError):
                return False
        return raw == value

    def _update_chip(self) -> None:
        d = self._derived
        if d is None:
            self.chip.setVisible(False)
            self.restore.setVisible(False)
            return
        shown = d.value if not isinstance(d.value, bool) else ("yes" if d.value else "no")
        if self.is_overridden():
            self.chip.setText("edited")
            self.chip.setStyleSheet(_CHIP.format(bg="#eceff1", fg="#455a64"))
            self.chip.setToolTip(f"You changed the derived value {shown} ({d.detail})")
            self.restore.setToolTip(f"Restore the derived value {shown}")
            self.restore.setVisible(True)
        else:
            self.chip.setText(_SOURCE_TEXT.get(d.source, f"from {d.source}"))
            self.chip.setStyleSheet(_CHIP.format(bg="#e3f2fd", fg="#1565c0"))
            self.chip.setToolTip(d.detail or d.source)
            self.restore.setVisible(False)
        self.chip.setVisible(True)

    def set_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))

    def _on_edit(self, *_: Any) -> None:
        if self._setting:
            return
        self._update_chip()
        self.edited.emit(self.spec.name)


class ContributionChart(QWidget):
    """Horizontal bars: how many log-odds each input adds to the reference profile."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._rows: list[tuple[str, float]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Log-odds each input adds to the model's reference profile; red raises the risk.")

    def set_contributions(self, rows: list[tuple[str, float]]) -> None:
        self._rows = list(rows)
        self.setFixedHeight(self.sizeHint().height())
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(300, 16 + 20 * max(len(self._rows), 1))

    def paintEvent(self, event: Any) -> None:  # noqa: N802 (Qt override)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF() - 1, 7))
        p.setFont(font)
        w = self.width()
        label_w, value_w = int(w * 0.36), 44
        x0, x1 = label_w + 6, w - value_w - 4
        span = max([abs(v) for _, v in self._rows] + [0.5])
        zero = x0 + (x1 - x0) * 0.5 if any(v < 0 for _, v in self._rows) else x0
        scale = (x1 - zero) / span if zero > x0 else (x1 - x0) / span
        for i, (name, value) in enumerate(self._rows):
            top = 8 + 20 * i
            p.setPen(QColor("#37474f"))
            shown = p.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight, label_w)
            p.drawText(QRectF(0, top, label_w, 18), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, shown)
            length = value * scale
            rect = QRectF(zero + min(length, 0), top + 3, abs(length), 12)
            p.fillRect(rect, QColor("#e57373" if value > 0 else "#64b5f6"))
            p.setPen(QColor("#37474f"))
            p.drawText(QRectF(x1 + 4, top, value_w, 18), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                       f"{value:+.2f}")
        p.setPen(QPen(QColor("#90a4ae"), 1))
        p.drawLine(int(zero), 4, int(zero), self.height() - 4)
        p.end()


class RiskPanel(QWidget):
    """Side panel computing a clinical risk from the image-derived and entered inputs.

    ``set_context(metadata, derived)`` prefills patient fields from DICOM metadata and
    image-derived values (``{input name: DerivedValue}``); the user can override any.
    """

    result_changed = Signal(object)  # RiskResult, or None when inputs are incomplete

    def __init__(
        self,
        parent: QWidget | None = None,
        models: Mapping[str, RiskModel] | None = None,
        default_model: str = "brock",
    ):
        super().__init__(parent)
        self.setObjectName("RiskPanel")
        if models is None:
            found = discover_models()
            models, self._problems = found.models, found.problems
        else:
            self._problems = []
        self._models = dict(models)
        self._derived: dict[str, DerivedValue] = {}
        self._entered: dict[str, Any] = {}  # raw values by input name, kept across model switches
        self._fields: dict[str, InputField] = {}
        self._result: RiskResult | None = None
        self._study_uid = ""
        self._last_audited: tuple | None = None
        self.proposals: dict[str, Any] = {}
        self._build()
        if self._models:
            self.set_model(default_model if default_model in self._models else next(iter(self._models)))
        else:
            self._guard(self._recompute)

    # ------------------------------------------------------------ layout
    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(8, 8, 8, 8)
        top = QHBoxLayout()
        top.addWidget(QLabel("Model"))
        self.model_box = QComboBox()
        for name, model in self._models.items():
            self.model_box.addItem(model.spec.title, name)
            self.model_box.setItemData(self.model_box.count() - 1, model.spec.outcome, Qt.ItemDataRole.ToolTipRole)
        self.model_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_box.setMinimumContentsLength(18)
        self.model_box.currentIndexChanged.connect(lambda i: self.set_model(self.model_box.itemData(i)))
        top.addWidget(self.model_box, 1)
        root.addLayout(top)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        body.setMinimumWidth(370)  # narrower docks scroll sideways instead of squeezing the form
        self._body = QVBoxLayout(body)
        self._body.setContentsMargins(0, 4, 0, 0)
        self.inputs_box = QGroupBox("Inputs")
        self.inputs_box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.form = QFormLayout(self.inputs_box)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.form.setVerticalSpacing(5)
        self._body.addWidget(self.inputs_box)
        self.proposals_label = self._text_label(
            "QLabel { background: #fff8e1; color: #6d4c00; border: 1px dashed #e0b000; border-radius: 4px;"
            " padding: 4px; }")
        self.proposals_label.setObjectName("RiskProposals")
        self.proposals_label.setVisible(False)
        self._body.addWidget(self.proposals_label)
        self._body.addWidget(self._build_result())
        self._body.addStretch(1)
        scroll.setWidget(body)
        root.addWidget(scroll, 1)

    def _build_result(self) -> QGroupBox:
        box = QGroupBox("Result")
        box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        lay = QVBoxLayout(box)
        head = QHBoxLayout()
        self.probability_label = QLabel("—")
        f = self.probability_label.font()
        f.setPointSizeF(f.pointSizeF() * 2.0)
        f.setBold(True)
        self.probability_label.setFont(f)
        head.addWidget(self.probability_label)
        self.category_label = QLabel()
        head.addWidget(self.category_label)
        head.addStretch(1)
        lay.addLayout(head)
        self.status_label = self._text_label("color: #607d8b;")
        self.rule_label = self._text_label("color: #455a64; font-style: italic;")
        self.action_label = self._text_label("font-weight: 600;")
        self.warning_label = self._text_label("color: #e65100;")
        self.chart_title = QLabel("Contribution to log-odds")
        self.chart_title.setStyleSheet("color: #455a64; font-size: 10px; margin-top: 6px;")
        self.chart = ContributionChart()
        self.reference_label = self._text_label("color: #78909c; font-size: 10px;")
        self.citation_label = self._text_label("color: #546e7a; font-size: 10px;")
        self.citation_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for w in (self.status_label, self.rule_label, self.action_label, self.warning_label, self.chart_title,
                  self.chart, self.reference_label, self.citation_label):
            lay.addWidget(w)
        return box

    @staticmethod
    def _text_label(style: str) -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        label.setStyleSheet(style)
        label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        return label

    # ------------------------------------------------------------ public API
    @property
    def model(self) -> RiskModel | None:
        return self._models.get(self.model_box.currentData())

    @property
    def fields(self) -> dict[str, InputField]:
        return dict(self._fields)

    @property
    def derived(self) -> dict[str, DerivedValue]:
        """The inputs derived from the image and header (input name -> value with its origin)."""
        return dict(self._derived)

    @property
    def result(self) -> RiskResult | None:
        return self._result

    def set_model(self, name: str) -> None:
        """Show the form of model ``name`` (values entered for same-named inputs are kept)."""
        if name not in self._models:
            raise ValueError(f"unknown risk model {name!r}; available: {', '.join(self._models)}")
        if self.model_box.currentData() != name:
            self.model_box.setCurrentIndex(self.model_box.findData(name))  # re-enters via the signal
            return
        while self.form.rowCount():
            self.form.removeRow(0)
        self._fields = {}
        for spec in self._models[name].spec.inputs:
            field = InputField(spec)
            field.set_derived(self._derived.get(spec.name))
            if spec.name in self._entered:
                field.set_raw(self._entered[spec.name])
            field.edited.connect(self._on_field_edited)
            label = QLabel(spec.display_label)
            label.setToolTip(spec.description)
            label.setWordWrap(True)
            label.setMinimumWidth(90)
            self.form.addRow(label, field)
            self._fields[spec.name] = field
        self._guard(self._recompute)

    def set_context(self, metadata: Mapping[str, Any] | None, derived: Mapping[str, Any] | None = None,
                    proposals: Mapping[str, Any] | None = None, unconfirmed: int = 0) -> None:
        """New patient or nodule: clear entries, prefill age/sex from ``metadata`` and the ``derived`` values.

        ``derived`` come from confirmed findings only; ``proposals`` (what unconfirmed AI findings
        would give) are shown apart, as proposals, and never fill an input.
        """
        merged: dict[str, DerivedValue] = dict(patient_inputs(metadata or {}))
        for name, value in (derived or {}).items():
            merged[name] = value if isinstance(value, DerivedValue) else DerivedValue(value, "segmentation")
        self._derived = merged
        self._entered = {}
        self._study_uid = str((metadata or {}).get("study_uid", "") or "")
        self._show_proposals(proposals or {}, unconfirmed)
        for name, field in self._fields.items():
            field.set_derived(merged.get(name))
            if name not in merged:
                field.set_raw(None)
        self._guard(self._recompute)

    def set_image_context(self, volume: Any, labels: Any = None, **derive_options: Any) -> None:
        """Derive nodule inputs from ``volume`` (+ label map) and show them as :meth:`set_context` does.

        ``derive_options`` go to :func:`meddiag_desktop.risk.image_inputs.derive_nodule_inputs`
        (``component``, ``measurement``, ``nodule_type``, ``nodule_label``, ``lung_labels``).
        """

        def derive() -> None:
            from meddiag_desktop.risk.image_inputs import derive_nodule_inputs

            self.set_context(volume.metadata, derive_nodule_inputs(volume, labels, **derive_options))

        self._guard(derive)

    def _show_proposals(self, proposals: Mapping[str, Any], unconfirmed: int) -> None:
        self.proposals = dict(proposals)
        if not unconfirmed:
            self.proposals_label.setVisible(False)
            return
        model = self.model
        specs = {i.name: i for i in model.spec.inputs} if model is not None else {}
        parts = []
        for name, d in proposals.items():
            if specs and name not in specs:
                continue
            value = getattr(d, "value", d)
            shown = ("yes" if value else "no") if isinstance(value, bool) else (
                f"{value:g}" if isinstance(value, float) else str(value).replace("_", " "))
            label = specs[name].display_label if name in specs else name.replace("_", " ")
            parts.append(f"{label} {shown} {getattr(specs.get(name), 'unit', '') or ''}".strip())
        text = (f"{unconfirmed} AI finding(s) await your review in the AI panel and are not used here."
                + (" If accepted: " + "; ".join(parts) + "." if parts else ""))
        self.proposals_label.setText(text)
        self.proposals_label.setVisible(True)

    def set_value(self, name: str, value: Any) -> None:
        """Enter ``value`` for input ``name`` as the user would (overrides a derived value)."""
        if name not in self._fields:
            raise ValueError(f"the current model has no input {name!r}; inputs: {', '.join(self._fields)}")
        self._fields[name].set_raw(value)
        self._on_field_edited(name)

    def values(self) -> dict[str, Any]:
        """The raw values in the form, empty fields left out."""
        return {n: f.raw() for n, f in self._fields.items() if f.raw() is not None}

    # ------------------------------------------------------------ behaviour
    def _on_field_edited(self, name: str) -> None:
        self._entered[name] = self._fields[name].raw()
        self._guard(self._recompute)

    def _guard(self, action: Callable[[], None]) -> None:
        """Error boundary: a failing model or bad state shows in the panel, never escapes."""
        try:
            action()
        except (RiskError, ValueError, OSError) as exc:
            self._show_result(None, f"Cannot compute the risk: {exc}")

    def _recompute(self) -> None:
        model = self.model
        if model is None:
            self._show_result(None, "No risk model is available." + "".join(f"\n{p}" for p in self._problems))
            return
        raw = self.values()
        _, errors = check_inputs(model.spec, raw)
        missing = [n for n, msg in errors.items() if msg == "is required"]
        for name, field in self._fields.items():
            msg = errors.get(name)
            field.set_error(None if msg is None or msg == "is required" else f"{msg}")
        if errors:
            labels = [self._fields[n].spec.display_label for n in missing]
            text = "Fill in: " + ", ".join(labels) if missing else "Correct the highlighted inputs."
            if missing and len(missing) < len(errors):
                text += " — and correct the highlighted inputs."
            self._show_result(None, text)
            return
        self._show_result(self._evaluate(model, raw))

    def _evaluate(self, model: RiskModel, raw: dict[str, Any]) -> RiskResult:
        """Evaluate through the shared workflow, which audits it (once per distinct set of inputs)."""
        key = (model.name, tuple(sorted((k, repr(v)) for k, v in raw.items())))
        if key == self._last_audited:
            return model.evaluate(raw)
        from meddiag_desktop.workflow import evaluate_risk

        entered = [n for n, f in self._fields.items() if n in self._entered or f.is_overridden()]
        result = evaluate_risk(model, raw, study_uid=self._study_uid, via="gui", derived=self._derived,
                               entered=entered)
        self._last_audited = key
        return result

    def _show_result(self, result: RiskResult | None, status: str = "") -> None:
        self._result = result
        model = self.model
        self.status_label.setText(status)
        self.status_label.setVisible(bool(status))
        has = result is not None
        for w in (self.rule_label, self.action_label, self.warning_label, self.chart_title, self.chart,
                  self.reference_label, self.category_label):
            w.setVisible(has)
        if result is None:
            self.probability_label.setText("—")
        else:
            self.probability_label.setText(format_probability(result.probability))
            color = next((c.color for c in model.spec.categories if c.name == result.category), "") if model else ""
            self.category_label.setText(_symbols(result.category))
            self.category_label.setStyleSheet(
                _CHIP.format(bg=_CATEGORY_COLORS.get(color, _CATEGORY_COLORS[""]), fg="white").replace("10px", "11px"))
            self.rule_label.setText(f"Guideline rule applied first: {_symbols(result.rule)}" if result.rule else "")
            self.rule_label.setVisible(bool(result.rule))
            self.action_label.setText(_symbols(result.action))
            self.warning_label.setText("\n".join(f"⚠ {w}" for w in result.warnings))
            self.warning_label.setVisible(bool(result.warnings))
            specs = model.spec if model else None
            rows = [((specs.input(c.input).display_label if specs else c.input), c.log_odds)
                    for c in result.contributions]
            self.chart.set_contributions(rows)
            self.reference_label.setText(_symbols(result.reference))
        if model is not None:
            cite = f"<b>Citation</b>: {escape(model.spec.citation)}"
            if model.spec.guideline_citation:
                cite += f"<br><b>Guideline</b>: {escape(model.spec.guideline_citation)}"
            cite += f"<br><b>Intended use</b>: {escape(_symbols(model.spec.intended_use))}"
            self.citation_label.setText(cite)
        self.result_changed.emit(result)
