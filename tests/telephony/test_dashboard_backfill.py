"""The admin home's identification backfill section (telephony/dashboard.py)."""

from decimal import Decimal

import pytest

from telephony.models import BackfillRun
from tests.telephony.factories import ledger_rows

pytestmark = pytest.mark.django_db

ORCHESTRATION = 'href="/admin/telephony/orchestrationsettings/"'


def run(**fields) -> BackfillRun:
    defaults = {
        "trigger": "switched_on",
        "price": Decimal("0.008"),
        "planned_numbers": 200,
        "planned_cost": Decimal("1.6"),
        "numbers_done": 50,
        "turned_mobile": 30,
        "spent": Decimal("0.4"),
    }
    created = BackfillRun.objects.create(**{**defaults, **fields})
    ledger_rows(created, 50)  # what it spent, as the ledger has it: 50 x $0.008
    return created


def section(client) -> str | None:
    page = client.get("/admin/").content.decode()
    if 'id="dashboard-telephony-backfill"' not in page:
        return None
    start = page.index('id="dashboard-telephony-backfill"')
    return page[start : page.index("</section>", start)]


def test_a_running_backfill_shows_its_progress_and_links_to_orchestration(client, administrator):
    running = run()
    client.force_login(administrator)
    shown = section(client)
    assert shown is not None
    assert "<strong>50/200</strong><span>numbers done" in shown
    assert "<strong>30</strong><span>turned Mobile" in shown
    assert "<strong>$0.40</strong><span>spent" in shown
    assert ORCHESTRATION in shown
    assert f"Backfill #{running.pk}: Running" in shown
    assert "25% done, about" in shown


def test_a_paused_backfill_says_why_until_it_goes_on(client, administrator):
    run(status="completed", numbers_done=200)
    run(status="paused", numbers_done=120, message="The monthly cap of $1.00 is reached.")
    client.force_login(administrator)
    shown = section(client)
    assert shown is not None
    assert "<strong>120/200</strong>" in shown
    assert "Paused: monthly cap reached" in shown
    assert "The monthly cap of $1.00 is reached." in shown
    assert "left" not in shown  # no time left while it waits


@pytest.mark.parametrize("status", ["completed", "stopped"])
def test_a_finished_or_switched_off_backfill_is_not_shown(client, administrator, status):
    run(status=status)
    client.force_login(administrator)
    assert section(client) is None


def test_without_a_backfill_nothing_is_shown(client, administrator):
    client.force_login(administrator)
    assert section(client) is None


def test_agents_do_not_see_the_backfill(client, agent):
    run()
    client.force_login(agent)
    assert section(client) is None
