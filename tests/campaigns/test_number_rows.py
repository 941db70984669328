"""A customer's numbers found in every campaign: the customer page, the number view and
erasure read them through campaigns.selectors.campaign_phones_numbered."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import selectors
from campaigns.models import Campaign
from tests.campaigns.dialing_helpers import lead

pytestmark = pytest.mark.django_db


def test_a_number_is_found_in_every_campaign_and_only_that_number():
    first, second, other = (Campaign.objects.create(name=n) for n in ("A", "B", "C"))
    ann = lead(first, "Ann Lee", number="+16785551001")
    bob = lead(second, "Bob Ray", number="+16785551002", mobile="+16785551001")
    lead(other, "Cy Low", number="+16785559999")

    rows = selectors.campaign_phones_numbered(["+16785551001", "+16785551001"])

    assert sorted((p.campaign_id, p.number) for p in rows) == [
        (first.pk, "+16785551001"),
        (second.pk, "+16785551001"),
    ]
    assert {p.pk for p in rows} == {ann.phone_id, bob.mobile_id}
    leads = selectors.customer_leads(numbers=["+16785551001"])
    assert {c.pk for c in leads} == {ann.pk, bob.pk}
    found, more = selectors.number_leads(e164="+16785551001")
    assert {(n.contact.pk, n.column) for n in found} == {(ann.pk, "phone"), (bob.pk, "mobile")}
    assert not more


def test_no_numbers_asks_nothing():
    with CaptureQueriesContext(connection) as queries:
        assert selectors.campaign_phones_numbered([]) == []
    assert len(queries) == 0
