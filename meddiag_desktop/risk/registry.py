"""Find risk models and load them without executing any of their code.

Models are folders holding a ``risk_model.toml`` (or ``risk_model.json``)
manifest, found, in this order (the first model of a name wins; later ones are
reported as problems):

1. built-ins bundled in ``meddiag_desktop/risk/models/``;
2. the user folder ``<user data folder>/risk_models`` (:mod:`meddiag_desktop.paths`);
3. the folders listed in ``MEDDIAG_PLUGIN_PATH`` (``os.pathsep`` separated);
4. entry points of the group ``meddiag_desktop.risk_models`` whose value names a
   package (``"pkg.models"``) or a folder inside one (``"pkg:models/my_model"``).

A folder in 2-4 is either a model folder itself or holds model folders one level
down. A ``logistic_file`` model's formula file is checked against the SHA-256 in
its manifest before it is parsed (plain JSON: no pickle, no eval).
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from meddiag_desktop.risk.evaluate import RiskError, RiskResult, evaluate
from meddiag_desktop.risk.spec import LogisticFormula, RiskModelSpec

__all__ = [
    "RiskModel",
    "ModelIntegrityError",
    "Discovery",
    "MANIFEST_NAMES",
    "ENTRY_POINT_GROUP",
    "ENV_VAR",
    "builtin_models_dir",
    "user_models_dir",
    "load_model",
    "discover_models",
    "get_model",
]

MANIFEST_NAMES = ("risk_model.toml", "risk_model.json")
ENTRY_POINT_GROUP = "meddiag_desktop.risk_models"
ENV_VAR = "MEDDIAG_PLUGIN_PATH"


class ModelIntegrityError(RiskError):
    """A model file does not match the SHA-256 recorded in its manifest."""


@dataclass
class RiskModel:
    """A validated manifest plus where it came from; the formula is loaded on first use."""

    spec: RiskModelSpec
    folder: Path
    source: str  # "builtin", "user", "env", "entry_point:<name>"
    _formula: LogisticFormula | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def formula(self) -> LogisticFormula:
        """The logistic formula, verifying the model file's SHA-256 first."""
        if self._formula is None:
            self._formula = self.spec.logistic or _load_model_file(self.spec, self.folder)
        return self._formula

    def evaluate(self, inputs: dict[str, Any]) -> RiskResult:
        """Validate ``inputs`` and compute the result (see :func:`meddiag_desktop.risk.evaluate`)."""
        return evaluate(self.spec, inputs, self.formula())

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary for ``meddiag risk --list --json``."""
        return {
            "name": self.spec.name,
            "title": self.spec.title,
            "version": self.spec.version,
            "kind": self.spec.kind,
            "source": self.source,
            "folder": str(self.folder),
            "outcome": self.spec.outcome,
            "citation": self.spec.citation,
            "intended_use": self.spec.intended_use,
            "model_file": self.spec.model_file,
            "sha256": self.spec.sha256,
            "model_card": str(self.folder / self.spec.model_card) if self.spec.model_card else None,
            "inputs": [i.model_dump(exclude_defaults=True) for i in self.spec.inputs],
            "categories": [c.model_dump(exclude_defaults=True) for c in self.spec.categories],
        }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_model_file(spec: RiskModelSpec, folder: Path) -> LogisticFormula:
    assert spec.model_file and spec.sha256
    path = (folder / spec.model_file).resolve()
    if folder.resolve() not in path.parents:
        raise RiskError(f"risk model {spec.name!r}: model_file {spec.model_file!r} must lie inside {folder}")
    if not path.is_file():
        raise RiskError(f"risk model {spec.name!r}: model file {path} is missing; reinstall the model")
    digest = _sha256(path)
    if digest != spec.sha256:
        raise ModelIntegrityError(
            f"risk model {spec.name!r}: {path.name} has SHA-256 {digest}, but its manifest records "
            f"{spec.sha256}; the file was changed or corrupted. Reinstall the model (or, if you "
            "retrained it, record the new hash in its manifest)."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        formula = LogisticFormula.model_validate(data["logistic"] if "logistic" in data else data)
        spec.check_formula(formula)
    except (ValueError, KeyError, ValidationError) as exc:
        raise RiskError(f"risk model {spec.name!r}: {path.name} is not a valid formula file: {exc}") from None
    return formula


def _read_manifest(path: Path) -> dict[str, Any]:
    if path.suffix == ".toml":
        with path.open("rb") as fh:
            return tomllib.load(fh)
    return json.loads(path.read_text(encoding="utf-8"))


def load_model(folder: str | os.PathLike[str], source: str = "path") -> RiskModel:
    """Read and validate the manifest in ``folder``; raise :class:`RiskError` saying what is wrong."""
    folder = Path(folder)
    manifest = next((folder / n for n in MANIFEST_NAMES if (folder / n).is_file()), None)
    if manifest is None:
        raise RiskError(f"{folder} holds no {' or '.join(MANIFEST_NAMES)}")
    try:
        data = _read_manifest(manifest)
        spec = RiskModelSpec.model_validate(data)
    except (ValueError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise RiskError(f"{manifest} is not a valid risk model manifest: {exc}") from None
    return RiskModel(spec=spec, folder=folder, source=source)


def builtin_models_dir() -> Path:
    """Folder of the models bundled with the package (package data)."""
    return Path(str(resources.files("meddiag_desktop.risk") / "models"))


def user_models_dir() -> Path:
    """Per-user folder for installed risk models: ``<user data folder>/risk_models``."""
    from meddiag_desktop.paths import user_data_dir

    return user_data_dir() / "risk_models"


def _model_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    if any((root / n).is_file() for n in MANIFEST_NAMES):
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and any((p / n).is_file() for n in MANIFEST_NAMES))


def _entry_point_roots(problems: list[str]) -> list[tuple[str, Path]]:
    roots = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        package, _, sub = ep.value.partition(":")
        try:
            root = Path(str(resources.files(package.strip()))) / sub.strip()
        except (ImportError, TypeError, ValueError) as exc:
            problems.append(f"risk model entry point {ep.name!r} = {ep.value!r} cannot be resolved: {exc}")
            continue
        if not root.is_dir():
            problems.append(f"risk model entry point {ep.name!r} = {ep.value!r}: {root} is not a folder")
            continue
        roots.append((f"entry_point:{ep.name}", root))
    return roots


@dataclass
class Discovery:
    """Models found, in discovery order, and the problems met on the way."""

    models: dict[str, RiskModel]
    problems: list[str]


def discover_models(include_user: bool = True, include_entry_points: bool = True) -> Discovery:
    """Find every risk model (see the module docstring for where and in which order)."""
    problems: list[str] = []
    roots: list[tuple[str, Path]] = [("builtin", builtin_models_dir())]
    if include_user:
        roots.append(("user", user_models_dir()))
    for part in os.environ.get(ENV_VAR, "").split(os.pathsep):
        if part.strip():
            roots.append(("env", Path(part.strip()).expanduser()))
    if include_entry_points:
        roots.extend(_entry_point_roots(problems))

    models: dict[str, RiskModel] = {}
    for source, root in roots:
        for folder in _model_folders(root):
            try:
                model = load_model(folder, source)
            except RiskError as exc:
                problems.append(str(exc))
                continue
            if model.name in models:
                first = models[model.name]
                problems.append(
                    f"risk model {model.name!r} in {folder} ignored: the {first.source} model of that name "
                    f"in {first.folder} comes first"
                )
                continue
            models[model.name] = model
    return Discovery(models, problems)


def get_model(name: str) -> RiskModel:
    """The discovered model called ``name``; :class:`RiskError` lists the available ones otherwise."""
    found = discover_models()
    if name not in found.models and name.strip().lower() in found.models:
        name = name.strip().lower()
    if name not in found.models:
        names = ", ".join(found.models) or "none"
        raise RiskError(f"unknown risk model {name!r}; available: {names} (meddiag risk --list)")
    return found.models[name]
