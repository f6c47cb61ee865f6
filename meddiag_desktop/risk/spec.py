"""Declarative description of a clinical risk model (validated with pydantic).

A model is data, never code: its inputs, a logistic formula made of terms
``coefficient x transform(input)``, probability categories with the action a
guideline attaches to them, optional rules that apply before the probability
(e.g. "nodules < 5 mm need no follow-up"), its citation and intended use.
Manifests are TOML or JSON files read with :mod:`tomllib` / :mod:`json`.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "InputSpec",
    "Transform",
    "Term",
    "LogisticFormula",
    "Category",
    "Rule",
    "RiskModelSpec",
    "InputType",
]

InputType = Literal["bool", "int", "float", "category"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    """One input of a model: what it is, its unit, and which values are allowed."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    type: InputType
    label: str = ""
    description: str = ""
    unit: str = ""
    min: float | None = None
    max: float | None = None
    #: values outside [typical_min, typical_max] are allowed but give a warning
    typical_min: float | None = None
    typical_max: float | None = None
    allowed: list[str] | None = None
    #: alternative spellings accepted for a category (e.g. DICOM "F" for "female")
    aliases: dict[str, str] = {}
    #: the value can be derived from the image (segmentation, measurement, AI)
    from_image: bool = False
    #: where a derived value usually comes from: "dicom", "segmentation", ...
    source_hint: str = ""

    @model_validator(mode="after")
    def _check(self) -> InputSpec:
        if self.type == "category":
            if not self.allowed:
                raise ValueError(f"input {self.name!r}: a category needs 'allowed' values")
            for alias, target in self.aliases.items():
                if target not in self.allowed:
                    raise ValueError(f"input {self.name!r}: alias {alias!r} -> unknown value {target!r}")
        elif self.allowed is not None:
            raise ValueError(f"input {self.name!r}: 'allowed' is only for category inputs")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"input {self.name!r}: min {self.min} > max {self.max}")
        return self

    @property
    def display_label(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


class Transform(_Strict):
    """How an input value becomes the number multiplied by a coefficient.

    ``kind``:

    * ``identity``: ``x`` (bools are 1/0);
    * ``center``: ``x - center``;
    * ``power``: ``(x / scale) ** exponent - offset`` (Brock nodule size);
    * ``log``: ``ln(x + shift) - offset``;
    * ``standardize``: ``(x - mean) / sd``;
    * ``indicator``: ``1`` if the (category or bool) value equals ``value`` else ``0``.
    """

    kind: Literal["identity", "center", "power", "log", "standardize", "indicator"] = "identity"
    center: float = 0.0
    scale: float = 1.0
    exponent: float = 1.0
    offset: float = 0.0
    shift: float = 0.0
    mean: float = 0.0
    sd: float = 1.0
    value: str | bool | None = None

    @model_validator(mode="after")
    def _check(self) -> Transform:
        if self.kind == "indicator" and self.value is None:
            raise ValueError("an indicator transform needs 'value'")
        if self.kind == "standardize" and not self.sd > 0:
            raise ValueError("a standardize transform needs sd > 0")
        if self.kind == "power" and self.scale == 0:
            raise ValueError("a power transform needs a non-zero scale")
        return self

    def apply(self, x: float | bool | str) -> float:
        """The transformed value (raises ``ValueError`` where it is undefined)."""
        if self.kind == "indicator":
            return 1.0 if x == self.value else 0.0
        v = float(x)
        if self.kind == "identity":
            out = v
        elif self.kind == "center":
            out = v - self.center
        elif self.kind == "power":
            base = v / self.scale
            if base <= 0 and self.exponent != int(self.exponent):
                raise ValueError(f"power transform undefined for {v}")
            out = base**self.exponent - self.offset
        elif self.kind == "log":
            if v + self.shift <= 0:
                raise ValueError(f"log transform undefined for {v}")
            out = math.log(v + self.shift) - self.offset
        else:  # standardize
            out = (v - self.mean) / self.sd
        if not math.isfinite(out):
            raise ValueError(f"transform gives a non-finite value for {v}")
        return out


class Term(_Strict):
    """``coefficient x (transform(input) - transform(reference))`` in log-odds."""

    input: str
    coefficient: float
    transform: Transform = Transform()
    #: value of the input that contributes zero; default: the value whose transform is 0
    reference: float | bool | str | None = None
    note: str = ""

    def reference_shift(self) -> float:
        return 0.0 if self.reference is None else self.transform.apply(self.reference)


class LogisticFormula(_Strict):
    """``logit = intercept + sum(terms)``; ``probability = 1 / (1 + exp(-logit))``."""

    intercept: float
    terms: list[Term]


class Category(_Strict):
    """A probability band ``[min_probability, next band)`` and the action it implies."""

    name: str
    min_probability: Annotated[float, Field(ge=0.0, le=1.0)]
    action: str = ""
    color: str = ""  # hint for views: "low", "intermediate", "high"


class Rule(_Strict):
    """A guideline rule checked before the probability bands; the first that matches applies.

    It matches when ``at_least <= input < below`` (either bound may be left out) and, if
    ``when_input`` is given, when that input's value is one of ``when_values``. Its ``action``
    replaces the band's; its ``category`` too, unless empty (the band's category is kept).
    """

    input: str
    below: float | None = None
    at_least: float | None = None
    when_input: str | None = None
    when_values: list[str | bool] = []
    category: str = ""
    action: str
    note: str = ""

    @model_validator(mode="after")
    def _check(self) -> Rule:
        if self.below is None and self.at_least is None:
            raise ValueError(f"rule on {self.input!r} needs 'below' and/or 'at_least'")
        if self.when_input and not self.when_values:
            raise ValueError(f"rule on {self.input!r}: 'when_input' needs 'when_values'")
        return self

    def matches(self, values: dict) -> bool:
        v = values.get(self.input)
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return False
        if (self.below is not None and v >= self.below) or (self.at_least is not None and v < self.at_least):
            return False
        return not self.when_input or values.get(self.when_input) in self.when_values

    def describe(self) -> str:
        if self.note:
            return self.note
        lo = "" if self.at_least is None else f"{self.at_least:g} <= "
        hi = "" if self.below is None else f" < {self.below:g}"
        when = f" and {self.when_input} in {self.when_values}" if self.when_input else ""
        return f"{lo}{self.input}{hi}{when}"


class RiskModelSpec(_Strict):
    """A whole risk model manifest (``risk_model.toml`` / ``risk_model.json``)."""

    schema_version: Literal[1] = 1
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_\-]*$")]
    title: str
    version: str = "1"
    kind: Literal["logistic", "logistic_file"] = "logistic"
    outcome: str = "probability of the outcome"
    citation: str
    intended_use: str
    reference_description: str = ""
    guideline_citation: str = ""
    inputs: list[InputSpec]
    categories: list[Category] = []
    rules: list[Rule] = []
    #: kind "logistic": the formula itself
    logistic: LogisticFormula | None = None
    #: kind "logistic_file": a JSON file beside the manifest holding the formula
    model_file: str | None = None
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    model_card: str | None = None

    @model_validator(mode="after")
    def _check(self) -> RiskModelSpec:
        names = [i.name for i in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError("input names must be unique")
        if self.kind == "logistic" and self.logistic is None:
            raise ValueError("a 'logistic' model needs a [logistic] table")
        if self.kind == "logistic_file" and (not self.model_file or not self.sha256):
            raise ValueError("a 'logistic_file' model needs model_file and sha256")
        bounds = [c.min_probability for c in self.categories]
        if bounds != sorted(bounds) or (bounds and bounds[0] != 0.0):
            raise ValueError("categories must be sorted by min_probability, starting at 0")
        for rule in self.rules:
            for ref in (rule.input, rule.when_input):
                if ref is not None and ref not in names:
                    raise ValueError(f"rule refers to unknown input {ref!r}")
        if self.logistic is not None:
            self.check_formula(self.logistic)
        return self

    def check_formula(self, formula: LogisticFormula) -> None:
        """Raise ``ValueError`` when a term uses an input the model does not declare."""
        by_name = {i.name: i for i in self.inputs}
        for term in formula.terms:
            spec = by_name.get(term.input)
            if spec is None:
                raise ValueError(f"term refers to unknown input {term.input!r}")
            if spec.type == "category" and term.transform.kind != "indicator":
                raise ValueError(f"category input {term.input!r} needs an indicator transform")
            if spec.type == "category" and term.transform.value not in spec.allowed:  # type: ignore[operator]
                raise ValueError(f"indicator of {term.input!r} uses unknown value {term.transform.value!r}")

    def input(self, name: str) -> InputSpec:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise KeyError(name)
