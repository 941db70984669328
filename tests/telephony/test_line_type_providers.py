"""The line-type adapters: Twilio Lookup v2 against a loopback server, and the offline one."""

import base64
from decimal import Decimal

import pytest

from telephony.providers.base import (
    LineTypeRateLimited,
    LineTypeRefused,
    LineTypeTimedOut,
    LineTypeUnavailable,
)
from telephony.providers.offline import OfflineLineTypeProvider
from telephony.providers.twilio import TwilioLineTypeProvider
from tests.telephony.event_loop import run_in_own_loop
from tests.telephony.twilio_lookup_server import FakeTwilioLookup

pytestmark = pytest.mark.database_free

NUMBER = "+14155550100"


def asyncio_lookup(provider: TwilioLineTypeProvider):
    """The adapter's asyncio client (the backfill's), called like ``lookup``."""

    def look_up(e164: str):
        async def once():
            async with provider.async_client() as lookup:
                return await lookup(e164)

        return run_in_own_loop(once())

    return look_up


# Every rule holds for both ways of calling Twilio: the blocking client (new callers)
# and the asyncio one (the backfill).
@pytest.fixture(params=["blocking", "asyncio"])
def twilio(settings, request):
    with FakeTwilioLookup() as server:
        settings.TWILIO_LOOKUP_BASE_URL = server.url
        settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
        settings.TWILIO_AUTH_TOKEN = "secret-token"
        settings.LINE_TYPE_LOOKUP_PRICE = Decimal("0.008")
        # Long enough that a loaded machine never turns a quick answer into a timeout; the
        # timeout tests shorten it before they look up (the adapter reads it when made).
        settings.PROVIDER_TIMEOUT_SECONDS = 5

        def look_up(e164: str):
            provider = TwilioLineTypeProvider()
            if request.param == "blocking":
                return provider.lookup(e164)
            return asyncio_lookup(provider)(e164)

        yield server, look_up


def test_the_documented_answer_is_read_and_the_request_is_as_twilio_documents(twilio):
    server, look_up = twilio
    server.answers[NUMBER] = {
        "phone_number": NUMBER,
        "valid": True,
        "calling_country_code": "1",
        "country_code": "US",
        "line_type_intelligence": {
            "type": "nonFixedVoip",
            "carrier_name": "Twilio - SMS/MMS-SVR",
            "mobile_country_code": "240",
            "mobile_network_code": "38",
            "error_code": None,
        },
    }

    answer = look_up(NUMBER)

    assert (answer.line_type, answer.carrier, answer.cost, answer.valid, answer.error) == (
        "voip",
        "Twilio - SMS/MMS-SVR",
        Decimal("0.008"),
        True,
        "",
    )
    request = server.requests[0]
    assert request["path"] == "/v2/PhoneNumbers/+14155550100"
    assert request["query"] == {"Fields": ["line_type_intelligence"]}
    expected = base64.b64encode(f"AC{'0' * 32}:secret-token".encode()).decode()
    assert request["authorization"] == f"Basic {expected}"


@pytest.mark.parametrize(
    ("twilio_type", "ours"),
    [
        ("mobile", "mobile"),
        ("landline", "landline"),
        ("fixedVoip", "voip"),
        ("nonFixedVoip", "voip"),
        ("tollFree", "toll_free"),
        ("personal", "unknown"),
        ("premium", "unknown"),
        ("sharedCost", "unknown"),
        ("uan", "unknown"),
        ("voicemail", "unknown"),
        ("pager", "unknown"),
        ("unknown", "unknown"),
        ("somethingNew", "unknown"),
    ],
)
def test_each_documented_type_maps_to_ours(twilio, twilio_type, ours):
    server, look_up = twilio
    server.answers[NUMBER] = twilio_type
    assert look_up(NUMBER).line_type == ours


def test_an_invalid_number_is_an_answer_not_mobile_and_paid(twilio):
    server, look_up = twilio
    server.answers[NUMBER] = "invalid"
    answer = look_up(NUMBER)
    assert (answer.line_type, answer.valid, answer.cost) == ("unknown", False, Decimal("0.008"))


def test_a_line_type_error_code_is_an_unknown_answer_with_the_code(twilio):
    server, look_up = twilio
    body = {"valid": True, "line_type_intelligence": {"type": None, "error_code": 60600}}
    server.answers[NUMBER] = body
    answer = look_up(NUMBER)
    assert (answer.line_type, answer.error) == ("unknown", "60600")


