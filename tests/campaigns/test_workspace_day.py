"""The caller workspace for a day's work, the upload page's one story, and the pages
where customers and leads meet."""

import html
import itertools
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import CampaignPhone, Contact, Disposition, LeadUpload
from crm.models import PhoneNumber
from tests.crm.factories import CustomerFactory, PhoneNumberFactory

pytestmark = pytest.mark.django_db

SHARED = "+16789998212"


@pytest.fixture
def assigned_caller(seeded, caller):
    seeded.callers.add(caller)
    return caller


def contact(campaign, email: str) -> Contact:
    return Contact.objects.get(campaign=campaign, email=email)


def log(client, campaign, who: Contact, outcome: str, **extra):
    return client.post(
        reverse("campaigns:contact-log", args=[campaign.pk, who.pk]),
        {"outcome": outcome, **extra},
    )


def local(moment, lead: Contact) -> str:
    """As the form takes it: in the lead's local time (docs/dialing.md)."""
    from zoneinfo import ZoneInfo

    from campaigns import calling

    zone = calling.lead_zone(lead, calling.lead_number(lead))
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def midday(monkeypatch):
    """Today at noon (TIME_ZONE), a millisecond later at each call: "in half an hour" is
    today whenever the suite runs, and one outcome still comes after another."""
    noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    ticks = itertools.count()
    monkeypatch.setattr(timezone, "now", lambda: noon + timedelta(milliseconds=next(ticks)))
    return noon


def test_call_back_later_needs_a_time_and_todays_callbacks_come_first(
    client, seeded, assigned_caller, midday
):
    client.force_login(assigned_caller)
    mark = contact(seeded, "mark@petshop.example.com")
    jane = contact(seeded, "jane.doe@example.com")
    priya = contact(seeded, "priya.patel@kw.example.com")

    response = log(client, seeded, mark, "callback")
    assert response.status_code == 302
    assert not Disposition.objects.filter(contact_id=mark.pk).exists()  # refused: no time

    soon = timezone.now() + timedelta(minutes=30)
    log(client, seeded, mark, "callback", callback_at=local(soon, mark), note="after lunch")
    log(client, seeded, jane, "callback", callback_at=local(soon + timedelta(days=2), jane))
    log(client, seeded, priya, "callback", callback_at=local(soon, priya))
    log(client, seeded, priya, "interested")  # a later outcome settles Priya's callback
    stored = Disposition.objects.get(contact_id=mark.pk)
    assert stored.callback_at is not None
    assert abs(stored.callback_at - soon) < timedelta(minutes=1)

    page = client.get(reverse("campaigns:detail", args=[seeded.pk]))
    due = [d.contact_id for d in page.context["callbacks"]]
    assert due == [mark.pk]  # not Jane (in two days), not Priya (settled)
    html = page.content.decode()
    assert html.index("Call back today") < html.index("All contacts")
    assert "“after lunch”" in html
    # Every row says its last outcome and when.
    rows = {c.pk: c for c in page.context["rows"]}
    assert rows[priya.pk].last_outcome.outcome == "interested"
    assert rows[jane.pk].last_outcome.outcome == "callback"
    assert rows[contact(seeded, "john.smith@kw.example.com").pk].last_outcome is None
    assert "Not called yet" in html


def test_a_bad_callback_time_is_a_clear_error(client, seeded, assigned_caller):
    client.force_login(assigned_caller)
    mark = contact(seeded, "mark@petshop.example.com")
    response = log(client, seeded, mark, "callback", callback_at="next tuesday")
    page = client.get(response["Location"]).content.decode()
    assert "is not a date and time" in page
    assert not Disposition.objects.filter(contact_id=mark.pk).exists()


