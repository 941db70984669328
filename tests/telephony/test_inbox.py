"""The inbox: conversations awaiting a reply, assignment, open/resolved; API and admin page
per role."""

import pytest

from crm import providers
from telephony import messaging, services
from telephony.models import Conversation
from tests.crm.factories import CustomerFactory
from tests.telephony.factories import message_sid

pytestmark = pytest.mark.django_db

OURS = "+18005550100"
INBOX = "/api/inbox/"
ADMIN_INBOX = "/admin/telephony/conversation/"


@pytest.fixture(autouse=True)
def offline_messaging(settings):
    settings.MESSAGING_PROVIDER = "telephony.providers.offline.OfflineMessagingProvider"
    providers.clear_providers()


def texted(number: str = "+14155550142", body: str = "Hello?"):
    recorded = services.message_record(
        external_id=message_sid(),
        direction="inbound",
        from_number=number,
        to_number=OURS,
        body=body,
    )
    return recorded.record.customer


def listed(api_client, user, **query) -> list[int]:
    api_client.force_authenticate(user)
    response = api_client.get(INBOX, query)
    assert response.status_code == 200, response.content
    return [item["customer"] for item in response.json()["results"]]


def test_an_inbound_text_waits_in_the_inbox_with_the_contract_fields(api_client, agent):
    customer = texted()
    api_client.force_authenticate(agent)

    (item,) = api_client.get(INBOX).json()["results"]

    assert {k: item[k] for k in ("customer", "assigned_to", "status")} == {
        "customer": customer.pk,
        "assigned_to": None,
        "status": "open",
    }
    assert item["last_message_at"]
    assert item["awaiting_reply"] is True


def test_a_reply_takes_it_out_of_the_default_list_and_a_new_text_brings_it_back(api_client, agent):
    customer = texted()
    messaging.message_send(customer=customer, body="On it", by=agent)

    assert listed(api_client, agent) == []
    assert listed(api_client, agent, status="open") == [customer.pk]

    texted(body="Thanks! One more thing")
    assert listed(api_client, agent) == [customer.pk]


def test_resolve_then_a_new_text_reopens(api_client, agent):
    customer = texted()
    api_client.force_authenticate(agent)

    response = api_client.post(f"{INBOX}{customer.pk}/resolve/")
    assert response.status_code == 200
    assert response.json()["status"] == "resolved"
    assert listed(api_client, agent) == []
    assert listed(api_client, agent, status="resolved") == [customer.pk]

    texted(body="Actually, not solved")
    conversation = Conversation.objects.get()
    assert (conversation.status, conversation.awaiting_reply) == ("open", True)


def test_assign_to_an_agent_and_filter_by_assignment(api_client, agent, make_user):
    mine, theirs = texted("+14155550142"), texted("+14155550143")
    other_agent = make_user("Agent", "other-agent")
    api_client.force_authenticate(agent)

    response = api_client.post(f"{INBOX}{mine.pk}/assign/", {"user": agent.pk}, format="json")
    assert response.status_code == 200
    assert response.json()["assigned_to"] == agent.pk
    api_client.post(f"{INBOX}{theirs.pk}/assign/", {"user": other_agent.pk}, format="json")

    assert listed(api_client, agent, assigned="me") == [mine.pk]
    assert listed(api_client, other_agent, assigned="me") == [theirs.pk]
    api_client.force_authenticate(agent)
    api_client.post(f"{INBOX}{theirs.pk}/assign/", {"user": None}, format="json")
    assert listed(api_client, agent, assigned="none") == [theirs.pk]


@pytest.mark.parametrize(
    "payload", [{"user": 999_999}, {"user": "abc"}, {"user": 0}, {}, {"user": [1]}]
)
def test_assigning_to_nobody_real_is_a_400(api_client, agent, payload):
    customer = texted()
    api_client.force_authenticate(agent)
    response = api_client.post(f"{INBOX}{customer.pk}/assign/", payload, format="json")
    assert response.status_code == 400
    assert Conversation.objects.get().assigned_to is None


