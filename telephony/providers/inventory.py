"""The number inventory interface (``NUMBER_INVENTORY_PROVIDER``): buy and release numbers.

The contract (docs/providers.md) is ``buy(area_code)``, answering an object with
``number`` (E.164) and ``provider_id``, and ``release(provider_id)``. A provider that has no
number for an area code raises :class:`NumberUnavailable` (the caller tries elsewhere);
anything else it raises is a failed call (the caller changes nothing and retries later).

Optional capabilities, detected and never required (``docs/reputation.md``):
``available(area_code)`` lists numbers to choose from before buying; ``buy(area_code,
request_key=...)`` takes a key the purchase is recorded under at the vendor, and
``purchased(request_key)`` finds that purchase again, so a purchase whose answer was lost
is found before a second one is made; a bought object may carry its ``cost``.
"""

import inspect
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from crm.providers import register_provider_setting


@dataclass(frozen=True)
class BoughtNumber:
    number: str  # E.164
    provider_id: str  # e.g. Twilio's PN… sid, needed to release it
    cost: Decimal | None = None  # what the vendor says the purchase costs, when it says


class InventoryError(Exception):
    """The provider could not be reached or answered something we cannot use."""


class NumberUnavailable(InventoryError):
    """No number can be had for this area code (none left, or the area code is invalid)."""


class NumberInventoryProvider(Protocol):
    """The contract."""

    def buy(self, area_code: str | None) -> Any: ...

    def release(self, provider_id: str) -> None: ...


@runtime_checkable
class AvailabilityInventory(Protocol):
    def available(self, area_code: str | None) -> list[str]: ...


@runtime_checkable
class ReconcilingInventory(Protocol):
    def buy(self, area_code: str | None, *, request_key: str | None = None) -> Any: ...

    def purchased(self, request_key: str) -> Any: ...


def takes_request_key(provider: NumberInventoryProvider) -> bool:
    try:
        parameters = inspect.signature(provider.buy).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "request_key" or p.kind == p.VAR_KEYWORD for p in parameters)


def register_inventory_setting() -> None:
    """Declare ``NUMBER_INVENTORY_PROVIDER`` to the start-up check (telephony.E002)."""
    register_provider_setting(
        "NUMBER_INVENTORY_PROVIDER",
        check_id="telephony.E002",
        what="buying and releasing our own numbers (auto-replacement)",
    )
