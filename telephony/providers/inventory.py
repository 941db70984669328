"""The number inventory interface (``NUMBER_INVENTORY_PROVIDER``): buy and release numbers.

``buy(area_code)`` returns the number bought; ``release(provider_id)`` gives one back. A
provider that has no number for an area code raises :class:`NumberUnavailable` (the caller
tries elsewhere); anything else it raises is a failed call (the caller changes nothing
and retries later). See ``docs/reputation.md``.
"""

from dataclasses import dataclass
from typing import Protocol

from crm.providers import register_provider_setting


@dataclass(frozen=True)
class BoughtNumber:
    number: str  # E.164
    provider_id: str  # e.g. Twilio's PN… sid, needed to release it


class InventoryError(Exception):
    """The provider could not be reached or answered something we cannot use."""


class NumberUnavailable(InventoryError):
    """No number can be had for this area code (none left, or the area code is invalid)."""


class NumberInventoryProvider(Protocol):
    def buy(self, area_code: str | None) -> BoughtNumber: ...

    def release(self, provider_id: str) -> None: ...


def register_inventory_setting() -> None:
    """Declare ``NUMBER_INVENTORY_PROVIDER`` to the start-up check (telephony.E002)."""
    register_provider_setting(
        "NUMBER_INVENTORY_PROVIDER",
        check_id="telephony.E002",
        what="buying and releasing our own numbers (auto-replacement)",
    )
