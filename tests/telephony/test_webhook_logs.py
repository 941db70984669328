"""Webhook access lines carry the CallSid/MessageSid and never the caller's number."""

import pytest

from tests.crm.test_logs import CALLER, json_log  # noqa: F401  (the fixture)
from tests.telephony.factories import call_sid, message_sid
from tests.telephony.twilio_signing import OUR_NUMBER


@pytest.mark.django_db
@pytest.mark.postgresql
def test_webhooks_log_their_sid_and_never_the_callers_number(twilio_post, json_log):  # noqa: F811
    sid = call_sid()
    params = {"CallSid": sid, "From": CALLER, "To": OUR_NUMBER, "CallStatus": "ringing"}
    assert twilio_post("/webhooks/twilio/voice/", params).status_code == 200
    msid = message_sid()
    sms = {"MessageSid": msid, "From": CALLER, "To": OUR_NUMBER, "Body": "call me on 678 999 8212"}
    assert twilio_post("/webhooks/twilio/sms/", sms).status_code == 200

    access = [line for line in json_log() if line["logger"] == "switchboard.request"]
    assert (access[-2]["route"], access[-2]["call_sid"]) == ("/webhooks/twilio/voice/", sid)
    assert (access[-1]["route"], access[-1]["message_sid"]) == ("/webhooks/twilio/sms/", msid)
    text = json_log.text()
    assert "9998212" not in text
    assert "999 8212" not in text
