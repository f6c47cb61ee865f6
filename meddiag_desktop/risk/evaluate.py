"""Validate inputs against a model's declarations and compute its result."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from meddiag_desktop.risk.spec import InputSpec, LogisticFormula, RiskModelSpec

__all__ = [
    "RiskError",
    "RiskInputError",
    "Contribution",
    "RiskResult",
    "coerce_value",
    "check_inputs",
    "evaluate",
    "format_probability",
]

_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


class RiskError(ValueError):
    """A risk model cannot be found, loaded or evaluated."""


class RiskInputError(RiskError):
    """Some inputs are missing or invalid; ``errors`` maps each field to its problem."""

    def __init__(self, model: str, errors: Mapping[str, str]):
        self.model = model
        self.errors = dict(errors)
        lines = "; ".join(f"{k}: {v}" for k, v in self.errors.items())
        super().__init__(f"invalid input for risk model {model!r}: {lines}")


def _normalise_category(text: str) -> str:
    return text.strip().lower().replace("-", "_").replace(" ", "_")


def coerce_value(spec: InputSpec, raw: Any) -> bool | int | float | str:
    """Convert ``raw`` (JSON value or form text) to the declared type; ``ValueError`` says why not."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ValueError("is required")
    if spec.type == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise ValueError(f"must be true or false (yes/no), got {raw!r}")
    if spec.type == "category":
        allowed = spec.allowed or []
        if isinstance(raw, str):
            key = _normalise_category(raw)
            aliases = {_normalise_category(k): v for k, v in spec.aliases.items()}
            value = aliases.get(key, key)
            if value in allowed:
                return value
        raise ValueError(f"must be one of {', '.join(allowed)}; got {raw!r}")
    # numbers
    if isinstance(raw, bool):
        raise ValueError(f"must be a number, got {raw!r}")
    if isinstance(raw, str):
        try:
            raw = float(raw.strip())
        except ValueError:
            raise ValueError(f"must be a number, got {raw!r}") from None
    if not isinstance(raw, (int, float)):
        raise ValueError(f"must be a number, got {type(raw).__name__} {raw!r}")
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {raw!r}")
    if spec.type == "int":
        if value != int(value):
            raise ValueError(f"must be a whole number, got {raw!r}")
        value = int(value)
    unit = f" {spec.unit}" if spec.unit else ""
    if spec.min is not None and value < spec.min:
        raise ValueError(f"must be >= {spec.min:g}{unit}, got {raw!r}")
    if spec.max is not None and value > spec.max:
        raise ValueError(f"must be <= {spec.max:g}{unit}, got {raw!r}")
    return value


def check_inputs(spec: RiskModelSpec, raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed values and per-field error messages (missing, wrong type, range, unknown field)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for inp in spec.inputs:
        if inp.name not in raw:
            errors[inp.name] = "is required"
            continue
        try:
            values[inp.name] = coerce_value(inp, raw[inp.name])
        except ValueError as exc:
            errors[inp.name] = str(exc)
    known = {i.name for i in spec.inputs}
    for name in raw:
        if name not in known:
            errors[str(name)] = f"is not an input of {spec.name!r} (inputs: {', '.join(sorted(known))})"
    return values, errors


@dataclass(frozen=True)
class Contribution:
    """How far one input moves the log-odds from the model's reference profile."""

    input: str
    value: Any
    log_odds: float


@dataclass(frozen=True)
class RiskResult:
    """Everything a view or the CLI shows for one evaluation."""

    model: str
    title: str
    probability: float
    logit: float
    baseline_log_odds: float
    category: str
    action: str
    contributions: list[Contribution]
    inputs: dict[str, Any]
    citation: str
    intended_use: str
    reference: str
    guideline_citation: str = ""
    rule: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["logit"] = round(self.logit, 6)
        d["baseline_log_odds"] = round(self.baseline_log_odds, 6)
        d["contributions"] = {c.input: round(c.log_odds, 6) for c in self.contributions}
        return d


def format_probability(p: float) -> str:
    """Percent with the precision small risks need: ``45.6 %``, ``0.56 %``, ``< 0.01 %``."""
    if p < 0.0001:
        return "< 0.01 %"
    if p > 0.9999:
        return "> 99.99 %"
    return f"{p * 100:.2f} %" if p < 0.01 or p > 0.99 else f"{p * 100:.1f} %"


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def evaluate(spec: RiskModelSpec, raw: Mapping[str, Any], formula: LogisticFormula | None = None) -> RiskResult:
    """Validate ``raw`` and compute probability, category, action and contributions.

    Raises :class:`RiskInputError` naming every bad field.
    """
    formula = formula or spec.logistic
    if formula is None:
        raise RiskError(f"risk model {spec.name!r} has no formula loaded")
    values, errors = check_inputs(spec, raw)
    if errors:
        raise RiskInputError(spec.name, errors)

    baseline = formula.intercept
    per_input: dict[str, float] = {i.name: 0.0 for i in spec.inputs}
    for term in formula.terms:
        try:
            t = term.transform.apply(values[term.input])
        except ValueError as exc:
            raise RiskInputError(spec.name, {term.input: str(exc)}) from None
        ref = term.reference_shift()
        baseline += term.coefficient * ref
        per_input[term.input] += term.coefficient * (t - ref)
    logit = baseline + sum(per_input.values())
    probability = _sigmoid(logit)

    category, action = "", ""
    for cat in spec.categories:
        if probability >= cat.min_probability:
            category, action = cat.name, cat.action
    rule_text = None
    for rule in spec.rules:
        if rule.matches(values):
            category, action = rule.category or category, rule.action
            rule_text = rule.describe()
            break

    warnings = []
    for inp in spec.inputs:
        v = values[inp.name]
        if inp.type in ("int", "float"):
            lo, hi = inp.typical_min, inp.typical_max
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                span = f"{'' if lo is None else f'{lo:g}'}-{'' if hi is None else f'{hi:g}'} {inp.unit}".strip()
                warnings.append(
                    f"{inp.name} = {v:g} is outside the range the model was developed on "
                    f"({span}); the estimate is an extrapolation"
                )
    contributions = [Contribution(name, values[name], lo) for name, lo in per_input.items()]
    return RiskResult(
        model=spec.name,
        title=spec.title,
        probability=probability,
        logit=logit,
        baseline_log_odds=baseline,
        category=category,
        action=action,
        contributions=contributions,
        inputs=values,
        citation=spec.citation,
        intended_use=spec.intended_use,
        reference=spec.reference_description,
        guideline_citation=spec.guideline_citation,
        rule=rule_text,
        warnings=warnings,
    )
