"""A `Lineage` fed as exchanges complete: late ones are slotted in where `build` puts them.

The live session (capture addon, in-app recorder) sees an exchange when its response ends,
but the rules reason in start order (`seq`, time-ordered lists, "the first success"). `Replay`
keeps the timeline sorted by (start, ref) and journals every fold's changes to the indexes,
so a straggler rewinds only the folds after its place. The indexes are then exactly what
`lineage.build` gives for the same exchanges sorted, whatever the arrival order.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field

from qbtrace.events import TokenRequest
from qbtrace.indexes import MISSING, Change, Edit
from qbtrace.lineage import Lineage
from qbtrace.model import Exchange, Kind, Ref

REWIND_LIMIT = 1024
"""Folds whose undo journal `Replay` keeps: how far back a late exchange can be slotted in
without folding the whole session again."""
Key = tuple[float, Ref]
"""Where an exchange sits on the timeline: its start, then its ref."""
Undo = list[Change]


@dataclass
class Replay:
    """The live session's lineage, and what it takes to slot a late exchange in."""

    lineage: Lineage = field(default_factory=Lineage)
    """The indexes; replaced by a fresh one when a straggler forces a full refold."""
    keys: list[Key] = field(default_factory=list)
    folded: list[Exchange] = field(default_factory=list)
    """The exchanges folded so far, in timeline order (`keys` holds their keys)."""
    journal: deque[Undo] = field(default_factory=deque)
    """Undo log of each of the last REWIND_LIMIT folds, newest last."""
    requests: dict[int, TokenRequest] = field(default_factory=dict)
    """id of a token exchange → its current `TokenRequest` (its seq moves when one slots in)."""

    def add(self, x: Exchange) -> None:
        """Fold `x` in where it belongs by start time, even when it arrives late.

        An exchange without a start time goes after everything so far, as `events.timeline`
        places it after its predecessor. One that sorts last is simply folded. A late one
        rewinds the few folds after its place, is folded, and those are folded again. Chosen
        over inserting into each list (every `seq` after the place would change anyway) and
        over a reorder buffer (it would hold back the diagnosis of the newest failure). A
        straggler older than the kept undo logs is placed by folding the whole timeline
        again: correct, only slower.
        """
        last = self.keys[-1] if self.keys else None
        start = x.started if x.started is not None else last[0] if last else float("-inf")
        key = (start, x.ref)
        if last is None or key >= last:
            self._fold_logged(x, key)
            return
        at = bisect.bisect_right(self.keys, key)
        later = list(zip(self.keys[at:], self.folded[at:], strict=True))
        if len(later) > len(self.journal):
            self._fold_again(at, key, x)
            return
        for _ in later:
            self._rewind()
        self._fold_logged(x, key)
        for k, y in later:
            self._fold_logged(y, k)

    def request_of(self, x: Exchange) -> TokenRequest | None:
        """The token request made of `x`, with its current `seq`."""
        return self.requests.get(id(x))

    def _fold_logged(self, x: Exchange, key: Key) -> None:
        undo: Undo = []
        lineage = self.lineage
        lineage._journal = undo.append
        try:
            lineage.fold(x)
        except BaseException:
            _undo(undo)  # no half-folded exchange stays behind
            raise
        finally:
            lineage._journal = None
        self.journal.append(undo)
        if len(self.journal) > REWIND_LIMIT:
            self.journal.popleft()
        self.keys.append(key)
        self.folded.append(x)
        if x.kind == Kind.TOKEN:
            self.requests[id(x)] = lineage.requests[-1]

    def _rewind(self) -> None:
        """Undo the newest fold."""
        _undo(self.journal.pop())
        self.keys.pop()
        self.folded.pop()

    def _fold_again(self, at: int, key: Key, x: Exchange) -> None:
        """Start from empty indexes and fold the whole timeline, `x` in its place."""
        timeline = [*zip(self.keys, self.folded, strict=True)]
        timeline.insert(at, (key, x))
        self.lineage = Lineage()
        self.keys, self.folded, self.journal = [], [], deque()
        for k, y in timeline:
            self._fold_logged(y, k)


def _undo(log: Undo) -> None:
    """Reverse one fold's changes, newest first."""
    for edit, container, key, previous in reversed(log):
        if edit is Edit.APPENDED:
            container.pop()
        elif edit is Edit.PUSHED:
            items = container[key]
            items.pop()
            if not items:
                del container[key]
        elif previous is MISSING:
            del container[key]
        else:
            container[key] = previous
