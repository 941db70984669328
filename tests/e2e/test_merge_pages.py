"""Merging by field and undoing a merge, in a real browser (Agent merges, Administrator
undoes). Set SCREENSHOT_DIR to keep 1366 px and 390 px screenshots of each page."""

import pytest
from playwright.sync_api import expect

from crm import services
from crm.models import Customer, CustomerMerge, MatchSuggestion, PhoneNumber
from tests.e2e.screens import at_both_widths
from tests.telephony.factories import CallFactory

pytestmark = [pytest.mark.e2e, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def test_an_agent_merges_by_field_and_an_administrator_undoes_it(
    browser, live_server, agent, administrator
):
    kept = services.customer_create(
        name="Jane D.",
        numbers=[services.NewNumber("+16785550101", type=PhoneNumber.Type.OTHER)],
    )
    merged = services.customer_create(
        name="Jane Doe",
        email="jane.doe@example.com",
        numbers=[
            services.NewNumber("+16785550101", type=PhoneNumber.Type.MOBILE, sms=True),
            services.NewNumber("+14045550142", type=PhoneNumber.Type.HOME),
        ],
    )
    CallFactory(customer=merged, from_number="+16785550101")
    services.match_suggestions_refresh()
    suggestion = MatchSuggestion.objects.get()

    for user, steps in ((agent, "merge"), (administrator, "undo")):
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "pass-for-tests-1")
        page.click("input[type=submit]")
        if steps == "merge":
            page.goto(f"{live_server.url}/admin/crm/matchsuggestion/{suggestion.pk}/merge/")
            page.locator(f'input[name="keep"][value="{kept.pk}"]').check()
            page.locator(f'input[name="name_from"][value="{merged.pk}"]').check()
            expect(page.locator(f'input[name="email_from"][value="{merged.pk}"]')).to_be_checked()
            at_both_widths(page, "merge-by-field")
            page.get_by_role("button", name="Merge into the chosen profile").click()
            expect(page.locator(".messagelist")).to_contain_text("Merged Jane Doe into Jane Doe")
        else:
            page.goto(f"{live_server.url}/admin/crm/customermerge/")
            page.get_by_role("link", name="Undo…").click()
            expect(page.get_by_role("button", name="Undo this merge")).to_be_visible()
            at_both_widths(page, "merge-undo")
            page.get_by_role("button", name="Undo this merge").click()
            expect(page.locator(".messagelist")).to_contain_text("Merge undone")
        context.close()

    record = CustomerMerge.objects.get()
    assert record.merged_by == agent
    assert record.undone_by == administrator
    assert Customer.objects.get(pk=merged.pk).merged_into_id is None
    assert Customer.objects.get(pk=kept.pk).name == "Jane D."
