"""The user's own window/level presets and default window per modality, kept in ``wl_presets.json``.

The file lives in the config folder (``$MEDDIAG_CONFIG_DIR`` or platformdirs'
``user_config_dir("meddiag-desktop")``) and is written atomically::

    {"presets": [{"name": "Nodule", "width": 1200, "level": -500, "modality": "CT"}],
     "defaults": {"CT": {"width": 1500, "level": -600}}}
"""

from __future__ import annotations

import json
from pathlib import Path

from meddiag_desktop.atomic_files import write_text_atomic
from meddiag_desktop.core import WindowPreset
from meddiag_desktop.paths import user_config_dir

__all__ = ["UserPresets"]


class UserPresets:
    """Load/save user window presets (any modality or one) and per-modality defaults."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or user_config_dir() / "wl_presets.json"
        self.presets: list[dict] = []
        self.defaults: dict[str, dict] = {}
        self.problem = ""
        try:
            d = json.loads(self.path.read_text(encoding="utf-8"))
            self.presets = [p for p in d.get("presets", []) if float(p.get("width", 0)) > 0 and p.get("name")]
            self.defaults = {str(k): v for k, v in d.get("defaults", {}).items() if float(v.get("width", 0)) > 0}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            self.problem = f"{self.path.name} ignored: {exc}"

    def _save(self) -> None:
        write_text_atomic(self.path, json.dumps({"presets": self.presets, "defaults": self.defaults}, indent=1))

    def for_modality(self, modality: str) -> list[WindowPreset]:
        return [WindowPreset(str(p["name"]), float(p["width"]), float(p["level"])) for p in self.presets
                if not p.get("modality") or p.get("modality") == modality]

    def add(self, name: str, width: float, level: float, modality: str = "") -> WindowPreset:
        name = name.strip()
        if not name:
            raise ValueError("a window preset needs a name")
        self.presets = [p for p in self.presets if not (p["name"] == name and p.get("modality", "") == modality)]
        self.presets.append({"name": name, "width": float(width), "level": float(level), "modality": modality})
        self._save()
        return WindowPreset(name, float(width), float(level))

    def set_default(self, modality: str, width: float, level: float) -> None:
        self.defaults[modality or "OT"] = {"width": float(width), "level": float(level)}
        self._save()

    def default_for(self, modality: str) -> tuple[float, float] | None:
        d = self.defaults.get(modality or "OT")
        return (float(d["width"]), float(d["level"])) if d else None
