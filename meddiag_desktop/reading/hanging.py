"""Hanging protocols: which layout, window and studies a study opens with, in stages.

Protocols are TOML (``[[protocol]]`` tables, see ``resources/hanging_protocols.toml``).
The shipped file is package data; the reader's own file,
``<user config>/hanging_protocols.toml``, adds protocols and overrides shipped ones
of the same name. Both are validated by pydantic models; a bad user file is
reported (file, protocol, field, what is wrong) and the shipped protocols are used.

:func:`match_protocol` picks, for a :class:`StudyContext` (modality, body part,
series description, number of studies), the matching protocol with the highest
priority, then the most specific rules. :class:`ProtocolRun` steps through its stages.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "Stage",
    "MatchRule",
    "Protocol",
    "ProtocolFileError",
    "StudyContext",
    "ProtocolRun",
    "PRIOR_LAYOUTS",
    "USER_FILE_NAME",
    "load_protocol_file",
    "load_protocols",
    "match_protocol",
    "context_for",
    "user_protocols_path",
    "shipped_protocols_path",
]

USER_FILE_NAME = "hanging_protocols.toml"
#: layouts that show the prior beside the current study
PRIOR_LAYOUTS = ("compare", "prior_2x2")
Layout = Literal["four", "1x3", "axial", "coronal", "sagittal", "3d", "compare", "prior_2x2"]


class ProtocolFileError(ValueError):
    """A protocol file that cannot be used; the message names the file, protocol and field."""


class Stage(BaseModel):
    """One step of a protocol: a layout and, optionally, a window preset by name."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    layout: Layout
    window: str | None = None  #: a window preset of the study ("Lung", "Mediastinum", a DICOM preset's name)


class MatchRule(BaseModel):
    """When a protocol applies; every given rule must hold (empty lists match anything)."""

    model_config = ConfigDict(extra="forbid")
    modality: list[str] = []  #: any of these (upper case DICOM Modality)
    body_part: list[str] = []  #: any of these in BodyPartExamined, else as a word of the descriptions
    series_description: str | None = None  #: a regular expression searched, ignoring case
    min_studies: int = Field(1, ge=1)  #: current + priors found
    max_studies: int | None = Field(None, ge=1)

    @field_validator("modality", "body_part")
    @classmethod
    def _upper(cls, v: list[str]) -> list[str]:
        return [s.strip().upper() for s in v]

    @field_validator("series_description")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return v

    @model_validator(mode="after")
    def _range(self) -> MatchRule:
        if self.max_studies is not None and self.max_studies < self.min_studies:
            raise ValueError(f"max_studies ({self.max_studies}) is below min_studies ({self.min_studies})")
        return self

    @property
    def specificity(self) -> int:
        return (bool(self.modality) + bool(self.body_part) + bool(self.series_description)
                + (self.min_studies > 1) + (self.max_studies is not None))


class Protocol(BaseModel):
    """A named protocol: its match rule and one or more stages."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    description: str = ""
    priority: int = 0
    match: MatchRule = MatchRule()
    stages: list[Stage] = Field(min_length=1)
    source: str = ""  #: "shipped" or the user file's path (set when loaded)

    @model_validator(mode="after")
    def _prior_needs_two_studies(self) -> Protocol:
        for s in self.stages:
            if s.layout in PRIOR_LAYOUTS and self.match.min_studies < 2:
                raise ValueError(f"stage {s.name!r} shows a prior (layout {s.layout!r}): "
                                 "set match.min_studies = 2")
        return self


class _ProtocolFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    protocol: list[Protocol] = Field(min_length=1)


@dataclass(frozen=True)
class StudyContext:
    """What protocols are matched on."""

    modality: str = ""
    body_part: str = ""  #: BodyPartExamined, upper case
    series_description: str = ""
    study_description: str = ""
    n_studies: int = 1


def shipped_protocols_path() -> Path:
    from meddiag_desktop.paths import resource_path

    return resource_path(USER_FILE_NAME)


def user_protocols_path() -> Path:
    from meddiag_desktop.paths import user_config_dir

    return user_config_dir() / USER_FILE_NAME


def _describe(exc: ValidationError, data: dict) -> str:
    lines = []
    protocols = data.get("protocol") if isinstance(data, dict) else None
    for err in exc.errors()[:5]:
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] == "protocol" and isinstance(loc[1], int) and isinstance(protocols, list):
            name = protocols[loc[1]].get("name", "?") if isinstance(protocols[loc[1]], dict) else "?"
            where = f"protocol {loc[1] + 1} ({name!r})" + ("." + ".".join(str(p) for p in loc[2:]) if loc[2:] else "")
        lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)


def load_protocol_file(path: Path, source: str | None = None) -> list[Protocol]:
    """The protocols of one TOML file; :class:`ProtocolFileError` saying what is wrong where."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProtocolFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolFileError(f"{path}: not valid TOML ({exc})") from exc
    try:
        parsed = _ProtocolFile.model_validate(data)
    except ValidationError as exc:
        raise ProtocolFileError(f"{path}: {_describe(exc, data)}") from None
    return [p.model_copy(update={"source": source or str(path)}) for p in parsed.protocol]


