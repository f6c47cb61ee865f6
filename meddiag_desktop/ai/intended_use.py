"""Intended-use gating: does this study lie in the input domain the plugin declares? (Qt-free, no torch)

A plugin declares its input domain in ``plugin.toml`` (``[domain]``: modalities,
body regions, voxel spacing range, value range, channels; see
:class:`~meddiag_desktop.ai.manifest.DomainSpec`). A MONAI bundle declares it in
``configs/metadata.json``: ``network_data_format.inputs.image`` gives the modality,
the number of channels and, with ``format: "hounsfield"``, that the source is CT in
Hounsfield units; that is read here, where the bundle says it. A plugin without
either is held to the modality of its ``[input]``.

:func:`check_domain` returns a :class:`DomainCheck` whose ``sentence`` names the
first mismatch in plain words ("MR study; this plugin expects CT"). The runner
refuses such a study (:class:`OutsideIntendedUse`) unless the run is forced; a
forced run carries :data:`OUTSIDE_INTENDED_USE` in every output.

Output plausibility checks (``[[plausibility]]``) are evaluated on a label map by
:func:`plausibility_warnings`; they warn, they never refuse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from meddiag_desktop.ai.errors import InputRefused

__all__ = [
    "OUTSIDE_INTENDED_USE",
    "Domain",
    "DomainCheck",
    "OutsideIntendedUse",
    "domain_of",
    "check_domain",
    "gate",
    "run_domain",
    "forced_note",
    "plausibility_warnings",
]

#: the words every output of a forced run carries (overlay legend, SEG, SR, PDF, audit, --json)
OUTSIDE_INTENDED_USE = "outside intended use"


class OutsideIntendedUse(InputRefused):
    """The study lies outside the plugin's declared input domain (``sentence`` says how)."""

    def __init__(self, plugin_id: str, check: "DomainCheck") -> None:
        self.plugin_id = plugin_id
        self.check = check
        super().__init__(f"{check.sentence} ({plugin_id} refused the study as {OUTSIDE_INTENDED_USE}; "
                         "run anyway with --force or 'Run anyway', which is recorded)")


@dataclass(frozen=True)
class Domain:
    """The input domain a plugin was built for; empty fields are not checked."""

    modalities: tuple[str, ...] = ()
    body_regions: tuple[str, ...] = ()
    spacing_mm: tuple[float, float] | None = None  # acceptable voxel size, every axis
    value_range: tuple[float, float] | None = None  # the study's values must lie within it ...
    values_reach: tuple[float, float] | None = None  # ... and reach at or below [0] and at or above [1]
    value_unit: str = ""  # "HU": named in the sentence
    channels: int | None = None
    source: str = "manifest"


@dataclass(frozen=True)
class DomainCheck:
    """Result of :func:`check_domain`: the mismatches in plain words, first one first."""

    mismatches: tuple[str, ...] = ()
    domain: Domain = field(default_factory=Domain)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def sentence(self) -> str:
        """One plain sentence naming the (first) mismatch; '' when the study fits."""
        if not self.mismatches:
            return ""
        s = self.mismatches[0]
        return s[0].upper() + s[1:] + "."


def _bundle_domain(folder: Path) -> Domain | None:
    """Domain from a MONAI bundle's ``configs/metadata.json``, where it says (no code is run)."""
    meta_path = folder / "configs" / "metadata.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    fmt = (meta.get("network_data_format") or {}) if isinstance(meta, dict) else {}
    inputs = fmt.get("inputs") or {}
    image = inputs.get("image") or (next(iter(inputs.values())) if inputs else {}) or {}
    if not isinstance(image, dict):
        return None
    modality = str(image.get("modality") or "").strip()
    modalities = tuple(m for m in (_norm_modality(modality),) if m)
    hounsfield = str(image.get("format") or "").lower() == "hounsfield"
    channels = image.get("num_channels")
    return Domain(
        modalities=modalities,
        values_reach=(-200.0, 50.0) if hounsfield else None,
        value_unit="HU" if hounsfield else "",
        channels=int(channels) if isinstance(channels, int) and channels > 0 else None,
        source=str(meta_path),
    )


