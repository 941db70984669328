"""The erasure registry: how each app takes part in erasing or exporting one customer.

A person may ask to be forgotten (erasure) or to see what we hold about them (access);
the rules are in ``docs/operations.md``. crm owns the profile and its numbers, but calls,
messages and campaign leads live in apps above it, which crm must not import. So, as
with :mod:`crm.admin_extensions`, each upper app registers a contributor from its
``AppConfig.ready()``; crm's service (``crm.services.customer_erase``) and selector
(``crm.selectors.customer_export``) call every contributor with the customer and the
numbers the customer holds or held. Example, in ``telephony/apps.py``::

    def ready(self):
        from crm.erasure import erasure_registry
        from telephony.erasure import TelephonyErasure
        erasure_registry.register(TelephonyErasure())

A contributor's ``erase`` runs inside the service's transaction, so an erasure is whole or
not at all; it must be idempotent (a second run finds nothing left and returns zeros) and
report counts by kind, never the erased values.
"""

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db.models import Q, QuerySet

from crm.models import Customer, Note, NoteEdit


@dataclass(frozen=True)
class ErasureChoice:
    """One item the Administrator may tick or leave (e.g. a campaign lead).

    ``ticked`` when it is surely this person (the confirmation page ticks it beforehand);
    ``why`` says what ties it to the person, so someone else's item is left unticked.
    """

    key: str
    label: str
    detail: str = ""
    ticked: bool = False
    why: str = ""


@dataclass(frozen=True)
class ErasurePart:
    """What a contributor would erase, for the confirmation page.

    ``count`` rows of ``kind`` are erased. When ``choices`` is non-empty only the ticked
    ones are: each is offered, none is implied. ``keeps`` says what stays and why.
    """

    contributor: str
    kind: str
    count: int
    choices: tuple[ErasureChoice, ...] = ()
    keeps: str = ""


class ErasureContributor(Protocol):
    key: str

    def describe(self, customer: Customer, numbers: Collection[str]) -> list[ErasurePart]: ...

    def erase(
        self, customer: Customer, numbers: Collection[str], chosen: Collection[str]
    ) -> dict[str, int]: ...

    def export(self, customer: Customer, numbers: Collection[str]) -> dict[str, Any]: ...


@dataclass
class ErasureRegistry:
    contributors: dict[str, ErasureContributor] = field(default_factory=dict)

    def register(self, contributor: ErasureContributor) -> None:
        # ready() may run twice (tests, autoreload): registering again replaces.
        self.contributors[contributor.key] = contributor

    def __iter__(self) -> Any:
        return iter(sorted(self.contributors.values(), key=lambda c: c.key))


erasure_registry = ErasureRegistry()


def choice_key(contributor: str, key: str) -> str:
    """How a ticked choice is named in the confirmation form: ``contributor:key``."""
    return f"{contributor}:{key}"


class NotesErasure:
    """crm's own notes: what agents wrote about the person, and every earlier version of
    it (``NoteEdit``), go whole. A note is nothing but its text, so no empty shell stays;
    the erasure's own row is the audit."""

    key = "crm-notes"

    def _notes(self, customer: Customer) -> QuerySet[Note]:
        # A merge moved the merged profiles' notes here; the filter covers one made before.
        return Note.objects.filter(Q(customer=customer) | Q(customer__merged_into=customer))

    def describe(self, customer: Customer, numbers: Collection[str]) -> list[ErasurePart]:
        notes = self._notes(customer)
        return [
            ErasurePart(self.key, "notes", notes.count()),
            ErasurePart(
                self.key,
                "earlier versions of notes",
                NoteEdit.objects.filter(note__in=notes).count(),
            ),
        ]

    def erase(
        self, customer: Customer, numbers: Collection[str], chosen: Collection[str]
    ) -> dict[str, int]:
        notes = self._notes(customer)
        edits = NoteEdit.objects.filter(note__in=notes).delete()[0]
        return {"notes": notes_delete(notes), "earlier versions of notes": edits}

    def export(self, customer: Customer, numbers: Collection[str]) -> dict[str, Any]:
        notes = self._notes(customer).order_by("created_at", "id")
        return {
            "notes": list(notes.values("id", "customer_id", "text", "created_at", "updated_at")),
            "note_edits": list(
                NoteEdit.objects.filter(note__in=notes)
                .order_by("edited_at", "id")
                .values("note_id", "text_before", "edited_at")
            ),
        }


def notes_delete(notes: QuerySet[Note]) -> int:
    """Delete these notes (their edits and links to calls go with them); how many notes.

    Counted from the rows matched, not ``delete()``'s total, which adds the cascade."""
    return notes.delete()[1].get(Note._meta.label, 0)
