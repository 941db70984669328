"""The admin home's "Phone reputation" section, and the Phone numbers list it links to."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from reputation import services
from reputation.models import MonitoredNumber
from tests.reputation.fakes import ScriptedReputation, results

pytestmark = pytest.mark.django_db


def section_of(page: str) -> str:
    start = page.index('id="dashboard-reputation"')
    return page[start : page.index("</section>", start)]


def test_the_home_page_shows_usage_flags_and_risk_with_links(administrator, addon, owned):
    clean, flagged, old_flag, risky = owned(), owned(label="Spam line"), owned(), owned()
    ScriptedReputation.answers = {
        str(flagged.number): results(True, True, False),
        str(old_flag.number): results(True, True, True),
    }
    services.numbers_monitor(
        owned_number_ids=[clean.pk, flagged.pk, old_flag.pk, risky.pk], by=None
    )
    # One flag from three days ago (not "in 24 hrs"), one number at risk from its calls.
    MonitoredNumber.objects.filter(owned_number=old_flag).update(
        flagged_at=timezone.now() - timedelta(days=3)
    )
    MonitoredNumber.objects.filter(owned_number=risky).update(at_risk=True)
    client = Client()
    client.force_login(administrator)

    home = section_of(client.get("/admin/").text)
    assert "<strong>4/15</strong><span>monitoring slots used</span>" in home
    assert '?reputation=spam"><strong>2</strong><span>flagged now' in home
    assert '?reputation=flagged_24h"><strong>1</strong><span>flagged in past 24 hrs' in home
    assert '?reputation=at_risk"><strong>1</strong><span>at risk' in home
    assert "Spam line" in home
    assert "SPAM: 2 of 3 carriers" in home

    def listed(reputation: str) -> set[int]:
        response = client.get(f"/admin/telephony/ownednumber/?reputation={reputation}")
        assert response.status_code == 200
        return {n.pk for n in response.context["cl"].result_list}

    assert listed("monitored") == {clean.pk, flagged.pk, old_flag.pk, risky.pk}
    assert listed("spam") == {flagged.pk, old_flag.pk}
    assert listed("flagged_24h") == {flagged.pk}
    assert listed("at_risk") == {risky.pk}
    assert listed("safe") == {clean.pk, risky.pk}


def test_a_released_number_leaves_the_figures_and_the_filter(administrator, addon, owned):
    kept, released = owned(), owned()
    ScriptedReputation.default = (True, True, True)
    services.numbers_monitor(owned_number_ids=[kept.pk, released.pk], by=None)
    released.status = released.Status.RELEASED
    released.save()
    client = Client()
    client.force_login(administrator)
    home = section_of(client.get("/admin/").text)
    assert '?reputation=spam"><strong>1</strong>' in home
    # Its slot stays used this cycle (docs/reputation.md, "Slots").
    assert "<strong>2/15</strong>" in home
    page = client.get("/admin/telephony/ownednumber/?reputation=spam")
    assert [n.pk for n in page.context["cl"].result_list] == [kept.pk]


def test_with_the_addon_off_the_section_links_to_the_addon_page(administrator):
    client = Client()
    client.force_login(administrator)
    home = section_of(client.get("/admin/").text)
    assert "Advanced Phone Reputation is off" in home
    assert 'href="/admin/reputation/reputationsettings/"' in home
    assert "monitoring slots" not in home


@pytest.mark.parametrize("role", ["agent"])
def test_other_staff_do_not_see_the_section(request, role, addon):
    client = Client()
    client.force_login(request.getfixturevalue(role))
    page = client.get("/admin/").text
    assert "Today" in page  # the home page itself, with the sections this role may see
    assert 'id="dashboard-reputation"' not in page


def test_the_row_menu_sits_beside_the_number(administrator, addon, owned):
    owned()
    client = Client()
    client.force_login(administrator)
    page = client.get("/admin/telephony/ownednumber/").text
    columns = ("number_display", "row_menu", "label", "reputation")
    headers = [f"column-{name}" for name in columns if f"column-{name}" in page]
    assert len(headers) == 4
    assert sorted(headers, key=page.index) == headers


def test_since_when_a_number_is_flagged_is_in_the_readers_zone_naming_it(
    administrator, addon, owned, monkeypatch
):
    from datetime import UTC, datetime

    from telephony import middleware

    flagged = owned(label="Spam line")
    ScriptedReputation.default = (True, True, True)
    services.numbers_monitor(owned_number_ids=[flagged.pk], by=None)
    # Mon 7 Dec 2026, 19:05 UTC: 04:05 on Tuesday in Tokyo.
    MonitoredNumber.objects.filter(owned_number=flagged).update(
        flagged_at=datetime(2026, 12, 7, 19, 5, tzinfo=UTC)
    )
    monkeypatch.setattr(middleware, "staff_time_zone", lambda user_id: "Asia/Tokyo")
    client = Client()
    client.force_login(administrator)
    home = section_of(client.get("/admin/").text)
    assert "since Dec 8, 2026, 04:05 JST" in home
