"""The admin home's reputation section ("since ...") and the calling statistics' hours are
read in the reader's zone and name it (docs/voice.md, "Time zones"), at 1366 and 390 px.
Set SCREENSHOT_DIR to keep the screenshots."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import CallAttempt, Campaign, Outcome
from crm.staff import staff_profile_save
from reputation import services
from reputation.models import MonitoredNumber, ReputationSettings
from telephony.models import OwnedNumber
from tests.campaigns.dialing_helpers import lead
from tests.e2e.screens import at_both_widths

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def flagged_number(settings):
    from crm import providers
    from tests.reputation.fakes import ScriptedReputation

    settings.REPUTATION_PROVIDER = "tests.reputation.fakes.ScriptedReputation"
    ScriptedReputation.reset()
    ScriptedReputation.default = (True, True, False)
    providers.clear_providers()
    config = ReputationSettings.load()
    config.addon_enabled = True
    services.reputation_settings_save(config=config)
    number = OwnedNumber.objects.create(number="+14155550177", label="Spam line")
    services.numbers_monitor(owned_number_ids=[number.pk], by=None)
    # Mon 7 Dec 2026, 19:05 UTC: 04:05 on Tuesday in Tokyo.
    MonitoredNumber.objects.update(flagged_at=datetime(2026, 12, 7, 19, 5, tzinfo=UTC))
    yield number
    providers.clear_providers()


def test_reputation_since_and_stats_hours_name_the_readers_zone(
    page, live_server, login, administrator, flagged_number
):
    staff_profile_save(user=administrator, phone="", time_zone="Asia/Tokyo")
    campaign = Campaign.objects.create(name="Realtors")
    outcome = Outcome.objects.create(campaign=campaign, name="Interested", kind="final")
    ada = lead(campaign, "Ada Lovelace", number="+16785551001")
    attempt = CallAttempt.objects.create(
        campaign=campaign,
        contact=ada,
        caller=administrator,
        number="+16785551001",
        outcome=outcome,
    )
    login(administrator.username)

    page.goto(f"{live_server.url}/admin/")
    section = page.locator("#dashboard-reputation")
    expect(section).to_contain_text("since Dec 8, 2026, 04:05 JST")
    at_both_widths(page, "home-reputation-since")

    page.goto(f"{live_server.url}/admin/campaigns/campaign/statistics/?days=1")
    hour = timezone.localtime(attempt.created_at, timezone=ZoneInfo("Asia/Tokyo"))
    expect(page.locator("#stats-hours")).to_contain_text(f"{hour:%H}:00 JST")
    at_both_widths(page, "calling-statistics-hours")
