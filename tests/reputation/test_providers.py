"""Each real adapter against a loopback server answering as the vendor documents."""

import pytest

from reputation.providers.base import ReputationProviderError, SourceResult
from reputation.providers.http_feed import HttpFeedReputationProvider
from reputation.providers.sandbox import SandboxReputationProvider
from reputation.providers.telnyx import TelnyxReputationProvider
from telephony.providers.inventory import InventoryError, NumberUnavailable
from telephony.providers.sandbox import SandboxNumberInventoryProvider
from telephony.providers.twilio_inventory import TwilioNumberInventoryProvider
from tests.reputation.loopback import Loopback

pytestmark = pytest.mark.database_free

FEED_ANSWER = {
    "results": {
        "+14155550100": [
            {"carrier": "AT&T", "label": "Spam Likely", "score": 87, "flagged": True},
            {"carrier": "Verizon", "label": "", "score": 12, "flagged": False},
            {"carrier": "T-Mobile", "label": "Scam Likely", "score": 91, "flagged": True},
        ],
        "+14155550101": [{"carrier": "AT&T", "flagged": "yes"}],  # malformed: not checked
    }
}


def test_http_feed_posts_the_batch_with_the_token_and_parses_per_carrier(settings):
    with Loopback(lambda *a: (200, FEED_ANSWER)) as feed:
        settings.REPUTATION_FEED_URL = feed.url + "/v1/check"
        settings.REPUTATION_FEED_TOKEN = "feed-token"
        answer = HttpFeedReputationProvider().check(["+14155550100", "+14155550101"])
    assert answer == {
        "+14155550100": [
            SourceResult("AT&T", "Spam Likely", 87, True),
            SourceResult("Verizon", "", 12, False),
            SourceResult("T-Mobile", "Scam Likely", 91, True),
        ]
    }
    request = feed.requests[0]
    assert request["headers"]["Authorization"] == "Bearer feed-token"
    assert request["body"] == {"numbers": ["+14155550100", "+14155550101"]}


@pytest.mark.parametrize(
    ("status", "payload"), [(503, {"error": "down"}), (200, b"<html>"), (200, {"no": 1})]
)
def test_http_feed_errors_are_failed_calls(settings, status, payload):
    with Loopback(lambda *a: (status, payload)) as feed:
        settings.REPUTATION_FEED_URL = feed.url
        with pytest.raises(ReputationProviderError):
            HttpFeedReputationProvider().check(["+14155550100"])


def test_http_feed_refuses_more_than_a_request_may_carry(settings):
    settings.REPUTATION_FEED_URL = "http://127.0.0.1:9"
    with pytest.raises(ValueError, match="at most 100"):
        HttpFeedReputationProvider().check([f"+1415555{i:04d}" for i in range(101)])


def telnyx_api(registered: dict):
    def handle(method, path, query, body, headers):
        assert headers["Authorization"] == "Bearer KEY123"
        base = "/v2/enterprises/ent-1/reputation/numbers"
        if method == "GET" and path == base:
            wanted = query["filter[phone_number][in]"][0].split(",")
            data = [
                {"phone_number": n, "reputation_data": registered[n]}
                for n in wanted
                if n in registered
            ]
            return 200, {"data": data, "meta": {"total_results": len(data)}}
        if method == "POST" and path == base:
            for n in body["phone_numbers"]:
                registered[n] = {"spam_risk": "low", "spam_category": None, "maturity_score": 70}
            return 200, {
                "data": [
                    {"phone_number": n, "reputation_data": None} for n in body["phone_numbers"]
                ]
            }
        if method == "GET" and path.startswith(base + "/"):
            number = path.rsplit("/", 1)[1].replace("%2B", "+")
            if number not in registered:
                return 404, {"errors": [{"detail": "not found"}]}
            data = dict(registered[number])
            if query.get("fresh") == ["true"]:
                data["spam_risk"] = "high"
                data["spam_category"] = "Telemarketing"
            return 200, {"data": {"phone_number": number, "reputation_data": data}}
        return 404, {}

    return handle


