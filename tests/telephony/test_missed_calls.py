"""Missed calls and voicemails: the list per role, mark handled, the voicemail player
(through the authenticated proxy, against a loopback server answering as Twilio), and the
settings page's "what a caller hears now"."""

import base64
from datetime import time, timedelta
from http.server import BaseHTTPRequestHandler

import pytest
from django.urls import reverse
from django.utils import timezone

from telephony.models import Call, TelephonySettings
from tests.telephony.factories import call_sid
from tests.telephony.loopback import loopback_serve

pytestmark = pytest.mark.django_db

LIST = "/admin/telephony/missedcall/"
AUDIO = b"ID3\x03fake-mp3-bytes" * 100


def make_call(**fields) -> Call:
    defaults = {
        "direction": "inbound",
        "from_number": "+14155550142",
        "to_number": "+14155550100",
        "external_id": call_sid(),
        "started_at": timezone.now() - timedelta(minutes=len(fields)),
        "status": "completed",
    }
    return Call.objects.create(**{**defaults, **fields})


@pytest.fixture
def calls():
    return {
        "voicemail": make_call(
            voicemail=True,
            recording_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
            recording_seconds=12,
            transcript="Please call me back",
        ),
        "no_answer": make_call(status="no-answer"),
        "answered": make_call(status="completed"),
        "handled": make_call(status="busy", handled_at=timezone.now()),
        "outbound": make_call(direction="outbound", status="no-answer"),
    }


@pytest.mark.parametrize(("role", "status"), [("administrator", 200), ("agent", 200)])
def test_agents_and_administrators_work_through_the_list(client, request, calls, role, status):
    user = request.getfixturevalue(role)
    client.force_login(user)
    page = client.get(LIST)
    assert page.status_code == status
    shown = {c.pk for c in page.context["cl"].result_list}
    assert shown == {calls["voicemail"].pk, calls["no_answer"].pk}
    html = page.content.decode()
    assert "Please call me back" in html
    assert f'src="/admin/telephony/missedcall/recording/{calls["voicemail"].pk}/"' in html
    assert "Mark handled" in html

    response = client.post(
        LIST, {"action": "mark_handled", "_selected_action": [calls["no_answer"].pk]}
    )
    assert response.status_code == 302
    handled = Call.objects.get(pk=calls["no_answer"].pk)
    assert handled.handled_by == user
    assert handled.handled_at is not None
    assert {c.pk for c in client.get(LIST).context["cl"].result_list} == {calls["voicemail"].pk}


def test_marking_twice_keeps_who_handled_it_first(client, agent, administrator, calls):
    from telephony.voicemail import calls_mark_handled

    assert calls_mark_handled(call_ids=[calls["no_answer"].pk], user=agent) == 1
    assert calls_mark_handled(call_ids=[calls["no_answer"].pk], user=administrator) == 0
    assert Call.objects.get(pk=calls["no_answer"].pk).handled_by == agent


def test_a_caller_never_reaches_the_list_or_a_recording(client, caller, calls):
    client.force_login(caller)
    assert client.get(LIST).status_code in (302, 403)
    url = reverse("admin:telephony_call_recording", args=[calls["voicemail"].pk])
    assert client.get(url).status_code in (302, 403)
    client.logout()
    assert client.get(url).status_code == 302  # to the login page


class FakeTwilioMedia:
    """Answers GET .../Recordings/RE....mp3 as Twilio does, with basic auth required."""

    def __init__(self, account: str, token: str) -> None:
        self.expected = "Basic " + base64.b64encode(f"{account}:{token}".encode()).decode()
        self.paths: list[str] = []

    def __enter__(self) -> "FakeTwilioMedia":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.paths.append(self.path)
                if self.headers.get("Authorization") != fake.expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                body, status = AUDIO, 200
                if self.headers.get("Range") == "bytes=0-9":
                    body, status = AUDIO[:10], 206
                self.send_response(status)
                self.send_header("Content-Type", "audio/mpeg")
                self.send_header("Content-Length", str(len(body)))
                if status == 206:
                    self.send_header("Content-Range", f"bytes 0-9/{len(AUDIO)}")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = loopback_serve(Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_voicemail_streams_through_the_authenticated_proxy(client, agent, settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "1" * 32, "secret-token"
    with FakeTwilioMedia(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN) as twilio:
        settings.TWILIO_API_BASE_URL = twilio.base
        call = make_call(recording_url=f"{twilio.base}/2010-04-01/Accounts/AC1/Recordings/RE9")
        client.force_login(agent)
        url = reverse("admin:telephony_call_recording", args=[call.pk])

        whole = client.get(url)
        assert whole.status_code == 200
        assert whole["Content-Type"] == "audio/mpeg"
        assert b"".join(whole.streaming_content) == AUDIO
        part = client.get(url, HTTP_RANGE="bytes=0-9")
        assert part.status_code == 206
        assert part["Content-Range"] == f"bytes 0-9/{len(AUDIO)}"
        assert b"".join(part.streaming_content) == AUDIO[:10]
        assert twilio.paths[0] == "/2010-04-01/Accounts/AC1/Recordings/RE9.mp3"
        assert "secret-token" not in whole.serialize_headers().decode()

        settings.TWILIO_AUTH_TOKEN = "wrong"
        refused = client.get(url)
        assert refused.status_code == 502
        assert b"401" in refused.content


def test_a_recording_off_twilios_host_is_never_fetched(client, agent):
    call = make_call(recording_url="https://evil.example/steal")
    client.force_login(agent)
    assert client.get(reverse("admin:telephony_call_recording", args=[call.pk])).status_code == 404


def test_the_profile_timeline_plays_the_voicemail(client, agent, calls):
    from crm.models import Customer

    customer = Customer.objects.create(name="Ana García")
    Call.objects.filter(pk=calls["voicemail"].pk).update(customer=customer)
    client.force_login(agent)
    page = client.get(reverse("admin:crm_customer_change", args=[customer.pk])).content.decode()
    assert '<audio class="sb-voicemail" controls' in page
    assert f'src="/admin/telephony/missedcall/recording/{calls["voicemail"].pk}/"' in page
    assert "Voicemail transcription" in page
    assert "Please call me back" in page


def test_the_settings_page_says_what_a_caller_hears_now(client, administrator):
    client.force_login(administrator)
    url = reverse("admin:telephony_telephonysettings_change", args=[TelephonySettings.load().pk])
    page = client.get(url).content.decode()
    assert "What a caller hears now" in page
    assert "no forward-to number is set" in page

    response = client.post(
        url,
        {
            "greeting": "Leave a message",
            "forward_to": "(212) 555-0100",
            "open_days": ["0", "1", "2", "3", "4"],
            "open_time": "09:00",
            "close_time": "17:30",
            "team_time_zone": "Europe/Paris",
            "sms_auto_reply": "",
            "transcript_retention_days": "",
            "record_retention_days": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    config = TelephonySettings.objects.get()
    assert (config.open_days, config.open_time, config.close_time) == (
        "0,1,2,3,4",
        time(9),
        time(17, 30),
    )
    assert (config.team_time_zone, config.forward_to) == ("Europe/Paris", "+12125550100")
    page = client.get(url).content.decode()
    # Open or closed at this moment, the sentence names the hours and the zone.
    assert "Mon, Tue, Wed, Thu, Fri, 09:00 to 17:30, Europe/Paris time" in page
    assert "no forward-to number is set" not in page
