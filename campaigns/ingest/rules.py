"""The merge rules, once: both merges (set-based SQL and the portable ORM one) use these.

- **One contact per email**, in any case, within a campaign. A row without an email is
  its own contact unless an identical row (name, company, both numbers) is already there.
- **The first row wins; later rows fill gaps.** A contact takes its fields from the first
  row of its key; the account, phone and mobile that row lacks come from the next rows
  that have them, in file order. A contact already in the campaign keeps what it has and
  gains only what it lacked.
- **An account per company name**, in any case, spelled as the file first spells it.
- **A number on the do-not-call list** arrives disqualified everywhere, with the list's
  reason; numbers already in the campaign that are on the list are disqualified too.
- ``contact_count`` is the number of distinct contacts carrying a number in either column
  (a contact with the same number in both columns counts once).
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from campaigns.models import Scope, Status

EMAIL_KEY = "e:"
ROW_KEY = "r:"

# The fields a later row may fill on a contact that lacks them (as model attnames).
FILLED_FIELDS = ("account_id", "phone_id", "mobile_id")


def email_key(email: str) -> str:
    return EMAIL_KEY + email.lower()


def row_key(*, name: str, company: str, phone: str, mobile: str) -> str:
    digest = hashlib.blake2b(
        "\x1f".join((name.lower(), company.lower(), phone, mobile)).encode(), digest_size=16
    )
    return ROW_KEY + digest.hexdigest()


def dedup_key(*, email: str, name: str, company: str, phone: str, mobile: str) -> str:
    """A contact's key in its campaign (stored as ``Contact.dedup_key``)."""
    if email:
        return email_key(email)
    return row_key(name=name, company=company, phone=phone, mobile=mobile)


def is_email_key(key: str) -> bool:
    return key.startswith(EMAIL_KEY)


def account_key(company: str) -> str:
    """Accounts are matched by name in any case (the model's unique ``Lower("name")``)."""
    return company.lower()


def do_not_call_fields(*, reason: str, now: datetime) -> dict[str, Any]:
    """How a campaign number on the do-not-call list is stored."""
    return {
        "status": Status.DISQUALIFIED,
        "status_scope": Scope.EVERYWHERE,
        "status_reason": reason[:255],
        "status_changed_at": now,
    }


# The same values for the set-based merge's statements, as query parameters.
SQL_PARAMS = {
    "email_key": EMAIL_KEY,
    "active": Status.ACTIVE.value,
    "disqualified": Status.DISQUALIFIED.value,
    "everywhere": Scope.EVERYWHERE.value,
}


@dataclass
class MergeResult:
    """The merge's counts for the receipt, each named as the LeadUpload field it fills."""

    contacts_created: int = 0
    merged_by_email: int = 0
    duplicate_rows: int = 0
    accounts_created: int = 0
    numbers_found: int = 0
    numbers_created: int = 0
    numbers_do_not_call: int = 0

    def count_rows(
        self, *, email_rows: int, other_rows: int, email_created: int, other_created: int
    ) -> None:
        """Every staged row made a contact or merged into one: an email row into the
        contact of its email, a row without email into the identical row's contact."""
        self.contacts_created = email_created + other_created
        self.merged_by_email = email_rows - email_created
        self.duplicate_rows = other_rows - other_created
