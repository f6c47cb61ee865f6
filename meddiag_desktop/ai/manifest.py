"""Plugin manifests: the schema (pydantic models) and its validation; no file reading.

A plugin is a folder holding ``plugin.toml``, its weight files and a small Python
package. :mod:`meddiag_desktop.ai.manifest_io` reads the TOML (or a MONAI bundle's
metadata, through :mod:`meddiag_desktop.ai.bundle`) into a :class:`PluginManifest`
without importing plugin code: the ``entry`` (``package.module:attr``) is imported
only when the plugin runs, in the worker process (:mod:`meddiag_desktop.ai.plugin_code`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "MANIFEST_NAME",
    "ManifestError",
    "PluginManifest",
    "InputSpec",
    "Normalization",
    "InferenceSpec",
    "LabelSpec",
    "OutputSpec",
    "WeightFile",
    "PostprocessStep",
    "DomainSpec",
    "PlausibilityCheck",
    "RemoveSmallComponents",
    "KeepTouching",
    "parse_manifest",
]

MANIFEST_NAME = "plugin.toml"

_ENTRY_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


class ManifestError(ValueError):
    """A plugin folder whose manifest is missing, unreadable or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Normalization(_Strict):
    """Intensity normalisation applied before the model.

    ``window``: clip to ``[min, max]`` then scale linearly to ``[out_min, out_max]``.
    ``zscore``: subtract mean, divide by SD (of the whole volume, or of voxels
    above ``min`` when ``nonzero`` is true), or use fixed ``mean``/``std``.
    """

    kind: Literal["window", "zscore", "none"] = "none"
    min: float | None = None
    max: float | None = None
    out_min: float = 0.0
    out_max: float = 1.0
    clip: bool = True
    mean: float | None = None
    std: float | None = None
    nonzero: bool = False

    @model_validator(mode="after")
    def _check(self) -> Normalization:
        if self.kind == "window":
            if self.min is None or self.max is None or not self.max > self.min:
                raise ValueError("window normalisation needs min < max")
        if self.kind == "zscore" and (self.std is not None and self.std <= 0):
            raise ValueError("zscore std must be positive")
        return self


class InputSpec(_Strict):
    """What the model expects: modality, grid and intensity normalisation."""

    modality: str = "CT"
    spacing_mm: tuple[float, float, float] | None = Field(
        default=None, description="model voxel size (x, y, z) in mm; None keeps the source spacing"
    )
    orientation: Literal["LPS", "RAS", "native"] = "LPS"
    channels: int = 1
    pad_value: float = 0.0
    normalization: Normalization = Normalization()
    patch_size: tuple[int, int, int] | None = Field(
        default=None, description="classification: patch (x, y, z voxels at spacing_mm) around each point"
    )
    min_size_mm: float = Field(default=20.0, description="refuse inputs thinner than this along any axis")
    candidates_from: str | None = Field(
        default=None, description="classification without given points: run this segmentation plugin first"
    )
    candidates_label: int = Field(default=1, description="...and classify each connected component of this label")

    @field_validator("spacing_mm")
    @classmethod
    def _spacing(cls, v: tuple[float, float, float] | None) -> tuple[float, float, float] | None:
        if v is not None and any(not (0.05 <= s <= 20) for s in v):
            raise ValueError(f"spacing_mm must be within 0.05..20 mm, got {v}")
        return v


class InferenceSpec(_Strict):
    """Sliding-window settings (segmentation)."""

    roi_size: tuple[int, int, int] = (96, 96, 96)
    overlap: float = Field(default=0.25, ge=0.0, lt=1.0)
    blend: Literal["gaussian", "constant"] = "gaussian"
    sw_batch_size: int = Field(default=2, ge=1)
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"


class LabelSpec(_Strict):
    value: int = Field(ge=1, le=65535)
    name: str
    color: str = "#ff0000"

    @field_validator("color")
    @classmethod
    def _color(cls, v: str) -> str:
        if not _COLOR_RE.match(v):
            raise ValueError(f"colour must look like #rrggbb, got {v!r}")
        return v


class OutputSpec(_Strict):
    labels: list[LabelSpec] = []
    classes: list[str] = []
    explanation: Literal["occlusion", "none"] = "occlusion"

    @field_validator("labels")
    @classmethod
    def _unique(cls, v: list[LabelSpec]) -> list[LabelSpec]:
        values = [lab.value for lab in v]
        if len(values) != len(set(values)):
            raise ValueError(f"label values must be unique, got {values}")
        return v


class _PostStep(_Strict):
    labels: list[int] = Field(min_length=1, description="label values the step acts on")
    connectivity: Literal[6, 26] = Field(default=6, description="6: face neighbours; 26: faces, edges and corners")
    fill: Literal["surrounding", "background"] = Field(
        default="surrounding", description="removed voxels take the commonest label around them, or 0"
    )


