"""Run a plugin on a :class:`Volume` in this process (Qt-free; torch imported lazily).

The app never calls this directly: :func:`meddiag_desktop.ai.isolation.run_isolated`
calls it in a worker process so that a crashing plugin cannot take the viewer down.
Steps: trust, check the input fits the model (:mod:`~meddiag_desktop.ai.input_checks`),
choose the device (:mod:`~meddiag_desktop.ai.devices`), verify weight hashes and build
the model (:mod:`~meddiag_desktop.ai.plugin_code`), then segment
(:mod:`~meddiag_desktop.ai.segmentation`) or classify
(:mod:`~meddiag_desktop.ai.classification`); a MONAI bundle runs its own workflow
(:mod:`~meddiag_desktop.ai.bundle_run`). Segmentations get the manifest's
plausibility warnings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from meddiag_desktop.ai.bundle_run import run_bundle
from meddiag_desktop.ai.classification import classify
from meddiag_desktop.ai.devices import choose_device
from meddiag_desktop.ai.errors import InputRefused
from meddiag_desktop.ai.input_checks import check_input, forced_run
from meddiag_desktop.ai.intended_use import plausibility_warnings
from meddiag_desktop.ai.manifest import PluginManifest
from meddiag_desktop.ai.manifest_io import load_manifest
from meddiag_desktop.ai.plugin_code import build_model
from meddiag_desktop.ai.segmentation import segment
from meddiag_desktop.ai.sliding_window import RunCancelled
from meddiag_desktop.ai.trust import require_trusted
from meddiag_desktop.core.progress import Cancel, Progress
from meddiag_desktop.core.volume import Volume

__all__ = ["RunOptions", "InputRefused", "RunCancelled", "run_plugin"]



@dataclass
class RunOptions:
    """How to run: device (``auto``/``cpu``/``cuda``/``mps``), batch override, classification points."""

    device: str = "auto"
    sw_batch_size: int | None = None
    precision: str | None = None
    points_lps: list[tuple[float, float, float]] | None = None
    allow_bundle_code: bool = False
    #: run even outside the plugin's intended use (the reader chose "Run anyway" / --force); recorded
    force: bool = False
    #: MONAI bundles with several inputs or channels: ``{key: [Volume per channel]}`` (the worker fills it
    #: from the files :func:`~meddiag_desktop.ai.isolation.run_isolated` wrote); None: the volume is the first input
    bundle_inputs: dict[str, list[Volume]] | None = None


def run_plugin(
    folder: str | Path,
    volume: Volume,
    options: RunOptions | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    note: Callable[[str], None] | None = None,
    manifest: PluginManifest | None = None,
):
    """Run the plugin in ``folder`` on ``volume``; returns a Segmentation-, Classification- or DetectionResult."""
    options = options or RunOptions()
    folder = Path(folder)
    require_trusted(folder, for_run=True)  # before any plugin module is imported or bundle config parsed
    manifest = manifest or load_manifest(folder)
    notes: list[str] = []

    def _note(text: str) -> None:
        notes.append(text)
        if note is not None:
            note(text)

    with forced_run(options.force):  # the bundle runner's own check_input sees it too
        if manifest.kind == "monai_bundle":
            if not options.allow_bundle_code:
                raise InputRefused(
                    f"{folder} is a MONAI bundle whose config can run code; only bundles you installed "
                    "(user plugin folder, MEDDIAG_PLUGIN_PATH, or a folder given explicitly) are run"
                )
            check_input(manifest, volume, options.force, folder)  # the gate reads the bundle's metadata
            result = run_bundle(folder, manifest, volume, options, progress, cancel, _note)
        else:
            t = time.perf_counter()
            warnings = check_input(manifest, volume, options.force, folder)
            device = choose_device(options.device)
            model = build_model(folder, manifest)
            timings = {"load_model_s": time.perf_counter() - t}
            run = segment if manifest.task == "segmentation" else classify
            result = run(manifest, volume, model, device, options, progress=progress, cancel=cancel, note=_note,
                         notes=notes, warnings=warnings, timings=timings)
    if manifest.task == "segmentation" and getattr(result, "labels", None) is not None:
        result.warnings = list(result.warnings) + plausibility_warnings(manifest, result.labels, volume.spacing,
                                                                        volume.direction)
    return result