def test_telnyx_reads_cached_data_and_registers_new_numbers(settings):
    registered = {
        "+12025551234": {
            "spam_risk": "high",
            "spam_category": "Robocall",
            "maturity_score": 82,
            "connection_score": 40,
            "engagement_score": 68,
            "sentiment_score": None,
            "last_refreshed_at": "2026-03-24T12:00:00Z",
        }
    }
    with Loopback(telnyx_api(registered)) as api:
        settings.TELNYX_API_BASE_URL = api.url + "/v2"
        settings.TELNYX_API_KEY = "KEY123"
        settings.TELNYX_ENTERPRISE_ID = "ent-1"
        answer = TelnyxReputationProvider().check(["+12025551234", "+12025555678"])
    assert answer["+12025551234"] == [SourceResult("Telnyx", "Spam Likely: Robocall", 40, True)]
    assert answer["+12025555678"] == [SourceResult("Telnyx", "", 70, False)]
    methods = [(r["method"], r["path"]) for r in api.requests]
    assert methods[0] == ("GET", "/v2/enterprises/ent-1/reputation/numbers")
    assert ("POST", "/v2/enterprises/ent-1/reputation/numbers") in methods
    posted = next(r for r in api.requests if r["method"] == "POST")
    assert posted["body"] == {"phone_numbers": ["+12025555678"]}
    assert all("fresh" not in r["query"] for r in api.requests)  # cached reads only


def test_telnyx_force_asks_for_fresh_billed_data_per_number(settings):
    registered = {"+12025551234": {"spam_risk": "low", "spam_category": None}}
    with Loopback(telnyx_api(registered)) as api:
        settings.TELNYX_API_BASE_URL = api.url + "/v2"
        settings.TELNYX_API_KEY = "KEY123"
        settings.TELNYX_ENTERPRISE_ID = "ent-1"
        answer = TelnyxReputationProvider().check(["+12025551234"], fresh=True)
    assert answer["+12025551234"][0].flagged is True
    assert api.requests[0]["path"].endswith("/numbers/%2B12025551234")
    assert api.requests[0]["query"] == {"fresh": ["true"]}


def test_telnyx_errors_are_failed_calls(settings):
    with Loopback(lambda *a: (500, {"errors": []})) as api:
        settings.TELNYX_API_BASE_URL = api.url + "/v2"
        settings.TELNYX_ENTERPRISE_ID = "ent-1"
        with pytest.raises(ReputationProviderError):
            TelnyxReputationProvider().check(["+12025551234"])


def test_the_sandbox_is_deterministic_and_flags_demo_numbers(settings):
    settings.REPUTATION_SANDBOX_FLAGGED = ["+14155550123"]
    sandbox = SandboxReputationProvider()
    first = sandbox.check(["+14155550100", "+14155550666", "+14155550166", "+14155550123"])
    assert first == sandbox.check(list(first))
    assert [r.flagged for r in first["+14155550100"]] == [False, False, False]
    assert [r.flagged for r in first["+14155550666"]] == [True, True, True]
    assert [r.flagged for r in first["+14155550166"]] == [False, False, True]
    assert all(r.flagged for r in first["+14155550123"])


def twilio_api(taken: set, invalid: set):
    def handle(method, path, query, body, headers):
        base = "/2010-04-01/Accounts/AC123"
        if method == "GET" and path == f"{base}/AvailablePhoneNumbers/US/Local.json":
            code = query["AreaCode"][0]
            if code in invalid:
                return 400, {"code": 21451, "message": "Invalid area code", "status": 400}
            numbers = [f"+1{code}555010{i}" for i in range(3)]
            return 200, {"available_phone_numbers": [{"phone_number": n} for n in numbers]}
        if method == "POST" and path == f"{base}/IncomingPhoneNumbers.json":
            number = body["PhoneNumber"]
            if number in taken:
                return 400, {
                    "code": 21422,
                    "message": "PhoneNumber is not available",
                    "status": 400,
                }
            return 201, {"sid": "PN" + "a" * 32, "phone_number": number}
        if method == "DELETE" and path.startswith(f"{base}/IncomingPhoneNumbers/PN"):
            return 204, b""
        return 404, {"code": 20404}

    return handle


@pytest.fixture
def twilio(settings):
    def start(taken=(), invalid=()):
        server = Loopback(twilio_api(set(taken), set(invalid)))
        settings.TWILIO_API_BASE_URL = server.url
        settings.TWILIO_ACCOUNT_SID = "AC123"
        settings.TWILIO_AUTH_TOKEN = "tok"
        return server

    return start


