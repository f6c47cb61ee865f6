"""Help → About: version, bundled AI plugins and risk models with their intended use,
the offline statement, the user folders and the licences.

:func:`collect_about_info` gathers everything without Qt (it reads manifests only,
never imports torch or plugin code); :class:`AboutDialog` shows it. The main
window calls :func:`show_about`.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QTextBrowser, QVBoxLayout, QWidget

__all__ = ["OFFLINE_STATEMENT", "ModelEntry", "AboutInfo", "user_folders", "collect_about_info", "AboutDialog", "show_about"]

OFFLINE_STATEMENT = (
    "MedDiag Desktop works entirely offline. It makes no network connections: no telemetry, "
    "no usage statistics, no update checks, no model downloads. Images, AI results, reports and "
    "settings stay on this computer, in the folders listed below."
)

APP_LICENSE = "Apache License 2.0"

#: (distribution, shown name, licence) of the main third-party components
THIRD_PARTY = (
    ("PySide6-Essentials", "Qt for Python (PySide6)", "LGPL-3.0"),
    ("vtk", "VTK", "BSD-3-Clause"),
    ("torch", "PyTorch", "BSD-3-Clause"),
    ("monai", "MONAI", "Apache-2.0"),
    ("pydicom", "pydicom", "MIT"),
    ("python-gdcm", "GDCM", "BSD-3-Clause"),
    ("pylibjpeg", "pylibjpeg", "MIT"),
    ("SimpleITK", "SimpleITK", "Apache-2.0"),
    ("nibabel", "NiBabel", "MIT"),
    ("highdicom", "highdicom", "MIT"),
    ("reportlab", "ReportLab", "BSD-3-Clause"),
    ("numpy", "NumPy", "BSD-3-Clause"),
)


@dataclass
class ModelEntry:
    """One AI plugin or risk model as the About box lists it."""

    name: str
    version: str
    kind: str  # "segmentation", "classification", "risk model", ...
    intended_use: str
    source: str  # bundled | user | env | entry_point ...
    detail: str = ""  # citation or description


@dataclass
class AboutInfo:
    """Everything the About box shows; built by :func:`collect_about_info`."""

    version: str
    build: str
    plugins: list[ModelEntry] = field(default_factory=list)
    risk_models: list[ModelEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    folders: dict[str, Path] = field(default_factory=dict)
    components: list[tuple[str, str, str]] = field(default_factory=list)  # (name, version, licence)
    #: one line per compressed DICOM encoding: the packages that decode it here, or what to install
    decoders: list[str] = field(default_factory=list)


def _build_kind() -> str:
    from meddiag_desktop.paths import is_frozen

    py = f"Python {platform.python_version()}, {platform.system()} {platform.machine()}"
    return f"installed package ({py})" if is_frozen() else f"Python environment {sys.prefix} ({py})"


def _plugins(problems: list[str]) -> list[ModelEntry]:
    from meddiag_desktop.ai.discovery import discover_plugins

    out = []
    for info in discover_plugins():
        m = info.manifest
        if m is None or not info.ok:
            problems.append(f"AI plugin {info.id}: {info.error}")
            continue
        out.append(ModelEntry(m.name, str(m.version), str(m.task), m.intended_use, info.source, m.description))
    return out


def _risk_models(problems: list[str]) -> list[ModelEntry]:
    from meddiag_desktop.risk.registry import discover_models

    found = discover_models()
    problems.extend(f"risk model: {p}" for p in found.problems)
    return [
        ModelEntry(m.spec.title, m.spec.version, "risk model", m.spec.intended_use, m.source, m.spec.citation)
        for m in found.models.values()
    ]


def user_folders() -> dict[str, Path]:
    """The per-user folders and files the app reads and writes, by purpose.

    All are platformdirs user folders (or an environment override); each comes from
    the module that owns it, so this list cannot drift from the code.
    ``config``: recent studies and settings; ``plugins``: user AI plugins and MONAI
    bundles; ``risk_models``: user risk models; ``audit_log``: report export log;
    ``cache``: the generated demo study; ``sessions``: saved reading sessions.
    """
    from meddiag_desktop.ai.discovery import user_plugins_dir
    from meddiag_desktop.demo import default_cache_dir
    from meddiag_desktop.paths import user_config_dir
    from meddiag_desktop.report.audit import audit_log_path
    from meddiag_desktop.risk.registry import user_models_dir
    from meddiag_desktop.session_store import default_sessions_dir

    return {
        "config": user_config_dir(),
        "plugins": user_plugins_dir(),
        "risk_models": user_models_dir(),
        "audit_log": audit_log_path(),
        "cache": default_cache_dir(),
        "sessions": default_sessions_dir(),
    }


def collect_about_info() -> AboutInfo:
    """Read version, plugin and risk-model manifests and user folders (no Qt, no torch).

    A part that cannot be read becomes a line in ``problems``; this never raises,
    so the About box always opens.
    """
    from meddiag_desktop import __version__

    info = AboutInfo(version=__version__, build=_build_kind())
    for what, reader, target in (("AI plugins", _plugins, info.plugins), ("risk models", _risk_models, info.risk_models)):
        try:
            target.extend(reader(info.problems))
        except Exception as exc:  # noqa: BLE001  (a broken install must not stop the About box)
            info.problems.append(f"could not list the {what}: {type(exc).__name__}: {exc}")
    try:
        info.folders = user_folders()
    except Exception as exc:  # noqa: BLE001
        info.problems.append(f"could not resolve the user folders: {exc}")
    try:
        from meddiag_desktop.io.decoders import compressed_decoders

        info.decoders = [d.summary() for d in compressed_decoders()]
    except Exception as exc:  # noqa: BLE001
        info.problems.append(f"could not list the image decoders: {type(exc).__name__}: {exc}")
    for dist, name, licence in THIRD_PARTY:
        try:
            info.components.append((name, importlib.metadata.version(dist), licence))
        except importlib.metadata.PackageNotFoundError:
            continue  # not installed (e.g. the AI extra): nothing to credit
    return info


_FOLDER_LABELS = {
    "config": "Settings and recent studies",
    "plugins": "Your AI plugins and MONAI bundles",
    "risk_models": "Your risk models",
    "audit_log": "Report export log",
    "cache": "Demo study (generated on first use)",
}


def _models_html(title: str, entries: list[ModelEntry], empty: str) -> str:
    parts = [f"<h3>{escape(title)}</h3>"]
    if not entries:
        return parts[0] + f"<p><i>{escape(empty)}</i></p>"
    for e in entries:
        source = "" if e.source in ("bundled", "builtin") else f" — from your {escape(e.source)} folder"
        parts.append(
            f"<p><b>{escape(e.name)}</b> {escape(e.version)} <span style='color:gray'>({escape(e.kind)}{source})</span><br>"
            f"<b>Intended use:</b> {escape(e.intended_use)}"
            + (f"<br><span style='color:gray'>{escape(e.detail)}</span>" if e.detail else "")
            + "</p>"
        )
    return "".join(parts)


def about_html(info: AboutInfo) -> str:
    """The About box's body as HTML (every value escaped)."""
    html = [
        f"<p>Version <b>{escape(info.version)}</b> — {escape(info.build)}</p>",
        f"<h3>Offline, no telemetry</h3><p>{escape(OFFLINE_STATEMENT)}</p>",
        "<p>AI results and risk estimates support, and never replace, the judgement of a qualified "
        "clinician. Check each model's intended use below before relying on its output.</p>",
        _models_html("AI plugins", info.plugins, "No AI plugins found."),
        _models_html("Risk models", info.risk_models, "No risk models found."),
    ]
    if info.problems:
        html.append("<h3>Problems</h3><ul>" + "".join(f"<li>{escape(p)}</li>" for p in info.problems) + "</ul>")
    if info.folders:
        rows = "".join(
            f"<tr><td>{escape(_FOLDER_LABELS.get(k, k))}</td><td><code>{escape(str(v))}</code></td></tr>"
            for k, v in info.folders.items()
        )
        html.append(f"<h3>Your folders</h3><table cellspacing='4'>{rows}</table>")
    if info.decoders:
        html.append("<h3>Compressed DICOM images</h3><p>Decoders found by pydicom on this computer:</p><ul>"
                    + "".join(f"<li>{escape(d)}</li>" for d in info.decoders) + "</ul>")
    html.append(f"<h3>Licence</h3><p>MedDiag Desktop is distributed under the {escape(APP_LICENSE)}.</p>")
    if info.components:
        rows = "".join(
            f"<tr><td>{escape(n)}</td><td>{escape(v)}</td><td>{escape(lic)}</td></tr>" for n, v, lic in info.components
        )
        html.append(f"<p>It includes these open-source components:</p><table cellspacing='4'>{rows}</table>")
    return "".join(html)


