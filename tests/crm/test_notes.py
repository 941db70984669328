"""Notes on customers and calls: who may write, read and edit them; the audit; the timeline."""

import pytest
from django.urls import reverse

from crm import services
from crm.models import Note, NoteEdit
from tests.crm.factories import CustomerFactory
from tests.telephony.factories import CallFactory

pytestmark = pytest.mark.django_db


def test_an_agent_notes_a_customer_and_reads_it_back(api_client, agent):
    customer = CustomerFactory()
    api_client.force_authenticate(agent)
    first = api_client.post(f"/api/customers/{customer.pk}/notes/", {"text": "Called back"})
    second = api_client.post(f"/api/customers/{customer.pk}/notes/", {"text": " Wants a quote "})
    assert first.status_code == second.status_code == 201
    body = second.json()
    assert set(body) == {"id", "text", "author", "created_at"}
    assert (body["text"], body["author"]) == ("Wants a quote", agent.username)
    listed = api_client.get(f"/api/customers/{customer.pk}/notes/").json()
    assert [n["text"] for n in listed] == ["Wants a quote", "Called back"]  # newest first


def test_a_note_on_a_call_is_on_the_call_and_on_its_customer(api_client, agent):
    call = CallFactory()
    api_client.force_authenticate(agent)
    response = api_client.post(f"/api/calls/{call.pk}/notes/", {"text": "Angry about the bill"})
    assert response.status_code == 201
    assert [n["text"] for n in api_client.get(f"/api/calls/{call.pk}/notes/").json()] == [
        "Angry about the bill"
    ]
    on_profile = api_client.get(f"/api/customers/{call.customer_id}/notes/").json()
    assert [n["text"] for n in on_profile] == ["Angry about the bill"]


def test_a_note_on_a_call_without_a_profile(api_client, agent):
    call = CallFactory(customer=None, from_number="anonymous")
    api_client.force_authenticate(agent)
    assert api_client.post(f"/api/calls/{call.pk}/notes/", {"text": "Withheld"}).status_code == 201
    assert Note.objects.get().customer_id is None


@pytest.mark.parametrize(
    "body", [{}, {"text": ""}, {"text": "   "}, {"text": "x" * 5001}, {"text": ["a"]}]
)
def test_a_bad_note_is_a_400_and_nothing_is_stored(api_client, agent, body):
    customer = CustomerFactory()
    api_client.force_authenticate(agent)
    response = api_client.post(f"/api/customers/{customer.pk}/notes/", body, format="json")
    assert response.status_code == 400
    assert "text" in response.json()
    assert not Note.objects.exists()


def test_notes_on_missing_rows_are_404(api_client, agent):
    api_client.force_authenticate(agent)
    assert api_client.post("/api/customers/999999/notes/", {"text": "x"}).status_code == 404
    assert api_client.post("/api/calls/999999/notes/", {"text": "x"}).status_code == 404
    assert api_client.patch("/api/notes/999999/", {"text": "x"}).status_code == 404


def test_only_the_author_edits_a_note_and_the_old_text_is_kept(api_client, make_user, agent):
    other = make_user("Agent", username="other-agent")
    note = services.note_create(customer=CustomerFactory(), author=agent, text="Fisrt draft")
    api_client.force_authenticate(other)
    refused = api_client.patch(f"/api/notes/{note.pk}/", {"text": "Hijacked"})
    assert refused.status_code == 403
    api_client.force_authenticate(agent)
    edited = api_client.patch(f"/api/notes/{note.pk}/", {"text": "First draft"})
    assert edited.status_code == 200
    assert edited.json()["text"] == "First draft"
    note.refresh_from_db()
    assert note.text == "First draft"
    edit = NoteEdit.objects.get(note=note)
    assert (edit.text_before, edit.edited_by) == ("Fisrt draft", agent)


def test_an_administrator_cannot_edit_an_agents_note_either(api_client, administrator, agent):
    note = services.note_create(customer=CustomerFactory(), author=agent, text="Mine")
    api_client.force_authenticate(administrator)
    assert api_client.patch(f"/api/notes/{note.pk}/", {"text": "Theirs"}).status_code == 403
    note.refresh_from_db()
    assert note.text == "Mine"


def test_a_caller_reaches_no_notes(api_client, caller, agent):
    customer = CustomerFactory()
    call = CallFactory(customer=customer)
    note = services.note_create(customer=customer, author=agent, text="Private")
    api_client.force_authenticate(caller)
    assert api_client.get(f"/api/customers/{customer.pk}/notes/").status_code == 403
    assert api_client.post(f"/api/customers/{customer.pk}/notes/", {"text": "x"}).status_code == 403
    assert api_client.get(f"/api/calls/{call.pk}/notes/").status_code == 403
    assert api_client.post(f"/api/calls/{call.pk}/notes/", {"text": "x"}).status_code == 403
    assert api_client.patch(f"/api/notes/{note.pk}/", {"text": "x"}).status_code == 403


def test_the_profile_has_a_note_form_and_notes_on_its_timeline(client, agent):
    customer = CustomerFactory(name="Ana García")
    CallFactory(customer=customer)
    client.force_login(agent)
    response = client.post(
        reverse("admin:crm_note_add_for", args=[customer.pk]), {"text": "Prefers mornings"}
    )
    assert response.status_code == 302
    page = client.get(reverse("admin:crm_customer_change", args=[customer.pk])).content.decode()
    assert 'id="customer-note"' in page
    assert 'data-kind="note"' in page
    assert "Prefers mornings" in page
    note = Note.objects.get()
    assert reverse("admin:crm_note_change", args=[note.pk]) in page  # the author may edit


def test_an_empty_note_from_the_profile_is_refused_with_a_message(client, agent):
    customer = CustomerFactory()
    client.force_login(agent)
    response = client.post(
        reverse("admin:crm_note_add_for", args=[customer.pk]), {"text": "  "}, follow=True
    )
    assert "cannot be empty" in response.content.decode()
    assert not Note.objects.exists()


def test_the_note_admin_lets_only_the_author_change_the_text(client, make_user, agent):
    other = make_user("Agent", username="other-agent")
    note = services.note_create(customer=CustomerFactory(), author=agent, text="Original")
    url = reverse("admin:crm_note_change", args=[note.pk])
    client.force_login(other)
    client.post(url, {"text": "Changed by someone else"})
    note.refresh_from_db()
    assert note.text == "Original"
    client.force_login(agent)
    response = client.post(url, {"text": "Changed by me"})
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.text == "Changed by me"
    assert NoteEdit.objects.filter(note=note, text_before="Original").exists()


def test_a_merge_moves_the_notes_to_the_kept_profile(agent):
    kept, merged = CustomerFactory(), CustomerFactory()
    note = services.note_create(customer=merged, author=agent, text="Moved with the profile")
    services.customer_merge(keep=kept, merge=merged, actor=agent)
    note.refresh_from_db()
    assert note.customer_id == kept.pk
