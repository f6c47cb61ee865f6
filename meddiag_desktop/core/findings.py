"""AI findings and the reader's decision on each (Qt-free, pure Python).

An AI finding (a segmented structure, one connected component of a lesion label
such as "nodule 2", or a classification at a point) is *proposed* until a reader
accepts, rejects or edits it. Only confirmed findings (accepted or edited) reach
the risk model and the report's findings; proposed ones are shown apart, as
proposals; rejected ones are dropped. Each finding keeps its provenance (plugin id
and version, and whether the run was forced outside the plugin's intended use)
and who decided, when.

:class:`FindingSet` is the model the views subscribe to
(``findings.subscribe(callback)``: called with the changed :class:`AIFinding`).
A segmentation editor reports a reader's edit of a label with
:meth:`FindingSet.mark_label_edited` (status ``edited``: confirmed by the edit).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = [
    "detection_class_names",
    "PROPOSED",
    "ACCEPTED",
    "REJECTED",
    "EDITED",
    "STATUSES",
    "Status",
    "AIFinding",
    "FindingSet",
    "segment_key",
    "classification_key",
    "detection_key",
]

PROPOSED, ACCEPTED, REJECTED, EDITED = "proposed", "accepted", "rejected", "edited"
STATUSES = (PROPOSED, ACCEPTED, REJECTED, EDITED)
Status = Literal["proposed", "accepted", "rejected", "edited"]


def segment_key(plugin_id: str, label_value: int, component: int | None = None) -> str:
    """Stable key of a segment finding: ``plugin:seg:7`` (whole label) or ``plugin:seg:7:2`` (component 2)."""
    return f"{plugin_id}:seg:{int(label_value)}" + (f":{int(component)}" if component else "")


def classification_key(plugin_id: str, index: int) -> str:
    return f"{plugin_id}:cls:{int(index)}"


def detection_key(plugin_id: str, index: int) -> str:
    """Key of the ``index``-th (1-based, highest score first) box of a detection result."""
    return f"{plugin_id}:det:{int(index)}"


@dataclass(frozen=True)
class AIFinding:
    """One AI finding, its provenance and the reader's decision."""

    key: str
    kind: Literal["segment", "component", "classification", "detection"]
    name: str  # "right lung", "nodule" (with ``component``), or the top class of a classification
    label_value: int | None = None
    component: int | None = None  # 1-based component (raster order, core.label_geometry) of ``label_value``;
    # for a detection: the box's 1-based rank (highest score first)
    point_lps: tuple[float, float, float] | None = None
    plugin_id: str = ""
    plugin_version: str = ""
    forced: bool = False  # the run was outside the plugin's intended use, by the reader's choice
    status: Status = PROPOSED
    decided_by: str = ""
    decided_at: str = ""  # ISO 8601
    size_mm: tuple[float, float, float] | None = None  # detection: box size along x, y, z (LPS mm), centre point_lps
    score: float | None = None  # detection: the model's score of the box

    @property
    def confirmed(self) -> bool:
        return self.status in (ACCEPTED, EDITED)

    @property
    def display_name(self) -> str:
        return f"{self.name} {self.component}" if self.component else self.name

    @property
    def status_text(self) -> str:
        """'AI proposal (unconfirmed)', 'accepted by Dr X', 'rejected by Dr X', 'edited by Dr X'."""
        if self.status == PROPOSED:
            return "AI proposal (unconfirmed)"
        return f"{self.status} by {self.decided_by}" if self.decided_by else self.status

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["point_lps"] = list(self.point_lps) if self.point_lps is not None else None
        d["size_mm"] = list(self.size_mm) if self.size_mm is not None else None
        return d


