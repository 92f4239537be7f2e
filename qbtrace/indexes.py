"""Indexes that a journal can rewind: every change goes through four small mutators.

`Lineage` and its parts keep their indexes in plain lists and dicts and change them only
through `_append`, `_push`, `_first` and `_replace`. When `replay` installs a journal, each of
those reports the change it made (an `Edit` and what it overwrote), so a fold can be undone
exactly; without one they cost a single `is None` test, and `lineage.build` stays as fast as
plain dict and list operations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Edit(Enum):
    """What one change to an index did, so a journal can take it back."""

    APPENDED = "appended"
    """An item went at the end of a list."""
    PUSHED = "pushed"
    """An item went at the end of the list under a key (the list made when missing)."""
    SET = "set"
    """A key got a value; the change carries the previous one, or MISSING."""


MISSING: Any = object()
"""The previous value of a key that was not there."""
Change = tuple[Edit, Any, Any, Any]
"""(edit, container, key, previous value): one change to one index."""


@dataclass
class Indexes:
    """The journal hook and the four mutators every index change goes through."""

    _journal: Callable[[Change], None] | None = field(default=None, repr=False, compare=False)
    """Told every change while `replay` journals a fold; None otherwise."""

    def _append(self, items: list[V], item: V) -> None:
        items.append(item)
        if self._journal is not None:
            self._journal((Edit.APPENDED, items, None, None))

    def _push(self, table: dict[K, list[V]], key: K, item: V) -> None:
        """Append to the list under `key`, making it when missing."""
        items = table.get(key)
        if items is None:
            items = table[key] = []
        items.append(item)
        if self._journal is not None:
            self._journal((Edit.PUSHED, table, key, None))

    def _first(self, table: dict[K, V], key: K, value: V) -> None:
        """`setdefault`: the first value under a key stays."""
        if key in table:
            return
        table[key] = value
        if self._journal is not None:
            self._journal((Edit.SET, table, key, MISSING))

    def _replace(self, table: dict[K, V], key: K, value: V) -> None:
        if self._journal is not None:
            self._journal((Edit.SET, table, key, table.get(key, MISSING)))
        table[key] = value
