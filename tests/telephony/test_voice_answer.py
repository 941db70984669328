"""The inbound voice answer keeps its word (docs/voice.md): business hours in the team's
zone, forward with a voicemail fallback, otherwise voicemail; recordings and transcriptions
stored on the call, idempotent; the missed calls list per role."""

import logging
import re
from datetime import UTC, datetime, time

import pytest
from django.urls import reverse

from telephony import answering
from telephony.models import Call, TelephonySettings
from tests.telephony.factories import call_sid
from tests.telephony.twilio_signing import OUR_NUMBER

pytestmark = pytest.mark.django_db

VOICE = "/webhooks/twilio/voice/"
DIAL_DONE = "/webhooks/twilio/voice/dial-done/"
RECORDING = "/webhooks/twilio/voice/recording/"
TRANSCRIPTION = "/webhooks/twilio/voice/transcription/"
CALLER = "+14155550142"
ACCOUNT = "AC" + "0" * 32


def recording_sid() -> str:
    return "RE" + call_sid()[2:]


def configure(**fields) -> TelephonySettings:
    config = TelephonySettings.load()
    for name, value in fields.items():
        setattr(config, name, value)
    config.full_clean()
    config.save()
    return config


def voice_params(**overrides) -> dict:
    params = {
        "CallSid": call_sid(),
        "AccountSid": ACCOUNT,
        "From": CALLER,
        "To": OUR_NUMBER,
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    params.update(overrides)
    return params


def recording_params(sid: str, rec: str, **overrides) -> dict:
    params = {
        "AccountSid": ACCOUNT,
        "CallSid": sid,
        "RecordingSid": rec,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{rec}",
        "RecordingDuration": "17",
        "RecordingStatus": "completed",
    }
    params.update(overrides)
    return params


def test_the_public_urls_are_the_contracts():
    assert reverse("telephony:twilio-voice-recording") == RECORDING
    assert reverse("telephony:twilio-voice-transcription") == TRANSCRIPTION


def test_nothing_configured_asks_for_a_message_and_records_it(twilio_post):
    body = twilio_post(VOICE, voice_params()).content.decode()

    assert "Please hold" not in body
    assert "leave a message" in body
    assert "<Record " in body
    assert 'recordingStatusCallback="http://testserver/webhooks/twilio/voice/recording/"' in body
    assert 'transcribe="true"' in body
    assert 'transcribeCallback="http://testserver/webhooks/twilio/voice/transcription/"' in body
    assert "<Dial" not in body
    assert Call.objects.get().voicemail is True


def test_a_forward_within_hours_dials_with_a_voicemail_fallback(twilio_post):
    configure(forward_to="(212) 555-0100")
    params = voice_params()
    body = twilio_post(VOICE, params).content.decode()

    assert re.search(r'<Dial action="[^"]+/voice/dial-done/"[^>]*timeout="20"', body)
    assert "<Number>+12125550100</Number>" in body
    assert "<Record" not in body
    assert Call.objects.get().voicemail is False

    unanswered = twilio_post(DIAL_DONE, {**params, "DialCallStatus": "no-answer"})
    assert "<Record " in unanswered.content.decode()
    assert Call.objects.get().voicemail is True


def test_an_answered_forward_hangs_up_after_the_conversation(twilio_post):
    configure(forward_to="+12125550100")
    params = voice_params()
    twilio_post(VOICE, params)
    body = twilio_post(DIAL_DONE, {**params, "DialCallStatus": "completed"}).content.decode()
    assert "<Hangup" in body
    assert "<Record" not in body
    assert Call.objects.get().voicemail is False


def test_a_malformed_dial_status_is_a_400(twilio_post):
    response = twilio_post(DIAL_DONE, voice_params(DialCallStatus="maybe"))
    assert response.status_code == 400
    assert b"DialCallStatus" in response.content


@pytest.mark.parametrize(("utc_hour", "dialled"), [(15, True), (23, False)])
def test_the_forward_is_dialled_only_within_hours(twilio_post, monkeypatch, utc_hour, dialled):
    configure(
        forward_to="+12125550100",
        open_days="0,1,2,3,4",
        open_time=time(9),
        close_time=time(17),
        team_time_zone="America/New_York",
    )
    # Mon 7 Dec 2026: 15:00 UTC is 10:00 in New York (open), 23:00 UTC is 18:00 (closed).
    moment = datetime(2026, 12, 7, utc_hour, 0, tzinfo=UTC)
    monkeypatch.setattr(answering.timezone, "now", lambda: moment)
    body = twilio_post(VOICE, voice_params()).content.decode()
    assert ("<Dial" in body) is dialled
    assert ("<Record " in body) is not dialled


# --- Business hours: boundaries, DST, zones ------------------------------------------------


def hours(days="", open_=None, close=None, zone="America/New_York") -> answering.Hours:
    return answering.Hours(
        frozenset(answering.days_parse(days)), open_, close, answering.zone_or_default(zone)
    )


@pytest.mark.parametrize(
    ("utc", "is_open"),
    [
        # Mon 7 Dec 2026, New York is UTC-5: 09:00 local = 14:00 UTC.
        (datetime(2026, 12, 7, 13, 59, 59, tzinfo=UTC), False),
        (datetime(2026, 12, 7, 14, 0, tzinfo=UTC), True),
        (datetime(2026, 12, 7, 21, 59, 59, tzinfo=UTC), True),
        (datetime(2026, 12, 7, 22, 0, tzinfo=UTC), False),  # 17:00 closes
        # Fri 23:30 local is Sat 04:30 UTC: still Friday's hours? No: closed at 17:00.
        (datetime(2026, 12, 12, 4, 30, tzinfo=UTC), False),
        # Sat 10:00 local (15:00 UTC): not a business day.
        (datetime(2026, 12, 12, 15, 0, tzinfo=UTC), False),
    ],
)
def test_business_hours_boundaries_are_read_on_the_team_clock(utc, is_open):
    assert hours("0,1,2,3,4", time(9), time(17)).is_open(utc) is is_open


def test_business_hours_follow_daylight_saving_time():
    weekdays = hours("0,1,2,3,4", time(9), time(17))
    # Mon 9 Mar 2026 (after the spring change) 09:00 EDT = 13:00 UTC; the week before,
    # 13:00 UTC was 08:00 EST.
    assert weekdays.is_open(datetime(2026, 3, 9, 13, 0, tzinfo=UTC))
    assert not weekdays.is_open(datetime(2026, 3, 2, 13, 0, tzinfo=UTC))
    # Mon 2 Nov 2026 (after the autumn change) 16:59 EST = 21:59 UTC, open; the Monday
    # before, 21:59 UTC was 17:59 EDT, closed.
    assert weekdays.is_open(datetime(2026, 11, 2, 21, 59, tzinfo=UTC))
    assert not weekdays.is_open(datetime(2026, 10, 26, 21, 59, tzinfo=UTC))


def test_a_day_is_the_team_zones_day_not_utcs():
    # Mon 00:30 in Tokyo is Sun 15:30 UTC: Monday-only hours are open there.
    monday_only = hours("0", zone="Asia/Tokyo")
    assert monday_only.is_open(datetime(2026, 12, 6, 15, 30, tzinfo=UTC))
    assert not hours("0", zone="UTC").is_open(datetime(2026, 12, 6, 15, 30, tzinfo=UTC))


def test_hours_past_midnight_belong_to_the_day_they_opened():
    nights = hours("4", time(22), time(2), zone="UTC")  # Friday 22:00 to Saturday 02:00
    assert nights.is_open(datetime(2026, 12, 11, 23, 0, tzinfo=UTC))  # Fri 23:00
    assert nights.is_open(datetime(2026, 12, 12, 1, 59, tzinfo=UTC))  # Sat 01:59
    assert not nights.is_open(datetime(2026, 12, 12, 2, 0, tzinfo=UTC))
    assert not nights.is_open(datetime(2026, 12, 12, 23, 0, tzinfo=UTC))  # Sat night
    assert not nights.is_open(datetime(2026, 12, 11, 1, 0, tzinfo=UTC))  # Fri 01:00


def test_unset_hours_are_always_open():
    assert hours().always
    assert hours().is_open(datetime(2026, 12, 6, 3, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"team_time_zone": "Mars/Olympus"}, "team_time_zone"),
        ({"team_time_zone": "Europe/Paris\x00"}, "team_time_zone"),
        ({"open_days": "1,7"}, "open_days"),
        ({"open_days": "mon"}, "open_days"),
        ({"open_time": time(9)}, "__all__"),
        ({"open_time": time(9), "close_time": time(9)}, "__all__"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(fields, field):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        configure(**fields)
    assert field in caught.value.message_dict


def test_what_a_caller_hears_now_says_what_the_webhook_does():
    config = configure(
        forward_to="+12125550100",
        open_days="0,1,2,3,4",
        open_time=time(9),
        close_time=time(17),
        team_time_zone="America/New_York",
    )
    open_now = answering.what_caller_hears(config, datetime(2026, 12, 7, 15, 0, tzinfo=UTC))
    closed = answering.what_caller_hears(config, datetime(2026, 12, 7, 23, 0, tzinfo=UTC))
    assert "rings +12125550100" in open_now
    assert "Mon 10:00 EST" in open_now
    assert "closed" in closed
    assert "voicemail" in closed
    assert "Mon 18:00 EST" in closed
    nothing = answering.what_caller_hears(configure(forward_to=""))
    assert "no forward-to number" in nothing
    assert "leave a message" in nothing


# --- Recording and transcription callbacks -----------------------------------------------


def test_the_recording_and_its_transcription_land_on_the_call_once(twilio_post):
    params = voice_params()
    twilio_post(VOICE, params)
    rec = recording_sid()
    for _ in range(2):  # Twilio retries: the same values, no error
        assert twilio_post(RECORDING, recording_params(params["CallSid"], rec)).status_code == 200
    transcription = {
        **recording_params(params["CallSid"], rec),
        "TranscriptionSid": "TR" + "1" * 32,
        "TranscriptionText": "Hi, it's Ana, please call me back about my order.",
        "TranscriptionStatus": "completed",
    }
    for _ in range(2):
        assert twilio_post(TRANSCRIPTION, transcription).status_code == 200

    call = Call.objects.get()
    assert call.recording_url.endswith(rec)
    assert (call.recording_sid, call.recording_seconds) == (rec, 17)
    assert call.transcript == "Hi, it's Ana, please call me back about my order."
    assert call.voicemail is True
    assert Call.objects.count() == 1


def test_a_transcription_before_its_recording_keeps_both(twilio_post):
    params = voice_params()
    twilio_post(VOICE, params)
    rec = recording_sid()
    twilio_post(
        TRANSCRIPTION,
        {
            **recording_params(params["CallSid"], rec),
            "TranscriptionText": "Call me",
            "TranscriptionStatus": "completed",
        },
    )
    twilio_post(RECORDING, recording_params(params["CallSid"], rec, RecordingDuration="9"))
    call = Call.objects.get()
    assert (call.transcript, call.recording_seconds, call.recording_sid) == ("Call me", 9, rec)


def test_a_failed_transcription_says_so(twilio_post):
    params = voice_params()
    twilio_post(VOICE, params)
    twilio_post(
        TRANSCRIPTION,
        {"AccountSid": ACCOUNT, "CallSid": params["CallSid"], "TranscriptionStatus": "failed"},
    )
    assert "could not transcribe" in Call.objects.get().transcript


def test_callbacks_for_an_unknown_call_are_answered_and_logged(twilio_post, caplog):
    sid = call_sid()
    with caplog.at_level(logging.WARNING, logger="switchboard.telephony"):
        assert twilio_post(RECORDING, recording_params(sid, recording_sid())).status_code == 200
        transcription = {"AccountSid": ACCOUNT, "CallSid": sid, "TranscriptionText": "x"}
        assert twilio_post(TRANSCRIPTION, transcription).status_code == 200
    assert Call.objects.count() == 0
    assert sum(sid in r.getMessage() for r in caplog.records) == 2


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"RecordingSid": "XX123"}, b"RecordingSid"),
        ({"RecordingUrl": "http://evil.example/x"}, b"RecordingUrl"),
        ({"RecordingUrl": ""}, b"RecordingUrl"),
        ({"RecordingDuration": "-3"}, b"RecordingDuration"),
        ({"RecordingDuration": "12345678"}, b"RecordingDuration"),
        ({"CallSid": "CA\x00"}, b"CallSid"),
    ],
)
def test_a_malformed_recording_callback_is_a_400(twilio_post, overrides, reason):
    sid = call_sid()
    response = twilio_post(RECORDING, recording_params(sid, recording_sid(), **overrides))
    assert response.status_code == 400
    assert reason in response.content


def test_a_forged_recording_callback_is_refused(twilio_post):
    params = voice_params()
    twilio_post(VOICE, params)
    forged = recording_params(params["CallSid"], recording_sid())
    assert twilio_post(RECORDING, forged, signature="bm9wZQ==").status_code == 403
    assert Call.objects.get().recording_url == ""
