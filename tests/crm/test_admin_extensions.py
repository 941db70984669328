"""The admin extension point (crm/admin_extensions.py): what an upper app registers shows."""

from pathlib import Path

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from crm.admin_extensions import (
    AdminExtensions,
    Column,
    ExtensibleAdminMixin,
    Link,
    Panel,
    customer_admin_extensions,
)
from crm.models import Customer
from tests.crm.factories import CustomerFactory

TEST_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_registering_again_replaces_instead_of_doubling():
    extensions = AdminExtensions("test")
    for _ in range(2):
        extensions.add_panel(Panel(key="p", template="t.html", context=lambda r, o: {}))
        extensions.add_column(Column(name="c", description="C", render=str))
    assert len(extensions.panels) == 1
    assert len(extensions.columns) == 1


def test_a_column_goes_after_the_one_it_names_and_panels_hide_when_they_say_none():
    extensions = AdminExtensions("test")
    extensions.add_column(Column(name="shout", description="Loud", render=lambda o: "!", after="a"))
    extensions.add_panel(Panel(key="never", template="t.html", context=lambda r, o: None))

    class Admin(ExtensibleAdminMixin, admin.ModelAdmin):
        list_display = ("a", "b")

    Admin.extensions = extensions
    model_admin = Admin(Customer, admin.site)
    request = RequestFactory().get("/")
    columns = model_admin.get_list_display(request)
    assert [getattr(c, "__name__", c) for c in columns] == ["a", "shout", "b"]
    assert columns[1].short_description == "Loud"
    assert model_admin.extension_context(request, Customer())["extension_panels"] == []


@pytest.mark.django_db
def test_a_panel_and_a_link_an_upper_app_registers_render_on_the_customer_page(
    client, administrator, settings
):
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], TEST_TEMPLATES]}
    ]
    customer = CustomerFactory(name="Ada Lovelace")
    customer_admin_extensions.add_panel(
        Panel(
            key="test-panel",
            template="admin/extension_test_panel.html",
            context=lambda request, obj: {"greeting": f"Hello {obj.name}"},
        )
    )
    customer_admin_extensions.add_link(
        Link(key="test-link", label="Elsewhere", url=lambda request, obj: f"/x/{obj.pk}/")
    )
    try:
        client.force_login(administrator)
        page = client.get(reverse("admin:crm_customer_change", args=[customer.pk]))
    finally:
        customer_admin_extensions.panels[:] = [
            p for p in customer_admin_extensions.panels if p.key != "test-panel"
        ]
        customer_admin_extensions.links[:] = [
            link for link in customer_admin_extensions.links if link.key != "test-link"
        ]
    html = page.content.decode()
    assert '<p id="extension-test">Hello Ada Lovelace</p>' in html
    assert f'href="/x/{customer.pk}/">Elsewhere</a>' in html
    # telephony's own panel, registered the same way, is there too
    assert 'id="customer-timeline"' in html


def test_the_customer_page_is_crms_own_admin_extended_not_replaced():
    from crm.admin import CustomerAdmin

    assert type(admin.site._registry[Customer]) is CustomerAdmin