def _app_icon() -> QIcon:
    try:
        from meddiag_desktop.paths import resource_path

        return QIcon(str(resource_path("meddiag.svg")))
    except FileNotFoundError:
        return QIcon()


class AboutDialog(QDialog):
    """The About box: a header with the icon and version over a scrollable text."""

    def __init__(self, parent: QWidget | None = None, info: AboutInfo | None = None) -> None:
        super().__init__(parent)
        self.info = info if info is not None else collect_about_info()
        self.setWindowTitle("About MedDiag Desktop")
        self.setObjectName("about_dialog")
        icon = _app_icon()
        if not icon.isNull():
            self.setWindowIcon(icon)

        header = QHBoxLayout()
        logo = QLabel()
        logo.setPixmap(icon.pixmap(64, 64) if not icon.isNull() else QPixmap())
        header.addWidget(logo)
        title = QLabel(f"<h2>MedDiag Desktop</h2><div>Offline medical image viewer — version {escape(self.info.version)}</div>")
        title.setTextFormat(Qt.TextFormat.RichText)
        header.addWidget(title, 1)

        self.text = QTextBrowser()
        self.text.setObjectName("about_text")
        self.text.setOpenLinks(False)  # nothing here leaves the computer
        self.text.setHtml(about_html(self.info))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(720, 640)


def show_about(parent: QWidget | None = None) -> AboutDialog:
    """Open the About box (window-modal, non-blocking); it deletes itself when closed."""
    dialog = AboutDialog(parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