class RemoveSmallComponents(_PostStep):
    """Drop connected components of ``labels`` smaller than ``min_volume_mm3`` (on the model grid)."""

    op: Literal["remove_small_components"]
    min_volume_mm3: float = Field(gt=0)


class KeepTouching(_PostStep):
    """Keep components of ``labels`` only where at least ``min_fraction`` of their border is ``touching``."""

    op: Literal["keep_touching"]
    touching: list[int] = Field(min_length=1)
    min_fraction: float = Field(default=0.0, ge=0.0, le=1.0)


PostprocessStep = Annotated[RemoveSmallComponents | KeepTouching, Field(discriminator="op")]


def _range(v: tuple[float, float] | None, what: str) -> tuple[float, float] | None:
    if v is not None and not v[0] < v[1]:
        raise ValueError(f"{what} must be [low, high] with low < high, got {list(v)}")
    return v


class DomainSpec(_Strict):
    """The input domain the plugin was built for (``[domain]``): a study outside it is refused
    unless the reader runs it anyway, and then every output says "outside intended use"."""

    modalities: list[str] = Field(default_factory=list, description="DICOM modalities, e.g. ['CT']; empty: any")
    body_regions: list[str] = Field(default_factory=list,
                                    description="DICOM BodyPartExamined values, e.g. ['CHEST']; checked when the study says")
    spacing_mm: tuple[float, float] | None = Field(default=None, description="acceptable voxel size on every axis, mm")
    value_range: tuple[float, float] | None = Field(default=None, description="the study's values must lie within it")
    values_reach: tuple[float, float] | None = Field(
        default=None, description="the study's values must reach at or below the first and at or above the second "
                                  "(e.g. air and soft tissue in HU)")
    value_unit: str = Field(default="", description="unit named in messages, e.g. HU")
    channels: int | None = Field(default=None, ge=1, le=16)

    @field_validator("spacing_mm", "value_range", "values_reach")
    @classmethod
    def _ordered(cls, v, info):
        return _range(v, info.field_name)


class PlausibilityCheck(_Strict):
    """An output check (``[[plausibility]]``) on a segmentation: it warns, it never refuses."""

    labels: list[int] = Field(min_length=1, description="label values, summed")
    name: str = Field(default="", description="what to call them in the warning; default: the label names")
    min_ml: float | None = Field(default=None, ge=0)
    max_ml: float | None = Field(default=None, gt=0)
    max_components: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _something(self) -> PlausibilityCheck:
        if self.min_ml is None and self.max_ml is None and self.max_components is None:
            raise ValueError("a plausibility check gives min_ml, max_ml or max_components")
        if self.min_ml is not None and self.max_ml is not None and not self.min_ml < self.max_ml:
            raise ValueError("plausibility min_ml must be below max_ml")
        return self


class WeightFile(_Strict):
    file: str
    sha256: str | None = None
    md5: str | None = Field(default=None, description="MONAI zoo bundles: md5 from large_files.yml (checked too)")
    format: Literal["safetensors", "torch"] | None = None

    @field_validator("sha256")
    @classmethod
    def _sha(cls, v: str | None) -> str | None:
        if v is not None:
            v = v.lower()
            if not _SHA_RE.match(v):
                raise ValueError("sha256 must be 64 hexadecimal digits")
        return v

    @field_validator("md5")
    @classmethod
    def _md5(cls, v: str | None) -> str | None:
        if v is not None:
            v = v.lower()
            if not re.match(r"^[0-9a-f]{32}$", v):
                raise ValueError("md5 must be 32 hexadecimal digits")
        return v

    @field_validator("file")
    @classmethod
    def _relative(cls, v: str) -> str:
        p = Path(v)
        if p.is_absolute() or ".." in p.parts:
            raise ValueError(f"weight file must be a path inside the plugin folder, got {v!r}")
        return v

    @property
    def kind(self) -> str:
        return self.format or ("safetensors" if self.file.endswith(".safetensors") else "torch")


