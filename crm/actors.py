"""Who did something: a person (admin, API, workspace) or the system (webhooks, tasks)."""

from typing import Any

from django.contrib.auth.models import AnonymousUser, User

# What services accept as ``actor``/``by``: a request's user as it comes, or None.
Actor = User | AnonymousUser | None


def acting_user(actor: Any) -> User | None:
    """The user to record as having acted, or None for the system and anonymous requests.

    Audit columns are foreign keys to users: an AnonymousUser (a webhook, a logged-out
    request) or anything else is recorded as the system.
    """
    return actor if isinstance(actor, User) and actor.is_authenticated else None