def test_a_contact_whose_every_number_is_disqualified_has_no_callable_number(
    client, seeded, assigned_caller
):
    mark = contact(seeded, "mark@petshop.example.com")  # one number, shared with Jane Doe
    services.campaign_phone_disqualify(phone=mark.phone, by=assigned_caller, reason="retired")
    client.force_login(assigned_caller)
    page = client.get(reverse("campaigns:detail", args=[seeded.pk])).content.decode()
    row = page[page.index(f'data-contact="{mark.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "No callable number" in row
    john = contact(seeded, "john.smith@kw.example.com")  # two numbers, both active
    john_row = page[page.index(f'data-contact="{john.pk}"') :]
    assert "No callable number" not in john_row[: john_row.index("</tr>")]


def test_do_not_call_everywhere_asks_first(client, seeded, assigned_caller):
    phone = CampaignPhone.objects.get(campaign=seeded, number=SHARED)
    url = reverse("campaigns:phone-disqualify", args=[seeded.pk, phone.pk])
    client.force_login(assigned_caller)
    response = client.post(url, {"reason": "asked", "scope": "everywhere"})
    assert response.status_code == 200
    assert "Do not call" in response.content.decode()
    phone.refresh_from_db()
    assert phone.status == "active"  # nothing happened yet

    response = client.post(url, {"reason": "asked", "scope": "everywhere", "confirm": "yes"})
    assert response.status_code == 302
    phone.refresh_from_db()
    assert (phone.status, phone.status_scope) == ("disqualified", "everywhere")
    # This campaign only: no second question.
    other = CampaignPhone.objects.get(campaign=seeded, number="+12127612846")
    client.post(reverse("campaigns:phone-disqualify", args=[seeded.pk, other.pk]), {"reason": "x"})
    other.refresh_from_db()
    assert other.status == "disqualified"


def test_a_lead_whose_number_is_a_customer_is_marked(
    client, seeded, assigned_caller, administrator
):
    jane = CustomerFactory(name="Jane Doe", interaction_count=12)
    PhoneNumberFactory(customer=jane, number=SHARED, type=PhoneNumber.Type.MOBILE)
    url = reverse("campaigns:detail", args=[seeded.pk])
    profile = reverse("admin:crm_customer_change", args=[jane.pk])

    client.force_login(assigned_caller)
    page = client.get(url).content.decode()
    assert "Customer: Jane Doe" in page
    assert "12 interactions" in page
    assert profile not in page  # callers cannot open profiles

    client.force_login(administrator)
    page = client.get(url).content.decode()
    assert f'<a href="{profile}"' in page


def test_the_customer_page_lists_the_leads_carrying_its_numbers(client, seeded, agent):
    jane = CustomerFactory(name="Jane Doe")
    PhoneNumberFactory(customer=jane, number=SHARED, type=PhoneNumber.Type.MOBILE)
    services.campaign_phone_disqualify(
        phone=CampaignPhone.objects.get(campaign=seeded, number=SHARED), by=None, reason="x"
    )
    loner = CustomerFactory(name="Nobody")
    client.force_login(agent)
    page = client.get(reverse("admin:crm_customer_change", args=[jane.pk])).content.decode()
    panel = page[page.index('id="customer-leads"') :]
    panel = panel[: panel.index("</section>")]
    assert "John Smith" in panel
    assert "John R. Smith" in panel
    assert "Priya Patel" not in panel
    assert "Disqualified" in panel  # the number's status in the campaign
    page = client.get(reverse("admin:crm_customer_change", args=[loner.pk])).content.decode()
    assert "No campaign lead carries this customer" in page


def test_the_upload_page_tells_one_story(client, campaign, administrator):
    upload = services.lead_upload_create(
        campaign=campaign,
        file=ContentFile(b"name,email,phone\nA,a@example.com,6789998212\n", name="a.csv"),
        uploaded_by=None,
    )
    client.force_login(administrator)
    progress_url = reverse("admin:campaigns_leadupload_progress", args=[upload.pk])
    waiting = client.get(progress_url).json()
    assert waiting["heading"].startswith("Waiting for columns")
    assert waiting["status_label"] == "Waiting for columns"
    services.lead_upload_queue(upload=upload)
    queued = client.get(progress_url).json()
    assert queued["heading"].startswith("Queued")
    assert queued["status_label"] == "Queued"
    assert queued["finished"] is False

    LeadUpload.objects.filter(pk=upload.pk).update(
        status="running", phase="Merging 1,946 rows", rows_read=1946, bytes_read=10, size=10
    )
    running = client.get(progress_url).json()
    assert running["heading"] == "Importing: merging 1,946 rows"
    assert running["status_label"] == "Importing"
    assert running["percent_text"] == "95%"
    assert {"key": "rows_read", "label": "Rows read", "value": "1,946"} in running["counts"]
    page = client.get(reverse("admin:campaigns_leadupload_change", args=[upload.pk]))
    html = page.content.decode()
    assert "Importing: merging 1,946 rows" in html
    assert "Queued" not in html.split('id="upload-progress"')[1].split("</div>")[0]


def test_a_refused_upload_is_headed_with_what_happened_and_why(client, campaign, administrator):
    upload = services.lead_upload_create(
        campaign=campaign,
        file=ContentFile(b"PK\x03\x04 an excel workbook", name="leads.xlsx"),
        uploaded_by=None,
    )
    upload = services.lead_upload_import(upload_id=upload.pk)
    assert upload.status == "failed"
    client.force_login(administrator)
    progress = client.get(reverse("admin:campaigns_leadupload_progress", args=[upload.pk])).json()
    assert progress["heading"].startswith("Refused: ")
    assert "Refused: Refused" not in progress["heading"]
    assert "Nothing was imported." in progress["heading"]
    page = client.get(reverse("admin:campaigns_leadupload_change", args=[upload.pk]))
    heading = page.content.decode().split('data-field="heading">')[1].split("</h2>")[0]
    assert heading.startswith("Refused: ")
    assert "Nothing was imported." in heading


def test_the_admin_contacts_list_finds_a_number_typed_any_way(client, seeded, administrator):
    client.force_login(administrator)
    response = client.get(reverse("admin:campaigns_contact_changelist"), {"q": "(678)-999 8212"})
    found = {c.email for c in response.context["cl"].result_list}
    assert found == {"john.smith@kw.example.com", "jrsmith@kwrealty.example.com"}
    response = client.get(reverse("admin:campaigns_contact_changelist"), {"q": "Priya"})
    assert {c.email for c in response.context["cl"].result_list} == {"priya.patel@kw.example.com"}


def test_the_callers_picker_lists_only_callers(client, seeded, administrator, caller, agent):
    client.force_login(administrator)
    response = client.get(reverse("admin:campaigns_campaign_change", args=[seeded.pk]))
    choices = set(response.context["adminform"].form.fields["callers"].queryset)
    assert choices == {caller}


def test_the_rows_show_times_in_the_readers_zone_and_escape_what_leads_typed(
    client, seeded, assigned_caller, settings
):
    """The rows are Jinja2 (crm/templating.py) inside a Django page: dates, plurals and
    escaping read as the Django templates they replaced did."""
    from django.template.defaultfilters import date as date_filter
    from django.utils import formats

    settings.TIME_ZONE = "America/Chicago"  # not UTC, so a missed conversion shows
    client.force_login(assigned_caller)
    mark = contact(seeded, "mark@petshop.example.com")
    jane = contact(seeded, "jane.doe@example.com")
    Contact.objects.filter(pk=jane.pk).update(name='<b>Jane</b> "J" & Co')
    yesterday = timezone.now() - timedelta(days=1)
    Disposition.objects.create(
        campaign=seeded,
        contact_id=mark.pk,
        target=Disposition.Target.CONTACT,
        outcome=Disposition.Outcome.CALLBACK,
        callback_at=yesterday,
        note="<i>before noon</i>",
    )
    customer = CustomerFactory(name="Priya <Patel>", interaction_count=1)
    priya = contact(seeded, "priya.patel@kw.example.com")
    PhoneNumberFactory(customer=customer, number=priya.phone.number, type=PhoneNumber.Type.MOBILE)

    page = client.get(reverse("campaigns:detail", args=[seeded.pk])).content.decode()

    overdue = f"Overdue since {date_filter(timezone.localtime(yesterday), 'D M j')}"
    assert page.count(overdue) == 1
    assert "“&lt;i&gt;before noon&lt;/i&gt;”" in page
    logged = Disposition.objects.get(contact_id=mark.pk).created_at
    assert f'datetime="{timezone.localtime(logged).isoformat()}"' in page
    assert f'title="{formats.localize(timezone.localtime(logged))}"' in page
    assert "<b>Jane</b>" not in page
    row = page[page.index(f'data-contact="{jane.pk}"') :]
    shown = row[row.index("<strong>") + 8 : row.index("</strong>")]
    assert html.unescape(shown) == '<b>Jane</b> "J" & Co'
    assert '"J"' not in row[: row.index("</tr>")]  # not even inside an attribute
    assert "Customer: Priya &lt;Patel&gt;" in page
    assert "· 1 interaction<" in page
    assert page.count(f'data-contact="{mark.pk}"') == 2  # due today, and in the list
