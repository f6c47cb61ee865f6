"""The measurements of a study, with events for views and undoable edits."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from meddiag_desktop.core.history import Command, UndoStack
from meddiag_desktop.core.measurements import KINDS, Measurement


def _lower(name: str) -> str:
    """``"Ellipse ROI"`` -> ``"ellipse ROI"`` (history entries read as sentences; acronyms kept)."""
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in name.split(" "))

__all__ = ["MeasurementStore"]


class MeasurementStore:
    """Ordered measurements; every change goes through the undo stack and notifies subscribers.

    Subscribers get ``(event, measurement)`` with event ``"added"``, ``"removed"`` or ``"changed"``.
    """

    def __init__(self, history: UndoStack | None = None) -> None:
        self.history = history if history is not None else UndoStack()
        self._items: dict[str, Measurement] = {}
        self._listeners: list[Callable[[str, Measurement], None]] = []

    def subscribe(self, callback: Callable[[str, Measurement], None]) -> None:
        self._listeners.append(callback)

    def _emit(self, event: str, m: Measurement) -> None:
        for cb in list(self._listeners):
            cb(event, m)

    def __iter__(self) -> Iterator[Measurement]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, mid: str) -> bool:
        return mid in self._items

    def get(self, mid: str) -> Measurement:
        return self._items[mid]

    # ----------------------------------------------------- raw (not undoable)
    def _insert(self, m: Measurement, position: int | None = None) -> None:
        items = list(self._items.items())
        pos = len(items) if position is None else position
        items.insert(pos, (m.id, m))
        self._items = dict(items)
        self._emit("added", m)

    def _delete(self, mid: str) -> int:
        keys = list(self._items)
        pos = keys.index(mid)
        m = self._items.pop(mid)
        self._emit("removed", m)
        return pos

    def _replace(self, m: Measurement) -> None:
        self._items[m.id] = m
        self._emit("changed", m)

    # ------------------------------------------------------------ undoable
    def add(self, m: Measurement) -> None:
        if m.id in self._items:
            raise ValueError(f"measurement {m.id} already exists")
        self.history.push(Command(f"Add {_lower(KINDS[m.kind][1])}", lambda: self._insert(m), lambda: self._delete(m.id)))

    def remove(self, mid: str) -> None:
        m = self._items[mid]
        pos = list(self._items).index(mid)
        self.history.push(Command(f"Delete {_lower(m.name)}", lambda: self._delete(mid), lambda: self._insert(m, pos)))

    def update(self, new: Measurement, *, merge: bool = False) -> None:
        """Replace a measurement (edited handle or label); ``merge`` folds a drag into one step."""
        old = self._items[new.id]
        self.history.push(
            Command(f"Edit {_lower(old.name)}", lambda: self._replace(new), lambda: self._replace(old),
                    merge_key=f"edit:{new.id}" if merge else "")
        )

    def clear(self) -> None:
        for m in list(self._items.values()):
            self._delete(m.id)

    def to_list(self) -> list[dict]:
        return [m.to_dict() for m in self._items.values()]

    def load_list(self, items: list[dict]) -> None:
        """Replace everything with saved measurements (not undoable: used when a session opens)."""
        self.clear()
        for d in items:
            self._insert(Measurement.from_dict(d))
