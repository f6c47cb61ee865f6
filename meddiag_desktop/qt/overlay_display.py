"""The AI layers of the viewer: a segmentation and a classification map shown together, with legend and 3D surfaces.

:class:`OverlayDisplay` keeps one layer per kind of result: the latest
:class:`~meddiag_desktop.ai.overlay.LabelOverlay` (segmentation) and the latest
:class:`~meddiag_desktop.ai.overlay.HeatOverlay` (a classifier's explanation
map). Running a classifier no longer replaces the segmentation: ``None`` from
the AI panel (a new run starting) clears only the layer of the task being run.
Each slice view gets both layers (segmentation on top, filled or outlined) and
an on-image legend ``"AI: <plugin name> <version>"`` for every AI layer shown,
with the colour of each visible segment. The 3D view shows the segments as
surfaces, built on a worker thread (:func:`~meddiag_desktop.render.segment_surfaces.label_surfaces`).

A detection result's boxes are a third layer (:meth:`OverlayDisplay.show_detections`,
one :class:`~meddiag_desktop.render.detection_layer.DetectionLayer` per slice view),
drawn where the slice cuts them and styled by the reader's decision on each box
(proposed: dashed yellow, accepted: green, rejected: hidden), following the
:class:`~meddiag_desktop.core.findings.FindingSet` as decisions are made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from meddiag_desktop.core.label_map import hex_to_rgb
from meddiag_desktop.render.overlay_layers import LegendEntry

if TYPE_CHECKING:  # importing meddiag_desktop.ai loads plugin discovery (pydantic): not before the first frame
    from meddiag_desktop.ai.overlay import HeatOverlay, LabelOverlay

__all__ = ["OverlayDisplay", "SEGMENTATION", "CLASSIFICATION", "DETECTION", "MAX_LEGEND_SEGMENTS"]

SEGMENTATION = "segmentation"  #: slice-view layer names
CLASSIFICATION = "classification"
DETECTION = "detection"
MAX_LEGEND_SEGMENTS = 8  #: segment swatches listed in the legend at most
LUNG_SURFACE_OPACITY = 0.3  #: 3D surfaces of segments named "...lung..."
_DEPTH = {SEGMENTATION: 0.5, CLASSIFICATION: 0.55}  # the local classifier map over the anatomy


def _rgb(color: str) -> tuple[float, float, float]:
    """0..1 RGB of ``"#rrggbb"``; light grey for anything else (the name stays readable)."""
    try:
        return tuple(c / 255 for c in hex_to_rgb(str(color)))  # type: ignore[return-value]
    except (ValueError, IndexError):
        return (0.9, 0.9, 0.9)


class OverlayDisplay(QObject):
    """Routes AI overlays to the slice views' layers, the legend and the 3D surfaces of one main window."""

    changed = Signal()  #: a layer was set, cleared or restyled
    surfaces_ready = Signal()  #: the 3D surfaces were (re)built

    def __init__(self, window, plugin_lookup: Callable[[str], tuple[str, str] | None] | None = None) -> None:
        super().__init__(window)
        self.win = window
        self.segmentation: LabelOverlay | None = None
        self.classification: HeatOverlay | None = None
        self.outline = False
        self.surfaces = True
        self.edited: dict[int, str] = {}  #: label -> "SEMIAUTOMATIC"/"MANUAL", marked in the legend
        self._lookup = plugin_lookup
        self._surface_task = None
        self._surface_pending: set[int] | None = None
        self.detections = None  #: the shown DetectionResult
        self._det_findings = None  # FindingSet with the reader's decisions on the boxes
        self._det_unsubscribe = None
        self._det_layers: dict[str, object] = {}  # view name -> DetectionLayer
        window.state.volume_changed.connect(lambda _v: self.clear())
        window.state.cursor_changed.connect(lambda _c: self.apply_detections())

    # ---------------------------------------------------------------- routing
    def show(self, overlay) -> None:
        """Show an AI overlay in its layer (``LabelOverlay`` or ``HeatOverlay``)."""
        from meddiag_desktop.ai.overlay import LabelOverlay

        self._name(overlay)
        if isinstance(overlay, LabelOverlay) or hasattr(overlay, "labels"):
            new = self.segmentation is None or self.segmentation.labels is not overlay.labels
            self.segmentation = overlay
            if new:
                self.edited = {}
                self.rebuild_surfaces()
            else:
                self._restyle_surfaces()
        else:
            self.classification = overlay
        self.apply()

    def clear(self, task: str | None = None) -> None:
        """Clear the layer of ``task`` (``"segmentation"``/``"classification"``), or both."""
        if task in (None, SEGMENTATION):
            self.segmentation = None
            self.edited = {}
            self._surfaces().clear()
        if task in (None, CLASSIFICATION):
            self.classification = None
        if task in (None, DETECTION):
            self.show_detections(None)
        self.apply()

    # ------------------------------------------------------------ detections
    def show_detections(self, result, findings=None) -> None:
        """Draw the boxes of a detection ``result`` (``None`` clears them), styled by each box's finding
        status in ``findings`` (a FindingSet; without it every box is a proposal)."""
        if self._det_unsubscribe is not None:
            self._det_unsubscribe()
            self._det_unsubscribe = None
        self.detections = result
        self._det_findings = findings
        if result is not None and findings is not None:
            self._det_unsubscribe = findings.subscribe(lambda _f: self.apply_detections())
        self.apply_detections()
        self.apply()  # the legend

    def detection_styles(self) -> list:
        """One :class:`~meddiag_desktop.render.detection_layer.BoxStyle` (``None``: hidden) per shown box."""
        from meddiag_desktop.core.findings import PROPOSED, detection_key
        from meddiag_desktop.render.detection_layer import STATUS_STYLES

        result, findings = self.detections, self._det_findings
        if result is None:
            return []
        out = []
        for i, _d in enumerate(result.detections, start=1):
            key = detection_key(result.plugin_id, i)
            status = findings.get(key).status if findings is not None and key in findings else PROPOSED
            out.append(STATUS_STYLES.get(status, STATUS_STYLES[PROPOSED]))
        return out

    def _layer(self, name: str, widget):
        layer = self._det_layers.get(name)
        if layer is None or layer.sv is not widget.slice_view:
            from meddiag_desktop.render.detection_layer import DetectionLayer

            layer = DetectionLayer(widget.slice_view)
            # scores stay beside their boxes after zooming and panning
            widget.slice_view.renderer.AddObserver("StartEvent", lambda *_a, lay=layer: lay.place_labels())
            self._det_layers[name] = layer
        return layer

    def apply_detections(self) -> None:
        """Redraw the boxes in every slice view at its current slice."""
        result = self.detections if self.win.state.volume is not None else None
        if result is None and not self._det_layers:
            return
        from meddiag_desktop.core.findings import detection_class_names

        boxes = list(result.detections) if result is not None else []
        names = detection_class_names(result) if result is not None else {}
        styles = self.detection_styles() if result is not None else []
        for name, w in self.win.slice_widgets.items():
            layer = self._layer(name, w)
            layer.update(boxes, names, styles=styles)
            w.request_render()

    def _name(self, overlay) -> None:
        """Fill in the plugin's name and version (for the legend) when the overlay lacks them."""
        pid = getattr(overlay, "plugin_id", "")
        if not pid or getattr(overlay, "plugin_name", "") or self._lookup is None:
            return
        found = self._lookup(pid)
        if found:
            overlay.plugin_name, overlay.plugin_version = found

    # -------------------------------------------------------------- display
    def set_outline(self, on: bool) -> None:
        """Segments drawn as outlines (True) or filled."""
        self.outline = bool(on)
        self.apply()

    def set_surfaces_visible(self, on: bool) -> None:
        self.surfaces = bool(on)
        self._surfaces().set_visible(self.surfaces)
        if on and self.segmentation is not None and not self._surfaces().actors:
            self.rebuild_surfaces()
        self.win.volume_widget.request_render()

    def apply(self) -> None:
        """Put both layers and the legend into every slice view."""
        seg, cls = self.segmentation, self.classification
        if self.win.state.volume is None:
            seg = cls = None
        for w in self.win.slice_widgets.values():
            sv = w.slice_view
            if seg is None:
                sv.set_overlay(None, layer=SEGMENTATION)
            else:
                table = seg.lut()
                if self.outline:  # a one-pixel line needs its full colour to be seen
                    table[table[:, 3] > 0, 3] = 255
                sv.set_overlay(seg.labels, table, layer=SEGMENTATION, outline=self.outline,
                               depth=_DEPTH[SEGMENTATION])
            if cls is None or not getattr(cls, "visible", True):
                sv.set_overlay(None, layer=CLASSIFICATION)
            else:
                peak = float(cls.heat.max()) or 1.0
                table = cls.rgba(np.linspace(0.0, peak, 256))
                sv.set_overlay(cls.heat.astype(np.float32), table, (0.0, peak), smooth=True,
                               layer=CLASSIFICATION, depth=_DEPTH[CLASSIFICATION])
            sv.legend.set_entries(self.legend_entries())
            w.request_render()
        self.changed.emit()

    def legend_entries(self) -> list[LegendEntry]:
        """``"AI: name version"`` per visible AI layer, then each visible segment's name in its colour."""
        out: list[LegendEntry] = []
        seg, cls = self.segmentation, self.classification
        if self.win.state.volume is None:
            return out
        if seg is not None and hasattr(seg, "legend") and seg.visible:
            out.append(LegendEntry(seg.legend(), bold=True))
            shown = [v for v in sorted(seg.visible) if v in seg.names and v != 0]
            for v in shown[:MAX_LEGEND_SEGMENTS]:
                mark = {"SEMIAUTOMATIC": " (edited)", "MANUAL": " (drawn by reader)"}.get(self.edited.get(v, ""), "")
                rgb = _rgb(seg.colors.get(v, "#ff0000"))
                out.append(LegendEntry(f"  {seg.names[v]}{mark}", rgb))  # the name in the segment's colour
            if len(shown) > MAX_LEGEND_SEGMENTS:
                out.append(LegendEntry(f"\u2026 {len(shown) - MAX_LEGEND_SEGMENTS} more"))
        if cls is not None and hasattr(cls, "legend") and cls.visible:
            out.append(LegendEntry(cls.legend(), (1.0, 0.75, 0.3), bold=True))
        det = self.detections
        if det is not None:
            found = self._lookup(det.plugin_id) if self._lookup is not None else None
            name = " ".join(found) if found else det.plugin_id
            forced = " (outside intended use)" if getattr(det, "outside_intended_use", "") else ""
            out.append(LegendEntry(f"AI: {name}{forced}", (1.0, 0.85, 0.1), bold=True))
            out.append(LegendEntry("  dashed: proposal, solid: accepted", (0.9, 0.9, 0.9)))
        return out

    def labels_modified(self, touched: Iterable[int] = ()) -> None:
        """The segmentation's voxels were edited in place: redraw the slices (surfaces: :meth:`rebuild_surfaces`)."""
        for w in self.win.slice_widgets.values():
            w.slice_view.overlay_modified(SEGMENTATION)
            w.request_render()

    # ------------------------------------------------------------- surfaces
    def _surfaces(self):
        return self.win.volume_widget.volume_view.surfaces

    def _colours(self) -> dict[int, tuple[float, float, float]]:
        seg = self.segmentation
        colors = getattr(seg, "colors", None) or {}
        return {v: _rgb(col) for v, col in colors.items()}

    def _restyle_surfaces(self) -> None:
        seg = self.segmentation
        for v, actor in self._surfaces().actors.items():
            actor.SetVisibility(self.surfaces and seg is not None and v in getattr(seg, "visible", {v}))
        self.win.volume_widget.request_render()

    def rebuild_surfaces(self, values: Iterable[int] | None = None) -> None:
        """Build the surfaces of ``values`` (default: every label) on a worker thread, then show them."""
        seg, volume = self.segmentation, self.win.state.volume
        if seg is None or volume is None or not self.surfaces or getattr(self.win, "closing", False):
            return
        wanted = set(getattr(seg, "names", None) or {}) if values is None else {int(v) for v in values}
        if not wanted:
            return
        if self._surface_task is not None and self._surface_task.running:
            self._surface_pending = (self._surface_pending or set()) | wanted  # after the running one
            return
        from meddiag_desktop.qt.background import BackgroundTask
        from meddiag_desktop.render.segment_surfaces import label_surfaces

        labels, spacing = seg.labels, volume.spacing

        def build(progress, cancel):
            return label_surfaces(labels, spacing, sorted(wanted), cancel=cancel)

        task = BackgroundTask(build, "surfaces", self)
        task.succeeded.connect(lambda meshes: self._show_surfaces(seg, wanted, meshes))
        task.failed.connect(lambda msg, _exc: self.win.show_error(f"3D surfaces: {msg}"))
        task.finished.connect(self._surface_done)
        self._surface_task = task
        self.win._tasks.append(task)  # the window waits for it on close
        task.finished.connect(lambda: task in self.win._tasks and self.win._tasks.remove(task))
        task.start()

    def _show_surfaces(self, seg, wanted: set[int], meshes: dict) -> None:
        if seg is not self.segmentation:
            return  # a newer segmentation replaced it meanwhile
        surfaces = self._surfaces()
        surfaces.remove(wanted - set(meshes))  # labels now empty
        names = getattr(seg, "names", None) or {}
        # the lungs enclose the nodules and vessels: drawn translucent so these show through
        opacities = {v: LUNG_SURFACE_OPACITY for v, n in names.items() if "lung" in str(n).lower()}
        surfaces.set_surfaces(meshes, self._colours(), replace=False, opacities=opacities)
        self._restyle_surfaces()
        self.surfaces_ready.emit()

    def _surface_done(self) -> None:
        self._surface_task = None
        pending, self._surface_pending = self._surface_pending, None
        if pending:
            self.rebuild_surfaces(pending)

    def wait(self, ms: int = 30000) -> bool:
        """Wait for a surface build (tests, closing)."""
        task = self._surface_task
        return True if task is None else task.wait(ms)
