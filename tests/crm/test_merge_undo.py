"""Merge by field, the merge record, and undoing a merge (Administrators, 30 days)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from crm import services
from crm.merges import customer_merge_undo
from crm.models import Customer, CustomerMerge, MatchSuggestion, PhoneNumber, PhoneNumberChange
from telephony.models import Call, Message
from tests.telephony.factories import CallFactory, MessageFactory

pytestmark = pytest.mark.django_db

SHARED = "+16785550101"  # Jane's Mobile, on Jane D.'s profile as Other
JANES_HOME = "+14045550142"
KEPTS_OWN = "+17705550100"


@pytest.fixture
def pair():
    kept = services.customer_create(
        name="Jane D.",
        email="",
        numbers=[
            services.NewNumber(SHARED, type=PhoneNumber.Type.OTHER),
            services.NewNumber(KEPTS_OWN, type=PhoneNumber.Type.OFFICE),
        ],
    )
    merged = services.customer_create(
        name="Jane Doe",
        email="jane@example.com",
        numbers=[
            services.NewNumber(SHARED, type=PhoneNumber.Type.MOBILE, sms=True),
            services.NewNumber(JANES_HOME, type=PhoneNumber.Type.HOME),
        ],
    )
    CallFactory(customer=kept, from_number=KEPTS_OWN)
    for _ in range(2):
        CallFactory(customer=merged, from_number=SHARED, transcript="Jane here")
    MessageFactory(customer=merged, from_number=SHARED)
    Customer.objects.filter(pk=kept.pk).update(interaction_count=1)
    Customer.objects.filter(pk=merged.pk).update(interaction_count=3)
    kept.refresh_from_db()
    merged.refresh_from_db()
    return kept, merged


def _numbers(customer):
    return {(str(p.number), p.type, p.sms) for p in PhoneNumber.objects.filter(customer=customer)}


def test_the_agent_picks_which_name_and_email_survive_and_the_record_keeps_both(pair, agent):
    kept, merged = pair
    record = services.customer_merge(
        keep=kept, merge=merged, actor=agent, fields={"name": "merged", "email": "merged"}
    )
    kept.refresh_from_db()
    assert (kept.name, kept.email) == ("Jane Doe", "jane@example.com")
    record.refresh_from_db()
    assert record.values["kept"]["name"] == "Jane D."
    assert record.values["merged"]["name"] == "Jane Doe"
    assert record.values["merged"]["email"] == "jane@example.com"
    assert record.values["taken"] == {"name": "merged", "email": "merged"}


def test_unsaid_fields_keep_the_kept_value_unless_it_is_empty(pair, agent):
    kept, merged = pair
    services.customer_merge(keep=kept, merge=merged, actor=agent, fields={"name": "kept"})
    kept.refresh_from_db()
    assert (kept.name, kept.email) == ("Jane D.", "jane@example.com")


@pytest.mark.parametrize("fields", [{"phone": "kept"}, {"name": "both"}])
def test_a_bad_field_choice_is_refused_and_nothing_moves(pair, agent, fields):
    kept, merged = pair
    with pytest.raises(ValidationError, match="Choose 'kept' or 'merged'"):
        services.customer_merge(keep=kept, merge=merged, actor=agent, fields=fields)
    assert not CustomerMerge.objects.exists()


def test_undo_gives_back_numbers_calls_messages_names_and_counters(pair, agent, administrator):
    kept, merged = pair
    before_kept, before_merged = _numbers(kept), _numbers(merged)
    low, high = sorted([kept.pk, merged.pk])
    MatchSuggestion.objects.create(
        customer_id=low, other_id=high, reason="shared_number", detail=SHARED
    )
    record = services.customer_merge(
        keep=kept, merge=merged, actor=agent, fields={"name": "merged"}
    )
    assert _numbers(kept) == {
        (SHARED, "mobile", True),
        (KEPTS_OWN, "office", False),
        (JANES_HOME, "home", False),
    }
    # Something reaches the kept profile after the merge: it stays there.
    later = CallFactory(customer=kept, from_number=SHARED)

    back = customer_merge_undo(record=record, actor=administrator)

    kept.refresh_from_db()
    merged.refresh_from_db()
    assert merged.merged_into_id is None
    assert _numbers(kept) == before_kept
    assert _numbers(merged) == before_merged
    assert set(Call.objects.filter(customer=merged).values_list("transcript", flat=True)) == {
        "Jane here"
    }
    assert Call.objects.filter(customer=merged).count() == 2
    assert Message.objects.get().customer_id == merged.pk
    assert Call.objects.get(pk=later.pk).customer_id == kept.pk
    assert (kept.name, kept.email) == ("Jane D.", "")
    assert (merged.name, merged.email) == ("Jane Doe", "jane@example.com")
    assert (kept.interaction_count, merged.interaction_count) == (1, 3)
    assert back["calls"] == 2
    assert back["messages"] == 1
    record.refresh_from_db()
    assert (record.undone_by, record.undone_at is not None) == (administrator, True)
    # Audited like any change to numbers, and the pair is a possible match again.
    causes = set(PhoneNumberChange.objects.values_list("cause", flat=True))
    assert f"merge #{record.pk} undone" in causes
    assert MatchSuggestion.objects.get().status == MatchSuggestion.Status.OPEN


def test_a_merge_is_undone_once_and_only_for_30_days(pair, agent, administrator):
    kept, merged = pair
    record = services.customer_merge(keep=kept, merge=merged, actor=agent)
    CustomerMerge.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - timedelta(days=30, minutes=1)
    )
    with pytest.raises(ValidationError, match="30 days"):
        customer_merge_undo(record=record, actor=administrator)
    CustomerMerge.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - timedelta(days=29, hours=23)
    )
    customer_merge_undo(record=record, actor=administrator)
    with pytest.raises(ValidationError, match="already undone"):
        customer_merge_undo(record=record, actor=administrator)


def test_a_merge_whose_kept_profile_was_merged_on_is_undone_after_that_one(
    pair, agent, administrator
):
    kept, merged = pair
    first = services.customer_merge(keep=kept, merge=merged, actor=agent)
    third = Customer.objects.create(name="Third")
    second = services.customer_merge(keep=third, merge=kept, actor=agent)
    with pytest.raises(ValidationError, match="undo that merge first"):
        customer_merge_undo(record=first, actor=administrator)
    customer_merge_undo(record=second, actor=administrator)
    customer_merge_undo(record=first, actor=administrator)
    assert _numbers(merged) == {(SHARED, "mobile", True), (JANES_HOME, "home", False)}


# --- roles: Agents merge, only Administrators undo ----------------------------------------


def _suggestion(kept, merged):
    low, high = sorted([kept, merged], key=lambda p: p.pk)
    return MatchSuggestion.objects.create(
        customer=low, other=high, reason="shared_number", detail=SHARED
    )


def test_the_merge_page_shows_both_profiles_side_by_side_with_a_choice_per_field(
    client, pair, agent
):
    kept, merged = pair
    suggestion = _suggestion(kept, merged)
    client.force_login(agent)
    page = client.get(reverse("admin:crm_matchsuggestion_merge", args=[suggestion.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    for profile in (kept, merged):
        assert f'name="name_from" value="{profile.pk}"' in text
        assert f'name="email_from" value="{profile.pk}"' in text
    assert "Jane D." in text
    assert "jane@example.com" in text


def test_an_agent_merges_by_field_in_the_admin(client, pair, agent):
    kept, merged = pair
    suggestion = _suggestion(kept, merged)
    client.force_login(agent)
    response = client.post(
        reverse("admin:crm_matchsuggestion_merge", args=[suggestion.pk]),
        {"keep": kept.pk, "name_from": merged.pk, "email_from": merged.pk, "action": "merge"},
    )
    assert response.status_code == 302
    kept.refresh_from_db()
    assert (kept.name, kept.email) == ("Jane Doe", "jane@example.com")
    assert CustomerMerge.objects.get().values["taken"] == {"name": "merged", "email": "merged"}


def test_an_agent_merges_by_field_through_the_api(api_client, pair, agent):
    kept, merged = pair
    api_client.force_authenticate(agent)
    response = api_client.post(
        f"/api/customers/{merged.pk}/merge/",
        {"into": kept.pk, "name": "merged"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["customer"]["name"] == "Jane Doe"
    assert body["values"]["kept"]["name"] == "Jane D."
    assert body["undone_at"] is None
    bad = api_client.post(
        f"/api/customers/{kept.pk}/merge/", {"into": merged.pk, "name": "x"}, format="json"
    )
    assert bad.status_code == 400


def test_agents_and_callers_cannot_undo(client, api_client, pair, agent, caller):
    kept, merged = pair
    record = services.customer_merge(keep=kept, merge=merged, actor=agent)
    url = reverse("admin:crm_customermerge_undo", args=[record.pk])
    client.force_login(agent)
    listing = client.get(reverse("admin:crm_customermerge_changelist"))
    assert listing.status_code == 200
    assert url not in listing.content.decode()
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    for user in (agent, caller):
        api_client.force_authenticate(user)
        assert api_client.post(f"/api/merges/{record.pk}/undo/").status_code == 403
    record.refresh_from_db()
    assert record.undone_at is None


def test_an_administrator_undoes_in_the_admin(client, pair, agent, administrator):
    kept, merged = pair
    record = services.customer_merge(keep=kept, merge=merged, actor=agent)
    url = reverse("admin:crm_customermerge_undo", args=[record.pk])
    client.force_login(administrator)
    assert url in client.get(reverse("admin:crm_customermerge_changelist")).content.decode()
    page = client.get(url)
    assert page.status_code == 200
    assert "Undo this merge" in page.content.decode()
    response = client.post(url)
    assert response.status_code == 302
    merged.refresh_from_db()
    assert merged.merged_into_id is None
    assert client.get(url).status_code == 200  # says it was undone, no button
    assert "already undone" in client.get(url).content.decode()


def test_an_administrator_undoes_through_the_api_and_a_refusal_is_409(
    api_client, pair, agent, administrator
):
    kept, merged = pair
    record = services.customer_merge(keep=kept, merge=merged, actor=agent)
    api_client.force_authenticate(administrator)
    response = api_client.post(f"/api/merges/{record.pk}/undo/")
    assert response.status_code == 200, response.content
    assert response.json()["back"]["calls"] == 2
    assert response.json()["merge"]["undone_at"]
    again = api_client.post(f"/api/merges/{record.pk}/undo/")
    assert again.status_code == 409
    assert "already undone" in again.json()["detail"]
    assert api_client.get(f"/api/merges/{record.pk}/").json()["id"] == record.pk