def _norm_modality(text: str) -> str:
    t = text.strip().upper()
    return {"MRI": "MR", "MAMMOGRAM": "MG", "MAMMOGRAPHY": "MG", "X-RAY": "DX", "XRAY": "DX",
            "PET": "PT"}.get(t, t)


def domain_of(manifest: Any, folder: str | Path | None = None) -> Domain:
    """The declared domain: ``[domain]`` of plugin.toml, else a bundle's metadata, else the ``[input]`` modality."""
    spec = getattr(manifest, "domain", None)
    if spec is not None:
        return Domain(
            modalities=tuple(_norm_modality(m) for m in spec.modalities),
            body_regions=tuple(r.upper() for r in spec.body_regions),
            spacing_mm=tuple(spec.spacing_mm) if spec.spacing_mm else None,
            value_range=tuple(spec.value_range) if spec.value_range else None,
            values_reach=tuple(spec.values_reach) if spec.values_reach else None,
            value_unit=spec.value_unit,
            channels=spec.channels,
        )
    if getattr(manifest, "kind", "") == "monai_bundle" and folder is not None:
        found = _bundle_domain(Path(folder))
        if found is not None:
            return found
    modality = _norm_modality(getattr(getattr(manifest, "input", None), "modality", "") or "")
    return Domain(modalities=(modality,) if modality else (), source="input")


def _body_part(volume: Any) -> str:
    """BodyPartExamined of the study ('' when unknown): metadata, else the first DICOM file's header."""
    md = volume.metadata
    for key in ("body_part", "body_part_examined", "BodyPartExamined"):
        if md.get(key):
            return str(md[key]).strip().upper()
    files = md.get("files") or []
    if not files:
        return ""
    cached = md.get("_body_part")
    if cached is not None:
        return cached
    try:
        import pydicom

        ds = pydicom.dcmread(files[0], stop_before_pixels=True, specific_tags=["BodyPartExamined"])
        part = str(ds.get("BodyPartExamined", "") or "").strip().upper()
    except Exception:  # an unreadable header: the body part stays unknown, other checks still apply
        part = ""
    md["_body_part"] = part
    return part


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def check_domain(manifest: Any, volume: Any, folder: str | Path | None = None,
                 domain: Domain | None = None) -> DomainCheck:
    """Compare ``volume`` with the plugin's declared domain; mismatches in plain words, most telling first."""
    d = domain or domain_of(manifest, folder)
    out: list[str] = []
    modality = _norm_modality(getattr(volume, "modality", "") or "")
    expects = "CT" if "CT" in d.modalities else (d.modalities[0] if d.modalities else "")
    if d.modalities and modality and modality not in d.modalities:
        out.append(f"{modality} study; this plugin expects {' or '.join(d.modalities)}")
    channels = 3 if getattr(volume, "is_rgb", False) else 1
    if d.channels is not None and channels != d.channels:
        out.append(f"{'colour (RGB)' if channels == 3 else 'single-channel'} image; "
                   f"this plugin expects {d.channels} channel{'s' if d.channels != 1 else ''}")
    if d.body_regions:
        part = _body_part(volume)
        if part and part not in d.body_regions:
            out.append(f"body part {part}; this plugin expects {' or '.join(d.body_regions)}")
    if (d.value_range or d.values_reach) and not getattr(volume, "is_rgb", False):
        lo, hi = volume.value_range()
        unit = f" {d.value_unit}" if d.value_unit else ""
        unit_name = "Hounsfield units (HU)" if d.value_unit.upper() == "HU" else d.value_unit
        what = f"{expects} in {unit_name}" if expects and d.value_unit else (expects or "its value range")
        if d.values_reach and (lo > d.values_reach[0] or hi < d.values_reach[1]):
            never = []
            if lo > d.values_reach[0]:
                never.append(f"never below {_fmt(d.values_reach[0])}{unit}")
            if hi < d.values_reach[1]:
                never.append(f"never above {_fmt(d.values_reach[1])}{unit}")
            out.append(f"values range {_fmt(lo)} to {_fmt(hi)}, {' and '.join(never)}; this plugin expects {what}")
        elif d.value_range and (lo < d.value_range[0] or hi > d.value_range[1]):
            out.append(f"values range {_fmt(lo)} to {_fmt(hi)}, outside {_fmt(d.value_range[0])} to "
                       f"{_fmt(d.value_range[1])}{unit}; this plugin expects {what}")
    if d.spacing_mm:
        a, b = d.spacing_mm
        bad = [s for s in volume.spacing if not a <= s <= b]
        if bad:
            sp = " x ".join(f"{s:g}" for s in volume.spacing)
            out.append(f"voxel spacing {sp} mm; this plugin expects {a:g} to {b:g} mm")
    return DomainCheck(tuple(out), d)


