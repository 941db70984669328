"""The caller workspace's searches on whichever database serves them (SQLite included)."""

import pytest

from campaigns import selectors

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("term", "names"),
    [
        ("jane", {"Jane Doe"}),
        ("Doe Realty", {"Jane Doe"}),
        ("kw", {"John R. Smith"}),
        ("jane.doe@example.com", {"Jane Doe"}),
        ("(832) 723-4097", {"Jane Doe", "Mark Doe"}),
        ("nobody", set()),
    ],
)
def test_the_workspace_search_finds_by_name_company_email_and_number(seeded, term, names):
    contacts = selectors.campaign_contacts(campaign=seeded, search=term)
    assert {c.name for c in contacts} == names


def test_the_workspace_page_searches(client, administrator, seeded):
    client.force_login(administrator)
    response = client.get(f"/campaigns/{seeded.pk}/", {"q": "Doe"})
    assert response.status_code == 200
    assert "Jane" in response.content.decode()
