"""What people meet in the admin: the home dashboard and its app list, refused pages,
merged profiles' old links, numbers shown one way, and the small things."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from crm import services
from crm.admin_extensions import Panel, dashboard_extensions
from crm.models import Customer, CustomerMerge, MatchSuggestion, PhoneNumber
from crm.phones import display_number, phone_link
from telephony.models import TelephonySettings
from tests.crm.factories import CustomerFactory, PhoneNumberFactory
from tests.telephony.factories import CallFactory, MessageFactory

pytestmark = pytest.mark.django_db


def test_numbers_are_national_at_home_and_international_abroad_with_e164_on_hover(settings):
    settings.PHONENUMBER_DEFAULT_REGION = "US"
    assert display_number("+16789998212") == "(678) 999-8212"
    assert display_number("+442071838750") == "+44 20 7183 8750"
    assert display_number("anonymous") == "anonymous"
    link = phone_link("+16789998212")
    assert 'href="tel:+16789998212"' in link
    assert 'title="+16789998212"' in link
    assert phone_link("sip:alice@example.com") == "sip:alice@example.com"
    settings.PHONENUMBER_DEFAULT_REGION = "GB"
    assert display_number("+442071838750") == "020 7183 8750"
    assert display_number("+16789998212") == "+1 678-999-8212"


def test_the_home_page_is_a_dashboard_of_today(client, administrator):
    jane = CustomerFactory(name="Jane Doe")
    CallFactory(customer=jane, from_number="+16789998212")
    CallFactory(customer=jane, from_number="+16789998212", status="no-answer")
    CallFactory(customer=jane, started_at=timezone.now() - timezone.timedelta(days=3))
    MessageFactory(customer=jane)
    other = CustomerFactory(name="J. Doe")
    first, second = sorted([jane, other], key=lambda c: c.pk)
    MatchSuggestion.objects.create(
        customer=first, other=second, reason="shared_email", detail="jane@example.com"
    )
    client.force_login(administrator)
    page = client.get(reverse("admin:index")).content.decode()

    today = page[page.index('id="dashboard-telephony-today"') :]
    today = today[: today.index("</section>")]
    assert "<strong>2</strong><span>calls</span>" in today
    assert "<strong>1</strong><span>message</span>" in today
    assert "<strong>1</strong><span>missed call</span>" in today
    assert "Jane Doe · (678) 999-8212" in today
    assert "<strong>1</strong><span>open suggestion</span>" in page
    assert "No upload is running." in page


def test_the_app_list_follows_the_work_and_hides_system_from_agents(client, administrator, agent):
    client.force_login(administrator)
    context = client.get(reverse("admin:index")).context
    names = [app["name"] for app in context["app_list"]]
    assert names[:3] == ["Customers", "Telephony", "Campaigns"]
    assert names[-2:] == ["Settings", "System"]
    settings_section = next(a for a in context["app_list"] if a["name"] == "Settings")
    assert "Telephony settings" in [m["name"] for m in settings_section["models"]]
    system = next(a for a in context["app_list"] if a["name"] == "System")
    assert {"Clocked", "Crontabs", "Intervals", "Solar events"} <= {
        m["name"] for m in system["models"]
    }

    # Even an agent who was given Celery beat's view permissions does not see System.
    beat = Permission.objects.filter(content_type__app_label="django_celery_beat")
    agent.user_permissions.add(*beat.filter(codename__startswith="view_"))
    client.force_login(agent)
    names = [app["name"] for app in client.get(reverse("admin:index")).context["app_list"]]
    assert "System" not in names
    assert names[:2] == ["Customers", "Telephony"]


def test_other_apps_add_dashboard_sections(client, administrator):
    def section(request, obj):
        return {"title": "Flagged numbers", "stats": [], "rows": [], "empty": "None flagged."}

    dashboard_extensions.add_panel(
        Panel(key="test-flagged", template="admin/dashboard/_panel.html", context=section)
    )
    try:
        client.force_login(administrator)
        page = client.get(reverse("admin:index")).content.decode()
        assert "Flagged numbers" in page
        assert "None flagged." in page
    finally:
        dashboard_extensions.panels[:] = [
            p for p in dashboard_extensions.panels if p.key != "test-flagged"
        ]


def test_a_refused_admin_page_says_what_and_who_may(client, agent):
    client.force_login(agent)
    url = reverse("admin:telephony_telephonysettings_change", args=[TelephonySettings.load().pk])
    response = client.get(url, HTTP_REFERER="http://testserver/admin/crm/customer/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "Only Administrators change telephony settings." in page
    assert 'id="header"' in page  # the admin's own header and navigation
    assert 'href="http://testserver/admin/crm/customer/"' in page  # the way back
    assert "agent-user" in page
    assert "(Agent)" in page


def test_a_refused_api_call_stays_json(api_client, agent):
    api_client.force_authenticate(agent)
    response = api_client.get("/api/campaigns/1/phones/")
    assert response.status_code in (403, 404)
    assert response["Content-Type"].startswith("application/json")


def test_refusals_outside_drf_under_api_answer_json(client, agent, rf):
    from django.core.exceptions import PermissionDenied

    from crm.forbidden import permission_denied

    response = permission_denied(rf.get("/api/anything/"), PermissionDenied("Nope."))
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert b"Nope." in response.content


def test_an_old_link_to_a_merged_profile_leads_to_the_kept_one(client, agent):
    keep = CustomerFactory(name="Jane Doe")
    merged = CustomerFactory(name="J. Doe")
    services.customer_merge(keep=keep, merge=merged, actor=agent)
    client.force_login(agent)
    response = client.get(reverse("admin:crm_customer_change", args=[merged.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:crm_customer_change", args=[keep.pk])
    text = response.content.decode()
    assert f"J. Doe (#{merged.pk}) was merged into Jane Doe (#{keep.pk})" in text


def test_merges_list_says_what_moved_in_words_and_plurals_agree(client, administrator):
    keep = CustomerFactory(name="Jane Doe")
    merged = CustomerFactory(name="J. Doe")
    PhoneNumberFactory(customer=merged, number="+16789998212")
    CallFactory(customer=merged)
    CallFactory(customer=merged)
    services.customer_merge(keep=keep, merge=merged, actor=administrator)
    client.force_login(administrator)
    page = client.get(reverse("admin:crm_customermerge_changelist")).content.decode()
    assert "1 phone number" in page
    assert "2 calls" in page
    assert "{" not in page[page.index("result_list") :]
    assert CustomerMerge.objects.count() == 1


def test_breadcrumbs_do_not_repeat_customers(client, agent):
    client.force_login(agent)
    page = client.get(reverse("admin:crm_customer_changelist")).content.decode()
    crumbs = page[page.index('class="breadcrumbs"') :]
    crumbs = crumbs[: crumbs.index("</div>")]
    assert crumbs.count("Customers") == 1


def test_the_mobile_number_error_names_and_links_its_holder(client, agent):
    holder = CustomerFactory(name="Jane Doe")
    PhoneNumberFactory(customer=holder, number="+16789998212", type=PhoneNumber.Type.MOBILE)
    other = CustomerFactory(name="Mark Doe")
    client.force_login(agent)
    response = client.post(
        reverse("admin:crm_phonenumber_add"),
        {"customer": other.pk, "number": "(678) 999-8212", "type": "mobile"},
    )
    assert response.status_code == 200  # the form again, with the error
    page = response.content.decode()
    holder_url = reverse("admin:crm_customer_change", args=[holder.pk])
    assert f'is already the Mobile number of <a href="{holder_url}">Jane Doe</a>' in page
    assert "is already another customer&#x27;s Mobile number" not in page
    assert not PhoneNumber.objects.filter(customer=other).exists()


def test_the_customer_list_shows_numbers_as_tel_links(client, agent):
    jane = CustomerFactory(name="Jane Doe")
    PhoneNumberFactory(customer=jane, number="+442071838750", type="office")
    client.force_login(agent)
    page = client.get(reverse("admin:crm_customer_changelist")).content.decode()
    assert (
        '<a class="sb-tel" href="tel:+442071838750" title="+442071838750">+44 20 7183 8750</a>'
        in page
    )
    assert Customer.objects.count() == 1


def test_a_missed_call_from_a_withheld_number_is_listed_without_a_profile(client, agent):
    call = CallFactory(customer=None, from_number="anonymous", status="no-answer")
    client.force_login(agent)
    page = client.get(reverse("admin:index")).content.decode()
    assert "Withheld caller · anonymous" in page
    assert reverse("admin:telephony_call_change", args=[call.pk]) in page
