"""Twilio number inventory: search, buy and release local numbers (REST API 2010-04-01).

Search ``GET /2010-04-01/Accounts/{sid}/AvailablePhoneNumbers/US/Local.json?AreaCode=NXX``,
buy ``POST .../IncomingPhoneNumbers.json`` with ``PhoneNumber=``, release
``DELETE .../IncomingPhoneNumbers/{PNsid}.json``. Error 21422 (the number is no longer
available) moves on to the next candidate; 21451 (invalid area code) means this area code
has nothing to offer. Base URL ``TWILIO_API_BASE_URL``, so tests use a loopback server.

A purchase carries its request key as the number's ``FriendlyName``; ``purchased(key)``
lists ``GET .../IncomingPhoneNumbers.json?FriendlyName=key``, so a purchase whose answer
was lost (a timeout after Twilio bought it) is found before a second one is made.
``available(area_code)`` is the search alone.
"""

from typing import Any

import requests
from django.conf import settings

from telephony.providers.inventory import BoughtNumber, InventoryError, NumberUnavailable

NUMBER_NOT_AVAILABLE = 21422
INVALID_AREA_CODE = 21451
# Candidates tried per purchase: one search page, several already taken is unusual.
MAX_CANDIDATES = 5


class TwilioNumberInventoryProvider:
    def __init__(self) -> None:
        self.account_sid = settings.TWILIO_ACCOUNT_SID
        self.base = settings.TWILIO_API_BASE_URL.rstrip("/")
        self.timeout = settings.PROVIDER_TIMEOUT_SECONDS
        self.session = requests.Session()
        self.session.auth = (settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)

    def _url(self, path: str) -> str:
        return f"{self.base}/2010-04-01/Accounts/{self.account_sid}/{path}"

    def _call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        try:
            response = self.session.request(method, self._url(path), timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise InventoryError(f"Twilio could not be reached: {exc}") from exc
        if response.status_code == 204 or not response.content:
            return response.status_code, {}
        try:
            body = response.json()
        except ValueError as exc:
            raise InventoryError(f"Twilio answered {response.status_code} with no JSON") from exc
        if not isinstance(body, dict):
            raise InventoryError("Twilio answered JSON that is not an object")
        return response.status_code, body

    def available(self, area_code: str | None) -> list[str]:
        params = {"AreaCode": area_code} if area_code else {}
        status, body = self._call("GET", "AvailablePhoneNumbers/US/Local.json", params=params)
        if status >= 400:
            if body.get("code") == INVALID_AREA_CODE:
                raise NumberUnavailable(f"Twilio: area code {area_code} is not valid (21451).")
            raise InventoryError(f"Twilio search answered {status}: {body.get('message')}")
        candidates = [n.get("phone_number") for n in body.get("available_phone_numbers") or []]
        return [c for c in candidates if isinstance(c, str) and c.startswith("+")]

    def buy(self, area_code: str | None, *, request_key: str | None = None) -> BoughtNumber:
        candidates = self.available(area_code)
        for number in candidates[:MAX_CANDIDATES]:
            data = {"PhoneNumber": number}
            if request_key:
                data["FriendlyName"] = request_key
            status, bought = self._call("POST", "IncomingPhoneNumbers.json", data=data)
            if status < 400 and isinstance(bought.get("sid"), str):
                return BoughtNumber(
                    number=bought.get("phone_number") or number, provider_id=bought["sid"]
                )
            if bought.get("code") == NUMBER_NOT_AVAILABLE:
                continue  # taken since the search: the next one
            if bought.get("code") == INVALID_AREA_CODE:
                break
            raise InventoryError(f"Twilio purchase answered {status}: {bought.get('message')}")
        raise NumberUnavailable(f"Twilio has no number available in area code {area_code}.")

    def purchased(self, request_key: str) -> BoughtNumber | None:
        """The number bought under ``request_key``, if Twilio holds one."""
        status, body = self._call(
            "GET", "IncomingPhoneNumbers.json", params={"FriendlyName": request_key}
        )
        if status >= 400:
            raise InventoryError(f"Twilio list answered {status}: {body.get('message')}")
        for record in body.get("incoming_phone_numbers") or []:
            if (
                isinstance(record, dict)
                and record.get("friendly_name") == request_key
                and isinstance(record.get("sid"), str)
                and isinstance(record.get("phone_number"), str)
            ):
                return BoughtNumber(number=record["phone_number"], provider_id=record["sid"])
        return None

    def release(self, provider_id: str) -> None:
        status, body = self._call("DELETE", f"IncomingPhoneNumbers/{provider_id}.json")
        if status == 404:
            return  # already released: releasing is idempotent
        if status >= 400:
            raise InventoryError(f"Twilio release answered {status}: {body.get('message')}")
