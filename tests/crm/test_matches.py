import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from crm import services
from crm.models import Customer, CustomerMerge, MatchSuggestion, PhoneNumber, PhoneNumberChange
from tests.crm.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _add(customer, number, type_="other", sms=False):
    return services.phone_number_add(customer=customer, number=number, type=type_, sms=sms)


def test_profiles_sharing_a_number_or_an_email_are_suggested_once_with_the_reason():
    a, b = CustomerFactory(email="jane@example.com"), CustomerFactory(email="JANE@example.com")
    c, d = CustomerFactory(), CustomerFactory()
    _add(c, "678 999 8212", "mobile")
    _add(d, "678 999 8212", "home")
    assert services.match_suggestions_refresh() == 2
    assert services.match_suggestions_refresh() == 0
    by_reason = {s.reason: s for s in MatchSuggestion.objects.all()}
    assert (by_reason["shared_email"].customer, by_reason["shared_email"].other) == (a, b)
    assert by_reason["shared_email"].detail == "jane@example.com"
    assert (by_reason["shared_number"].customer, by_reason["shared_number"].other) == (c, d)
    assert by_reason["shared_number"].detail == "+16789998212"


def test_a_switchboard_number_on_many_profiles_suggests_nothing():
    for customer in CustomerFactory.create_batch(services.MATCH_MAX_HOLDERS + 1):
        _add(customer, "212 761 2846", "office")
    assert services.match_suggestions_refresh() == 0


def test_a_dismissed_pair_is_never_suggested_again(agent):
    a, b = CustomerFactory(), CustomerFactory()
    _add(a, "404 555 0142", "other")
    _add(b, "404 555 0142", "home")
    services.match_suggestions_refresh()
    services.match_suggestion_dismiss(suggestion=MatchSuggestion.objects.get(), actor=agent)
    assert services.match_suggestions_refresh() == 0
    assert MatchSuggestion.objects.get().status == "dismissed"


def test_refresh_scoped_to_some_customers_only_looks_at_their_numbers():
    a, b, c, d = CustomerFactory.create_batch(4)
    _add(a, "404 555 0142")
    _add(b, "404 555 0142")
    _add(c, "404 555 0177")
    _add(d, "404 555 0177")
    assert services.match_suggestions_refresh(customer_ids=[a.pk]) == 1
    assert MatchSuggestion.objects.get().detail == "+14045550142"


def test_merge_moves_numbers_and_history_keeps_the_mobile_rule_and_logs(agent):
    keep = CustomerFactory(name="Jane Doe", email="", interaction_count=2)
    merge = CustomerFactory(name="J. Doe", email="jane@example.com", interaction_count=3)
    shared_keep = _add(keep, "678 999 8212", "other")
    _add(merge, "678 999 8212", "mobile", sms=True)
    _add(merge, "404 555 0142", "home")
    earlier = CustomerFactory(name="Older duplicate")
    services.customer_merge(keep=merge, merge=earlier)
    services.match_suggestions_refresh()

    log = services.customer_merge(keep=keep, merge=merge, actor=agent)

    keep.refresh_from_db()
    merge.refresh_from_db()
    assert merge.merged_into == keep
    assert (keep.email, keep.interaction_count) == ("jane@example.com", 5)
    numbers = {str(p.number): (p.type, p.sms) for p in keep.phone_numbers.all()}
    assert numbers == {"+16789998212": ("mobile", True), "+14045550142": ("home", False)}
    assert PhoneNumber.objects.filter(number="+16789998212").count() == 1
    shared_keep.refresh_from_db()
    assert shared_keep.type == "mobile"
    assert log.moved["phone numbers"] == 2
    assert CustomerMerge.objects.filter(merged=merge).get() == log
    assert MatchSuggestion.objects.get().status == "merged"
    causes = set(PhoneNumberChange.objects.filter(customer=keep).values_list("cause", flat=True))
    assert f"merged from customer #{merge.pk}" in causes
    # History follows the person, and older merges now point at the kept profile.
    assert not PhoneNumberChange.objects.filter(customer=merge).exists()
    assert PhoneNumberChange.objects.filter(customer=keep, action="added").count() == 3
    earlier.refresh_from_db()
    assert earlier.merged_into == keep