def run_domain(manifest: Any, folder: str | Path | None = None) -> Domain:
    """The domain a run is gated on: :func:`domain_of`, less the channel count for a MONAI bundle,
    whose inputs are mapped to its channels (and checked) by the bundle runner."""
    d = domain_of(manifest, folder)
    if getattr(manifest, "kind", "") == "monai_bundle" and d.channels is not None:
        from dataclasses import replace

        d = replace(d, channels=None)
    return d


def gate(manifest: Any, volume: Any, folder: str | Path | None, force: bool) -> list[str]:
    """The intended-use gate: raise :class:`OutsideIntendedUse` for a study outside the domain,
    or, when the reader forced the run, return the warning that marks every output."""
    check = check_domain(manifest, volume, folder, domain=run_domain(manifest, folder))
    if check.ok:
        return []
    if not force:
        raise OutsideIntendedUse(manifest.id, check)
    return [forced_note(check)]


def forced_note(check: DomainCheck) -> str:
    """The warning a forced run carries: it starts with :data:`OUTSIDE_INTENDED_USE`."""
    return f"{OUTSIDE_INTENDED_USE.capitalize()}: {check.sentence} Run anyway by the reader's choice."


def plausibility_warnings(manifest: Any, labels: np.ndarray, spacing: Sequence[float],
                          direction: Any = None) -> list[str]:
    """Warnings of the manifest's ``[[plausibility]]`` checks on a label map (``[z, y, x]``, source grid)."""
    checks = list(getattr(manifest, "plausibility", None) or [])
    if not checks:
        return []
    from meddiag_desktop.core.label_geometry import connected_components

    voxel_ml = float(abs(np.linalg.det(np.asarray(direction if direction is not None else np.eye(3), float)))
                     * np.prod(spacing)) / 1000.0
    counts = np.bincount(np.asarray(labels).ravel().astype(np.int64), minlength=1)
    names: Mapping[int, str] = manifest.label_names() if hasattr(manifest, "label_names") else {}
    out = []
    for c in checks:
        what = c.name or " + ".join(names.get(v, f"label {v}") for v in c.labels)
        if c.min_ml is not None or c.max_ml is not None:
            ml = float(sum(int(counts[v]) for v in c.labels if v < len(counts))) * voxel_ml
            lo = c.min_ml if c.min_ml is not None else 0.0
            hi = c.max_ml if c.max_ml is not None else float("inf")
            if not lo <= ml <= hi:
                rng = f"{lo:g} to {hi:g} mL" if c.max_ml is not None else f"at least {lo:g} mL"
                out.append(f"implausible result: {what} volume {ml:.0f} mL, expected {rng}")
        if c.max_components is not None:
            mask = np.isin(labels, np.asarray(c.labels, dtype=np.asarray(labels).dtype))
            _, n = connected_components(mask)
            if n > c.max_components:
                out.append(f"implausible result: {n} separate {what} found, expected at most {c.max_components}")
    return out
