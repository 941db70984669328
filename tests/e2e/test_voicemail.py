"""A voicemail plays on the customer's profile (through the authenticated recording proxy,
from a loopback server answering as Twilio's media URLs do), and the pages that show it.
Set SCREENSHOT_DIR to keep 1366 px and 390 px screenshots."""

import base64
import io
import math
import struct
import wave
from datetime import time, timedelta
from http.server import BaseHTTPRequestHandler

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import Customer
from telephony.models import Call, TelephonySettings
from tests.e2e.screens import at_both_widths
from tests.telephony.factories import call_sid
from tests.telephony.loopback import loopback_serve

pytestmark = [pytest.mark.e2e, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

ACCOUNT, TOKEN = "AC" + "2" * 32, "media-token"


def one_second_tone() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000)))
                for i in range(8000)
            )
        )
    return buffer.getvalue()


@pytest.fixture
def twilio_media(settings):
    audio = one_second_tone()
    expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "audio/x-wav")
            self.send_header("Content-Length", str(len(audio)))
            self.end_headers()
            self.wfile.write(audio)

        def log_message(self, *args) -> None:
            pass

    server = loopback_serve(Handler)
    base = f"http://127.0.0.1:{server.server_port}"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT, TOKEN
    settings.TWILIO_API_BASE_URL = base
    yield base
    server.shutdown()
    server.server_close()


def ana_left_a_voicemail(twilio_media: str) -> Customer:
    """Ana's voicemail (served by ``twilio_media``) and an unknown caller's missed call."""
    customer = Customer.objects.create(name="Ana García", email="ana@example.com")
    Call.objects.create(
        customer=customer,
        direction="inbound",
        from_number="+14045550142",
        to_number="+14045550100",
        external_id=call_sid(),
        started_at=timezone.now() - timedelta(minutes=20),
        status="completed",
        voicemail=True,
        recording_url=f"{twilio_media}/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE1.wav",
        recording_seconds=1,
        transcript="Hi, it's Ana. Please call me back about the delivery on Thursday.",
    )
    Call.objects.create(
        direction="inbound",
        from_number="+17705550199",
        external_id=call_sid(),
        started_at=timezone.now() - timedelta(hours=2),
        status="no-answer",
    )
    return customer


def test_an_agent_plays_a_voicemail_on_the_profile_and_marks_it_handled(
    browser, live_server, agent, administrator, twilio_media
):
    customer = ana_left_a_voicemail(twilio_media)

    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", agent.username)
    page.fill("#id_password", "pass-for-tests-1")
    page.click("input[type=submit]")

    page.goto(f"{live_server.url}/admin/crm/customer/{customer.pk}/change/")
    player = page.locator("#customer-timeline audio.sb-voicemail")
    expect(player).to_be_visible()
    expect(page.locator("#customer-timeline")).to_contain_text("Please call me back")
    played = page.evaluate(
        """async () => {
            const a = document.querySelector('#customer-timeline audio.sb-voicemail');
            a.muted = true;
            await a.play();
            await new Promise(r => a.addEventListener('ended', r, {once: true}));
            return {duration: a.duration, ended: a.ended, error: a.error && a.error.code};
        }"""
    )
    assert played["error"] is None
    assert played["ended"] is True
    assert 0.9 < played["duration"] < 1.1
    page.locator("#customer-timeline").scroll_into_view_if_needed()
    at_both_widths(page, "profile-voicemail")

    page.goto(f"{live_server.url}/admin/telephony/missedcall/")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    at_both_widths(page, "missed-calls")
    page.locator("#result_list tbody tr").filter(has_text="770").locator(
        "input.action-select"
    ).check()
    page.select_option("select[name=action]", "mark_handled")
    page.locator("button[name=index]").click()
    expect(page.locator(".messagelist")).to_contain_text("1 call marked handled")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    context.close()

    config = TelephonySettings.load()
    config.forward_to = "+14045550100"
    config.open_days, config.open_time, config.close_time = "0,1,2,3,4", time(9), time(17)
    config.team_time_zone = "America/New_York"
    config.save()
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", administrator.username)
    page.fill("#id_password", "pass-for-tests-1")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/telephony/telephonysettings/1/change/")
    expect(page.locator("#what-caller-hears")).to_contain_text("America/New_York")
    at_both_widths(page, "telephony-settings")
    context.close()