def test_twilio_buys_the_first_available_number_skipping_taken_ones(twilio):
    with twilio(taken={"+14155550100"}) as api:
        bought = TwilioNumberInventoryProvider().buy("415")
        TwilioNumberInventoryProvider().release(bought.provider_id)
    assert bought.number == "+14155550101"
    assert bought.provider_id.startswith("PN")
    posts = [r["body"]["PhoneNumber"] for r in api.requests if r["method"] == "POST"]
    assert posts == ["+14155550100", "+14155550101"]  # 21422: the next one
    assert api.requests[-1]["method"] == "DELETE"
    assert api.requests[-1]["path"].endswith(f"/IncomingPhoneNumbers/{bought.provider_id}.json")
    assert api.requests[0]["headers"]["Authorization"].startswith("Basic ")


def test_twilio_invalid_area_code_or_none_left_is_unavailable(twilio):
    with twilio(invalid={"999"}), pytest.raises(NumberUnavailable, match="21451"):
        TwilioNumberInventoryProvider().buy("999")
    with twilio(taken={f"+1415555010{i}" for i in range(3)}), pytest.raises(NumberUnavailable):
        TwilioNumberInventoryProvider().buy("415")


def test_twilio_outage_is_a_failed_call(settings):
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(InventoryError):
        TwilioNumberInventoryProvider().buy("415")


def test_the_sandbox_inventory_sells_fictional_numbers_in_the_area_code(settings):
    settings.SANDBOX_INVENTORY_EMPTY_AREA_CODES = ["212"]
    bought = SandboxNumberInventoryProvider().buy("415")
    assert bought.number.startswith("+1415555")
    with pytest.raises(NumberUnavailable):
        SandboxNumberInventoryProvider().buy("212")
    assert SandboxNumberInventoryProvider().available("212") == []
    assert len(SandboxNumberInventoryProvider().available("415")) == 100


def telnyx_limited(answers: list):
    """Telnyx answering from ``answers`` in turn: (status, body, headers)."""

    def handle(method, path, query, body, headers):
        return answers.pop(0)

    return handle


LISTED = {"data": [{"phone_number": "+12025551234", "reputation_data": {"spam_risk": "low"}}]}
LIMITED = {"errors": [{"code": "10011", "title": "Too many requests"}]}


@pytest.fixture
def telnyx(settings):
    def start(answers):
        server = Loopback(telnyx_limited(answers))
        settings.TELNYX_API_BASE_URL = server.url + "/v2"
        settings.TELNYX_API_KEY = "KEY123"
        settings.TELNYX_ENTERPRISE_ID = "ent-1"
        return server

    return start


def paced(provider):
    """The provider's clock and sleep, replaced: waits are recorded, not slept."""
    now = [1000.0]
    slept = []

    def sleep(seconds):
        slept.append(round(seconds, 3))
        now[0] += seconds

    provider._clock, provider._sleep = (lambda: now[0]), sleep
    return slept


def test_telnyx_waits_for_the_reset_after_a_429_10011_and_sends_again(telnyx):
    with telnyx([(429, LIMITED, {"x-ratelimit-reset": "2"}), (200, LISTED)]) as api:
        provider = TelnyxReputationProvider()
        slept = paced(provider)
        answer = provider.check(["+12025551234"])
    assert answer["+12025551234"][0].flagged is False
    assert slept == [2.0]
    assert len(api.requests) == 2


def test_telnyx_waits_when_the_window_has_no_request_left(telnyx):
    exhausted = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "3", "x-ratelimit-limit": "5"}
    with telnyx([(200, LISTED, exhausted), (200, LISTED)]) as api:
        provider = TelnyxReputationProvider()
        slept = paced(provider)
        provider.check(["+12025551234"])
        assert slept == []
        provider.check(["+12025551234"])
    assert slept == [3.0]
    assert len(api.requests) == 2


def test_telnyx_a_long_rate_limit_fails_the_batch_without_hammering(telnyx):
    with telnyx([(429, LIMITED, {"x-ratelimit-reset": "600"})]) as api:
        provider = TelnyxReputationProvider()
        slept = paced(provider)
        with pytest.raises(ReputationProviderError, match="rate limit") as raised:
            provider.check(["+12025551234"])
        with pytest.raises(ReputationProviderError, match="resets in"):
            provider.check(["+12025551234"])  # not sent: the window is known to be closed
    assert raised.value.retry_after == 600
    assert slept == []
    assert len(api.requests) == 1


def test_telnyx_gives_up_after_repeated_429s(telnyx):
    with telnyx([(429, LIMITED, {})] * 4) as api:
        provider = TelnyxReputationProvider()
        slept = paced(provider)
        with pytest.raises(ReputationProviderError, match="10011"):
            provider.check(["+12025551234"])
    assert slept == [1.0, 2.0, 4.0]  # no reset header: backing off
    assert len(api.requests) == 4
