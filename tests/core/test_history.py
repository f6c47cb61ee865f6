"""Undo/redo round-trips for measurement edits."""

from __future__ import annotations

from meddiag_desktop.core.annotations import MeasurementStore
from meddiag_desktop.core.history import Command, UndoStack
from meddiag_desktop.core.measurements import Measurement


def test_add_edit_delete_undo_redo_round_trip():
    store = MeasurementStore()
    events = []
    store.subscribe(lambda e, m: events.append((e, m.id)))
    a = Measurement("distance", [(0, 0, 0), (10, 0, 0)])
    b = Measurement("point", [(1, 2, 3)])
    store.add(a)
    store.add(b)
    store.update(a.moved(1, (20, 0, 0)))
    store.remove(b.id)
    assert [m.id for m in store] == [a.id] and store.get(a.id).points[1] == (20, 0, 0)
    assert store.history.texts == ["Add distance", "Add point", "Edit distance", "Delete point"]
    store.history.undo()  # b back, at its place
    assert [m.id for m in store] == [a.id, b.id]
    store.history.undo()  # edit undone
    assert store.get(a.id).points[1] == (10, 0, 0)
    store.history.undo()
    store.history.undo()
    assert len(store) == 0 and not store.history.can_undo
    for _ in range(4):
        assert store.history.redo()
    assert [m.id for m in store] == [a.id] and store.get(a.id).points[1] == (20, 0, 0)
    assert events[:2] == [("added", a.id), ("added", b.id)]


def test_drag_merges_into_one_step_and_push_after_undo_drops_redo():
    store = MeasurementStore()
    a = Measurement("distance", [(0, 0, 0), (10, 0, 0)])
    store.add(a)
    for x in (11, 12, 13):
        store.update(store.get(a.id).moved(1, (x, 0, 0)), merge=True)
    store.history.break_merge()
    assert store.history.texts == ["Add distance", "Edit distance"]
    store.history.undo()
    assert store.get(a.id).points[1] == (10, 0, 0)
    store.history.push(Command("other", lambda: None, lambda: None))
    assert not store.history.can_redo and store.history.texts == ["Add distance", "other"]


def test_history_limit():
    stack = UndoStack(limit=3)
    for n in range(5):
        stack.push(Command(str(n), lambda: None, lambda: None))
    assert stack.texts == ["2", "3", "4"]
