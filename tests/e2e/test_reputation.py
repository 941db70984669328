import pytest
from playwright.sync_api import expect

from reputation import services
from reputation.models import ReputationSettings
from telephony.models import OwnedNumber

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_administrator_bulk_monitors_numbers_and_reads_each_carrier(
    page, live_server, login, administrator, settings
):
    settings.REPUTATION_PROVIDER = "reputation.providers.sandbox.SandboxReputationProvider"
    config = ReputationSettings.load()
    config.addon_enabled = True
    services.reputation_settings_save(config=config)
    for number, label in [
        ("+14155550100", "Sales 1"),
        ("+14155550101", "Sales 2"),
        ("+14155550666", "Sales 3"),  # the sandbox's demo SPAM number
        ("+14155550102", "New line"),
    ]:
        OwnedNumber.objects.create(number=number, label=label)

    login(administrator.username)
    page.goto(f"{live_server.url}/admin/telephony/ownednumber/")
    expect(page.locator("[data-figure=usage]")).to_have_text("0/15")
    expect(page.locator("td.field-reputation .sb-rep-none")).to_have_count(4)

    for label in ("Sales 1", "Sales 2", "Sales 3"):
        row = page.locator("#result_list tbody tr", has_text=label)
        row.locator("input.action-select").check()
    page.select_option("select[name=action]", "monitor_reputation")
    page.locator("button[name=index]").click()

    expect(page.locator(".messagelist")).to_contain_text("Monitoring 3 more number(s)")
    expect(page.locator("[data-figure=usage]")).to_have_text("3/15")
    expect(page.locator("[data-figure=clean]")).to_have_text("2")
    expect(page.locator("[data-figure=flagged]")).to_have_text("1")
    expect(page.locator(".sb-rep-safe .sb-rep-badge")).to_have_count(2)
    spam_row = page.locator("#result_list tbody tr", has_text="Sales 3")
    badge = spam_row.locator(".sb-rep-spam")
    expect(badge.locator(".sb-rep-badge")).to_have_text("SPAM")
    new_row = page.locator("#result_list tbody tr", has_text="New line")
    expect(new_row.locator(".sb-rep-none")).to_have_text("\u2013")  # unmonitored: a dash

    tip = badge.locator(".sb-rep-tip")
    expect(tip).not_to_be_visible()
    badge.hover()
    expect(tip).to_be_visible()
    for carrier in ("AT&T", "Verizon", "T-Mobile"):
        expect(tip.locator("tr", has_text=carrier)).to_contain_text("Spam Likely")
    expect(tip).to_contain_text("3 of 3 sources flag it")

    # The row menu's "Monitor reputation" adds the new number too.
    new_row.locator(".sb-row-menu summary").click()
    new_row.get_by_role("button", name="Monitor reputation").click()
    expect(page.locator("[data-figure=usage]")).to_have_text("4/15")
    expect(new_row.locator(".sb-rep-safe .sb-rep-badge")).to_have_text("SAFE")
