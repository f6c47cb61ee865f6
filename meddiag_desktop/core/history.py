"""Undo/redo: every edit is a command that can be done and undone, kept in a visible history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Command", "UndoStack"]


@dataclass
class Command:
    """A reversible edit: ``redo`` applies it, ``undo`` reverts it; ``text`` names it in the history."""

    text: str
    redo: Callable[[], None]
    undo: Callable[[], None]
    #: commands with the same non-empty merge key pushed in a row become one step (e.g. a W/L drag)
    merge_key: str = ""


class UndoStack:
    """A linear history. Pushing after an undo drops the undone commands, as in every editor."""

    def __init__(self, limit: int = 500) -> None:
        self._commands: list[Command] = []
        self._index = 0  # commands[:index] are done
        self._limit = limit
        self._listeners: list[Callable[[], None]] = []

    # ---------------------------------------------------------------- events
    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever the history changes."""
        self._listeners.append(callback)

    def _changed(self) -> None:
        for cb in list(self._listeners):
            cb()

    # ------------------------------------------------------------------ edits
    def push(self, command: Command, *, already_done: bool = False) -> None:
        """Do ``command`` (unless ``already_done``) and record it."""
        if not already_done:
            command.redo()
        del self._commands[self._index :]
        last = self._commands[-1] if self._commands else None
        if command.merge_key and last is not None and last.merge_key == command.merge_key:
            first_undo = last.undo
            self._commands[-1] = Command(command.text, command.redo, first_undo, command.merge_key)
        else:
            self._commands.append(command)
            if len(self._commands) > self._limit:
                self._commands.pop(0)
        self._index = len(self._commands)
        self._changed()

    def undo(self) -> bool:
        if not self.can_undo:
            return False
        self._index -= 1
        self._commands[self._index].undo()
        self._changed()
        return True

    def redo(self) -> bool:
        if not self.can_redo:
            return False
        self._commands[self._index].redo()
        self._index += 1
        self._changed()
        return True

    def clear(self) -> None:
        self._commands.clear()
        self._index = 0
        self._changed()

    def break_merge(self) -> None:
        """End the current merge run (e.g. on mouse release), so the next drag is its own step."""
        if self._commands:
            c = self._commands[-1]
            self._commands[-1] = Command(c.text, c.redo, c.undo, "")

    # ------------------------------------------------------------------ state
    @property
    def can_undo(self) -> bool:
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._commands)

    @property
    def index(self) -> int:
        """Number of commands currently done."""
        return self._index

    @property
    def texts(self) -> list[str]:
        """Names of all commands, oldest first (those at ``index`` and after are undone)."""
        return [c.text for c in self._commands]