class FindingSet:
    """The findings of a session with the reader's decisions; views subscribe to changes."""

    def __init__(self, findings: Iterable[AIFinding] = ()) -> None:
        self._items: dict[str, AIFinding] = {}
        self._listeners: list[Callable[[AIFinding], None]] = []
        self.extend(findings)

    # --------------------------------------------------------------- container
    def __iter__(self) -> Iterator[AIFinding]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: str) -> AIFinding:
        try:
            return self._items[key]
        except KeyError:
            raise KeyError(f"no AI finding {key!r}; known: {', '.join(self._items) or 'none'}") from None

    def extend(self, findings: Iterable[AIFinding]) -> None:
        for f in findings:
            self._items[f.key] = f

    def replace_plugin(self, plugin_id: str, findings: Iterable[AIFinding]) -> None:
        """A new run of ``plugin_id``: its old findings (and decisions) give way to the new proposals."""
        for key in [k for k, f in self._items.items() if f.plugin_id == plugin_id]:
            del self._items[key]
        self.extend(findings)
        for f in list(self._items.values()):
            if f.plugin_id == plugin_id:
                self._emit(f)

    def clear(self) -> None:
        self._items.clear()

    # ---------------------------------------------------------------- queries
    def of_plugin(self, plugin_id: str) -> list[AIFinding]:
        return [f for f in self._items.values() if f.plugin_id == plugin_id]

    def with_status(self, *statuses: str) -> list[AIFinding]:
        return [f for f in self._items.values() if f.status in statuses]

    def confirmed(self) -> list[AIFinding]:
        return [f for f in self._items.values() if f.confirmed]

    def proposed(self) -> list[AIFinding]:
        return self.with_status(PROPOSED)

    def status_of(self, plugin_id: str, label_value: int, component: int | None = None) -> str | None:
        """Status of a segment (or component) finding; None when there is no such finding."""
        f = self._items.get(segment_key(plugin_id, label_value, component))
        return f.status if f is not None else None

    def edited_by(self, plugin_id: str, label_value: int) -> str | None:
        """Who edited the segment ``label_value`` of ``plugin_id`` (None when nobody did).

        An edited label is the reader's: components the edit created or renumbered have
        no finding of their own and count as edited too.
        """
        for f in self._items.values():
            if f.plugin_id == plugin_id and f.label_value == int(label_value) and f.status == EDITED:
                return f.decided_by
        return None

    # ---------------------------------------------------------------- changes
    def subscribe(self, callback: Callable[[AIFinding], None]) -> Callable[[], None]:
        """Call ``callback(finding)`` after every decision; returns a function that unsubscribes."""
        self._listeners.append(callback)
        return lambda: callback in self._listeners and self._listeners.remove(callback)

    def _emit(self, finding: AIFinding) -> None:
        for cb in list(self._listeners):
            cb(finding)

    def decide(self, key: str, status: str, by: str, at: _dt.datetime | None = None) -> AIFinding:
        """Record the reader's decision on finding ``key`` (``by``: who; required for anything but proposed)."""
        if status not in STATUSES:
            raise ValueError(f"unknown finding status {status!r}; use one of {', '.join(STATUSES)}")
        if status != PROPOSED and not str(by or "").strip():
            raise ValueError("a decision on an AI finding names who made it (the reader)")
        old = self.get(key)
        when = (at or _dt.datetime.now().astimezone()).isoformat(timespec="seconds")
        new = replace(old, status=status, decided_by="" if status == PROPOSED else str(by).strip(),
                      decided_at="" if status == PROPOSED else when)
        self._items[key] = new
        self._emit(new)
        return new

    def accept(self, key: str, by: str) -> AIFinding:
        return self.decide(key, ACCEPTED, by)

    def reject(self, key: str, by: str) -> AIFinding:
        return self.decide(key, REJECTED, by)

    def accept_all(self, by: str, plugin_id: str | None = None) -> list[AIFinding]:
        """Accept every still-proposed finding (of ``plugin_id``, or all)."""
        return [self.decide(f.key, ACCEPTED, by) for f in self.proposed()
                if plugin_id is None or f.plugin_id == plugin_id]

    def mark_label_edited(self, label_value: int, by: str, plugin_id: str | None = None) -> list[AIFinding]:
        """The reader edited the segment of ``label_value`` (brush, eraser...): its findings become ``edited``.

        Hook for the segmentation editor. Rejected findings stay rejected.
        """
        return [self.decide(f.key, EDITED, by) for f in list(self._items.values())
                if f.label_value == int(label_value) and f.kind in ("segment", "component")
                and f.status != REJECTED and (plugin_id is None or f.plugin_id == plugin_id)]


def detection_class_names(result: Any) -> dict[int, str]:
    """Class names of a detection result's labels (the result's ``label_names`` where it has them, else "nodule"
    for a one-class detector named for nodules, else "class N")."""
    names = dict(getattr(result, "label_names", None) or {})
    if names:
        return {int(k): str(v) for k, v in names.items()}
    labels = {int(d.label) for d in result.detections}
    if len(labels) <= 1 and "nodule" in str(result.plugin_id).lower():
        return {lab: "nodule" for lab in labels or {0}}
    return {lab: f"class {lab}" for lab in labels}