def test_a_caller_cannot_be_given_a_conversation(api_client, agent, caller):
    customer = texted()
    api_client.force_authenticate(agent)
    response = api_client.post(f"{INBOX}{customer.pk}/assign/", {"user": caller.pk}, format="json")
    assert response.status_code == 400
    assert "cannot answer SMS" in response.json()["user"][0]


def test_bad_filters_are_a_400(api_client, agent):
    api_client.force_authenticate(agent)
    assert api_client.get(INBOX, {"assigned": "everyone"}).status_code == 400
    assert api_client.get(INBOX, {"status": "closed"}).status_code == 400


def test_a_customer_without_a_conversation_is_a_404(api_client, agent):
    customer = CustomerFactory()
    api_client.force_authenticate(agent)
    assert api_client.post(f"{INBOX}{customer.pk}/resolve/").status_code == 404


def test_a_merged_away_profile_leaves_the_inbox(api_client, agent):
    customer = texted()
    customer.merged_into = CustomerFactory()
    customer.save()
    assert listed(api_client, agent) == []


@pytest.mark.parametrize(
    ("role", "allowed"), [("Administrator", True), ("Agent", True), ("Caller", False)]
)
def test_the_inbox_api_per_role(api_client, make_user, role, allowed):
    customer = texted()
    user = make_user(role)
    api_client.force_authenticate(user)
    expected = 200 if allowed else 403
    assert api_client.get(INBOX).status_code == expected
    assert api_client.post(f"{INBOX}{customer.pk}/resolve/").status_code == expected
    assert (
        api_client.post(f"{INBOX}{customer.pk}/assign/", {"user": None}, format="json").status_code
        == expected
    )


def test_the_inbox_page_lists_awaiting_conversations_and_works_them(client, agent):
    waiting = texted("+14155550142", "Where is my order?")
    answered = texted("+14155550143", "Thanks")
    messaging.message_send(customer=answered, body="You're welcome", by=agent)
    client.force_login(agent)

    page = client.get(ADMIN_INBOX)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Where is my order?" in html
    assert f"/admin/crm/customer/{waiting.pk}/change/" in html
    assert f"/admin/crm/customer/{answered.pk}/change/" not in html

    conversation = Conversation.objects.get(customer=waiting)
    client.post(ADMIN_INBOX, {"action": "assign_to_me", "_selected_action": [conversation.pk]})
    conversation.refresh_from_db()
    assert conversation.assigned_to == agent
    assert waiting.name in client.get(ADMIN_INBOX, {"assigned": "me"}).content.decode()

    client.post(ADMIN_INBOX, {"action": "resolve", "_selected_action": [conversation.pk]})
    conversation.refresh_from_db()
    assert conversation.status == "resolved"
    resolved = client.get(ADMIN_INBOX, {"state": "resolved"}).content.decode()
    assert f"/admin/crm/customer/{waiting.pk}/change/" in resolved


def test_assign_to_the_agent_chosen_on_the_page(client, administrator, agent):
    customer = texted()
    conversation = Conversation.objects.get(customer=customer)
    client.force_login(administrator)
    client.post(
        ADMIN_INBOX,
        {"action": "assign_to_chosen", "user": agent.pk, "_selected_action": [conversation.pk]},
    )
    conversation.refresh_from_db()
    assert conversation.assigned_to == agent


def test_a_caller_cannot_reach_the_inbox_page(client, caller):
    texted()
    client.force_login(caller)
    response = client.get(ADMIN_INBOX)
    assert response.status_code in (302, 403)
    assert "Hello?" not in response.content.decode()


def test_the_admin_home_counts_texts_awaiting_a_reply(client, agent):
    customer = texted()
    client.force_login(agent)
    html = client.get("/admin/").content.decode()
    section = html[html.index('id="dashboard-telephony-inbox"') :]
    assert "awaiting a reply" in section
    assert f"/admin/crm/customer/{customer.pk}/change/#customer-reply" in section