def load_protocols(user_path: Path | None = None) -> tuple[list[Protocol], list[str]]:
    """Shipped protocols overridden (by name, ignoring case) and extended by the user's; and the problems.

    A missing user file is normal; a bad one is reported and ignored as a whole.
    """
    protocols = {p.name.casefold(): p for p in load_protocol_file(shipped_protocols_path(), "shipped")}
    problems: list[str] = []
    user_path = user_protocols_path() if user_path is None else Path(user_path)
    if user_path.is_file():
        try:
            for p in load_protocol_file(user_path):
                protocols[p.name.casefold()] = p
        except ProtocolFileError as exc:
            problems.append(f"Hanging protocols: {exc}. Using the shipped protocols.")
    return list(protocols.values()), problems


def _words(text: str) -> set[str]:
    return {w.upper() for w in re.findall(r"[A-Za-z]+", text or "")}


def matches(rule: MatchRule, ctx: StudyContext) -> bool:
    """True when every rule of ``rule`` holds for ``ctx``."""
    if rule.modality and ctx.modality.upper() not in rule.modality:
        return False
    if rule.body_part:
        if ctx.body_part:
            if ctx.body_part.upper() not in rule.body_part:
                return False
        elif not _words(f"{ctx.series_description} {ctx.study_description}") & set(rule.body_part):
            return False
    if rule.series_description is not None and not re.search(rule.series_description, ctx.series_description,
                                                             re.IGNORECASE):
        return False
    if ctx.n_studies < rule.min_studies:
        return False
    return rule.max_studies is None or ctx.n_studies <= rule.max_studies


def match_protocol(protocols: list[Protocol], ctx: StudyContext) -> Protocol | None:
    """The matching protocol of highest priority, then most specific rules, then first listed."""
    hits = [(p.priority, p.match.specificity, -i, p) for i, p in enumerate(protocols) if matches(p.match, ctx)]
    return max(hits, key=lambda h: h[:3])[3] if hits else None


def context_for(metadata: dict, n_studies: int = 1) -> StudyContext:
    """The :class:`StudyContext` of a volume's metadata; BodyPartExamined read from its first file."""
    body = str(metadata.get("body_part", "") or "")
    files = metadata.get("files") or []
    if not body and files:
        try:
            import pydicom

            ds = pydicom.dcmread(files[0], stop_before_pixels=True, specific_tags=["BodyPartExamined"])
            body = str(ds.get("BodyPartExamined", "") or "")
        except (OSError, ValueError, TypeError, AttributeError):  # not DICOM / unreadable: match on descriptions
            body = ""
    return StudyContext(
        modality=str(metadata.get("modality", "") or "").upper(),
        body_part=body.strip().upper(),
        series_description=str(metadata.get("series_description", "") or ""),
        study_description=str(metadata.get("study_description", "") or ""),
        n_studies=int(n_studies),
    )


class ProtocolRun:
    """The protocol applied to the open study and its current stage."""

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self.index = 0

    @property
    def stage(self) -> Stage:
        return self.protocol.stages[self.index]

    def step(self, delta: int) -> bool:
        """Go ``delta`` stages on (clamped to the first/last); True when the stage changed."""
        new = min(max(self.index + delta, 0), len(self.protocol.stages) - 1)
        changed = new != self.index
        self.index = new
        return changed

    @property
    def position(self) -> str:
        return f"{self.index + 1}/{len(self.protocol.stages)}"
