"""What a MONAI bundle needs before it can run: MONAI version and the packages its ``metadata.json`` declares.

``metadata.json`` gives ``monai_version`` (the MONAI it was made with) and
``optional_packages_version`` (newer bundles: ``required_packages_version``).
A declared package that is missing stops the run, unless it is a training-only
package (tensorboard, scikit-learn, mlflow...) that neither the inference config
nor the bundle's own ``scripts/`` name (BraTS declares both for training); then
it becomes a note. MONAI itself imports some packages only when a network is
built (torchvision for RetinaNet), so "not named in the config" is not "unused". Checking uses
:func:`importlib.util.find_spec`, so listing plugins imports nothing.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BundleRequirementError", "Requirement", "IMPORT_NAMES", "NOT_SHIPPABLE", "check_requirements",
           "requirement_problems"]

#: distribution name (as metadata.json spells it, lower-case) -> import name
IMPORT_NAMES = {
    "pytorch-ignite": "ignite",
    "scikit-learn": "sklearn",
    "scikit-image": "skimage",
    "pyyaml": "yaml",
    "pillow": "PIL",
    "opencv-python": "cv2",
    "opencv-python-headless": "cv2",
    "nibabel": "nibabel",
    "pytorch": "torch",
    "torch": "torch",
    "itk": "itk",
    "simpleitk": "SimpleITK",
    "fire": "fire",
    "transformers": "transformers",
    "einops": "einops",
}

#: declared by bundles for training or experiment tracking only; missing ones are a note unless the inference config names them
TRAINING_ONLY = {"tensorboard", "tensorboardx", "scikit-learn", "mlflow", "wandb", "clearml", "fire", "pytorch-lightning"}

#: packages the app cannot carry, and why (named in the error)
NOT_SHIPPABLE = {
    "torchvision": (
        "it cannot ship in the packaged app because the only torchvision wheels on our package registry "
        "are built against CUDA torch and do not load with the app's CPU torch "
        "('operator torchvision::nms does not exist'); run this bundle with MONAI in a Python "
        "environment that has a matching torch and torchvision"
    ),
}


class BundleRequirementError(ValueError):
    """The bundle needs a package or a MONAI version this installation does not have."""


@dataclass(frozen=True)
class Requirement:
    """One declared package: name as declared, import name, declared version, whether inference uses it."""

    name: str
    module: str
    version: str
    used: bool
    installed: bool


def _meta(folder: Path) -> dict:
    try:
        data = json.loads((folder / "configs" / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _inference_text(folder: Path, config: Path | None) -> str:
    """The inference config and the bundle's own scripts, lower-case: where inference can import from."""
    parts = []
    if config is not None and config.is_file():
        parts.append(config.read_text(encoding="utf-8", errors="replace"))
    scripts = folder / "scripts"
    if scripts.is_dir():
        used = config.read_text(encoding="utf-8", errors="replace") if config is not None and config.is_file() else ""
        for py in sorted(scripts.rglob("*.py")):
            mod = py.relative_to(folder).with_suffix("").as_posix().replace("/", ".")
            if mod in used or mod.rsplit(".", 1)[0] + "." in used or py.name == "__init__.py":
                parts.append(py.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(parts).lower()


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", str(text))[:3])


def requirements(folder: Path, config: Path | None) -> list[Requirement]:
    """The packages ``metadata.json`` declares, with whether inference uses them and whether they are installed."""
    meta = _meta(folder)
    declared = {**(meta.get("optional_packages_version") or {}), **(meta.get("required_packages_version") or {})}
    text = _inference_text(folder, config)
    out = []
    for name, version in declared.items():
        module = IMPORT_NAMES.get(str(name).lower(), str(name).replace("-", "_"))
        named = bool(re.search(rf"\b{re.escape(module.lower())}\b", text)) or str(name).lower() in text
        used = named or str(name).lower() not in TRAINING_ONLY
        out.append(Requirement(str(name), module, str(version), used, _installed(module)))
    return out


def requirement_problems(folder: Path, config: Path | None) -> tuple[list[str], list[str]]:
    """(errors, notes): what stops the bundle from running here, and what is missing but unused."""
    import importlib.metadata

    errors: list[str] = []
    notes: list[str] = []
    meta = _meta(folder)
    want = meta.get("monai_version")
    if want:
        try:
            have = importlib.metadata.version("monai")
        except importlib.metadata.PackageNotFoundError:
            have = None
        if have is None:
            errors.append(f"needs MONAI {want}, which is not installed (install the 'ai' extra)")
        elif _version_tuple(have)[:2] < _version_tuple(want)[:2]:
            errors.append(f"was made with MONAI {want}; this installation has MONAI {have}, which is older")
    for req in requirements(folder, config):
        if req.installed:
            continue
        if req.used:
            why = NOT_SHIPPABLE.get(req.module.lower(), "install it into the app's Python environment")
            errors.append(f"needs {req.name} (declared {req.version}), not installed; {why}")
        else:
            notes.append(f"declares {req.name} {req.version}, not installed; a training-only package its inference config does not name")
    return errors, notes


def check_requirements(folder: Path, config: Path | None, name: str) -> list[str]:
    """Raise :class:`BundleRequirementError` naming everything missing; return notes about unused packages."""
    errors, notes = requirement_problems(folder, config)
    if errors:
        raise BundleRequirementError(f"MONAI bundle {name} cannot run here: " + "; ".join(errors))
    return notes