class PluginManifest(_Strict):
    """Everything the app needs to list, check and run a plugin (its model card)."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    name: str
    version: str
    task: Literal["segmentation", "classification", "detection"]
    authors: list[str] = []
    license: str = "unknown"
    intended_use: str
    description: str = ""
    entry: str | None = None
    kind: Literal["native", "monai_bundle"] = "native"
    input: InputSpec = InputSpec()
    inference: InferenceSpec = InferenceSpec()
    model: dict = Field(default_factory=dict, description="keyword arguments for the entry callable")
    outputs: OutputSpec = OutputSpec()
    weights: list[WeightFile] = []
    postprocess: list[PostprocessStep] = Field(
        default_factory=list, description="segmentation: label clean-up steps, in order, on the model grid"
    )
    metrics: dict[str, int | float | str] = {}
    training_data: str = ""
    domain: DomainSpec | None = Field(default=None, description="input domain; outside it the runner refuses")
    plausibility: list[PlausibilityCheck] = Field(default_factory=list, description="output checks that warn")

    @field_validator("entry")
    @classmethod
    def _entry(cls, v: str | None) -> str | None:
        if v is not None and not _ENTRY_RE.match(v):
            raise ValueError(f"entry must look like 'package.module:attr', got {v!r}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> PluginManifest:
        if self.task == "detection" and self.kind != "monai_bundle":
            raise ValueError("task 'detection' is supported for MONAI bundles only")
        if self.kind == "native":
            if not self.entry:
                raise ValueError("entry ('package.module:attr') is required")
            if not self.weights:
                raise ValueError("at least one [[weights]] file with its sha256 is required")
            if any(w.sha256 is None for w in self.weights):
                raise ValueError("every weight file needs its sha256")
        if self.task == "segmentation" and not self.outputs.labels:
            raise ValueError("a segmentation plugin lists its [[outputs.labels]]")
        if self.postprocess:
            if self.task != "segmentation":
                raise ValueError("postprocess steps apply to segmentation plugins only")
            if self.kind == "monai_bundle":
                raise ValueError("a MONAI bundle post-processes in its own config")
            known = {lab.value for lab in self.outputs.labels}
            for i, step in enumerate(self.postprocess):
                used = list(step.labels) + list(getattr(step, "touching", []))
                unknown = sorted(set(used) - known)
                if unknown:
                    raise ValueError(f"postprocess step {i + 1} ({step.op}) names labels {unknown} "
                                     "that outputs.labels does not list")
        if self.plausibility:
            if self.task != "segmentation":
                raise ValueError("plausibility checks apply to segmentation plugins only")
            known = {lab.value for lab in self.outputs.labels}
            for i, c in enumerate(self.plausibility):
                unknown = sorted(set(c.labels) - known)
                if unknown:
                    raise ValueError(f"plausibility check {i + 1} names labels {unknown} that outputs.labels does not list")
        if self.task == "classification":
            if len(self.outputs.classes) < 2:
                raise ValueError("a classification plugin lists at least two outputs.classes")
            if self.kind == "native" and self.input.patch_size is None:
                raise ValueError("a classification plugin gives input.patch_size")
        return self

    # ------------------------------------------------------------ helpers
    def label_names(self) -> dict[int, str]:
        return {lab.value: lab.name for lab in self.outputs.labels}

    def label_colors(self) -> dict[int, str]:
        return {lab.value: lab.color for lab in self.outputs.labels}

    def model_card(self) -> str:
        """Plain-text model card; intended use first, as it must be shown with results."""
        lines = [f"{self.name} {self.version} ({self.task})", f"Intended use: {self.intended_use}"]
        if self.description:
            lines.append(self.description)
        if self.training_data:
            lines.append(f"Training data: {self.training_data}")
        inp = self.input
        sp = "source spacing" if inp.spacing_mm is None else "x".join(f"{s:g}" for s in inp.spacing_mm) + " mm"
        lines.append(f"Input: {inp.modality}, {sp}, orientation {inp.orientation}, normalisation {inp.normalization.kind}")
        if self.outputs.labels:
            lines.append("Labels: " + ", ".join(f"{lab.value} {lab.name}" for lab in self.outputs.labels))
        if self.outputs.classes:
            lines.append("Classes: " + ", ".join(self.outputs.classes))
        if self.domain is not None:
            d = self.domain
            parts = [" or ".join(d.modalities) or "any modality"]
            if d.body_regions:
                parts.append(" or ".join(d.body_regions).lower())
            if d.spacing_mm:
                parts.append(f"voxels {d.spacing_mm[0]:g} to {d.spacing_mm[1]:g} mm")
            lines.append("Intended input: " + ", ".join(parts))
        if self.metrics:
            lines.append("Metrics: " + ", ".join(f"{k} {v}" for k, v in self.metrics.items()))
        lines.append(f"Authors: {', '.join(self.authors) or 'unknown'}; licence: {self.license}")
        return "\n".join(lines)


def _flatten(data: dict) -> dict:
    """Accept the TOML layout with a ``[plugin]`` table, or everything at top level."""
    data = dict(data)
    plugin = data.pop("plugin", None)
    if isinstance(plugin, dict):
        data = {**plugin, **data}
    return data


def _format_validation(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "manifest"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def parse_manifest(data: dict, source: str = MANIFEST_NAME) -> PluginManifest:
    """Validate manifest data (a dict from TOML); raise :class:`ManifestError` naming every problem."""
    try:
        return PluginManifest.model_validate(_flatten(data))
    except ValidationError as err:
        raise ManifestError(f"{source}: {_format_validation(err)}") from None
