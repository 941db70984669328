"""What an app does when two profiles merge, and when the merge is undone.

A merge re-points every row that refers to a customer by foreign key, by introspection
(``crm.services.customer_merge``), and records their ids so the undo moves exactly those
back (``crm.merges``). A row the person may have only one of (a one-to-one, e.g. the SMS
conversation in the inbox) cannot simply be re-pointed: when both profiles have one, the
two become one, and only its app knows how. So, as with :mod:`crm.erasure`, an upper app
registers a part from its ``AppConfig.ready()``:

* ``merged(keep=, merge=)`` runs inside the merge's transaction, after the rows moved, and
  returns what the undo needs (JSON: ids, ISO dates), ``{}`` when it had nothing to do,
  with, under ``"moved"``, how many rows it moved by kind (the merge record shows them);
* ``undone(kept=, merged=, data=)`` runs inside the undo's transaction and returns how
  many rows went back, by kind.
"""

from dataclasses import dataclass, field
from typing import Any, Protocol

from crm.models import Customer


class MergePart(Protocol):
    key: str

    def merged(self, *, keep: Customer, merge: Customer) -> dict[str, Any]: ...

    def undone(
        self, *, kept: Customer, merged: Customer, data: dict[str, Any]
    ) -> dict[str, int]: ...


@dataclass
class MergeParts:
    parts: dict[str, MergePart] = field(default_factory=dict)

    def register(self, part: MergePart) -> None:
        self.parts[part.key] = part  # ready() may run twice: registering again replaces

    def merged(
        self, *, keep: Customer, merge: Customer
    ) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
        """What each part recorded for the undo, and the rows moved by kind."""
        done, moved = {}, {}
        for key in sorted(self.parts):
            data = self.parts[key].merged(keep=keep, merge=merge)
            if data:
                done[key] = data
                moved.update(data.get("moved", {}))
        return done, moved

    def undone(
        self, *, kept: Customer, merged: Customer, recorded: dict[str, dict[str, Any]]
    ) -> dict[str, int]:
        back: dict[str, int] = {}
        for key, data in recorded.items():
            part = self.parts.get(key)
            if part is None:
                continue  # its app was removed since: nothing of it to give back
            for kind, count in part.undone(kept=kept, merged=merged, data=data).items():
                back[kind] = back.get(kind, 0) + count
        return back


merge_parts = MergeParts()