@pytest.mark.parametrize("code", [20429, 60616])
def test_too_many_requests_says_slow_down(twilio, code):
    server, look_up = twilio
    server.answers[NUMBER] = code
    with pytest.raises(LineTypeRateLimited):
        look_up(NUMBER)


def test_a_plain_429_says_slow_down_too(twilio):
    server, look_up = twilio
    server.answers[NUMBER] = (429, "")
    with pytest.raises(LineTypeRateLimited):
        look_up(NUMBER)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (20003, "TWILIO_AUTH_TOKEN"),
        (60606, "not enabled"),
        (60607, "country"),
        (60601, "Canadian"),
    ],
)
def test_refusals_stop_lookups_with_a_clear_message(twilio, code, words):
    server, look_up = twilio
    server.answers[NUMBER] = code
    with pytest.raises(LineTypeRefused) as refused:
        look_up(NUMBER)
    assert refused.value.code == str(code)
    assert words in refused.value.message


@pytest.mark.parametrize("answer", [(500, "oops"), (503, ""), (200, "not json"), (200, "[]")])
def test_server_errors_and_garbage_are_failed_calls(twilio, answer):
    server, look_up = twilio
    server.answers[NUMBER] = answer
    with pytest.raises(LineTypeUnavailable):
        look_up(NUMBER)


def test_a_timeout_is_a_failed_call(twilio, settings):
    server, look_up = twilio
    server.answers[NUMBER] = "timeout"
    server.timeout_seconds = 1.5
    settings.PROVIDER_TIMEOUT_SECONDS = 0.5
    with pytest.raises(LineTypeUnavailable):
        look_up(NUMBER)


def test_a_refused_connection_is_a_failed_call(settings):
    settings.TWILIO_LOOKUP_BASE_URL = "http://127.0.0.1:9"  # discard: nothing listens
    with pytest.raises(LineTypeUnavailable):
        TwilioLineTypeProvider().lookup(NUMBER)
    with pytest.raises(LineTypeUnavailable):
        asyncio_lookup(TwilioLineTypeProvider())(NUMBER)


def test_the_offline_provider_reads_the_numbering_plan_and_costs_nothing():
    provider = OfflineLineTypeProvider()
    assert provider.lookup("+447911123456").line_type == "mobile"  # a UK mobile range
    assert provider.lookup("+442079460000").line_type == "landline"  # London
    # North America: mobiles and landlines share area codes, so it cannot tell.
    assert provider.lookup("+16789998212").line_type == "unknown"
    assert provider.lookup("+18005550100").line_type == "toll_free"
    assert provider.lookup("+1555").valid is False
    assert provider.lookup("+447911123456").cost == Decimal(0)


# --- Whatever a 200 holds, it was paid for: an answer, never an exception -----------------


@pytest.mark.parametrize(
    "info",
    [
        {"type": None, "error_code": 60600, "carrier_name": "Carrier " * 40},
        {"type": "mobile", "carrier_name": 310260, "error_code": None},
        {"type": "mobile", "carrier_name": ["not", "text"], "extra": {"x": 1}},
    ],
    ids=["a long carrier with an error code", "a numeric carrier", "a carrier of another type"],
)
def test_any_line_type_intelligence_is_an_answer(twilio, info):
    server, look_up = twilio
    server.answers[NUMBER] = {"valid": True, "line_type_intelligence": info}
    answer = look_up(NUMBER)
    assert answer.cost == Decimal("0.008")
    assert answer.carrier is None or (
        isinstance(answer.carrier, str) and len(answer.carrier) <= 100
    )


def test_an_answer_without_line_type_intelligence_is_an_unknown_answer(twilio):
    server, look_up = twilio
    server.answers[NUMBER] = {"valid": True, "phone_number": NUMBER}
    answer = look_up(NUMBER)
    assert (answer.line_type, answer.cost) == ("unknown", Decimal("0.008"))


def test_a_timeout_after_the_request_was_sent_may_have_been_billed(twilio, settings):
    server, look_up = twilio
    server.answers[NUMBER] = "timeout"
    server.timeout_seconds = 1.5
    settings.PROVIDER_TIMEOUT_SECONDS = 0.5
    with pytest.raises(LineTypeTimedOut):
        look_up(NUMBER)
