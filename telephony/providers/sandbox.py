"""Offline number inventory: a local pool of fictional numbers, no network, no cost.

Each valid US area code offers the 100 numbers ``NPA-555-0100`` to ``NPA-555-0199`` (the
range reserved for fiction). ``SANDBOX_INVENTORY_EMPTY_AREA_CODES`` (comma list) names area
codes whose pool is empty, to try the "nothing in this area code" paths.
"""

import secrets

import phonenumbers
from django.conf import settings

from telephony.providers.inventory import BoughtNumber, NumberUnavailable


class SandboxNumberInventoryProvider:
    name = "sandbox"

    def available(self, area_code: str | None) -> list[str]:
        """The pool of an area code (``available`` is optional; the sandbox offers it)."""
        npa = area_code or "415"
        empty = set(getattr(settings, "SANDBOX_INVENTORY_EMPTY_AREA_CODES", ()))
        if npa in empty or not _valid(f"+1{npa}5550100"):
            return []
        return [f"+1{npa}555{n:04d}" for n in range(100, 200)]

    def buy(self, area_code: str | None) -> BoughtNumber:
        npa = area_code or "415"
        if not self.available(npa):
            raise NumberUnavailable(f"The sandbox pool has no number in area code {npa}.")
        candidate = f"+1{npa}555{100 + secrets.randbelow(100):04d}"
        return BoughtNumber(number=candidate, provider_id="SB" + secrets.token_hex(16))

    def release(self, provider_id: str) -> None:
        return None


def _valid(e164: str) -> bool:
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed)