def test_merge_refuses_self_and_already_merged_profiles():
    a, b, c = CustomerFactory.create_batch(3)
    with pytest.raises(ValidationError, match="into itself"):
        services.customer_merge(keep=a, merge=a)
    services.customer_merge(keep=a, merge=b)
    with pytest.raises(ValidationError, match="already merged"):
        services.customer_merge(keep=c, merge=b)


def test_merged_profiles_are_hidden_but_kept(client, agent):
    keep, merge = CustomerFactory(name="Kept"), CustomerFactory(name="Gone")
    services.customer_merge(keep=keep, merge=merge)
    assert Customer.objects.filter(pk=merge.pk).exists()
    client.force_login(agent)
    names = [c.name for c in client.get("/admin/crm/customer/").context["cl"].result_list]
    assert names == ["Kept"]


def test_agent_reviews_a_suggestion_and_merges_in_the_admin(client, agent):
    a, b = CustomerFactory(name="Ana"), CustomerFactory(name="Ana G.")
    _add(a, "404 555 0142", "other")
    _add(b, "404 555 0142", "home")
    services.match_suggestions_refresh()
    suggestion = MatchSuggestion.objects.get()
    client.force_login(agent)
    url = reverse("admin:crm_matchsuggestion_merge", args=[suggestion.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "(404) 555-0142" in page.content.decode()
    response = client.post(url, {"keep": str(b.pk), "action": "merge"})
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.merged_into == b


def test_agent_dismisses_in_the_admin(client, agent):
    CustomerFactory.create_batch(2, email="x@example.com")
    services.match_suggestions_refresh()
    suggestion = MatchSuggestion.objects.get()
    client.force_login(agent)
    url = reverse("admin:crm_matchsuggestion_merge", args=[suggestion.pk])
    client.post(url, {"action": "dismiss"})
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.resolved_by) == ("dismissed", agent)


@pytest.mark.parametrize(
    ("role", "status"), [("Administrator", 200), ("Agent", 200), ("Caller", 302)]
)
def test_merge_page_per_role(client, make_user, role, status):
    CustomerFactory(email="x@example.com")
    CustomerFactory(email="x@example.com")
    services.match_suggestions_refresh()
    client.force_login(make_user(role))
    url = reverse("admin:crm_matchsuggestion_merge", args=[MatchSuggestion.objects.get().pk])
    assert client.get(url).status_code == status


def test_the_customer_page_lists_possible_matches(client, agent):
    a, b = CustomerFactory(name="Ana"), CustomerFactory(name="Ana G.")
    _add(a, "404 555 0142", "other")
    _add(b, "404 555 0142", "home")
    services.match_suggestions_refresh()
    client.force_login(agent)
    body = client.get(reverse("admin:crm_customer_change", args=[a.pk])).content.decode()
    assert "Ana G." in body
    assert "share a phone number" in body


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_agents_merging_the_same_pair_at_once_merge_it_once(on_postgresql):
    a, b = Customer.objects.create(name="A"), Customer.objects.create(name="B")
    barrier = threading.Barrier(2)
    outcomes = []

    def merge(keep, gone):
        try:
            barrier.wait()
            services.customer_merge(keep=keep, merge=gone)
            outcomes.append("merged")
        except ValidationError as exc:
            outcomes.append(" ".join(exc.messages))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=merge, args=(a, b)),
        threading.Thread(target=merge, args=(b, a)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes)[0].startswith("One of these profiles was already merged")
    assert outcomes.count("merged") == 1
    assert CustomerMerge.objects.count() == 1
    assert Customer.objects.filter(merged_into__isnull=True).count() == 1


@pytest.mark.parametrize(
    ("first", "second", "suggested"),
    [
        ("home", "home", False),
        ("office", "office", False),
        ("home", "office", True),
        ("other", "home", True),
        ("mobile", "other", True),
    ],
)
def test_a_shared_household_or_office_line_alone_is_no_match(first, second, suggested):
    a, b = CustomerFactory(), CustomerFactory()
    _add(a, "404 555 0142", first)
    _add(b, "404 555 0142", second)
    assert services.match_suggestions_refresh() == int(suggested)
