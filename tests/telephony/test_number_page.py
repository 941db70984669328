"""The number view is an admin page of its own, not a URL hung on another model's admin."""

import pytest
from django.urls import resolve, reverse

from crm.admin_extensions import number_links
from telephony.admin_numbers import number_page, number_view_url

pytestmark = pytest.mark.django_db

NUMBER = "+14045550001"


def test_the_number_view_lives_at_its_own_address_and_every_link_points_there():
    url = reverse("admin:telephony_number", args=[NUMBER])
    assert url == f"/admin/telephony/number/{NUMBER}/"
    assert resolve(url).func.__wrapped__ is number_page
    assert number_view_url(NUMBER) == url
    assert number_links.url(NUMBER) == url


def test_a_visitor_who_is_not_logged_in_is_sent_to_the_login(client):
    response = client.get(f"/admin/telephony/number/{NUMBER}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_number_typed_any_way_is_found_and_nonsense_is_a_404(client, administrator):
    client.force_login(administrator)
    assert client.get("/admin/telephony/number/(404) 555-0001/").status_code == 200
    assert client.get("/admin/telephony/number/not-a-number/").status_code == 404
