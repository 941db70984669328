"""The do-not-call admin with a file import and its receipt, the statistics page and the
workspace's do-not-call badge, in Chromium at 390 and 1366 px (screenshots when
SCREENSHOT_DIR is set)."""

import pytest
from playwright.sync_api import expect

from campaigns import dnc
from campaigns.models import CallAttempt, Campaign, DoNotCallImport, DoNotCallNumber
from crm.models import StaffProfile
from telephony.models import OwnedNumber
from tests.campaigns.dialing_helpers import lead
from tests.e2e.screens import shot

pytestmark = [pytest.mark.e2e, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [390, 1366])
def test_dnc_import_stats_and_workspace_badge(
    browser, live_server, administrator, caller, width, tmp_path
):
    campaign = Campaign.objects.create(name="Atlanta realtors")
    campaign.callers.add(caller)
    OwnedNumber.objects.create(number="+16785550100", label="Atlanta")
    StaffProfile.objects.create(user=caller, phone="+14045550199")
    ada = lead(campaign, "Ada Lovelace", number="+16785551001", mobile="+16785551009")
    CallAttempt.objects.create(campaign=campaign, contact=ada, caller=caller, number="+16785551001")
    context = browser.new_context(viewport={"width": width, "height": 844})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", administrator.username)
        page.fill("#id_password", "pass-for-tests-1")
        page.click("input[type=submit]")
        page.goto(f"{live_server.url}/admin/campaigns/donotcallnumber/")
        page.get_by_role("link", name="Import a file").click()
        upload = tmp_path / "registry.txt"
        upload.write_text("AreaCode,PhoneNumber\n678,5551009\n212,5550147\nnot a number\n")
        page.set_input_files("#id_file", str(upload))
        page.fill("#id_reason", "National registry")
        shot(page, f"dnc-import-{width}")
        page.click("input[type=submit][value=Import]")
        job = DoNotCallImport.objects.get()
        dnc.import_run(import_id=job.pk)  # the worker's part, here
        page.reload()
        expect(page.locator("[data-count=numbers_added]")).to_have_text("2")
        expect(page.locator("#dnc-rejections")).to_contain_text("not a number")
        shot(page, f"dnc-receipt-{width}")
        page.goto(f"{live_server.url}/admin/campaigns/donotcallnumber/")
        expect(page.locator("#result_list")).to_contain_text("+16785551009")
        shot(page, f"dnc-list-{width}")
        page.goto(f"{live_server.url}/admin/campaigns/campaign/statistics/")
        expect(page.locator("#stats-callers")).to_contain_text(caller.username)
        shot(page, f"stats-{width}")
        assert DoNotCallNumber.objects.count() == 2

        context.clear_cookies()
        page.goto(f"{live_server.url}/campaigns/")
        page.fill("#id_username", caller.username)
        page.fill("#id_password", "pass-for-tests-1")
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}/campaigns/{campaign.pk}/dial/")
        expect(page.locator(".next-lead")).to_contain_text("Ada Lovelace")
        expect(page.locator(".dnc-number")).to_contain_text("Do not call")
        expect(page.locator("#my-day")).to_contain_text("1 dial")
        shot(page, f"workspace-dnc-{width}")
    finally:
        context.close()
